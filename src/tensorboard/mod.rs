//! Training logs TensorBoard reads (`gpunn train --tensorboard DIR`, the sweep's, the Python
//! estimators' `tensorboard=`): per epoch the train and validation loss, accuracy or MSE and
//! R², the learning rate and samples/s as scalars, and each layer's weights and biases as
//! histograms, written and flushed as each epoch ends.

mod proto;
pub mod writer;

use crate::engine::Engine;
use crate::model::Params;
use crate::run::{RunObserver, Started};
use crate::train::{EpochRecord, History, Observer};
use crate::Result;
use std::path::Path;
pub use writer::EventWriter;

/// An epoch's figure for one scalar tag (absent: not measured that epoch).
pub type Figure = fn(&EpochRecord) -> Option<f32>;

/// The scalar tags, each with its figure.
pub const SCALARS: [(&str, Figure); 8] = [
    ("loss/train", |r| Some(r.train_loss)),
    ("loss/validation", |r| r.val_loss),
    ("accuracy/train", |r| Some(r.train_accuracy)),
    ("accuracy/validation", |r| r.val_accuracy),
    ("mse/validation", |r| r.val_mse),
    ("r2/validation", |r| r.val_r2),
    ("learning_rate", |r| r.lr),
    ("samples_per_sec", |r| Some(r.samples_per_sec as f32)),
];

/// A run's TensorBoard log: an [`Observer`] that writes every finished epoch.
pub struct TensorBoard {
    writer: EventWriter,
    /// Regression has no accuracy: its (zero) train accuracy is left out.
    classifies: bool,
}

impl TensorBoard {
    /// A log in `dir` (one run's directory), `classifies` saying whether accuracy means
    /// anything.
    pub fn create(dir: &Path, classifies: bool) -> Result<TensorBoard> {
        Ok(TensorBoard {
            writer: EventWriter::create(dir)?,
            classifies,
        })
    }

    /// Writes epoch `r`'s scalars and, given them, the histograms of `params`' layers; flushes.
    pub fn log_epoch(&mut self, r: &EpochRecord, params: Option<&Params>) -> Result<()> {
        for (tag, figure) in SCALARS {
            if tag == "accuracy/train" && !self.classifies {
                continue;
            }
            if let Some(v) = figure(r) {
                self.writer.scalar(tag, r.epoch, v)?;
            }
        }
        for (i, layer) in params.map_or(&[][..], |p| &p.layers).iter().enumerate() {
            self.writer
                .histogram(&format!("weights/layer{i}"), r.epoch, &layer.weights)?;
            self.writer
                .histogram(&format!("biases/layer{i}"), r.epoch, &layer.bias)?;
        }
        self.writer.flush()
    }
}

impl Observer for TensorBoard {
    fn epoch_done(&mut self, history: &History, engine: &mut dyn Engine) -> Result<()> {
        match history.epochs.last() {
            Some(r) => self.log_epoch(r, Some(&engine.params()?)),
            None => Ok(()),
        }
    }
}

/// An observer's calls, and a TensorBoard log of the same run.
pub struct Logged<'a> {
    pub inner: &'a mut dyn RunObserver,
    pub log: TensorBoard,
}

impl Observer for Logged<'_> {
    fn progress(&mut self, epoch: usize, done: usize, total: usize) {
        self.inner.progress(epoch, done, total);
    }

    fn epoch_end(&mut self, record: &EpochRecord) {
        self.inner.epoch_end(record);
    }

    fn epoch_done(&mut self, history: &History, engine: &mut dyn Engine) -> Result<()> {
        self.inner.epoch_done(history, engine)?;
        self.log.epoch_done(history, engine)
    }

    fn stop_requested(&mut self) -> bool {
        self.inner.stop_requested()
    }
}

impl RunObserver for Logged<'_> {
    fn started(&mut self, start: &Started<'_>) {
        self.inner.started(start);
    }
}
