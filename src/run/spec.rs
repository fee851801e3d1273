//! The run description's types: [`RunSpec`] as a person writes it (every field optional) and
//! [`Run`] with every default filled in, section by section. A setting's field is in both; its
//! flag, default and help are declared in [`super::settings`].

use crate::data::scale::ScaleKind;
use crate::data::table::Task;
use crate::gpu::DeviceKind;
use crate::model::{Activation, Init, Loss};
use crate::optim::{OptimizerConfig, OptimizerKind};
use crate::train::{LrSchedule, StopOn, TrainConfig};
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;
use std::path::PathBuf;

/// A training run as written by a person: every field optional, filled by [`RunSpec::resolve`].
/// Each field is the setting of the same key in [`super::settings::SETTINGS`], which gives its
/// meaning, flag and default.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Seeds initialisation, shuffling, the validation split and synthetic data.
    pub seed: Option<u64>,
    /// `auto`, `vulkan`, `metal`, `dx12`, `gl`, `software` or `cpu`.
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
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// `mnist`, `fashion-mnist`, `mnist-sample`, `xor`, `linear` or `circles`.
    pub dataset: Option<String>,
    /// A directory with the four IDX files.
    pub dir: Option<PathBuf>,
    /// Keep two classes, relabelled 0 and 1 in this order.
    pub digits: Option<Vec<u32>>,
    /// The fraction of the shuffled training set held out for validation.
    pub val_split: Option<f32>,
    /// Synthetic sets: number of samples.
    pub samples: Option<usize>,
    /// `circles`: the inner circle's radius relative to the outer one.
    pub factor: Option<f32>,
    /// `circles`: std of the Gaussian noise on each coordinate.
    pub noise: Option<f32>,
    /// A `.csv`, `.npz` or `.npy` file of samples (see [`crate::data::table`]).
    pub file: Option<PathBuf>,
    /// The targets of a `.npy` file, as another `.npy`.
    pub labels: Option<PathBuf>,
    /// A test set in the same format as `file`.
    pub test: Option<PathBuf>,
    /// The fraction of a file's samples held out as the test set when it has none (seeded,
    /// stratified for classification).
    pub test_split: Option<f32>,
    /// CSV target columns: header names or 0-based indices.
    pub target: Option<Vec<String>>,
    /// `classify`, `regress` or `autoencode`.
    pub task: Option<Task>,
    /// `none`, `standard` or `minmax`.
    pub scale: Option<ScaleKind>,
}

/// `[model]`: the network.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// All layer sizes, input to output.
    pub layers: Option<Vec<usize>>,
    /// One for every hidden layer, one per hidden layer, or one per layer including the output.
    pub activations: Option<Vec<Activation>>,
    pub loss: Option<Loss>,
    pub init: Option<Init>,
    /// `false`: layers without bias.
    pub bias: Option<bool>,
}

/// `[train]`: the loop.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
    pub lr: Option<f32>,
    /// `constant` or `cosine`.
    pub schedule: Option<LrSchedule>,
    pub power_t: Option<f32>,
    /// Stop on a plateau of the training loss.
    pub n_iter_no_change: Option<usize>,
    pub tol: Option<f32>,
    /// What `n_iter_no_change` watches.
    pub stop_on: Option<StopOn>,
    /// scikit-learn's L2 penalty α.
    pub alpha: Option<f32>,
    /// Stop when the validation loss has not improved for this many epochs; keep the best.
    pub early_stopping: Option<usize>,
    /// Validate after every this many epochs and after the last.
    pub validate_every: Option<usize>,
    /// Shuffle the training samples every epoch.
    pub shuffle: Option<bool>,
}

/// `[optimizer]`: the rule and its settings.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSpec {
    /// `sgd`, `adam` or `adamw`.
    pub kind: Option<OptimizerKind>,
    /// sgd: momentum μ.
    pub momentum: Option<f32>,
    /// sgd: Nesterov momentum.
    pub nesterov: Option<bool>,
    /// adam, adamw.
    pub beta1: Option<f32>,
    /// adam, adamw.
    pub beta2: Option<f32>,
    /// adam, adamw.
    pub eps: Option<f32>,
    /// On weights only: L2 for sgd and adam, decoupled for adamw.
    pub weight_decay: Option<f32>,
    /// Scale all gradients together when their global L2 norm exceeds this.
    pub clip_norm: Option<f32>,
    /// Clamp each gradient to [−c, c].
    pub clip_value: Option<f32>,
}

/// A run with every default filled in: what is trained, printed and saved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    pub seed: u64,
    pub device: DeviceKind,
    pub data: DataRun,
    pub model: ModelRun,
    pub train: TrainRun,
    pub optimizer: OptimizerConfig,
}

/// `[data]`, resolved: exactly one of `dataset` and `dir` is set.
#[skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataRun {
    pub dataset: Option<String>,
    pub dir: Option<PathBuf>,
    pub digits: Option<Vec<u32>>,
    pub val_split: f32,
    /// Set for the synthetic sets only.
    pub samples: Option<usize>,
    pub factor: Option<f32>,
    pub noise: Option<f32>,
    pub file: Option<PathBuf>,
    pub labels: Option<PathBuf>,
    pub test: Option<PathBuf>,
    /// Set where the test set was held out of `file`.
    pub test_split: Option<f32>,
    pub target: Option<Vec<String>>,
    /// (runs recorded before tasks existed classify)
    #[serde(default)]
    pub task: Task,
    /// (runs recorded before scaling existed scale nothing)
    #[serde(default)]
    pub scale: ScaleKind,
}

/// `[model]`, resolved: one activation per dense layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRun {
    pub layers: Vec<usize>,
    pub activations: Vec<Activation>,
    pub loss: Loss,
    pub init: Init,
    /// (runs recorded before `bias` existed have biases)
    #[serde(default = "yes")]
    pub bias: bool,
}

fn yes() -> bool {
    true
}

/// `[train]`, resolved.
#[skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainRun {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f32,
    pub schedule: LrSchedule,
    /// Written when not the default (scikit-learn's 0.5), so earlier runs read back.
    #[serde(default = "half", skip_serializing_if = "is_half")]
    pub power_t: f32,
    pub n_iter_no_change: Option<usize>,
    /// Written when not the default, so earlier runs read back.
    #[serde(default = "default_tol", skip_serializing_if = "is_default_tol")]
    pub tol: f32,
    /// (runs recorded before `stop_on` existed watch the training loss)
    #[serde(default, skip_serializing_if = "StopOn::is_train_loss")]
    pub stop_on: StopOn,
    pub alpha: Option<f32>,
    pub early_stopping: Option<usize>,
    /// 1 (every epoch) when absent, as in descriptions written before it existed.
    #[serde(default = "every_epoch", skip_serializing_if = "is_every_epoch")]
    pub validate_every: usize,
    /// (runs recorded before `shuffle` existed shuffle)
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub shuffle: bool,
}

/// The declared default of `train.power_t`.
fn half() -> f32 {
    super::settings::default_of("train.power_t", super::settings::DataKind::Images)
}

fn is_half(p: &f32) -> bool {
    *p == half()
}

/// The declared default of `train.tol`.
fn default_tol() -> f32 {
    super::settings::default_of("train.tol", super::settings::DataKind::Images)
}

fn is_default_tol(t: &f32) -> bool {
    *t == default_tol()
}

fn is_yes(b: &bool) -> bool {
    *b
}

fn every_epoch() -> usize {
    1
}

fn is_every_epoch(n: &usize) -> bool {
    *n == 1
}

impl Run {
    /// The loop's settings, starting at epoch `start_epoch` (1 for a new run).
    pub fn train_config(&self, start_epoch: usize) -> TrainConfig {
        let t = &self.train;
        TrainConfig {
            epochs: t.epochs,
            batch_size: t.batch_size,
            lr: t.lr,
            schedule: t.schedule,
            power_t: t.power_t,
            n_iter_no_change: t.n_iter_no_change,
            tol: t.tol,
            stop_on: t.stop_on,
            alpha: t.alpha,
            seed: self.seed,
            early_stopping: t.early_stopping,
            validate_every: t.validate_every,
            shuffle: t.shuffle,
            steps_per_chunk: crate::engine::STEPS_PER_SUBMISSION,
            start_epoch,
        }
    }
}

impl Run {
    /// The optimizer the engines run on a training set whose mean sample weight is
    /// `mean_weight` (1 without weights): the run's, with `train.alpha`'s decay on the weights,
    /// α/(B·mean_weight). scikit-learn divides α by each batch's weight sum; this is that sum
    /// for a batch of average weight, and exactly it for full batches and unweighted ones
    /// (but for a partial last batch).
    pub fn engine_optimizer(&self, mean_weight: f32) -> OptimizerConfig {
        let mut cfg = self.optimizer;
        if let Some(alpha) = self.train.alpha {
            let per = self.train.batch_size.max(1) as f32 * mean_weight;
            cfg.weight_decay = if per > 0.0 { alpha / per } else { 0.0 };
        }
        cfg
    }
}
