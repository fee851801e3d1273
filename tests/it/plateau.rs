//! Stopping on a plateau of the training loss and the adaptive rate, as scikit-learn's
//! `MLPClassifier` counts them (`tol`, `n_iter_no_change`, `learning_rate="adaptive"`), through
//! the loop with an engine whose training losses follow a script (`train_loop::Scripted`).

use crate::train_loop::{four_samples as four, Scripted};
use gpunn::train::{self, EpochRecord, LrSchedule, TrainConfig};

/// The scripted engine with these training losses.
fn script(losses: &[f32]) -> Scripted {
    Scripted::new(&[], losses)
}

/// Trains the scripted engine `e` with `cfg` on the four samples, validating on them too when
/// `validate`.
fn fit(e: &mut Scripted, cfg: &TrainConfig, validate: bool) -> train::History {
    let data = four();
    let val = validate.then_some(&data);
    train::train(e, &data, val, cfg, &mut train::Quiet).unwrap()
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
    let mut e = script(&LOSSES);
    let h = fit(&mut e, &config(10, LrSchedule::Constant, Some(2)), false);
    assert_eq!(h.epochs.len(), 5, "stops after epoch 5");
    assert!(h.converged && !h.stopped_early);
    // Without n_iter_no_change every epoch runs.
    let mut e = script(&LOSSES);
    let h = fit(&mut e, &config(10, LrSchedule::Constant, None), false);
    assert_eq!((h.epochs.len(), h.converged), (10, false));
}

/// An improvement of exactly `tol` counts (scikit-learn: no improvement only when
/// `loss > best − tol`). Values exact in binary, tol 0.5, n_iter_no_change 0.
#[test]
fn an_improvement_of_exactly_tol_counts() {
    let cfg = TrainConfig {
        tol: 0.5,
        ..config(5, LrSchedule::Constant, Some(0))
    };
    let mut e = script(&[1.0, 0.5, 0.5, 0.5, 0.5]);
    let h = fit(&mut e, &cfg, false);
    // Epoch 2 improves by exactly 0.5; epoch 3 does not improve: the count passes 0 there.
    assert_eq!((h.epochs.len(), h.converged), (3, true));
}

#[test]
fn adaptive_divides_the_rate_by_five_and_counts_again() {
    let mut e = script(&LOSSES);
    let h = fit(&mut e, &config(10, LrSchedule::Adaptive, Some(2)), false);
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
    let mut e = script(&LOSSES);
    let h = fit(&mut e, &tiny, false);
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
    let mut whole = script(&losses);
    let hw = fit(&mut whole, &cfg, false);
    let mut first = script(&losses);
    let h4 = fit(
        &mut first,
        &TrainConfig {
            epochs: 4,
            ..cfg.clone()
        },
        false,
    );
    let earlier: Vec<EpochRecord> = h4.epochs.clone();
    let mut rest = script(&losses);
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

/// scikit-learn's `early_stopping=True`: the plateau counts the validation score (no
/// improvement unless above the best by more than tol), and the run ends holding the
/// best-scoring epoch's parameters (a strictly higher score is a new best).
#[test]
fn val_score_plateau_stops_and_keeps_the_best_scoring_epoch() {
    let mut e = script(&[]);
    // Epoch 3 improves on 2 by less than tol (counted), but is the best; 4 and 5 are worse.
    e.val_scores = vec![0.5, 0.7, 0.70005, 0.6, 0.65, 0.9, 0.9];
    let cfg = TrainConfig {
        stop_on: train::StopOn::ValScore,
        ..config(7, LrSchedule::Constant, Some(2))
    };
    let h = fit(&mut e, &cfg, true);
    assert_eq!(h.epochs.len(), 5, "the count passes 2 at epoch 5");
    assert!(h.converged);
    assert_eq!(h.best_epoch, Some(3));
    let p = gpunn::engine::Engine::params(&mut e).unwrap();
    assert_eq!(
        p.layers[0].bias[0], 3.0,
        "epoch 3's parameters are put back"
    );
    // Watching the training loss (constant here) stops at the same count, keeping the last.
    let mut e = script(&[]);
    e.val_scores = vec![0.5, 0.7, 0.70005, 0.6, 0.65, 0.9, 0.9];
    let h = fit(&mut e, &config(7, LrSchedule::Constant, Some(2)), true);
    assert_eq!((h.epochs.len(), h.best_epoch), (4, Some(4)));
}

/// An observer asking to stop ends the run between steps, the epoch under way uncounted.
#[test]
fn a_stop_request_ends_the_run_between_steps() {
    struct StopAt(usize, usize);
    impl train::Observer for StopAt {
        fn stop_requested(&mut self) -> bool {
            self.1 += 1;
            self.1 >= self.0
        }
    }
    let data = four();
    let mut e = script(&[]);
    let mut stop = StopAt(3, 0);
    let h = train::train(
        &mut e,
        &data,
        None,
        &config(10, LrSchedule::Constant, None),
        &mut stop,
    )
    .unwrap();
    assert!(h.interrupted);
    assert_eq!(h.epochs.len(), 2, "asked after the third epoch's steps");
    assert_eq!(e.epoch, 3);
}

/// scikit-learn's L2 term in the reported training loss: α/2·‖W‖²·batches/(samples·mean
/// sample weight), recorded apart in `train_l2` too.
#[test]
fn alpha_adds_scikit_learns_l2_term_to_the_training_loss() {
    let cfg = TrainConfig {
        alpha: Some(0.1),
        batch_size: 3,
        ..config(1, LrSchedule::Constant, None)
    };
    for (weights, want_l2) in [(None, 0.225), (Some(vec![2.0; 4]), 0.1125)] {
        let mut e = script(&[0.25]);
        let mut p = gpunn::engine::Engine::params(&mut e).unwrap();
        p.layers[0].weights[0] = 3.0;
        gpunn::engine::Engine::set_params(&mut e, &p).unwrap();
        let data = gpunn::data::Dataset { weights, ..four() };
        let h = train::train(&mut e, &data, None, &cfg, &mut train::Quiet).unwrap();
        // 2 batches of 4 samples: 0.1/2 · 9 · 2/4 = 0.225, halved with weights of mean 2.
        let r = &h.epochs[0];
        assert!(
            (r.train_l2.unwrap() - want_l2).abs() < 1e-6,
            "{:?}",
            r.train_l2
        );
        assert!(
            (r.train_loss - 0.25 - want_l2).abs() < 1e-6,
            "{}",
            r.train_loss
        );
    }
}
