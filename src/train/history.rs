//! What the loop reports: each epoch's figures, the run's history, and the observer that is
//! told them as they come.

use crate::engine::Engine;
use crate::model::Params;
use crate::Result;

/// One epoch's figures.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f32,
    /// The L2 term (`train.alpha`) included in `train_loss`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_l2: Option<f32>,
    pub train_accuracy: f32,
    pub val_loss: Option<f32>,
    pub val_accuracy: Option<f32>,
    /// Regression and autoencoders: the validation MSE and R², in the targets' units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_mse: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_r2: Option<f32>,
    pub seconds: f64,
    pub samples_per_sec: f64,
    /// The learning rate the epoch trained at (its schedule's; absent from older histories).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f32>,
}

impl EpochRecord {
    /// The validation score, higher being better: the accuracy, else R².
    pub fn val_score(&self) -> Option<f32> {
        self.val_accuracy.or(self.val_r2)
    }
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub epochs: Vec<EpochRecord>,
    /// The epoch whose parameters the engine holds at the end (1-based).
    pub best_epoch: Option<usize>,
    pub stopped_early: bool,
    /// Stopped on a plateau of the training loss (`n_iter_no_change`).
    pub converged: bool,
    /// Ended between steps because the observer asked ([`Observer::stop_requested`], Ctrl-C
    /// in the Python estimators); the epoch under way is not in `epochs`.
    pub interrupted: bool,
}

/// Callbacks for progress and per-epoch output.
pub trait Observer {
    /// Called between chunks of steps: `done` of `total` samples of epoch `epoch`.
    fn progress(&mut self, _epoch: usize, _done: usize, _total: usize) {}
    /// Called after each epoch.
    fn epoch_end(&mut self, _record: &EpochRecord) {}
    /// Called after each epoch whose loss was finite, with the engine holding that epoch's
    /// parameters and the history so far (e.g. to save a checkpoint).
    fn epoch_done(&mut self, _history: &History, _engine: &mut dyn Engine) -> Result<()> {
        Ok(())
    }
    /// Asked between chunks of steps: `true` ends the run there.
    fn stop_requested(&mut self) -> bool {
        false
    }
}

/// An observer that does nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// scikit-learn's L2 term of an epoch's training loss: α/(2B)·‖W‖² for each batch of B samples
/// (of mean sample weight `mean_weight`: α/(2B·mean_weight)), weighted by B in the epoch's mean
/// over `samples`, i.e. α/2·‖W‖²·batches/(samples·mean_weight); ‖W‖² from `params` (the
/// weights at the epoch's end; biases are not penalised).
pub fn l2_term(params: &Params, alpha: f32, samples: usize, batch: usize, mean_weight: f32) -> f32 {
    let squares: f64 = params
        .layers
        .iter()
        .flat_map(|l| &l.weights)
        .map(|&w| w as f64 * w as f64)
        .sum();
    let batches = samples.div_ceil(batch.max(1));
    let per = samples.max(1) as f64 * mean_weight as f64;
    if per <= 0.0 {
        return 0.0;
    }
    (0.5 * alpha as f64 * squares * batches as f64 / per) as f32
}
