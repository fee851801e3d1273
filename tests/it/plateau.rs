//! Stopping on a plateau of the training loss and the adaptive rate, as scikit-learn's
//! `MLPClassifier` counts them (`tol`, `n_iter_no_change`, `learning_rate="adaptive"`), through
//! the loop with an engine whose training losses follow a script.

use gpunn::data::{Dataset, Features};
use gpunn::engine::{Engine, Evaluation, Stats};
use gpunn::model::{Activation, Init, Loss, MlpSpec, Params};
use gpunn::optim::{OptimizerConfig, OptimizerState};
use gpunn::train::{self, EpochRecord, LrSchedule, TrainConfig};

/// Reports `losses[e]` as epoch e+1's training loss and records the rate of every epoch.
struct LossScript {
    params: Params,
    losses: Vec<f32>,
    epoch: usize,
    rates: Vec<f32>,
}

impl LossScript {
    fn new(losses: &[f32]) -> Self {
        let spec = MlpSpec::new(vec![1, 1], vec![Activation::Identity], Loss::Mse).unwrap();
        LossScript {
            params: Params::init(&spec, Init::Zeros, 0).unwrap(),
            losses: losses.to_vec(),
            epoch: 0,
            rates: Vec::new(),
        }
    }
}

impl Engine for LossScript {
    fn describe(&self) -> String {
        "loss script".into()
    }
    fn load_train_set(&mut self, _: &Dataset) -> gpunn::Result<()> {
        Ok(())
    }
    fn train_steps(&mut self, _: &[u32], _: usize, lr: f32) -> gpunn::Result<()> {
        self.rates.push(lr);
        Ok(())
    }
    fn take_stats(&mut self) -> gpunn::Result<Stats> {
        let loss = self.losses[self.epoch];
        self.epoch += 1;
        let mut s = Stats::default();
        s.add_step(loss, 4, 0);
        Ok(s)
    }
    fn evaluate(&mut self, data: &Dataset) -> gpunn::Result<Evaluation> {
        Ok(Evaluation {
            loss: 0.0,
            accuracy: 0.0,
            predictions: vec![0; data.len()],
        })
    }
    fn outputs(&mut self, _: &Dataset) -> gpunn::Result<Vec<f32>> {
        Ok(Vec::new())
    }
    fn set_optimizer(
        &mut self,
        _: &OptimizerConfig,
        _: Option<&OptimizerState>,
    ) -> gpunn::Result<()> {
        Ok(())
    }
    fn optimizer_state(&mut self) -> gpunn::Result<OptimizerState> {
        Ok(OptimizerState::new(
            &OptimizerConfig::default(),
            &self.params,
        ))
    }
    fn params(&mut self) -> gpunn::Result<Params> {
        Ok(self.params.clone())
    }
    fn set_params(&mut self, p: &Params) -> gpunn::Result<()> {
        self.params = p.clone();
        Ok(())
    }
}

fn four() -> Dataset {
    Dataset {
        name: "four".into(),
        dim: 1,
        features: Features::F32(vec![0.0; 4]),
        labels: vec![0; 4],
        classes: 2,
        target: gpunn::data::Target::Classes,
    }
}

/// A loop of `epochs` at rate 0.1 (one step of 4 samples an epoch), `n_iter_no_change` 2,
/// tol 1e-4.
fn config(epochs: usize, schedule: LrSchedule, n: Option<usize>) -> TrainConfig {
    TrainConfig {
        schedule,
        n_iter_no_change: n,
        tol: 1e-4,
        ..TrainConfig::new(epochs, 4, 0.1, 1)
    }
}

/// Losses scikit-learn's bookkeeping counts as: no improvement from epoch 3 on (epoch 3 and 4
/// improve by less than tol = 1e-4, 5 and 6 not at all), so with n_iter_no_change 2 the count
/// passes 2 at epoch 5.
const LOSSES: [f32; 10] = [1.0, 0.9, 0.89995, 0.8999, 0.9, 0.95, 0.5, 0.5, 0.5, 0.5];

#[test]
fn plateau_stops_where_scikit_learn_does() {
    let data = four();
    let mut e = LossScript::new(&LOSSES);
    let h = train::train(
        &mut e,
        &data,
        None,
        &config(10, LrSchedule::Constant, Some(2)),
        &mut train::Quiet,
    )
    .unwrap();
    assert_eq!(h.epochs.len(), 5, "stops after epoch 5");
    assert!(h.converged && !h.stopped_early);
    // Without n_iter_no_change every epoch runs.
    let mut e = LossScript::new(&LOSSES);
    let h = train::train(
        &mut e,
        &data,
        None,
        &config(10, LrSchedule::Constant, None),
        &mut train::Quiet,
    )
    .unwrap();
    assert_eq!((h.epochs.len(), h.converged), (10, false));
}

#[test]
fn adaptive_divides_the_rate_by_five_and_counts_again() {
    let data = four();
    let mut e = LossScript::new(&LOSSES);
    let h = train::train(
        &mut e,
        &data,
        None,
        &config(10, LrSchedule::Adaptive, Some(2)),
        &mut train::Quiet,
    )
    .unwrap();
    // Epoch 5 passes the count: the rate divides by 5 from epoch 6 on and the count restarts;
    // epochs 6 (0.95) and 7 (0.5, a new best) then 8, 9, 10 (no improvement): the count
    // passes 2 again at epoch 10, and the rate divides again, for no further epoch.
    let want: Vec<f32> = [0.1f64; 5]
        .iter()
        .chain(&[0.1 / 5.0; 5])
        .map(|&r| r as f32)
        .collect();
    assert_eq!(e.rates, want);
    assert_eq!((h.epochs.len(), h.converged), (10, false));
    // At or below 1e-6 the rate is not divided again: the run stops.
    let tiny = TrainConfig {
        lr: 1e-6,
        ..config(10, LrSchedule::Adaptive, Some(2))
    };
    let mut e = LossScript::new(&LOSSES);
    let h = train::train(&mut e, &data, None, &tiny, &mut train::Quiet).unwrap();
    assert_eq!((h.epochs.len(), h.converged), (5, true));
    // Adaptive without a count to trigger it is an error naming the schedule.
    let bad = config(10, LrSchedule::Adaptive, None);
    let err = bad.validate().unwrap_err().to_string();
    assert!(err.starts_with("train.schedule:"), "{err}");
}

/// A run resumed after epoch 4 counts epochs 1 to 4 again: it divides its rate and stops where
/// the whole run does.
#[test]
fn a_resumed_run_counts_the_earlier_epochs() {
    let data = four();
    let losses = [
        1.0, 0.9, 0.89995, 0.8999, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95,
    ];
    let cfg = config(12, LrSchedule::Adaptive, Some(2));
    let mut whole = LossScript::new(&losses);
    let hw = train::train(&mut whole, &data, None, &cfg, &mut train::Quiet).unwrap();
    let mut first = LossScript::new(&losses);
    let h4 = train::train(
        &mut first,
        &data,
        None,
        &TrainConfig {
            epochs: 4,
            ..cfg.clone()
        },
        &mut train::Quiet,
    )
    .unwrap();
    let earlier: Vec<EpochRecord> = h4.epochs.clone();
    let mut rest = LossScript::new(&losses);
    rest.epoch = 4;
    let resumed = TrainConfig {
        start_epoch: 5,
        ..cfg.clone()
    };
    let hr = train::train_after(
        &mut rest,
        &data,
        None,
        &resumed,
        &earlier,
        &mut train::Quiet,
    )
    .unwrap();
    assert_eq!(
        rest.rates,
        whole.rates[4..].to_vec(),
        "the rates after epoch 4"
    );
    assert_eq!(4 + hr.epochs.len(), hw.epochs.len());
    assert_eq!(hr.converged, hw.converged);
}

#[test]
fn plateau_flags_reach_the_run() {
    let out = crate::cli::gpunn(&[
        "train",
        "--dataset",
        "xor",
        "--lr-schedule",
        "adaptive",
        "--n-iter-no-change",
        "3",
        "--tol",
        "0.001",
        "--dry-run",
    ]);
    let text = crate::cli::stdout(&out);
    for want in [
        "schedule = \"adaptive\"",
        "n_iter_no_change = 3",
        "tol = 0.001",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    let out = crate::cli::gpunn(&[
        "train",
        "--dataset",
        "xor",
        "--lr-schedule",
        "adaptive",
        "--dry-run",
    ]);
    let err = crate::cli::stderr(&out);
    assert!(
        err.contains("--lr-schedule: adaptive divides the rate"),
        "{err}"
    );
}
