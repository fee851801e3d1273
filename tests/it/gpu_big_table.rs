//! A table larger than one storage binding (lavapipe's 128 MiB) trains on the GPU, streamed
//! from the host a run of steps at a time, to the fast CPU path's parameters; its evaluation and
//! forward passes go part by part to the CPU's figures.

use crate::common::{assert_close, gpu_or_skip};
use crate::cpu_fast::assert_params_close;
use gpunn::cpu::fast::FastCpu;
use gpunn::data::{Dataset, Features};
use gpunn::engine::Engine;
use gpunn::gpu::GpuEngine;
use gpunn::model::{Activation, Init, Loss, MlpSpec, Params};
use gpunn::train::{self, TrainConfig};

#[test]
fn a_table_beyond_one_binding_trains_as_on_the_cpu() {
    let Some(ctx) = gpu_or_skip("a_table_beyond_one_binding_trains_as_on_the_cpu") else {
        return;
    };
    // 540,000 samples of 64 features: 138 MB of f32, over lavapipe's 134 MB binding.
    let (n, dim) = (540_000, 64);
    let features: Vec<f32> = (0..n * dim)
        .map(|i| ((i * 2_654_435_761usize) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let labels: Vec<u32> = (0..n)
        .map(|r| (features[r * dim] + features[r * dim + 1] > 0.0) as u32 + (r % 7 == 0) as u32)
        .collect();
    let data = Dataset::classes("big", dim, Features::F32(features.into()), labels, 3);
    let bytes = (n * dim * 4) as u64;
    let binding = ctx.limits.max_storage_buffer_binding_size;
    if ctx.is_software() {
        assert!(
            bytes > binding,
            "{bytes} bytes fit a binding of {binding}: not a test of streaming"
        );
    }
    let spec = MlpSpec::new(
        vec![dim, 8, 3],
        vec![Activation::Tanh, Activation::Softmax],
        Loss::Ce,
    )
    .unwrap();
    let params = Params::init(&spec, Init::XavierUniform, 5).unwrap();
    let cfg = TrainConfig {
        steps_per_chunk: 64,
        ..TrainConfig::new(1, 1024, 0.05, 3)
    };
    let mut cpu = FastCpu::new(params.clone());
    let mut gpu = GpuEngine::new(ctx, &params, 1024, false).unwrap();
    let mut histories = Vec::new();
    for e in [&mut cpu as &mut dyn Engine, &mut gpu] {
        histories.push(train::train(e, &data, None, &cfg, &mut train::Quiet).unwrap());
    }
    let (want, got) = (cpu.params().unwrap(), gpu.params().unwrap());
    assert_ne!(want, params, "training changed nothing");
    assert_params_close("streamed GPU", &got, &want);
    let loss = |h: &train::History| h.epochs[0].train_loss;
    assert_close(
        "epoch loss",
        &[loss(&histories[1])],
        &[loss(&histories[0])],
        1e-5,
        1e-4,
    );
    // Evaluation and outputs of the whole set, part by part.
    let (e_cpu, e_gpu) = (cpu.evaluate(&data).unwrap(), gpu.evaluate(&data).unwrap());
    assert_close("evaluation loss", &[e_gpu.loss], &[e_cpu.loss], 1e-5, 1e-4);
    let same = e_cpu
        .predictions
        .iter()
        .zip(&e_gpu.predictions)
        .filter(|(a, b)| a == b)
        .count();
    assert_eq!(e_gpu.predictions.len(), n);
    assert!(same >= n - 5, "{} of {n} predictions differ", n - same);
    let (o_cpu, o_gpu) = (cpu.outputs(&data).unwrap(), gpu.outputs(&data).unwrap());
    assert_close("outputs", &o_gpu, &o_cpu, 1e-4, 1e-3);
}
