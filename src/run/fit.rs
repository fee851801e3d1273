//! Training a resolved [`Run`]: the engine, the loop with checkpoints after every good epoch,
//! and resuming from a checkpoint (the test figures and metrics JSON: `figures.rs`).

use super::{DataSpec, LoadedData, Run, RunSpec, TrainSpec};
use crate::backend::{self, Opened};
use crate::checkpoint::{self, ModelMeta};
use crate::data::scale::{ScaleKind, Scaler};
use crate::data::{Dataset, Features};
use crate::engine::Engine;
use crate::model::Params;
use crate::optim::OptimizerState;
use crate::train::{self, EpochRecord, History, Observer};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// The checkpoint metadata key holding the resolved run as TOML.
pub const RUN_KEY: &str = "run";
/// The checkpoint metadata key holding every epoch's figures so far as a JSON array.
const HISTORY_KEY: &str = "history";
/// The checkpoint metadata key holding the feature scaling fitted on the training part (JSON).
pub const SCALER_KEY: &str = "scaler";
/// Checkpoints written before the run description kept their run state here (JSON).
const LEGACY_STATE_KEY: &str = "run_state";

impl Run {
    /// Opens the engine on the run's device for `params`, with the run's optimizer for a
    /// training set of mean sample weight `mean_weight` (1 without weights, see
    /// [`Run::engine_optimizer`]) and `state` to continue from (`None`: a fresh one); `auto`
    /// without a hardware GPU opens the CPU engine and says why in [`Opened::fallback`].
    pub fn open_engine(
        &self,
        params: &Params,
        state: Option<&OptimizerState>,
        mean_weight: f32,
    ) -> Result<Opened> {
        let params = &if self.model.bias {
            params.clone()
        } else {
            params.clone().without_bias()
        };
        let mut opened = backend::open(self.device, params, self.train.batch_size)?;
        opened
            .engine
            .set_optimizer(&self.engine_optimizer(mean_weight), state)?;
        Ok(opened)
    }

    /// Trains `engine` for the run on `train`, validating on `val` (the two halves of
    /// [`Run::split`]), the epochs after `earlier` (none for a new run; a resumed run's
    /// history, whose training losses count for the plateau again). With early stopping the
    /// engine ends holding the best epoch's parameters.
    pub fn fit(
        &self,
        engine: &mut dyn Engine,
        train: &Dataset,
        val: Option<&Dataset>,
        earlier: &[EpochRecord],
        observer: &mut dyn Observer,
    ) -> Result<History> {
        let start_epoch = earlier.last().map_or(0, |r| r.epoch) + 1;
        let cfg = self.train_config(start_epoch);
        train::train_after(engine, train, val, &cfg, earlier, observer)
    }

    /// Checkpoint metadata for parameters of this run after the epochs in `history`.
    pub fn checkpoint_meta(
        &self,
        data: &LoadedData,
        scaler: &Scaler,
        history: &[EpochRecord],
    ) -> ModelMeta {
        let dim = data.train.dim;
        let side = (dim as f64).sqrt() as usize;
        let mut extra = std::collections::BTreeMap::new();
        extra.insert("class_names".to_string(), data.class_names.join(","));
        extra.insert(RUN_KEY.to_string(), self.to_toml());
        let input = match data.train.features {
            Features::U8(_) => "pixels",
            Features::F32(_) => "values",
        };
        extra.insert(crate::export::INPUT_KEY.to_string(), input.to_string());
        if scaler.kind != ScaleKind::None {
            extra.insert(
                SCALER_KEY.to_string(),
                serde_json::to_string(scaler).expect("a scaler serialises"),
            );
        }
        extra.insert(
            HISTORY_KEY.to_string(),
            serde_json::to_string(history).expect("epoch records serialise"),
        );
        ModelMeta {
            input_shape: if data.images && side * side == dim {
                vec![side, side]
            } else {
                vec![dim]
            },
            classes: data.train.classes,
            dataset: data.name.clone(),
            epoch: history.last().map_or(0, |r| r.epoch),
            extra,
        }
    }
}

/// An observer that saves a checkpoint after every good epoch (atomically, so a later
/// divergence or kill keeps the last good one), then hands every call on to `inner`.
pub struct CheckpointSaver<'a> {
    pub path: PathBuf,
    pub run: &'a Run,
    pub data: &'a LoadedData,
    pub scaler: &'a Scaler,
    /// Epochs from before a resume, prepended to the history.
    pub earlier: Vec<EpochRecord>,
    pub inner: &'a mut dyn Observer,
}

impl CheckpointSaver<'_> {
    /// Saves `engine`'s parameters and optimizer state with the earlier epochs followed by
    /// `epochs`.
    pub fn save(&self, engine: &mut dyn Engine, epochs: &[EpochRecord]) -> Result<()> {
        let params = engine.params()?;
        let state = engine.optimizer_state()?;
        let history: Vec<EpochRecord> = self.earlier.iter().chain(epochs).cloned().collect();
        let meta = self.run.checkpoint_meta(self.data, self.scaler, &history);
        checkpoint::save_with_state(&self.path, &params, &meta, Some(&state))
    }
}

impl Observer for CheckpointSaver<'_> {
    fn progress(&mut self, epoch: usize, done: usize, total: usize) {
        self.inner.progress(epoch, done, total);
    }

    fn epoch_end(&mut self, record: &EpochRecord) {
        self.inner.epoch_end(record);
    }

    fn epoch_done(&mut self, history: &History, engine: &mut dyn Engine) -> Result<()> {
        self.save(engine, &history.epochs)?;
        self.inner.epoch_done(history, engine)
    }
}

/// A checkpoint to continue from: its parameters, the run that wrote it (as a full
/// description, so that settings may be laid over it) and the epochs already run.
pub struct Resumed {
    pub path: PathBuf,
    pub params: Params,
    /// The optimizer's state (none in checkpoints of plain SGD and older ones).
    pub state: Option<OptimizerState>,
    pub spec: RunSpec,
    pub history: Vec<EpochRecord>,
}

impl Resumed {
    /// Reads a checkpoint written by a training run (also by gpunn before run descriptions).
    pub fn load(path: &Path) -> Result<Resumed> {
        let (params, meta, state) = checkpoint::load_with_state(path)?;
        let bad = |msg: String| Error::bad_file(path, msg);
        let (spec, history) = match (meta.extra.get(RUN_KEY), meta.extra.get(LEGACY_STATE_KEY)) {
            (Some(text), _) => {
                let run = Run::from_toml_str(text)
                    .map_err(|e| bad(format!("metadata '{RUN_KEY}': {e}")))?;
                let history = match meta.extra.get(HISTORY_KEY) {
                    Some(h) => serde_json::from_str(h)
                        .map_err(|e| bad(format!("metadata '{HISTORY_KEY}': {e}")))?,
                    None => Vec::new(),
                };
                (run.to_spec(), history)
            }
            (None, Some(state)) => legacy_state(&params, state)
                .map_err(|e| bad(format!("metadata '{LEGACY_STATE_KEY}': {e}")))?,
            (None, None) => {
                return Err(bad(
                    "no run state to resume from (was it saved by gpunn train --save?)".into(),
                ))
            }
        };
        Ok(Resumed {
            path: path.to_path_buf(),
            params,
            state,
            spec,
            history,
        })
    }

    /// The epoch to continue with.
    pub fn next_epoch(&self) -> usize {
        self.history.last().map_or(0, |r| r.epoch) + 1
    }
}

/// The run state of checkpoints written before the run description.
#[derive(serde::Deserialize)]
struct LegacyState {
    dataset: Option<String>,
    data: Option<PathBuf>,
    digits: Option<String>,
    seed: u64,
    lr: f32,
    #[serde(default)]
    schedule: Option<crate::train::LrSchedule>,
    batch_size: usize,
    val_split: f32,
    early_stopping: Option<usize>,
    samples: usize,
    factor: f32,
    noise: f32,
    epochs: usize,
    history: Vec<EpochRecord>,
}

fn legacy_state(
    params: &Params,
    text: &str,
) -> std::result::Result<(RunSpec, Vec<EpochRecord>), String> {
    let s: LegacyState = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let digits = match &s.digits {
        Some(d) => Some(
            d.split(',')
                .map(|t| {
                    t.trim()
                        .parse::<u32>()
                        .map_err(|_| format!("bad digits '{d}'"))
                })
                .collect::<std::result::Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    let spec = params.spec();
    let synthetic = s
        .dataset
        .as_deref()
        .is_some_and(|d| super::SYNTHETIC.contains(&d));
    let run = RunSpec {
        seed: Some(s.seed),
        device: None,
        data: DataSpec {
            dataset: s.dataset,
            dir: s.data,
            digits,
            val_split: Some(s.val_split),
            samples: synthetic.then_some(s.samples),
            factor: synthetic.then_some(s.factor),
            noise: synthetic.then_some(s.noise),
            ..Default::default()
        },
        model: super::ModelSpec {
            layers: Some(spec.sizes),
            activations: Some(spec.activations),
            loss: Some(spec.loss),
            ..Default::default()
        },
        train: TrainSpec {
            epochs: Some(s.epochs),
            batch_size: Some(s.batch_size),
            lr: Some(s.lr),
            schedule: Some(s.schedule.unwrap_or(crate::train::LrSchedule::Constant)),
            early_stopping: s.early_stopping,
            ..Default::default()
        },
        optimizer: Default::default(),
    };
    Ok((run, s.history))
}

/// The feature scaling a checkpoint's model was trained with (none when it records none).
pub fn scaler_of(path: &Path, meta: &ModelMeta) -> Result<Scaler> {
    match meta.extra.get(SCALER_KEY) {
        None => Ok(Scaler::default()),
        Some(text) => {
            let s: Scaler = serde_json::from_str(text)
                .map_err(|e| Error::bad_file(path, format!("metadata '{SCALER_KEY}': {e}")))?;
            let bad = s.shift.len() != s.scale.len()
                || s.target_shift.len() != s.target_scale.len()
                || s.scale
                    .iter()
                    .chain(&s.target_scale)
                    .any(|&v| !(v.is_finite() && v != 0.0));
            if bad {
                return Err(Error::bad_file(
                    path,
                    format!("metadata '{SCALER_KEY}': inconsistent or zero scales"),
                ));
            }
            Ok(s)
        }
    }
}

impl RunSpec {
    /// The run a checkpoint was trained with, for `eval` to find the model's data: the run it
    /// records, or for checkpoints from before run descriptions, the dataset name (or
    /// directory) and the digits in its metadata.
    pub fn of_checkpoint(path: &Path, meta: &ModelMeta) -> Result<RunSpec> {
        if let Some(text) = meta.extra.get(RUN_KEY) {
            let run = Run::from_toml_str(text)
                .map_err(|e| Error::bad_file(path, format!("metadata '{RUN_KEY}': {e}")))?;
            return Ok(run.to_spec());
        }
        let mut spec = RunSpec::default();
        let named = crate::data::mnist::NAMES
            .iter()
            .chain(&super::SYNTHETIC)
            .any(|n| *n == meta.dataset);
        if named {
            spec.data.dataset = Some(meta.dataset.clone());
        } else {
            spec.data.dir = Some(PathBuf::from(&meta.dataset));
        }
        if let Some(d) = meta.extra.get("digits") {
            let digits = d
                .split(',')
                .map(|t| t.trim().parse::<u32>())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|_| Error::bad_file(path, format!("metadata 'digits': bad list '{d}'")))?;
            spec.data.digits = Some(digits);
        }
        Ok(spec)
    }
}
