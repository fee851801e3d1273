//! The named choices of a network: activations, losses and initialisers, with the names the
//! command line, run descriptions (TOML) and checkpoints use, and the ids the WGSL kernels use.

use std::fmt;
use std::str::FromStr;

/// Serialises a type as its `Display` name and reads it back with `FromStr`, so run
/// descriptions say `loss = "ce"` and a bad name is an error naming the key.
macro_rules! serde_as_name {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_as_name;

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

    /// The id the GPU kernels use; `gpu::wgsl_ids` writes these into every shader as
    /// `const ACT_<NAME>: u32`, so Rust and WGSL cannot drift apart.
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

    /// The id the GPU kernels use (written into the shaders as `const LOSS_<NAME>: u32`).
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
    /// scikit-learn's MLP initialisation: weights *and biases* uniform in
    /// ±sqrt(6 / (fan_in + fan_out)), or ±sqrt(2 / (fan_in + fan_out)) in a network whose
    /// hidden layers are sigmoids (its `activation='logistic'`).
    Sklearn,
}

impl FromStr for Init {
    type Err = String;
    /// `zeros`, `constant[:V]`, `uniform`, `xavier-normal`, `xavier-uniform`, `he-normal`, `normal[:STD]`, `sklearn`.
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
            "sklearn" | "scikit-learn" => Init::Sklearn,
            _ => {
                return Err(format!(
                    "unknown init '{s}' (expected one of: zeros, constant[:V], uniform, xavier-normal, xavier-uniform, he-normal, normal[:STD], sklearn)"
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
            Init::Sklearn => write!(f, "sklearn"),
        }
    }
}

serde_as_name!(Activation);
serde_as_name!(Loss);
serde_as_name!(Init);
