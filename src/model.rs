//! What a network is: its spec (sizes, activations, loss) and its parameters.
//!
//! Weights of a dense layer are stored `[out][in]` row-major: row `j` holds the weights into
//! neuron `j`, as in PyTorch and in course notation `w[j][i]` (from input `i` to neuron `j`).

use crate::cpu::Real;
use crate::error::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use std::fmt;
use std::str::FromStr;

/// An elementwise activation (softmax is row-wise and allowed on the output layer only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    Sigmoid,
    Tanh,
    Relu,
    /// Leaky ReLU with slope [`LEAKY_SLOPE`] below zero.
    LeakyRelu,
    Identity,
    Softmax,
}

/// Slope of leaky ReLU for negative inputs.
pub const LEAKY_SLOPE: f32 = 0.01;

impl Activation {
    pub const ALL: [Activation; 6] = [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu,
        Activation::Identity,
        Activation::Softmax,
    ];

    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Identity => "identity",
            Activation::Softmax => "softmax",
        }
    }

    /// The id used by the GPU kernels (kept in sync with shaders/common.wgsl).
    pub fn gpu_id(self) -> u32 {
        match self {
            Activation::Identity => 0,
            Activation::Sigmoid => 1,
            Activation::Tanh => 2,
            Activation::Relu => 3,
            Activation::LeakyRelu => 4,
            Activation::Softmax => 5,
        }
    }
}

impl FromStr for Activation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase().replace('-', "_");
        Activation::ALL
            .into_iter()
            .find(|a| a.name() == t || (t == "linear" && *a == Activation::Identity))
            .ok_or_else(|| {
                format!(
                    "unknown activation '{s}' (expected one of: sigmoid, tanh, relu, leaky_relu, identity, softmax)"
                )
            })
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A loss function. All are means over the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Loss {
    /// Mean over batch and outputs of (y − ŷ)².
    Mse,
    /// ½·Σ over outputs of (y − ŷ)², then the mean over the batch (the E of textbook exercises).
    HalfMse,
    /// Binary cross-entropy of a sigmoid output, mean over batch and outputs.
    Bce,
    /// Softmax + cross-entropy against integer class labels, mean over the batch.
    Ce,
}

impl Loss {
    pub const ALL: [Loss; 4] = [Loss::Mse, Loss::HalfMse, Loss::Bce, Loss::Ce];

    pub fn name(self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::HalfMse => "half-mse",
            Loss::Bce => "bce",
            Loss::Ce => "ce",
        }
    }

    /// The output activation this loss is defined on, if it requires one.
    pub fn required_output(self) -> Option<Activation> {
        match self {
            Loss::Bce => Some(Activation::Sigmoid),
            Loss::Ce => Some(Activation::Softmax),
            Loss::Mse | Loss::HalfMse => None,
        }
    }

    /// The output activation used when none is given: the required one, else sigmoid.
    pub fn default_output(self) -> Activation {
        self.required_output().unwrap_or(Activation::Sigmoid)
    }

    /// The id used by the GPU kernels.
    pub fn gpu_id(self) -> u32 {
        match self {
            Loss::Mse => 0,
            Loss::HalfMse => 1,
            Loss::Bce => 2,
            Loss::Ce => 3,
        }
    }
}

impl FromStr for Loss {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "mse" => Ok(Loss::Mse),
            "half-mse" => Ok(Loss::HalfMse),
            "bce" => Ok(Loss::Bce),
            "ce" | "cross-entropy" => Ok(Loss::Ce),
            _ => Err(format!(
                "unknown loss '{s}' (expected one of: mse, half-mse, bce, ce)"
            )),
        }
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How weights are initialised. Biases start at zero except with `Constant`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    Zeros,
    /// Every weight and bias set to the value.
    Constant(f32),
    /// Uniform in ±sqrt(6 / fan_in) (He-scaled uniform).
    Uniform,
    /// Normal with std sqrt(2 / (fan_in + fan_out)).
    XavierNormal,
    /// Uniform in ±sqrt(6 / (fan_in + fan_out)) (Glorot).
    XavierUniform,
    /// Normal with std sqrt(2 / fan_in).
    HeNormal,
    /// Normal with the given std.
    Normal(f32),
}

impl FromStr for Init {
    type Err = String;
    /// `zeros`, `constant[:V]`, `uniform`, `xavier-normal`, `xavier-uniform`, `he-normal`, `normal[:STD]`.
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase().replace('_', "-");
        let (name, arg) = match t.split_once([':', '=']) {
            Some((n, a)) => (n.to_string(), Some(a.to_string())),
            None => (t.clone(), None),
        };
        let num = |default: f32| -> Result<f32, String> {
            match &arg {
                None => Ok(default),
                Some(a) => a
                    .parse::<f32>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| format!("bad number '{a}' in init '{s}'")),
            }
        };
        let init = match name.as_str() {
            "zeros" | "zero" => Init::Zeros,
            "constant" | "const" => Init::Constant(num(1.0)?),
            "uniform" => Init::Uniform,
            "xavier-normal" | "glorot-normal" => Init::XavierNormal,
            "xavier-uniform" | "glorot-uniform" | "xavier" | "glorot" => Init::XavierUniform,
            "he-normal" | "he" | "kaiming" => Init::HeNormal,
            "normal" => Init::Normal(num(0.01)?),
            _ => {
                return Err(format!(
                    "unknown init '{s}' (expected one of: zeros, constant[:V], uniform, xavier-normal, xavier-uniform, he-normal, normal[:STD])"
                ))
            }
        };
        if arg.is_some() && !matches!(init, Init::Constant(_) | Init::Normal(_)) {
            return Err(format!("init '{name}' takes no value"));
        }
        if let Init::Normal(std) = init {
            if std < 0.0 {
                return Err(format!("init '{s}': std must be >= 0"));
            }
        }
        Ok(init)
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Init::Zeros => write!(f, "zeros"),
            Init::Constant(v) => write!(f, "constant:{v}"),
            Init::Uniform => write!(f, "uniform"),
            Init::XavierNormal => write!(f, "xavier-normal"),
            Init::XavierUniform => write!(f, "xavier-uniform"),
            Init::HeNormal => write!(f, "he-normal"),
            Init::Normal(s) => write!(f, "normal:{s}"),
        }
    }
}

/// The architecture: all layer sizes including input and output (`784,128,64,10`), one
/// activation per layer (so `sizes.len() - 1` of them) and the loss.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpSpec {
    pub sizes: Vec<usize>,
    pub activations: Vec<Activation>,
    pub loss: Loss,
}

impl MlpSpec {
    /// Builds and validates a spec.
    pub fn new(sizes: Vec<usize>, activations: Vec<Activation>, loss: Loss) -> Result<Self> {
        let spec = MlpSpec {
            sizes,
            activations,
            loss,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Number of dense layers.
    pub fn depth(&self) -> usize {
        self.sizes.len().saturating_sub(1)
    }

    pub fn inputs(&self) -> usize {
        self.sizes[0]
    }

    pub fn outputs(&self) -> usize {
        *self.sizes.last().expect("validated spec has sizes")
    }

    pub fn output_activation(&self) -> Activation {
        *self.activations.last().expect("validated spec has layers")
    }

    /// Checks sizes, the activation count, softmax placement, and loss/output compatibility.
    pub fn validate(&self) -> Result<()> {
        if self.sizes.len() < 2 {
            return Err(Error::bad_arg(
                "--layers",
                format!(
                    "need at least an input and an output size, got {:?}",
                    self.sizes
                ),
            ));
        }
        if let Some(i) = self.sizes.iter().position(|&s| s == 0) {
            return Err(Error::bad_arg(
                "--layers",
                format!("size {} (position {}) is zero", self.sizes[i], i + 1),
            ));
        }
        if self.activations.len() != self.depth() {
            return Err(Error::bad_arg(
                "--activation",
                format!(
                    "{} activations for {} layers",
                    self.activations.len(),
                    self.depth()
                ),
            ));
        }
        for (l, a) in self.activations.iter().enumerate() {
            if *a == Activation::Softmax && l + 1 != self.depth() {
                return Err(Error::BadLayer {
                    layer: l + 1,
                    msg: "softmax is allowed on the output layer only".into(),
                });
            }
        }
        if let Some(req) = self.loss.required_output() {
            let out = self.output_activation();
            if out != req {
                return Err(Error::BadLayer {
                    layer: self.depth(),
                    msg: format!(
                        "loss {} needs a {} output layer, but the output activation is {}",
                        self.loss, req, out
                    ),
                });
            }
        }
        if self.loss == Loss::Ce && self.outputs() < 2 {
            return Err(Error::BadLayer {
                layer: self.depth(),
                msg: "loss ce needs at least 2 outputs (use bce with 1 sigmoid output)".into(),
            });
        }
        Ok(())
    }

    /// Multiply-adds of one sample's forward pass through the dense layers.
    pub fn macs_per_sample(&self) -> usize {
        self.sizes.windows(2).map(|w| w[0] * w[1]).sum()
    }
}

/// One dense layer: `weights` is `[out][in]` row-major, `bias` is `[out]`. f32 everywhere
/// but in gradient checks, which run the reference in f64.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer<T = f32> {
    pub inputs: usize,
    pub outputs: usize,
    pub weights: Vec<T>,
    pub bias: Vec<T>,
    pub activation: Activation,
}

impl<T: Copy> Layer<T> {
    /// The weight from input `i` into neuron `j`.
    pub fn w(&self, j: usize, i: usize) -> T {
        self.weights[j * self.inputs + i]
    }
}

/// The parameters of a whole network, plus the loss it is trained with.
#[derive(Clone, Debug, PartialEq)]
pub struct Params<T = f32> {
    pub layers: Vec<Layer<T>>,
    pub loss: Loss,
}

impl<T: Real> Params<T> {
    /// The same parameters in another float type.
    pub fn cast<U: Real>(&self) -> Params<U> {
        let conv = |v: &[T]| {
            v.iter()
                .map(|&x| U::c(x.to_f64().expect("finite")))
                .collect()
        };
        Params {
            layers: self
                .layers
                .iter()
                .map(|l| Layer {
                    inputs: l.inputs,
                    outputs: l.outputs,
                    weights: conv(&l.weights),
                    bias: conv(&l.bias),
                    activation: l.activation,
                })
                .collect(),
            loss: self.loss,
        }
    }

    /// The spec these parameters implement.
    pub fn spec(&self) -> MlpSpec {
        let mut sizes = vec![self.layers[0].inputs];
        sizes.extend(self.layers.iter().map(|l| l.outputs));
        MlpSpec {
            sizes,
            activations: self.layers.iter().map(|l| l.activation).collect(),
            loss: self.loss,
        }
    }

    pub fn inputs(&self) -> usize {
        self.layers[0].inputs
    }

    pub fn outputs(&self) -> usize {
        self.layers.last().map_or(0, |l| l.outputs)
    }
}

impl Params {
    /// Fresh parameters for `spec`, drawn from `init` with `seed`. The same seed and spec always
    /// give the same parameters, so the CPU and GPU backends can start from the same point.
    pub fn init(spec: &MlpSpec, init: Init, seed: u64) -> Result<Self> {
        spec.validate()?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut layers = Vec::with_capacity(spec.depth());
        for l in 0..spec.depth() {
            let (fan_in, fan_out) = (spec.sizes[l], spec.sizes[l + 1]);
            let n = fan_in * fan_out;
            let mut bias = vec![0.0f32; fan_out];
            let weights: Vec<f32> = match init {
                Init::Zeros => vec![0.0; n],
                Init::Constant(v) => {
                    bias.fill(v);
                    vec![v; n]
                }
                Init::Uniform => uniform(&mut rng, n, (6.0 / fan_in as f64).sqrt()),
                Init::XavierUniform => {
                    uniform(&mut rng, n, (6.0 / (fan_in + fan_out) as f64).sqrt())
                }
                Init::XavierNormal => normal(&mut rng, n, (2.0 / (fan_in + fan_out) as f64).sqrt()),
                Init::HeNormal => normal(&mut rng, n, (2.0 / fan_in as f64).sqrt()),
                Init::Normal(std) => normal(&mut rng, n, std as f64),
            };
            layers.push(Layer {
                inputs: fan_in,
                outputs: fan_out,
                weights,
                bias,
                activation: spec.activations[l],
            });
        }
        Ok(Params {
            layers,
            loss: spec.loss,
        })
    }
}

fn uniform(rng: &mut impl Rng, n: usize, limit: f64) -> Vec<f32> {
    (0..n)
        .map(|_| rng.random_range(-limit..=limit) as f32)
        .collect()
}

fn normal(rng: &mut impl Rng, n: usize, std: f64) -> Vec<f32> {
    if std == 0.0 {
        return vec![0.0; n];
    }
    let dist = Normal::new(0.0, std).expect("std is finite and positive");
    (0..n).map(|_| dist.sample(rng) as f32).collect()
}

/// Parses a comma list of layer sizes such as `784,128,64,10`.
pub fn parse_sizes(s: &str) -> Result<Vec<usize>> {
    let sizes = s
        .split(',')
        .map(|t| {
            t.trim().parse::<usize>().map_err(|_| {
                Error::bad_arg("--layers", format!("'{t}' is not a layer size in '{s}'"))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(sizes)
}
