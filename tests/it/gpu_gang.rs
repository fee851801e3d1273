//! Runs trained together on one GPU (`sweep::together::fit_together`, the GPU sweep): their steps share
//! passes and submissions, and each run must still compute exactly what it computes alone,
//! bit for bit, whatever the mix of shapes, batch sizes (so step counts) and optimizers;
//! a sweep on the GPU reports the same figures as its runs trained one at a time, and a
//! failing configuration among them.

use crate::common::gpu_or_skip;
use crate::cpu_fast::{params_for, random_data};
use gpunn::data::scale::Scaler;
use gpunn::engine::Engine;
use gpunn::gpu::{GpuContext, GpuEngine};
use gpunn::model::{Activation, Loss, Params};
use gpunn::optim::{OptimizerConfig, OptimizerKind};
use gpunn::sweep::together::{fit_together, Fit};
use gpunn::sweep::{Grid, Metric, Status, Sweep};
use gpunn::train::{self, History, LrSchedule, TrainConfig};
use std::sync::Arc;

/// One run of the mix: its network, batch size and optimizer (fused into the weight products
/// or not).
struct RunCase {
    params: Params,
    batch: usize,
    optimizer: OptimizerConfig,
    fuse: Option<bool>,
}

fn cases() -> Vec<RunCase> {
    use Activation::{Relu, Sigmoid, Softmax, Tanh};
    let mut momentum = OptimizerConfig::of(OptimizerKind::Sgd);
    momentum.momentum = 0.9;
    let mut adamw = OptimizerConfig::of(OptimizerKind::AdamW);
    adamw.clip_norm = Some(0.5);
    vec![
        RunCase {
            params: params_for(&[6, 16, 3], &[Relu, Softmax], Loss::Ce, 1),
            batch: 16,
            optimizer: momentum,
            fuse: None,
        },
        RunCase {
            params: params_for(&[6, 8, 8, 3], &[Tanh, Tanh, Softmax], Loss::Ce, 2),
            batch: 7,
            optimizer: OptimizerConfig::of(OptimizerKind::Adam),
            fuse: Some(true),
        },
        RunCase {
            params: params_for(&[6, 5, 3], &[Sigmoid, Softmax], Loss::Ce, 3),
            batch: 32,
            optimizer: adamw,
            fuse: None,
        },
        RunCase {
            params: params_for(&[6, 4, 3], &[Relu, Softmax], Loss::Ce, 4),
            batch: 10,
            optimizer: OptimizerConfig::of(OptimizerKind::Sgd),
            fuse: None,
        },
    ]
}

fn loop_config(batch: usize) -> TrainConfig {
    TrainConfig {
        schedule: LrSchedule::Cosine,
        early_stopping: Some(1),
        steps_per_chunk: 4,
        ..TrainConfig::new(3, batch, 0.02, 9)
    }
}

fn engine_for(ctx: &Arc<GpuContext>, case: &RunCase) -> GpuEngine {
    let mut e = GpuEngine::new(ctx.clone(), &case.params, case.batch, false).unwrap();
    e.fuse_optimizer(case.fuse);
    e.set_optimizer(&case.optimizer, None).unwrap();
    e
}

fn bits(h: &History) -> Vec<(u32, Option<u32>, Option<u32>)> {
    h.epochs
        .iter()
        .map(|r| {
            (
                r.train_loss.to_bits(),
                r.val_loss.map(f32::to_bits),
                r.val_accuracy.map(f32::to_bits),
            )
        })
        .collect()
}

fn param_bits(p: &Params) -> Vec<u32> {
    p.layers
        .iter()
        .flat_map(|l| l.weights.iter().chain(&l.bias))
        .map(|x| x.to_bits())
        .collect()
}

#[test]
fn runs_trained_together_match_each_alone_bit_for_bit() {
    let Some(ctx) = gpu_or_skip("runs_trained_together_match_each_alone_bit_for_bit") else {
        return;
    };
    let train_set = random_data(90, 6, 3, false, 11);
    let val = random_data(25, 6, 3, false, 12);
    let cases = cases();
    let mut alone = Vec::new();
    for case in &cases {
        let mut e = engine_for(&ctx, case);
        let cfg = loop_config(case.batch);
        let h = train::train(&mut e, &train_set, Some(&val), &cfg, &mut train::Quiet).unwrap();
        alone.push((h, e.params().unwrap()));
    }
    let mut fits: Vec<Fit> = cases
        .iter()
        .map(|case| Fit {
            engine: engine_for(&ctx, case),
            train: train_set.clone(),
            val: Some(val.clone()),
            cfg: loop_config(case.batch),
            log: None,
        })
        .collect();
    let together = fit_together(&mut fits);
    for (i, ((h, p), got)) in alone.iter().zip(together).enumerate() {
        let got = got.unwrap();
        assert!(h.epochs.len() >= 2, "run {i} trained");
        assert_eq!(
            bits(&got),
            bits(h),
            "run {i}: epoch figures, together vs alone"
        );
        assert_eq!(got.best_epoch, h.best_epoch, "run {i}: best epoch");
        let together_params = fits[i].engine.params().unwrap();
        assert!(
            param_bits(&together_params) == param_bits(p),
            "run {i}: parameters differ together and alone"
        );
    }
}

#[test]
fn a_run_that_fails_drops_out_and_the_others_go_on() {
    let Some(ctx) = gpu_or_skip("a_run_that_fails_drops_out_and_the_others_go_on") else {
        return;
    };
    let good = random_data(40, 6, 3, false, 1);
    let cases = cases();
    let fits = |train: Vec<gpunn::data::Dataset>| -> Vec<Fit> {
        cases
            .iter()
            .zip(train)
            .map(|(case, t)| Fit {
                engine: engine_for(&ctx, case),
                train: t,
                val: None,
                cfg: loop_config(case.batch),
                log: None,
            })
            .collect()
    };
    // Run 1 gets a NaN feature: its first epoch diverges.
    let mut bad = good.clone();
    if let gpunn::data::Features::F32(x) = &mut bad.features {
        x.make_mut()[3] = f32::NAN;
    }
    let mut runs = fits(vec![good.clone(), bad, good.clone(), good]);
    let out = fit_together(&mut runs);
    assert!(
        matches!(out[1], Err(gpunn::Error::Diverged { epoch: 1, .. })),
        "{:?}",
        out[1].as_ref().err()
    );
    for i in [0, 2, 3] {
        let h = out[i].as_ref().unwrap();
        assert_eq!(h.epochs.len(), 3, "run {i} went on");
        assert!(h.epochs.iter().all(|r| r.train_loss.is_finite()));
    }
}

#[test]
fn a_sweep_on_the_gpu_scores_each_configuration_as_alone() {
    let Some(ctx) = gpu_or_skip("a_sweep_on_the_gpu_scores_each_configuration_as_alone") else {
        return;
    };
    let kind = std::env::var("GPUNN_TEST_DEVICE").unwrap_or_else(|_| "software".into());
    // ce on one output cannot be: that configuration fails when resolved.
    let circles = format!(
        "device = \"{kind}\"\n[data]\ndataset = \"circles\"\nsamples = 150\nval_split = 0.3\n\
         [model]\nlayers = [2, 8, 1]\nactivations = [\"tanh\"]\nloss = [\"bce\", \"ce\"]\n\
         [train]\nepochs = 3\nlr = [0.5, 0.1]\nbatch_size = [16, 40]\n"
    );
    // Images stay bytes on the GPU, as `gpunn train` keeps them.
    let digits = format!(
        "device = \"{kind}\"\n[data]\ndataset = \"mnist-sample\"\ndigits = [3, 6]\nval_split = 0.5\n\
         [model]\nlayers = [784, 8, 2]\n[train]\nepochs = 1\nlr = [0.1, 0.03]\nbatch_size = 64\n"
    );
    for (text, configs) in [(circles, 8), (digits, 2)] {
        check_sweep_against_alone(&ctx, &text, configs);
    }
}

fn check_sweep_against_alone(ctx: &Arc<GpuContext>, text: &str, configs: usize) {
    let sweep = Sweep {
        grid: Grid::from_toml_str(text).unwrap(),
        folds: None,
        metric: Metric::ValLoss,
        jobs: Some(3),
        threads: None,
        shard: None,
        out: None,
        tensorboard: None,
    };
    let out = sweep.run(|_| {}).unwrap();
    assert_eq!(out.len(), configs);
    for o in &out {
        let spec = &o.spec;
        if spec.model.loss.map(|l| l.to_string()) == Some("ce".into()) {
            assert!(o.status.text().starts_with("error: "), "{:?}", o.status);
            continue;
        }
        assert_eq!(o.status, Status::Ok, "{}", o.status.text());
        // The same configuration trained alone on the same device.
        let data = spec.load_data().unwrap();
        let run = spec.resolve(&data).unwrap();
        let (train_set, val) = run.split(&data).unwrap();
        let val = val.unwrap();
        let scaler = Scaler::fit(run.data.scale, &train_set);
        let (train_set, val) = (
            scaler.apply(&train_set).unwrap(),
            scaler.apply(&val).unwrap(),
        );
        let params = run.init_params().unwrap();
        let mut e = GpuEngine::new(ctx.clone(), &params, run.train.batch_size, false).unwrap();
        e.set_optimizer(&run.optimizer, None).unwrap();
        let h = run
            .fit(&mut e, &train_set, Some(&val), &[], &mut train::Quiet)
            .unwrap();
        let want = h.epochs.last().unwrap().val_loss.unwrap() as f64;
        assert_eq!(o.folds.len(), 1);
        assert_eq!(
            o.folds[0].to_bits(),
            want.to_bits(),
            "{:?}: in the sweep {}, alone {want}",
            o.label,
            o.folds[0]
        );
    }
}
