//! scikit-learn's stopping on a plateau of the training loss (`tol`, `n_iter_no_change`,
//! without `early_stopping`) and its `adaptive` learning rate, as `MLPClassifier._fit_stochastic`
//! keeps them: after each epoch the loss counts as no improvement unless it is below the best so
//! far by more than `tol`; more than `n_iter_no_change` such epochs in a row stop the run, or
//! with the adaptive rate divide the rate by 5 (until it is at most 1e-6) and count again.

/// What the plateau watches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StopOn {
    /// The epoch's training loss (scikit-learn without `early_stopping`).
    #[default]
    TrainLoss,
    /// The validation accuracy (classification) or R² (regression), higher being better:
    /// scikit-learn's `early_stopping=True`. The run keeps the best-scoring epoch's parameters.
    ValScore,
}

impl StopOn {
    pub fn name(self) -> &'static str {
        match self {
            StopOn::TrainLoss => "train-loss",
            StopOn::ValScore => "val-score",
        }
    }

    pub fn is_train_loss(&self) -> bool {
        *self == StopOn::TrainLoss
    }
}

impl std::str::FromStr for StopOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "train-loss" | "loss" => Ok(StopOn::TrainLoss),
            "val-score" | "score" => Ok(StopOn::ValScore),
            _ => Err(format!(
                "unknown stop_on '{s}' (expected train-loss or val-score)"
            )),
        }
    }
}

impl std::fmt::Display for StopOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

crate::model::serde_as_name!(StopOn);

/// The rate at or below which the adaptive schedule stops instead of dividing again.
pub const ADAPTIVE_FLOOR: f64 = 1e-6;

/// The plateau's bookkeeping over the epochs so far. A validation score is counted as its
/// negation (lower is better), which is scikit-learn's `score < best + tol` test.
#[derive(Clone, Debug)]
pub struct Plateau {
    /// The lowest training loss so far.
    best: f64,
    /// Epochs in a row without an improvement by more than `tol`.
    count: usize,
    /// Times the adaptive rate was divided by 5.
    divisions: u32,
}

impl Default for Plateau {
    fn default() -> Self {
        Plateau {
            best: f64::INFINITY,
            count: 0,
            divisions: 0,
        }
    }
}

impl Plateau {
    /// Times the adaptive rate has been divided by 5.
    pub fn divisions(&self) -> u32 {
        self.divisions
    }

    /// Counts an epoch whose training loss was `loss`; `adaptive` is the adaptive schedule's
    /// current rate (none for the other schedules). Returns whether the run stops here.
    pub fn epoch_end(
        &mut self,
        loss: f32,
        tol: f32,
        n_iter_no_change: usize,
        adaptive: Option<f64>,
    ) -> bool {
        let loss = loss as f64;
        if loss > self.best - tol as f64 {
            self.count += 1;
        } else {
            self.count = 0;
        }
        if loss < self.best {
            self.best = loss;
        }
        if self.count <= n_iter_no_change {
            return false;
        }
        match adaptive {
            Some(rate) if rate > ADAPTIVE_FLOOR => {
                self.divisions += 1;
                self.count = 0;
                false
            }
            _ => true,
        }
    }
}

/// The adaptive rate after `divisions` divisions of `lr` by 5, in f64 one division at a time
/// (as scikit-learn's `learning_rate /= 5.0`).
pub fn adaptive_rate(lr: f32, divisions: u32) -> f64 {
    (0..divisions).fold(lr as f64, |r, _| r / 5.0)
}
