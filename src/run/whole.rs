//! A whole run in one call: load the data → resolve the run → split and scale → open the
//! engine → train, saving a checkpoint after every good epoch → save → test. The CLI's `train`,
//! the sweep's retrain of its best configuration and the examples all train through
//! [`train_run`].

use super::{CheckpointSaver, LoadedData, Prepared, Resumed, Run, RunSpec, TestFigures};
use crate::engine::Engine;
use crate::gpu::DeviceKind;
use crate::model::Params;
use crate::optim::OptimizerState;
use crate::tensorboard::{Logged, TensorBoard};
use crate::train::{History, Observer, Quiet};
use crate::Result;
use std::path::{Path, PathBuf};

/// What a run is trained with besides its description.
#[derive(Default)]
pub struct TrainOptions {
    /// Save the model here after every good epoch and at the end, each time atomically.
    pub save: Option<PathBuf>,
    /// Continue this checkpoint from its last epoch: its parameters, optimizer state and
    /// history. The description trained is the one given (lay it over `resume.spec`).
    pub resume: Option<Resumed>,
    /// Train on this device rather than the run's.
    pub device: Option<DeviceKind>,
    /// Train on these data rather than load the ones the description names (arrays a program
    /// holds: [`LoadedData::in_memory`]).
    pub data: Option<LoadedData>,
    /// Start from these parameters, and optimizer state where given, rather than fresh ones
    /// (scikit-learn's `warm_start` and `partial_fit`); the epochs count from 1.
    pub start: Option<(Params, Option<OptimizerState>)>,
    /// Write a TensorBoard log of every epoch into this directory (see [`crate::tensorboard`]).
    pub tensorboard: Option<PathBuf>,
}

/// What a run is about to train, told to [`RunObserver::started`] before the first epoch.
pub struct Started<'a> {
    pub run: &'a Run,
    pub data: &'a LoadedData,
    pub sets: &'a Prepared,
    /// The engine's description (`fast CPU (2 threads)`, an adapter's name).
    pub engine: &'a str,
    /// Why `auto` fell back to the CPU, when it did.
    pub fallback: Option<&'a str>,
    /// When resuming: the checkpoint's last epoch, and the checkpoint.
    pub resumed: Option<(usize, &'a Path)>,
}

/// An [`Observer`] that is also told what the run is before it starts.
pub trait RunObserver: Observer {
    fn started(&mut self, _start: &Started<'_>) {}
}

impl RunObserver for Quiet {}

/// A trained run: the resolved run, its data (described; its samples are in `sets`) and sets,
/// the engine holding the parameters (the best epoch's with early stopping), every epoch's
/// figures and the test figures.
pub struct Trained {
    pub run: Run,
    pub data: LoadedData,
    pub sets: Prepared,
    pub engine: Box<dyn Engine>,
    /// Every epoch, from before a resume too.
    pub history: History,
    /// None without a test set.
    pub test: Option<TestFigures>,
}

/// Trains the run `spec` describes from start to end (see the module's documentation).
pub fn train_run(
    spec: &RunSpec,
    options: TrainOptions,
    observer: &mut dyn RunObserver,
) -> Result<Trained> {
    let mut data = match options.data {
        Some(data) => data,
        None => spec.load_data()?,
    };
    let mut run = spec.resolve(&data)?;
    if let Some(device) = options.device {
        run.device = device;
    }
    // The samples move into the prepared sets (split and scaled in place): held once.
    let sets = run.prepare_owned(&mut data)?;
    let resumed_from = options.resume.as_ref().map(|r| r.path.clone());
    let (params, state, earlier, start) = match (options.resume, options.start) {
        (Some(r), _) => {
            let start = r.next_epoch();
            (r.params, r.state, r.history, start)
        }
        (None, Some((params, state))) => (params, state, Vec::new(), 1),
        (None, None) => (run.init_params()?, None, Vec::new(), 1),
    };
    let mut logged;
    let observer: &mut dyn RunObserver = match &options.tensorboard {
        Some(dir) => {
            let log = TensorBoard::create(dir, data.train.classes > 0)?;
            logged = Logged {
                inner: observer,
                log,
            };
            &mut logged
        }
        None => observer,
    };
    let opened = run.open_engine(&params, state.as_ref(), sets.train.mean_weight())?;
    let mut engine = opened.engine;
    observer.started(&Started {
        run: &run,
        data: &data,
        sets: &sets,
        engine: &engine.describe(),
        fallback: opened.fallback.as_deref(),
        resumed: resumed_from.as_deref().map(|p| (start - 1, p)),
    });
    let (train, val) = (&sets.train, sets.val.as_ref());
    let mut history = match &options.save {
        Some(path) => {
            let mut saver = CheckpointSaver {
                path: path.clone(),
                run: &run,
                data: &data,
                scaler: &sets.scaler,
                earlier: earlier.clone(),
                inner: observer,
            };
            let h = run.fit(engine.as_mut(), train, val, &earlier, &mut saver)?;
            // Once more at the end: with early stopping the engine now holds the best epoch.
            saver.save(engine.as_mut(), &h.epochs)?;
            h
        }
        None => run.fit(engine.as_mut(), train, val, &earlier, observer)?,
    };
    history.epochs = earlier.into_iter().chain(history.epochs).collect();
    let test = match &sets.test {
        Some(t) if !t.is_empty() => Some(TestFigures::of(engine.as_mut(), t, data.train.classes)?),
        _ => None,
    };
    Ok(Trained {
        run,
        data,
        sets,
        engine,
        history,
        test,
    })
}
