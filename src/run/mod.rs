//! The run description: everything that defines a training run, as one serde type.
//!
//! A [`RunSpec`] is what a person writes (a `run.toml`, or the flags of `gpunn train`): every
//! field optional. [`RunSpec::resolve`] fills in every default from the loaded data and gives a
//! [`Run`], the one home of the defaults; a `Run` is what `--dry-run` prints, what the
//! `--metrics` JSON and the checkpoint record, and what `--resume` and `eval` read back. A
//! resolved run written as TOML reads back as a `RunSpec` that resolves to the same `Run`.
//!
//! ```toml
//! seed = 42
//! device = "auto"
//! [data]              # one of: dataset = "...", dir = "...", file = "..."
//! dataset = "mnist-sample"
//! digits = [3, 6]     # optional
//! val_split = 0.1
//! [model]
//! layers = [784, 128, 64, 10]
//! activations = ["relu", "relu", "softmax"]
//! loss = "ce"
//! init = "he-normal"
//! [train]
//! epochs = 10
//! batch_size = 32
//! lr = 0.1
//! schedule = "cosine"
//! early_stopping = 3  # optional
//! validate_every = 1  # optional: validate after every N epochs and after the last
//! [optimizer]
//! kind = "sgd"
//! ```
//!
//! An unknown key or a value of the wrong type is an error naming the key and the file.

mod data;
mod fit;
mod resolve;

pub use crate::optim::OptimizerConfig;
pub use data::{DataSource, LoadedData, SYNTHETIC};
pub use fit::{
    metrics_json, scaler_of, CheckpointSaver, Resumed, TestFigures, RUN_KEY, SCALER_KEY,
};
pub use resolve::{DataRun, ModelRun, Prepared, Run, TrainRun};

use crate::data::scale::ScaleKind;
use crate::data::table::Task;
use crate::gpu::DeviceKind;
use crate::model::{Activation, Init, Loss};
use crate::optim::OptimizerKind;
use crate::train::LrSchedule;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A training run as written by a person: every field optional, filled by [`RunSpec::resolve`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Seeds initialisation, shuffling, the validation split and synthetic data (default: 42).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// `auto`, `vulkan`, `metal`, `dx12`, `gl`, `software` or `cpu` (default: `auto`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceKind>,
    #[serde(default)]
    pub data: DataSpec,
    #[serde(default)]
    pub model: ModelSpec,
    #[serde(default)]
    pub train: TrainSpec,
    #[serde(default)]
    pub optimizer: OptimizerSpec,
}

/// `[data]`: where the samples come from and how they are split.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// `mnist`, `fashion-mnist`, `mnist-sample`, `xor`, `linear` or `circles` (default: the
    /// full MNIST if found, else `mnist-sample`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// A directory with the four IDX files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Keep two classes, relabelled 0 and 1 in this order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digits: Option<Vec<u32>>,
    /// The fraction of the shuffled training set held out for validation (default: 0.1;
    /// 0 below 50 samples).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_split: Option<f32>,
    /// Synthetic sets: number of samples (default: 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
    /// `circles`: the inner circle's radius relative to the outer one (default: 0.4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub factor: Option<f32>,
    /// `circles`: std of the Gaussian noise on each coordinate (default: 0.05).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise: Option<f32>,
    /// A `.csv`, `.npz` or `.npy` file of samples (see [`crate::data::table`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// The targets of a `.npy` file, as another `.npy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<PathBuf>,
    /// A test set in the same format as `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<PathBuf>,
    /// The fraction of a file's samples held out as the test set when it has none (seeded,
    /// stratified for classification; default: 0.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_split: Option<f32>,
    /// CSV target columns: header names or 0-based indices (default: the last column).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Vec<String>>,
    /// `classify`, `regress` or `autoencode` (default: classify).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    /// `none`, `standard` or `minmax` (default: none for images, standard for tables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<ScaleKind>,
}

/// `[model]`: the network.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// All layer sizes, input to output (default: `784,128,64,10` for images, one output
    /// for a binary task; `2,8,1` for the synthetic sets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<usize>>,
    /// One for every hidden layer, one per hidden layer, or one per layer including the output
    /// (default: relu; the output's follows the loss).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activations: Option<Vec<Activation>>,
    /// (default: bce with one output, else ce)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<Loss>,
    /// (default: he-normal for ReLU networks, else xavier-uniform)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<Init>,
    /// `false`: layers without bias (default: true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<bool>,
}

/// `[train]`: the loop.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    /// (default: 10 for images, 100 for the synthetic sets)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    /// (default: 32)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// (default: 0.1 for images, 0.5 for the synthetic sets)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f32>,
    /// `constant` or `cosine` (default: cosine for images, constant for the synthetic sets)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<LrSchedule>,
    /// Stop when the validation loss has not improved for this many epochs; keep the best.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<usize>,
    /// Validate after every this many epochs and after the last (default: 1, every epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validate_every: Option<usize>,
}

/// `[optimizer]`: the rule and its settings (defaults as in torch.optim; see [`crate::optim`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSpec {
    /// `sgd`, `adam` or `adamw` (default: sgd).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<OptimizerKind>,
    /// sgd: momentum μ (default: 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f32>,
    /// sgd: Nesterov momentum (default: false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nesterov: Option<bool>,
    /// adam, adamw (default: 0.9).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beta1: Option<f32>,
    /// adam, adamw (default: 0.999).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beta2: Option<f32>,
    /// adam, adamw (default: 1e-8).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eps: Option<f32>,
    /// On weights only: L2 for sgd and adam, decoupled for adamw (default: 0; adamw 0.01).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f32>,
    /// Scale all gradients together when their global L2 norm exceeds this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_norm: Option<f32>,
    /// Clamp each gradient to [−c, c].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_value: Option<f32>,
}

impl OptimizerSpec {
    /// Every setting filled in: the given ones, else the rule's defaults.
    pub fn resolve(&self) -> OptimizerConfig {
        let d = OptimizerConfig::of(self.kind.unwrap_or_default());
        OptimizerConfig {
            kind: d.kind,
            momentum: self.momentum.unwrap_or(d.momentum),
            nesterov: self.nesterov.unwrap_or(d.nesterov),
            beta1: self.beta1.unwrap_or(d.beta1),
            beta2: self.beta2.unwrap_or(d.beta2),
            eps: self.eps.unwrap_or(d.eps),
            weight_decay: self.weight_decay.unwrap_or(d.weight_decay),
            clip_norm: self.clip_norm.or(d.clip_norm),
            clip_value: self.clip_value.or(d.clip_value),
        }
    }

    /// A resolved optimizer as a description that resolves to it.
    pub fn of(c: &OptimizerConfig) -> OptimizerSpec {
        OptimizerSpec {
            kind: Some(c.kind),
            momentum: Some(c.momentum),
            nesterov: Some(c.nesterov),
            beta1: Some(c.beta1),
            beta2: Some(c.beta2),
            eps: Some(c.eps),
            weight_decay: Some(c.weight_decay),
            clip_norm: c.clip_norm,
            clip_value: c.clip_value,
        }
    }

    /// This section with every setting that `over` gives taken from `over`.
    fn overlay(self, over: OptimizerSpec) -> OptimizerSpec {
        OptimizerSpec {
            kind: pick(self.kind, over.kind),
            momentum: pick(self.momentum, over.momentum),
            nesterov: pick(self.nesterov, over.nesterov),
            beta1: pick(self.beta1, over.beta1),
            beta2: pick(self.beta2, over.beta2),
            eps: pick(self.eps, over.eps),
            weight_decay: pick(self.weight_decay, over.weight_decay),
            clip_norm: pick(self.clip_norm, over.clip_norm),
            clip_value: pick(self.clip_value, over.clip_value),
        }
    }
}

/// `over`'s value where it has one, else `base`'s.
fn pick<T>(base: Option<T>, over: Option<T>) -> Option<T> {
    over.or(base)
}

/// The seed when none is given.
pub const DEFAULT_SEED: u64 = 42;

impl RunSpec {
    /// The seed of the run.
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or(DEFAULT_SEED)
    }

    /// Loads the data the `[data]` section names (synthetic sets drawn with the run's seed).
    pub fn load_data(&self) -> Result<LoadedData> {
        self.data.load(self.seed())
    }

    /// Reads a run description from a TOML file. Errors name the file and the key.
    pub fn from_toml_file(path: &Path) -> Result<RunSpec> {
        let text = crate::io::read_text_capped(path, 1 << 20, "run description")?;
        parse_toml(&text).map_err(|(key, msg)| match key {
            Some(key) => Error::bad_file(path, format!("{key}: {msg}")),
            None => Error::bad_file(path, msg),
        })
    }

    /// Parses a run description written as TOML. Errors name the key (`train.lr: ...`).
    pub fn from_toml_str(text: &str) -> Result<RunSpec> {
        parse_toml(text).map_err(|(key, msg)| Error::invalid(key.unwrap_or("run".into()), msg))
    }

    /// This description with every field that `over` sets taken from `over` (flags given on
    /// the command line over a `--config` file).
    pub fn overlay(self, over: RunSpec) -> RunSpec {
        let (d, o) = (self.data, over.data);
        let (m, om) = (self.model, over.model);
        let (t, ot) = (self.train, over.train);
        // A source named on top replaces the file's source as a whole.
        let (dataset, dir, file) = if o.dataset.is_some() || o.dir.is_some() || o.file.is_some() {
            (o.dataset, o.dir, o.file)
        } else {
            (d.dataset, d.dir, d.file)
        };
        RunSpec {
            seed: pick(self.seed, over.seed),
            device: pick(self.device, over.device),
            data: DataSpec {
                dataset,
                dir,
                digits: pick(d.digits, o.digits),
                val_split: pick(d.val_split, o.val_split),
                samples: pick(d.samples, o.samples),
                factor: pick(d.factor, o.factor),
                noise: pick(d.noise, o.noise),
                file,
                labels: pick(d.labels, o.labels),
                test: pick(d.test, o.test),
                test_split: pick(d.test_split, o.test_split),
                target: pick(d.target, o.target),
                task: pick(d.task, o.task),
                scale: pick(d.scale, o.scale),
            },
            model: ModelSpec {
                layers: pick(m.layers, om.layers),
                activations: pick(m.activations, om.activations),
                loss: pick(m.loss, om.loss),
                init: pick(m.init, om.init),
                bias: pick(m.bias, om.bias),
            },
            train: TrainSpec {
                epochs: pick(t.epochs, ot.epochs),
                batch_size: pick(t.batch_size, ot.batch_size),
                lr: pick(t.lr, ot.lr),
                schedule: pick(t.schedule, ot.schedule),
                early_stopping: pick(t.early_stopping, ot.early_stopping),
                validate_every: pick(t.validate_every, ot.validate_every),
            },
            optimizer: self.optimizer.overlay(over.optimizer),
        }
    }

    /// The description as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a run description serialises as TOML")
    }
}

/// Parses a run description; on error, the key (e.g. `train.lr`) if known and the message.
fn parse_toml(text: &str) -> std::result::Result<RunSpec, (Option<String>, String)> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let msg = e.message().trim().to_string();
        match line {
            Some(l) => (None, format!("line {l}: {msg}")),
            None => (None, msg),
        }
    })?;
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let key = e.path().to_string();
        let msg = e.inner().message().trim().to_string();
        ((key != ".").then_some(key), msg)
    })
}
