//! Training a resolved [`Run`]: the engine, the loop with checkpoints after every good epoch,
//! resuming from a checkpoint, and the metrics JSON.

use super::{DataSpec, LoadedData, Run, RunSpec, TrainSpec};
use crate::backend::{self, Opened};
use crate::checkpoint::{self, ModelMeta};
use crate::data::Dataset;
use crate::engine::{Engine, Evaluation};
use crate::metrics::ConfusionMatrix;
use crate::model::Params;
use crate::optim::OptimizerState;
use crate::train::{self, EpochRecord, History, Observer};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// The checkpoint metadata key holding the resolved run as TOML.
pub const RUN_KEY: &str = "run";
/// The checkpoint metadata key holding every epoch's figures so far as a JSON array.
const HISTORY_KEY: &str = "history";
/// Checkpoints written before the run description kept their run state here (JSON).
const LEGACY_STATE_KEY: &str = "run_state";

impl Run {
    /// Opens the engine on the run's device for `params`, with the run's optimizer and `state`
    /// to continue from (`None`: a fresh one); `auto` without a hardware GPU opens the CPU
    /// engine and says why in [`Opened::fallback`].
    pub fn open_engine(&self, params: &Params, state: Option<&OptimizerState>) -> Result<Opened> {
        let mut opened = backend::open(self.device, params, self.train.batch_size)?;
        opened.engine.set_optimizer(&self.optimizer, state)?;
        Ok(opened)
    }

    /// Trains `engine` for the run on `train`, validating on `val` (the two halves of
    /// [`Run::split`]), epochs `start_epoch..=epochs` (1 for a new run). With early stopping the
    /// engine ends holding the best epoch's parameters.
    pub fn fit(
        &self,
        engine: &mut dyn Engine,
        train: &Dataset,
        val: Option<&Dataset>,
        start_epoch: usize,
        observer: &mut dyn Observer,
    ) -> Result<History> {
        let cfg = self.train_config(start_epoch);
        train::train(engine, train, val, &cfg, observer)
    }

    /// Checkpoint metadata for parameters of this run after the epochs in `history`.
    pub fn checkpoint_meta(&self, data: &LoadedData, history: &[EpochRecord]) -> ModelMeta {
        let dim = data.train.dim;
        let side = (dim as f64).sqrt() as usize;
        let mut extra = std::collections::BTreeMap::new();
        extra.insert("class_names".to_string(), data.class_names.join(","));
        extra.insert(RUN_KEY.to_string(), self.to_toml());
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
        let meta = self.run.checkpoint_meta(self.data, &history);
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
        },
        model: super::ModelSpec {
            layers: Some(spec.sizes),
            activations: Some(spec.activations),
            loss: Some(spec.loss),
            init: None,
        },
        train: TrainSpec {
            epochs: Some(s.epochs),
            batch_size: Some(s.batch_size),
            lr: Some(s.lr),
            schedule: Some(s.schedule.unwrap_or(crate::train::LrSchedule::Constant)),
            early_stopping: s.early_stopping,
        },
        optimizer: Default::default(),
    };
    Ok((run, s.history))
}

/// The `--metrics` JSON: the resolved run under `"run"`, the history, the test figures and
/// the confusion matrix (rows = true class).
pub fn metrics_json(
    run: &Run,
    data: &LoadedData,
    device: &str,
    history: &History,
    test: Option<(&Evaluation, &ConfusionMatrix)>,
) -> serde_json::Value {
    serde_json::json!({
        "run": run,
        "dataset": data.description,
        "device": device,
        "layers": run.model.layers,
        "activations": run.model.activations,
        "loss": run.model.loss,
        "lr": run.train.lr,
        "batch_size": run.train.batch_size,
        "seed": run.seed,
        "history": history.epochs,
        "best_epoch": history.best_epoch,
        "stopped_early": history.stopped_early,
        "test_loss": test.map(|t| t.0.loss),
        "test_accuracy": test.map(|t| t.0.accuracy),
        "class_names": data.class_names,
        "confusion_matrix": test.map(|t| &t.1.counts),
    })
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
