//! The loop's settings and their checks.

use super::{LrSchedule, StopOn};
use crate::{Error, Result};

/// How the loop trains. A resolved run (`run::Run::train_config`) builds it; the defaults live
/// there, not here.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f32,
    pub schedule: LrSchedule,
    /// The exponent of [`LrSchedule::InvScaling`].
    pub power_t: f32,
    /// Stop (or, with [`LrSchedule::Adaptive`], divide the rate by 5) when the training loss
    /// has not improved by more than `tol` for more than this many epochs ([`super::plateau`]).
    pub n_iter_no_change: Option<usize>,
    pub tol: f32,
    /// What `n_iter_no_change` watches: the training loss, or the validation score (then the
    /// run ends holding the best-scoring epoch's parameters).
    pub stop_on: StopOn,
    /// scikit-learn's L2 penalty α: the training loss reported includes α/(2B)·‖W‖² per
    /// batch, from the weights at the epoch's end (the engine's optimizer applies the decay).
    pub alpha: Option<f32>,
    /// Seeds the per-epoch shuffles (epoch `e` uses a stream derived from `seed` and `e`, so a
    /// resumed run shuffles exactly like an uninterrupted one).
    pub seed: u64,
    /// Stop when the validation loss has not improved for this many epochs, and restore the
    /// best parameters.
    pub early_stopping: Option<usize>,
    /// Validate after every this many epochs (counted from the first) and after the last:
    /// 1 validates every epoch. The other epochs' records have no validation figures, and
    /// early stopping looks only at validated ones.
    pub validate_every: usize,
    /// Shuffle the samples every epoch; `false` takes them in their order.
    pub shuffle: bool,
    /// Steps handed to the engine at a time; the progress callback runs between them.
    pub steps_per_chunk: usize,
    /// The first epoch to run (1-based); above 1 when resuming a run that stopped after
    /// `start_epoch - 1` epochs. Shuffles depend only on the seed and the epoch, so a resumed
    /// run sees exactly the batches of an uninterrupted one.
    pub start_epoch: usize,
}

impl TrainConfig {
    /// `epochs` of batches of `batch_size` at rate `lr`, shuffled from `seed`, with nothing
    /// else: a constant rate, every epoch validated and shuffled, no early stopping, from the
    /// first epoch. (A resolved run's loop is `run::Run::train_config`.)
    pub fn new(epochs: usize, batch_size: usize, lr: f32, seed: u64) -> Self {
        TrainConfig {
            epochs,
            batch_size,
            lr,
            schedule: LrSchedule::Constant,
            power_t: 0.5,
            n_iter_no_change: None,
            tol: 1e-4,
            stop_on: StopOn::TrainLoss,
            alpha: None,
            seed,
            early_stopping: None,
            validate_every: 1,
            shuffle: true,
            steps_per_chunk: crate::engine::STEPS_PER_SUBMISSION,
            start_epoch: 1,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(Error::invalid("train.batch_size", "must be at least 1"));
        }
        if self.validate_every == 0 {
            return Err(Error::invalid(
                "train.validate_every",
                "must be at least 1 (1 validates after every epoch)",
            ));
        }
        if self.schedule == LrSchedule::Adaptive && self.n_iter_no_change.is_none() {
            return Err(Error::invalid(
                "train.schedule",
                "adaptive divides the rate when the training loss stops improving: set train.n_iter_no_change",
            ));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(Error::invalid(
                "train.tol",
                format!("must be a finite number >= 0, got {}", self.tol),
            ));
        }
        if !(self.power_t.is_finite() && self.power_t >= 0.0) {
            return Err(Error::invalid(
                "train.power_t",
                format!("must be a finite number >= 0, got {}", self.power_t),
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::invalid(
                "train.lr",
                format!("must be a positive number, got {}", self.lr),
            ));
        }
        if self.early_stopping.is_some() && self.stop_on == StopOn::ValScore {
            return Err(Error::invalid(
                "train.stop_on",
                "val-score keeps the best-scoring epoch itself: give it or train.early_stopping, not both",
            ));
        }
        if let Some(alpha) = self.alpha.filter(|a| !(a.is_finite() && *a >= 0.0)) {
            return Err(Error::invalid(
                "train.alpha",
                format!("must be a finite number >= 0, got {alpha}"),
            ));
        }
        if self.early_stopping == Some(0) {
            return Err(Error::invalid(
                "train.early_stopping",
                "patience must be at least 1",
            ));
        }
        Ok(())
    }
}
