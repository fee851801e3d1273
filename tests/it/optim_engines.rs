//! Every engine against the reference for each optimizer × clipping × weight decay: two epochs
//! on the fast CPU path (row- and column-split) and on the GPU (lavapipe in CI), parameters and
//! optimizer state compared; a NaN in the optimizer state stops training on every engine and
//! keeps the last good checkpoint.

use crate::common::{assert_close, gpu_or_skip, Scratch};
use crate::cpu_fast::{assert_params_close, params_for, random_data};
use gpunn::cpu::engine::CpuReference;
use gpunn::cpu::fast::FastCpu;
use gpunn::data::Dataset;
use gpunn::engine::Engine;
use gpunn::gpu::GpuEngine;
use gpunn::model::{Activation, Loss, Params};
use gpunn::optim::{OptimizerConfig, OptimizerKind, OptimizerState};
use gpunn::train::{self, LrSchedule, TrainConfig};

/// The optimizer settings every engine must agree on.
fn configs() -> Vec<(&'static str, OptimizerConfig)> {
    use OptimizerKind::{Adam, AdamW, Sgd};
    let with = |kind, f: &dyn Fn(&mut OptimizerConfig)| {
        let mut c = OptimizerConfig::of(kind);
        f(&mut c);
        c
    };
    vec![
        ("sgd momentum", with(Sgd, &|c| c.momentum = 0.9)),
        (
            "sgd nesterov + clip value",
            with(Sgd, &|c| {
                c.momentum = 0.8;
                c.nesterov = true;
                c.clip_value = Some(0.01);
            }),
        ),
        (
            "sgd weight decay + clip norm",
            with(Sgd, &|c| {
                c.weight_decay = 0.05;
                c.clip_norm = Some(0.2);
            }),
        ),
        ("adam", with(Adam, &|_| {})),
        (
            "adam weight decay + clip value",
            with(Adam, &|c| {
                c.weight_decay = 0.01;
                c.clip_value = Some(0.02);
            }),
        ),
        (
            "adamw + clip norm",
            with(AdamW, &|c| c.clip_norm = Some(0.1)),
        ),
    ]
}

fn loop_config(epochs: usize) -> TrainConfig {
    TrainConfig {
        schedule: LrSchedule::Cosine,
        steps_per_chunk: 3,
        ..TrainConfig::new(epochs, 16, 0.01, 5)
    }
}

/// Two epochs of `cfg` on `engine`; its parameters and state after them.
fn train_with(
    engine: &mut dyn Engine,
    data: &Dataset,
    cfg: &OptimizerConfig,
) -> (Params, OptimizerState) {
    engine.set_optimizer(cfg, None).unwrap();
    train::train(engine, data, None, &loop_config(2), &mut train::Quiet).unwrap();
    (engine.params().unwrap(), engine.optimizer_state().unwrap())
}

fn assert_state_close(what: &str, got: &OptimizerState, want: &OptimizerState) {
    assert_eq!(got.step, want.step, "{what}: step count");
    assert_eq!(got.tensors.len(), want.tensors.len(), "{what}: tensors");
    for (k, (g, w)) in got.tensors.iter().zip(&want.tensors).enumerate() {
        assert_close(
            &format!("{what}: tensor {k} velocity"),
            &g.velocity,
            &w.velocity,
            1e-5,
            1e-3,
        );
        assert_close(&format!("{what}: tensor {k} m"), &g.m, &w.m, 1e-5, 1e-3);
        assert_close(&format!("{what}: tensor {k} v"), &g.v, &w.v, 1e-7, 1e-3);
    }
}

fn setup() -> (Params, Dataset) {
    use Activation::{Softmax, Tanh};
    let params = params_for(&[7, 9, 33, 3], &[Tanh, Tanh, Softmax], Loss::Ce, 3);
    (params, random_data(70, 7, 3, false, 4))
}

#[test]
fn fast_cpu_matches_reference_for_every_optimizer() {
    let (params, data) = setup();
    for (name, cfg) in configs() {
        let (want_p, want_s) = train_with(&mut CpuReference::new(params.clone()), &data, &cfg);
        assert_eq!(want_s.step, 10, "2 epochs of 70 samples in batches of 16");
        for (split, engine) in [
            ("rows", FastCpu::with_threads(params.clone(), 2)),
            (
                "columns",
                FastCpu::with_threads(params.clone(), 3).with_column_split_min(0),
            ),
        ] {
            let mut engine = engine;
            let (p, s) = train_with(&mut engine, &data, &cfg);
            let what = format!("fast cpu ({split}) {name}");
            assert_params_close(&what, &p, &want_p);
            assert_state_close(&what, &s, &want_s);
        }
    }
}

#[test]
fn gpu_matches_reference_for_every_optimizer() {
    let Some(ctx) = gpu_or_skip("gpu_matches_reference_for_every_optimizer") else {
        return;
    };
    let (params, data) = setup();
    for (name, cfg) in configs() {
        let (want_p, want_s) = train_with(&mut CpuReference::new(params.clone()), &data, &cfg);
        // Fused into the weight products (as on hardware GPUs) and as a separate pass (as on
        // CPU-type adapters); with clip_norm both run the separate pass.
        for fuse in [true, false] {
            let mut gpu = GpuEngine::new(ctx.clone(), &params, 16, false).unwrap();
            gpu.fuse_optimizer(Some(fuse));
            let (p, s) = train_with(&mut gpu, &data, &cfg);
            let what = format!("gpu {name} (fused {fuse})");
            assert_params_close(&what, &p, &want_p);
            assert_state_close(&what, &s, &want_s);
        }
    }
}

/// The fast path stores the first layer's weights in the order its split suits (by batch rows:
/// `[inputs][outputs]`; by neurons: `[outputs][inputs]`) and reorders them, with the optimizer
/// state, when a later call splits it the other way: batches of 200 then 32 then 200 on 2
/// threads, with a first layer of 34,000 weights (split by neurons only when each thread gets
/// at most 64 rows), against the reference, and the state and parameters read out in between.
#[test]
fn fast_cpu_reorders_the_first_layer_when_its_split_changes() {
    use Activation::{Softmax, Tanh};
    let params = params_for(&[200, 170, 4], &[Tanh, Softmax], Loss::Ce, 8);
    let data = random_data(400, 200, 4, true, 9);
    let cfg = OptimizerConfig::of(OptimizerKind::Adam);
    let mut reference = CpuReference::new(params.clone());
    let mut fast = FastCpu::with_threads(params, 2);
    let order: Vec<u32> = (0..400).rev().collect();
    for engine in [&mut reference as &mut dyn Engine, &mut fast] {
        engine.set_optimizer(&cfg, None).unwrap();
        engine.load_train_set(&data).unwrap();
    }
    for (k, batch) in [200, 32, 200].into_iter().enumerate() {
        for engine in [&mut reference as &mut dyn Engine, &mut fast] {
            engine.train_steps(&order, batch, 0.002).unwrap();
        }
        let what = format!("after call {} (batch {batch})", k + 1);
        let want = reference.params().unwrap();
        assert_params_close(&what, &fast.params().unwrap(), &want);
        let want_state = reference.optimizer_state().unwrap();
        assert_state_close(&what, &fast.optimizer_state().unwrap(), &want_state);
    }
}

/// A state carried over (as `--resume` does) continues exactly where it was on the CPU.
#[test]
fn state_carried_over_continues_the_run() {
    let (params, data) = setup();
    let cfg = OptimizerConfig::of(OptimizerKind::Adam);
    let mut whole = FastCpu::with_threads(params.clone(), 2);
    whole.set_optimizer(&cfg, None).unwrap();
    train::train(&mut whole, &data, None, &loop_config(2), &mut train::Quiet).unwrap();
    let mut first = FastCpu::with_threads(params.clone(), 2);
    first.set_optimizer(&cfg, None).unwrap();
    train::train(&mut first, &data, None, &loop_config(1), &mut train::Quiet).unwrap();
    let mut second = FastCpu::with_threads(first.params().unwrap(), 2);
    second
        .set_optimizer(&cfg, Some(&first.optimizer_state().unwrap()))
        .unwrap();
    let resume = TrainConfig {
        start_epoch: 2,
        ..loop_config(2)
    };
    train::train(&mut second, &data, None, &resume, &mut train::Quiet).unwrap();
    assert_eq!(
        second.params().unwrap(),
        whole.params().unwrap(),
        "bit-identical"
    );
    assert_eq!(
        second.optimizer_state().unwrap(),
        whole.optimizer_state().unwrap()
    );
}

/// A NaN in the optimizer state stops training like a NaN loss, on every engine, and the
/// checkpoint of the last good epoch stays as it was.
#[test]
fn nan_in_the_state_stops_training_and_keeps_the_checkpoint() {
    let dir = Scratch::new("optim_nan_state");
    let (params, data) = setup();
    let cfg = OptimizerConfig::of(OptimizerKind::Adam);
    let mut engines: Vec<(&str, Box<dyn Engine>)> = vec![
        ("reference", Box::new(CpuReference::new(params.clone()))),
        ("fast", Box::new(FastCpu::with_threads(params.clone(), 2))),
    ];
    if let Some(ctx) = gpu_or_skip("nan_in_the_state_stops_training_and_keeps_the_checkpoint") {
        engines.push((
            "gpu",
            Box::new(GpuEngine::new(ctx, &params, 16, false).unwrap()),
        ));
    }
    for (name, mut engine) in engines {
        let path = dir.join(format!("{name}.safetensors"));
        engine.set_optimizer(&cfg, None).unwrap();
        train::train(
            engine.as_mut(),
            &data,
            None,
            &loop_config(1),
            &mut train::Quiet,
        )
        .unwrap();
        let good = (engine.params().unwrap(), engine.optimizer_state().unwrap());
        let meta = gpunn::checkpoint::ModelMeta {
            input_shape: vec![7],
            classes: 3,
            dataset: "random".into(),
            epoch: 1,
            extra: Default::default(),
        };
        gpunn::checkpoint::save_with_state(&path, &good.0, &meta, Some(&good.1)).unwrap();
        // Poison one moment, as an overflow would, and go on: epoch 2 stops at its first step.
        let mut bad = good.1.clone();
        bad.tensors[2].v[5] = f32::INFINITY;
        bad.tensors[2].m[5] = f32::NAN;
        engine.set_optimizer(&cfg, Some(&bad)).unwrap();
        let resume = TrainConfig {
            start_epoch: 2,
            ..loop_config(2)
        };
        let err =
            train::train(engine.as_mut(), &data, None, &resume, &mut train::Quiet).unwrap_err();
        assert!(
            matches!(
                err,
                gpunn::Error::Diverged {
                    epoch: 2,
                    step: 1,
                    ..
                }
            ),
            "{name}: {err}"
        );
        let (p, _, s) = gpunn::checkpoint::load_with_state(&path).unwrap();
        assert_eq!(
            (p, s.unwrap()),
            good,
            "{name}: the last good checkpoint is intact"
        );
    }
}

/// The fast path flushes subnormal floats to zero on its threads (Adam's first moment of a
/// weight whose gradient has turned 0 decays through them, slowly without the flush), the
/// reference keeps them, and the caller's own float environment is untouched afterwards.
#[test]
fn fast_path_flushes_subnormal_state_and_restores_the_callers_flags() {
    let set = |first: f32| {
        let mut d = crate::cpu_fast::random_data(4, 3, 2, false, 21);
        if let gpunn::data::Features::F32(x) = &mut d.features {
            let x = x.make_mut();
            for r in 0..4 {
                x[r * 3] = first;
            }
        }
        d
    };
    let (with_input0, without) = (set(1.0), set(0.0));
    let params = params_for(
        &[3, 4, 2],
        &[Activation::Tanh, Activation::Softmax],
        Loss::Ce,
        3,
    );
    let adam = OptimizerConfig::of(OptimizerKind::Adam);
    // Input 0's weights get a gradient for 2 steps, then none: their first moment decays by
    // β1 = 0.9 a step and is subnormal (below 1.2e-38) from about step 800 to 960.
    let first_moments = |engine: &mut dyn Engine| -> Vec<f32> {
        engine.set_optimizer(&adam, None).unwrap();
        engine.load_train_set(&with_input0).unwrap();
        engine
            .train_steps(&[0, 1, 2, 3, 0, 1, 2, 3], 4, 0.01)
            .unwrap();
        engine.load_train_set(&without).unwrap();
        let order: Vec<u32> = (0..880 * 4).map(|i| i % 4).collect();
        engine.train_steps(&order, 4, 0.01).unwrap();
        let m = engine.optimizer_state().unwrap().tensors[0].m.clone();
        (0..4).map(|j| m[j * 3]).collect()
    };
    let reference = first_moments(&mut CpuReference::new(params.clone()));
    assert!(
        reference.iter().any(|m| m.is_subnormal()),
        "the reference keeps subnormals: {reference:?}"
    );
    let fast = first_moments(&mut FastCpu::with_threads(params, 2));
    assert!(
        fast.iter().all(|&m| m == 0.0),
        "the fast path flushed them: {fast:?}"
    );
    let half = std::hint::black_box(f32::MIN_POSITIVE) / 2.0;
    assert!(
        half.is_subnormal(),
        "the caller's thread still has subnormals: {half}"
    );
}

/// torch.optim's Adam and AdamW in float64 (tests/data/optim/torch_tiny_trajectories.json) on
/// inputs so small that the weights' gradients are as small as ε = 1e-6, where the step
/// lr·m̂/(√v̂ + ε) depends on the bias corrections' last digits: every engine in f32, the GPU
/// fused and not, stays within 1 + 3t ulp of every weight (of at least 0.125) after step t:
/// under 1 ulp after the first, then growing as any two f32 trajectories part. Taking 1 − βᵗ
/// in f32 put the CPU engines 24 ulp off; the GPU's pow and its tanh of small inputs (which
/// lavapipe takes as (e^2z − 1)/(e^2z + 1)) put it 6,900 ulp off after one step.
#[test]
fn every_engine_follows_torch_adam_with_tiny_gradients() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/optim/torch_tiny_trajectories.json"
    );
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let f32s = |v: &serde_json::Value| -> Vec<f32> {
        fn walk(v: &serde_json::Value, out: &mut Vec<f32>) {
            match v {
                serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                v => out.push(v.as_f64().unwrap() as f32),
            }
        }
        let mut out = Vec::new();
        walk(v, &mut out);
        out
    };
    let mut params = crate::cpu_fast::params_for(
        &[3, 4, 2],
        &[Activation::Tanh, Activation::Sigmoid],
        Loss::Mse,
        1,
    );
    for (l, layer) in t["net"]["layers"].as_array().unwrap().iter().enumerate() {
        params.layers[l].weights = f32s(&layer["weights"]);
        params.layers[l].bias = f32s(&layer["bias"]);
    }
    let (x, y) = (f32s(&t["x"]), f32s(&t["y"]));
    let data = Dataset {
        name: "tiny".into(),
        dim: 3,
        features: gpunn::data::Features::F32(x.into()),
        labels: vec![0; 5],
        classes: 0,
        target: gpunn::data::Target::Values {
            dim: 2,
            values: y.into(),
            units: Vec::new(),
        },
        weights: None,
    };
    let ctx = gpu_or_skip("every_engine_follows_torch_adam_with_tiny_gradients");
    for case in t["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let spec: gpunn::run::OptimizerSpec =
            serde_json::from_value(case["optimizer"].clone()).unwrap();
        let cfg = spec.resolve();
        let lr = case["lr"].as_f64().unwrap() as f32;
        let mut engines: Vec<(String, Box<dyn Engine>)> = vec![
            (
                "reference".into(),
                Box::new(CpuReference::new(params.clone())),
            ),
            ("fast cpu".into(), Box::new(FastCpu::new(params.clone()))),
        ];
        if let Some(ctx) = &ctx {
            for fuse in [true, false] {
                let mut gpu = GpuEngine::new(ctx.clone(), &params, 5, false).unwrap();
                gpu.fuse_optimizer(Some(fuse));
                engines.push((format!("gpu (fused {fuse})"), Box::new(gpu)));
            }
        }
        for (engine_name, mut engine) in engines {
            engine.load_train_set(&data).unwrap();
            engine.set_optimizer(&cfg, None).unwrap();
            for (step, want) in case["trajectory"].as_array().unwrap().iter().enumerate() {
                engine.train_steps(&[0, 1, 2, 3, 4], 5, lr).unwrap();
                let got = engine.params().unwrap();
                for (l, layer) in want.as_array().unwrap().iter().enumerate() {
                    for (what, g, w) in [
                        ("weights", &got.layers[l].weights, f32s(&layer["weights"])),
                        ("bias", &got.layers[l].bias, f32s(&layer["bias"])),
                    ] {
                        for (i, (&g, &w)) in g.iter().zip(&w).enumerate() {
                            let ulps = (g - w).abs() / (w.abs().max(0.125) * f32::EPSILON);
                            let allowed = 1.0 + 3.0 * (step + 1) as f32;
                            assert!(
                                ulps <= allowed,
                                "{name} on {engine_name}, step {}: layer {l} {what}[{i}] = \
                                 {g}, torch float64 {w} ({ulps:.0} ulp)",
                                step + 1
                            );
                        }
                    }
                }
            }
        }
    }
}
