//! The training loop: epochs, seeded shuffling, validation and early stopping. It drives any
//! [`Engine`]; the engine owns the parameters and the step.

use crate::data::Dataset;
use crate::engine::Engine;
use crate::model::Params;
use crate::{Error, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::time::Instant;

mod config;
mod history;
pub mod plateau;
mod schedule;
pub use config::TrainConfig;
pub use history::{EpochRecord, History, Observer, Quiet};
pub use plateau::StopOn;
pub use schedule::{LrSchedule, ScheduleAt};

/// 2⁶⁴ divided by the golden ratio (splitmix64's increment): multiplied by the epoch and mixed
/// into the seed, it gives each epoch's shuffle a stream far from its neighbours'.
const EPOCH_STREAM: u64 = 0x9E37_79B9_7F4A_7C15;

/// The sample order of epoch `epoch` (1-based): a seeded shuffle of `0..n`.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    let stream = seed ^ (epoch as u64).wrapping_mul(EPOCH_STREAM);
    let mut rng = rand::rngs::StdRng::seed_from_u64(stream);
    order.shuffle(&mut rng);
    order
}

/// Trains `engine` on `train`, validating on `val` after each epoch.
pub fn train(
    engine: &mut dyn Engine,
    train: &Dataset,
    val: Option<&Dataset>,
    cfg: &TrainConfig,
    observer: &mut dyn Observer,
) -> Result<History> {
    train_after(engine, train, val, cfg, &[], observer)
}

/// [`train`] continuing a run whose `earlier` epochs ran before (a resume, with
/// `cfg.start_epoch` after them): their training losses are counted again for the plateau, so
/// that the resumed run stops and divides its rate where the whole run would have.
pub fn train_after(
    engine: &mut dyn Engine,
    train: &Dataset,
    val: Option<&Dataset>,
    cfg: &TrainConfig,
    earlier: &[EpochRecord],
    observer: &mut dyn Observer,
) -> Result<History> {
    let mut trainer = Trainer::new(engine, train, val, cfg)?;
    trainer.replay(earlier);
    let chunk = cfg.batch_size * cfg.steps_per_chunk.max(1);
    'epochs: while let Some(plan) = trainer.next_epoch() {
        let mut done = 0;
        for part in plan.order.chunks(chunk) {
            engine.train_steps(part, cfg.batch_size, plan.lr)?;
            done += part.len();
            observer.progress(plan.epoch, done, plan.order.len());
            if observer.stop_requested() {
                trainer.interrupt();
                break 'epochs;
            }
        }
        trainer.end_epoch(engine, observer)?;
    }
    trainer.finish(engine)
}

/// What one epoch trains: the sample order, in batches of the run's size, at rate `lr`.
#[derive(Clone, Debug)]
pub struct EpochPlan {
    pub epoch: usize,
    pub order: Vec<u32>,
    pub lr: f32,
}

/// The loop of [`train`], one epoch at a time, for drivers that run the steps themselves
/// (the GPU sweep trains the epochs of many runs in the same submissions):
/// [`Trainer::next_epoch`] says what to train, the driver trains it on the engine,
/// [`Trainer::end_epoch`] takes the statistics, validates and decides on early stopping,
/// [`Trainer::finish`] leaves the engine holding the best epoch's parameters.
pub struct Trainer<'a> {
    cfg: &'a TrainConfig,
    val: Option<&'a Dataset>,
    samples: usize,
    /// The next epoch to run.
    epoch: usize,
    started: Instant,
    /// The rate of the epoch under way.
    lr: f32,
    stopped: bool,
    history: History,
    best: Option<(f32, usize, Params)>,
    plateau: plateau::Plateau,
    /// The training set's mean sample weight (1 without weights).
    mean_weight: f32,
}

impl<'a> Trainer<'a> {
    /// Checks the configuration and loads `train` into `engine`.
    pub fn new(
        engine: &mut dyn Engine,
        train: &'a Dataset,
        val: Option<&'a Dataset>,
        cfg: &'a TrainConfig,
    ) -> Result<Self> {
        cfg.validate()?;
        if train.is_empty() {
            return Err(Error::invalid(
                "data.dataset",
                format!("{}: no training samples", train.name),
            ));
        }
        engine.load_train_set(train)?;
        Ok(Trainer {
            cfg,
            val,
            samples: train.len(),
            epoch: cfg.start_epoch.max(1),
            started: Instant::now(),
            lr: cfg.lr,
            stopped: false,
            history: History::default(),
            best: None,
            plateau: plateau::Plateau::default(),
            mean_weight: train.mean_weight(),
        })
    }

    /// Counts `earlier` epochs' figures for the plateau, as if they had run here.
    pub fn replay(&mut self, earlier: &[EpochRecord]) {
        for r in earlier {
            self.count_plateau(r);
        }
    }

    /// The plateau's bookkeeping after the epoch `r` records; whether the run stops. An epoch
    /// without a validation score does not count when the plateau watches the score.
    fn count_plateau(&mut self, r: &EpochRecord) -> bool {
        let cfg = self.cfg;
        let Some(n) = cfg.n_iter_no_change else {
            return false;
        };
        let loss = match cfg.stop_on {
            StopOn::TrainLoss => r.train_loss,
            StopOn::ValScore => match r.val_score() {
                Some(score) => -score,
                None => return false,
            },
        };
        let adaptive = (cfg.schedule == LrSchedule::Adaptive)
            .then(|| plateau::adaptive_rate(cfg.lr, self.plateau.divisions()));
        self.plateau.epoch_end(loss, cfg.tol, n, adaptive)
    }

    /// Ends the run where it stands (between steps): the epoch under way is not counted.
    pub fn interrupt(&mut self) {
        self.stopped = true;
        self.history.interrupted = true;
    }

    /// The next epoch to train, or `None` when the run is over (all epochs, or stopped early).
    pub fn next_epoch(&mut self) -> Option<EpochPlan> {
        let cfg = self.cfg;
        if self.stopped || self.epoch > cfg.epochs {
            return None;
        }
        self.started = Instant::now();
        self.lr = cfg.schedule.rate(
            cfg.lr,
            ScheduleAt {
                epoch: self.epoch,
                epochs: cfg.epochs,
                samples: self.samples,
                power_t: cfg.power_t,
                divisions: self.plateau.divisions(),
            },
        );
        Some(EpochPlan {
            epoch: self.epoch,
            order: if cfg.shuffle {
                epoch_order(self.samples, cfg.seed, self.epoch)
            } else {
                (0..self.samples as u32).collect()
            },
            lr: self.lr,
        })
    }

    /// Ends the epoch [`Trainer::next_epoch`] planned, once its steps ran on `engine`: its
    /// statistics, validation, the observer's calls and early stopping. A NaN or an infinity in
    /// the epoch is [`Error::Diverged`].
    pub fn end_epoch(
        &mut self,
        engine: &mut dyn Engine,
        observer: &mut dyn Observer,
    ) -> Result<()> {
        let epoch = self.epoch;
        self.epoch += 1;
        let stats = engine.take_stats()?;
        let seconds = self.started.elapsed().as_secs_f64();
        let mut train_loss = stats.mean_loss();
        let mut train_l2 = None;
        if let Some(alpha) = self.cfg.alpha {
            let p = engine.params()?;
            let (n, b) = (self.samples, self.cfg.batch_size);
            let l2 = history::l2_term(&p, alpha, n, b, self.mean_weight);
            train_loss += l2;
            train_l2 = Some(l2);
        }
        if stats.nonfinite_step.is_some() || !train_loss.is_finite() {
            return Err(Error::Diverged {
                epoch,
                step: stats.nonfinite_step.unwrap_or(stats.steps) as usize,
                loss: train_loss,
            });
        }
        let val = self.val;
        let (mut val_loss, mut val_accuracy, mut values) = (None, None, None);
        let validate =
            epoch.is_multiple_of(self.cfg.validate_every.max(1)) || epoch >= self.cfg.epochs;
        if let Some(v) = val.filter(|v| validate && !v.is_empty()) {
            // One forward pass over the validation set: the loss with the accuracy, or with
            // the outputs that MSE, MAE and R² come from.
            if v.target_dim().is_some() {
                let (loss, outputs) = engine.loss_and_outputs(v)?;
                val_loss = Some(loss);
                values = crate::metrics::value_metrics(&outputs, v);
                // Several labels per sample (classes with value targets): the exact-match rate.
                if v.classes > 0 {
                    val_accuracy = crate::metrics::subset_accuracy(&outputs, v);
                }
            } else {
                let e = engine.evaluate(v)?;
                val_loss = Some(e.loss);
                val_accuracy = Some(e.accuracy);
            }
        }
        let record = EpochRecord {
            epoch,
            train_loss,
            train_l2,
            train_accuracy: stats.accuracy(),
            val_loss,
            val_accuracy,
            val_mse: values.map(|m| m.mse),
            // R² per pixel of a reconstruction says little (constant border pixels): MSE only.
            val_r2: values
                .filter(|_| {
                    val.is_some_and(|v| v.target != crate::data::Target::Input && v.classes == 0)
                })
                .map(|m| m.r2),
            seconds,
            samples_per_sec: stats.samples as f64 / seconds.max(1e-9),
            lr: Some(self.lr),
        };
        observer.epoch_end(&record);
        self.history.epochs.push(record);
        observer.epoch_done(&self.history, engine)?;
        let record = self.history.epochs.last().expect("just pushed").clone();
        if self.cfg.stop_on == StopOn::ValScore {
            if let Some(score) = record.val_score() {
                if self.best.as_ref().is_none_or(|(b, _, _)| -score < *b) {
                    self.best = Some((-score, epoch, engine.params()?));
                }
            }
        }
        if self.count_plateau(&record) {
            self.history.converged = true;
            self.stopped = true;
        }
        if let (Some(patience), Some(vl)) = (self.cfg.early_stopping, val_loss) {
            let improved = self.best.as_ref().is_none_or(|(b, _, _)| vl < *b);
            if improved {
                self.best = Some((vl, epoch, engine.params()?));
            } else if epoch - self.best.as_ref().map_or(0, |b| b.1) >= patience {
                self.history.stopped_early = true;
                self.stopped = true;
            }
        }
        Ok(())
    }

    /// The run's history, with `engine` holding the best epoch's parameters (early stopping)
    /// or the last epoch's.
    pub fn finish(self, engine: &mut dyn Engine) -> Result<History> {
        let mut history = self.history;
        history.best_epoch = history.epochs.last().map(|r| r.epoch);
        if let Some((_, epoch, params)) = self.best {
            if history.best_epoch != Some(epoch) {
                engine.set_params(&params)?;
            }
            history.best_epoch = Some(epoch);
        }
        Ok(history)
    }
}
