//! [`RunSpec::resolve`]: the one home of the defaults, and the resolved [`Run`].

use super::{DataSource, DataSpec, LoadedData, ModelSpec, OptimizerSpec, RunSpec, TrainSpec};
use crate::data::scale::{ScaleKind, Scaler};
use crate::data::table::Task;
use crate::data::{mnist, Dataset};
use crate::gpu::DeviceKind;
use crate::model::{Activation, Init, Loss, MlpSpec, Params};
use crate::optim::OptimizerConfig;
use crate::train::{LrSchedule, TrainConfig};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataRun {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digits: Option<Vec<u32>>,
    pub val_split: f32,
    /// Set for the synthetic sets only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub factor: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<PathBuf>,
    /// Set where the test set was held out of `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_split: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainRun {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f32,
    pub schedule: LrSchedule,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<usize>,
    /// 1 (every epoch) when absent, as in descriptions written before it existed.
    #[serde(default = "every_epoch", skip_serializing_if = "is_every_epoch")]
    pub validate_every: usize,
}

fn every_epoch() -> usize {
    1
}

fn is_every_epoch(n: &usize) -> bool {
    *n == 1
}

/// The scaled training, validation and test sets of a run, and the scaling.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub train: Dataset,
    pub val: Option<Dataset>,
    pub test: Option<Dataset>,
    pub scaler: Scaler,
}

impl RunSpec {
    /// Fills in every default from `data` (loaded with [`DataSpec::load`]): the layer sizes from
    /// the input size and class count, the loss from the output count, the output activation
    /// from the loss, the initialiser from the activations, and the loop's settings from the
    /// kind of data (images or a synthetic set). Checks the result: errors name the field.
    pub fn resolve(&self, data: &LoadedData) -> Result<Run> {
        let (m, t) = (&self.model, &self.train);
        let images = data.images;
        let train = &data.train;
        let task = data.task;
        let scale = self
            .data
            .scale
            .unwrap_or(if images || data.synthetic.is_some() {
                ScaleKind::None
            } else {
                ScaleKind::Standard
            });
        let outputs = match task {
            Task::Classify if train.classes == 2 && (!images || self.data.digits.is_some()) => 1,
            Task::Classify => train.classes,
            Task::Regress => train.target_dim().unwrap_or(1),
            Task::Autoencode => train.dim,
        };
        let layers = match &m.layers {
            Some(l) => l.clone(),
            None if task == Task::Autoencode && images => vec![train.dim, 128, 32, 128, outputs],
            None if task == Task::Autoencode => vec![train.dim, (train.dim / 2).max(2), outputs],
            None if images => vec![train.dim, 128, 64, outputs],
            None if data.synthetic.is_none() => vec![train.dim, 32, outputs],
            None => vec![train.dim, 8, outputs],
        };
        let out = *layers.last().unwrap_or(&1);
        let loss = m.loss.unwrap_or(match task {
            Task::Classify if out == 1 => Loss::Bce,
            Task::Classify => Loss::Ce,
            Task::Regress | Task::Autoencode => Loss::Mse,
        });
        // Regression outputs are unbounded; reconstructions of values in [0, 1] (pixels, min-max
        // scaled tables) are sigmoids, of standardised ones unbounded.
        let unit_range = scale == ScaleKind::MinMax || (scale == ScaleKind::None && images);
        let output = match task {
            Task::Classify => loss.default_output(),
            Task::Autoencode if unit_range => loss.default_output(),
            Task::Regress | Task::Autoencode => {
                loss.required_output().unwrap_or(Activation::Identity)
            }
        };
        let depth = layers.len().saturating_sub(1).max(1);
        let activations = full_activations(m.activations.as_deref(), depth, output)?;
        // A layer that cannot be (softmax inside, ce on one output...) comes from these fields.
        let spec =
            MlpSpec::new(layers.clone(), activations.clone(), loss).map_err(|e| match e {
                Error::BadLayer { .. } => {
                    Error::invalid("model.activations/model.loss", e.to_string())
                }
                e => e,
            })?;
        let hidden_relu = spec.activations[..depth - 1]
            .iter()
            .all(|&x| x == Activation::Relu || x == Activation::LeakyRelu);
        let init = m.init.unwrap_or(if hidden_relu {
            Init::HeNormal
        } else {
            Init::XavierUniform
        });
        let (dataset, dir, file) = match &data.source {
            DataSource::Dataset(n) => (Some(n.clone()), None, None),
            DataSource::Dir(d) => (None, Some(d.clone()), None),
            DataSource::File(f) => (None, None, Some(f.clone())),
        };
        let optimizer = self.optimizer.resolve();
        let run = Run {
            seed: self.seed(),
            device: self.device.unwrap_or(DeviceKind::Auto),
            data: DataRun {
                dataset,
                dir,
                digits: self.data.digits.clone(),
                val_split: self
                    .data
                    .val_split
                    .unwrap_or(if train.len() < 50 { 0.0 } else { 0.1 }),
                samples: data.synthetic.map(|s| s.0),
                factor: data.synthetic.map(|s| s.1),
                noise: data.synthetic.map(|s| s.2),
                file,
                labels: self.data.labels.clone(),
                test: self.data.test.clone(),
                test_split: data.test_split,
                target: self.data.target.clone(),
                task,
                scale,
            },
            model: ModelRun {
                layers,
                activations,
                loss,
                init,
                bias: m.bias.unwrap_or(true),
            },
            train: TrainRun {
                epochs: t.epochs.unwrap_or(if images { 10 } else { 100 }),
                batch_size: t.batch_size.unwrap_or(32),
                lr: t.lr.or(optimizer.kind.default_lr()).unwrap_or(if images {
                    0.1
                } else if data.synthetic.is_some() {
                    0.5
                } else if task == Task::Classify {
                    // Standardised tables: plain SGD at the images' rate (at 0.01 a
                    // 2-feature table barely moves in 60 epochs).
                    0.1
                } else {
                    // Regressed or reconstructed tables, whose unbounded outputs diverged at
                    // 0.5: Keras's SGD default.
                    0.01
                }),
                schedule: t.schedule.unwrap_or(if images {
                    LrSchedule::Cosine
                } else {
                    LrSchedule::Constant
                }),
                early_stopping: t.early_stopping,
                validate_every: t.validate_every.unwrap_or(1),
            },
            optimizer,
        };
        run.check(data)?;
        Ok(run)
    }
}

/// One activation per dense layer from the `activations` field: one for every hidden layer,
/// one per hidden layer, or one per layer; the output's follows the loss unless given.
fn full_activations(
    given: Option<&[Activation]>,
    depth: usize,
    output: Activation,
) -> Result<Vec<Activation>> {
    let list = given.unwrap_or(&[Activation::Relu]);
    let hidden = depth - 1;
    let mut acts = match list.len() {
        n if n == depth => return Ok(list.to_vec()),
        1 => vec![list[0]; hidden],
        n if n == hidden => list.to_vec(),
        n => {
            return Err(Error::invalid(
                "model.activations",
                format!(
                    "{n} activations given for {hidden} hidden layers (give 1, {hidden} or {depth})"
                ),
            ))
        }
    };
    acts.push(output);
    Ok(acts)
}

impl Run {
    /// Checks the loop's settings and that the network fits `data`.
    fn check(&self, data: &LoadedData) -> Result<()> {
        self.train_config(1).validate()?;
        self.optimizer.validate()?;
        if self.train.early_stopping.is_some() && self.data.val_split == 0.0 {
            return Err(Error::invalid(
                "train.early_stopping",
                "needs a validation set: set data.val_split above 0",
            ));
        }
        let params = Params::init(&self.mlp()?, Init::Zeros, 0)?;
        crate::engine::check_fits(&params, &data.train)
    }

    /// The network's architecture.
    pub fn mlp(&self) -> Result<MlpSpec> {
        let m = &self.model;
        MlpSpec::new(m.layers.clone(), m.activations.clone(), m.loss)
    }

    /// Fresh parameters, drawn from the run's initialiser and seed.
    pub fn init_params(&self) -> Result<Params> {
        let p = Params::init(&self.mlp()?, self.model.init, self.seed)?;
        Ok(if self.model.bias { p } else { p.without_bias() })
    }

    /// The loop's settings, starting at epoch `start_epoch` (1 for a new run).
    pub fn train_config(&self, start_epoch: usize) -> TrainConfig {
        let t = &self.train;
        TrainConfig {
            epochs: t.epochs,
            batch_size: t.batch_size,
            lr: t.lr,
            schedule: t.schedule,
            seed: self.seed,
            early_stopping: t.early_stopping,
            validate_every: t.validate_every,
            steps_per_chunk: 32,
            start_epoch,
        }
    }

    /// The training and validation sets: the seeded split of `data.train`, unscaled.
    pub fn split(&self, data: &LoadedData) -> Result<(Dataset, Option<Dataset>)> {
        mnist::split_validation(&data.train, self.data.val_split, self.seed)
    }

    /// The sets a run trains, validates and tests on: the seeded validation split, then the
    /// run's scaling fitted on the training part and applied to all three.
    pub fn prepare(&self, data: &LoadedData) -> Result<Prepared> {
        let (train, val) = self.split(data)?;
        let scaler = Scaler::fit(self.data.scale, &train);
        Ok(Prepared {
            train: scaler.apply(&train)?,
            val: val.as_ref().map(|v| scaler.apply(v)).transpose()?,
            test: data.test.as_ref().map(|t| scaler.apply(t)).transpose()?,
            scaler,
        })
    }

    /// The run as a description that resolves to this same run (for `--config` files and for
    /// overlaying flags on a resumed run).
    pub fn to_spec(&self) -> RunSpec {
        let (d, m, t) = (&self.data, &self.model, &self.train);
        RunSpec {
            seed: Some(self.seed),
            device: Some(self.device),
            data: DataSpec {
                dataset: d.dataset.clone(),
                dir: d.dir.clone(),
                digits: d.digits.clone(),
                val_split: Some(d.val_split),
                samples: d.samples,
                factor: d.factor,
                noise: d.noise,
                file: d.file.clone(),
                labels: d.labels.clone(),
                test: d.test.clone(),
                test_split: d.test_split,
                target: d.target.clone(),
                task: Some(d.task),
                scale: Some(d.scale),
            },
            model: ModelSpec {
                layers: Some(m.layers.clone()),
                activations: Some(m.activations.clone()),
                loss: Some(m.loss),
                init: Some(m.init),
                bias: Some(m.bias),
            },
            train: TrainSpec {
                epochs: Some(t.epochs),
                batch_size: Some(t.batch_size),
                lr: Some(t.lr),
                schedule: Some(t.schedule),
                early_stopping: t.early_stopping,
                validate_every: (t.validate_every != 1).then_some(t.validate_every),
            },
            optimizer: OptimizerSpec::of(&self.optimizer),
        }
    }

    /// The run as TOML (what `gpunn train --dry-run` prints).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a resolved run serialises as TOML")
    }

    /// Reads a resolved run back from TOML (as written by [`Run::to_toml`]).
    pub fn from_toml_str(text: &str) -> std::result::Result<Run, String> {
        toml::from_str(text).map_err(|e| e.message().trim().to_string())
    }
}
