//! Whole training steps on the GPU against the CPU reference: every activation × loss pair,
//! partial batches, a 20-step golden run, training and evaluation, and `gpunn step` on the
//! GPU with the worked examples.

use crate::cli::{gpunn, stderr, stdout, step_json, NET_ONES};
use crate::common::{assert_close, gpu_or_skip};
use crate::cpu_reference::{all_pairs, random_case};
use gpunn::cpu::engine::CpuReference;
use gpunn::cpu::loss::Targets;
use gpunn::data::synth;
use gpunn::engine::Engine;
use gpunn::gpu::GpuEngine;
use gpunn::model::{Activation, Init, MlpSpec, Params};
use gpunn::step::step_cpu;
use gpunn::train::epoch_order;

fn compare_params(what: &str, got: &Params, want: &Params) {
    for (l, (g, w)) in got.layers.iter().zip(&want.layers).enumerate() {
        assert_close(
            &format!("{what}: layer {} weights", l + 1),
            &g.weights,
            &w.weights,
            1e-5,
            1e-4,
        );
        assert_close(
            &format!("{what}: layer {} bias", l + 1),
            &g.bias,
            &w.bias,
            1e-5,
            1e-4,
        );
    }
}

#[test]
fn one_step_every_activation_and_loss() {
    let Some(ctx) = gpu_or_skip("one_step_every_activation_and_loss") else {
        return;
    };
    let batch = 5;
    for (n, (hidden, out, loss)) in all_pairs().into_iter().enumerate() {
        let (p64, x64, t64) = random_case(hidden, out, loss, batch, 500 + n as u64);
        let params: Params = p64.cast();
        let x: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
        let targets = match t64 {
            Targets::Values(v) => Targets::Values(v.iter().map(|&v| v as f32).collect()),
            Targets::Classes(c) => Targets::Classes(c),
        };
        let what = format!("{hidden} hidden, {out} output, {loss}");
        let want = step_cpu(&params, &x, batch, &targets, 0.3);
        let mut gpu = GpuEngine::new(ctx.clone(), &params, batch, true).unwrap();
        let got = gpu.step_report(&x, &targets, 0.3).unwrap();
        assert_close(
            &format!("{what}: loss"),
            &[got.loss],
            &[want.loss],
            1e-6,
            1e-4,
        );
        assert_close(
            &format!("{what}: output"),
            &got.output,
            &want.output,
            1e-6,
            1e-4,
        );
        assert_close(
            &format!("{what}: grad_input"),
            &got.grad_input,
            &want.grad_input,
            1e-6,
            1e-4,
        );
        for (l, ((gw, gb), (ww, wb))) in got.grads.iter().zip(&want.grads).enumerate() {
            assert_close(
                &format!("{what}: layer {} grad_weights", l + 1),
                gw,
                ww,
                1e-6,
                1e-4,
            );
            assert_close(
                &format!("{what}: layer {} grad_bias", l + 1),
                gb,
                wb,
                1e-6,
                1e-4,
            );
        }
        compare_params(&what, &got.after, &want.after);
    }
}

fn circles_net(seed: u64) -> Params {
    use Activation::{Relu, Softmax};
    let spec = MlpSpec::new(
        vec![2, 8, 8, 2],
        vec![Relu, Relu, Softmax],
        gpunn::model::Loss::Ce,
    )
    .unwrap();
    Params::init(&spec, Init::HeNormal, seed).unwrap()
}

/// Runs `steps` single-batch steps of an epoch's order and returns each step's mean loss.
fn step_losses(
    engine: &mut dyn Engine,
    data: &gpunn::data::Dataset,
    batch: usize,
    steps: usize,
) -> Vec<f32> {
    engine.load_train_set(data).unwrap();
    let order = epoch_order(data.len(), 3, 1);
    let mut losses = Vec::new();
    for chunk in order.chunks(batch).take(steps) {
        engine.train_steps(chunk, batch, 0.3).unwrap();
        losses.push(engine.take_stats().unwrap().mean_loss());
    }
    losses
}

/// CPU and GPU agree step by step for 20 SGD steps, and both match the recorded losses.
#[test]
fn golden_twenty_steps() {
    let Some(ctx) = gpu_or_skip("golden_twenty_steps") else {
        return;
    };
    // Recorded from the CPU reference (seed 11, circles 160/0.4/0.05 seed 5, 2-8-8-2 relu/ce,
    // he-normal, batch 8, lr 0.3, shuffle seed 3).
    const GOLDEN: [f32; 20] = [
        0.68068075, 0.63654006, 0.81384456, 0.5783341, 0.5280259, 0.632438, 0.63032335, 0.6002283,
        0.49988955, 0.5499695, 0.54217494, 0.5554908, 0.46744382, 0.44633105, 0.5445697, 0.6007306,
        0.52317584, 0.49794364, 0.38271204, 0.613142,
    ];
    let data = synth::circles(160, 0.4, 0.05, 5);
    let params = circles_net(11);
    let cpu = step_losses(&mut CpuReference::new(params.clone()), &data, 8, 20);
    let mut gpu_engine = GpuEngine::new(ctx, &params, 8, false).unwrap();
    let gpu = step_losses(&mut gpu_engine, &data, 8, 20);
    assert_close("GPU vs CPU step losses", &gpu, &cpu, 1e-5, 1e-4);
    assert_close("CPU vs golden", &cpu, &GOLDEN, 1e-6, 1e-5);
}

/// A whole epoch with a partial last batch (10 samples, batch 4: steps of 4, 4 and 2), then
/// evaluation: the parameters, the loss and every prediction agree.
#[test]
fn epoch_with_partial_batch_and_evaluation() {
    let Some(ctx) = gpu_or_skip("epoch_with_partial_batch_and_evaluation") else {
        return;
    };
    let data = synth::circles(10, 0.4, 0.05, 9);
    let params = circles_net(4);
    let mut cpu = CpuReference::new(params.clone());
    let mut gpu = GpuEngine::new(ctx, &params, 4, false).unwrap();
    let order = epoch_order(10, 1, 1);
    for e in [&mut cpu as &mut dyn Engine, &mut gpu] {
        e.load_train_set(&data).unwrap();
        e.train_steps(&order, 4, 0.2).unwrap();
    }
    let (sc, sg) = (cpu.take_stats().unwrap(), gpu.take_stats().unwrap());
    assert_eq!((sc.samples, sc.correct), (sg.samples, sg.correct));
    assert_close(
        "epoch loss",
        &[sg.mean_loss()],
        &[sc.mean_loss()],
        1e-6,
        1e-4,
    );
    compare_params(
        "after one epoch",
        &gpu.params().unwrap(),
        &cpu.params().unwrap(),
    );
    let test = synth::circles(37, 0.4, 0.05, 10);
    let (ec, eg) = (cpu.evaluate(&test).unwrap(), gpu.evaluate(&test).unwrap());
    assert_eq!(eg.predictions, ec.predictions);
    assert_close("eval loss", &[eg.loss], &[ec.loss], 1e-6, 1e-4);
}

fn flatten(v: &serde_json::Value, out: &mut Vec<f32>) {
    match v {
        serde_json::Value::Number(n) => out.push(n.as_f64().unwrap() as f32),
        serde_json::Value::Array(a) => a.iter().for_each(|x| flatten(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| flatten(x, out)),
        _ => panic!("unexpected JSON value {v}"),
    }
}

/// `gpunn step` on the GPU prints the same JSON as on the CPU, to 1e-5, for both worked
/// examples; and the first example's figures are the textbook's.
#[test]
fn step_cli_worked_examples_on_gpu() {
    if gpu_or_skip("step_cli_worked_examples_on_gpu").is_none() {
        return;
    }
    let mixed = r#"{"layers": [{"weights": [[0.5,-0.25],[0.5,-0.25],[0.5,-0.25]], "bias": [0.1,0.1,0.1], "activation": "sigmoid"}, {"weights": [[1,-1,0]], "bias": [0.1], "activation": "sigmoid"}]}"#;
    for (name, net) in [("ones", NET_ONES), ("mixed", mixed)] {
        let device = std::env::var("GPUNN_TEST_DEVICE").unwrap_or_else(|_| "software".into());
        let gpu = step_json(&device, net, &format!("gpu_step_{name}"));
        let cpu = step_json("cpu", net, &format!("cpu_step_{name}"));
        let (mut g, mut c) = (Vec::new(), Vec::new());
        flatten(&gpu, &mut g);
        flatten(&cpu, &mut c);
        assert_close(&format!("{name}: GPU vs CPU step JSON"), &g, &c, 1e-5, 0.0);
        if name == "mixed" {
            let w = &gpu["layers"][1]["weights"][0];
            assert!((w[0].as_f64().unwrap() - 1.0076484).abs() < 1e-6, "{w}");
            assert!((gpu["output"][0][0].as_f64().unwrap() - 0.524979).abs() < 1e-6);
        } else {
            assert!((gpu["layers"][1]["weights"][0][0].as_f64().unwrap() - 1.0000559).abs() < 1e-6);
        }
    }
}

/// `gpunn train --device software` trains circles like the CPU does.
#[test]
fn train_cli_on_gpu_matches_cpu() {
    if gpu_or_skip("train_cli_on_gpu_matches_cpu").is_none() {
        return;
    }
    let device = std::env::var("GPUNN_TEST_DEVICE").unwrap_or_else(|_| "software".into());
    let run = |d: &str| {
        let o = gpunn(&[
            "train",
            "--dataset",
            "circles",
            "--samples",
            "300",
            "--layers",
            "2,5,1",
            "--epochs",
            "15",
            "--device",
            d,
        ]);
        assert!(o.status.success(), "{d}: {}", stderr(&o));
        stdout(&o)
    };
    let (g, c) = (run(&device), run("cpu"));
    let last = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("test:"))
            .unwrap()
            .to_string()
    };
    assert_eq!(last(&g), last(&c), "final lines differ");
}
