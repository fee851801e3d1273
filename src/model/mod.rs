//! What a network is: its spec (sizes, activations, loss) and its parameters.
//!
//! Weights of a dense layer are stored `[out][in]` row-major: row `j` holds the weights into
//! neuron `j`, as in PyTorch and in course notation `w[j][i]` (from input `i` to neuron `j`).

mod kinds;
mod real;

pub(crate) use kinds::serde_as_name;
pub use kinds::{Activation, Init, Loss, LEAKY_SLOPE};
pub use real::Real;

use crate::error::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

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
            return Err(Error::invalid(
                "model.layers",
                format!(
                    "need at least an input and an output size, got {:?}",
                    self.sizes
                ),
            ));
        }
        if let Some(i) = self.sizes.iter().position(|&s| s == 0) {
            return Err(Error::invalid(
                "model.layers",
                format!("size {} (position {}) is zero", self.sizes[i], i + 1),
            ));
        }
        if self.activations.len() != self.depth() {
            return Err(Error::invalid(
                "model.activations",
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

/// The gradients of one dense layer.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseGrads<T> {
    /// `[out][in]`
    pub weights: Vec<T>,
    /// `[out]`
    pub bias: Vec<T>,
}

/// The parameters of a whole network, plus the loss it is trained with.
#[derive(Clone, Debug, PartialEq)]
pub struct Params<T = f32> {
    pub layers: Vec<Layer<T>>,
    pub loss: Loss,
    /// `false`: layers without bias: every bias stays zero, its gradient is zero and no
    /// engine updates it ([`Params::without_bias`]).
    pub bias: bool,
}

impl<T: Real> Params<T> {
    /// The same network without biases: every bias set to zero and never trained.
    pub fn without_bias(mut self) -> Self {
        for l in &mut self.layers {
            l.bias.fill(T::zero());
        }
        self.bias = false;
        self
    }
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
            bias: self.bias,
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
        // scikit-learn's factor: 2 for logistic hidden layers, else 6.
        let sklearn_factor = match spec.activations.first() {
            Some(Activation::Sigmoid) if spec.depth() > 1 => 2.0,
            _ => 6.0,
        };
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
                Init::Sklearn => {
                    // As MLPClassifier._init_coef: the weights, then the biases, of one bound.
                    let bound = (sklearn_factor / (fan_in + fan_out) as f64).sqrt();
                    let w = uniform(&mut rng, n, bound);
                    bias = uniform(&mut rng, fan_out, bound);
                    w
                }
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
            bias: true,
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
                Error::invalid(
                    "model.layers",
                    format!("'{t}' is not a layer size in '{s}'"),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(sizes)
}
