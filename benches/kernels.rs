//! `cargo bench`: GFLOP/s of each matmul layout on the MNIST training shapes (GPU kernels and
//! the CPU reference's plain loops as the floor), and samples/s of whole training steps per
//! device. Set GPUNN_BENCH_DEVICE (default `software`) to pick the GPU adapter.
//!
//! Timings are wall-clock medians of a few repetitions after a warm-up; compare figures
//! within one run (GPU vs CPU), never across machines.

use gpunn::bench::{run, BenchConfig};
use gpunn::gpu::{
    DeviceKind, Epilogue, GpuContext, MatmulConfig, MatmulKernels, MatmulSpec, Trans,
};
use gpunn::model::Activation;
use gpunn::optim::{OptimizerConfig, OptimizerKind};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn gpu_matmuls(kind: DeviceKind) -> gpunn::Result<()> {
    let ctx = GpuContext::shared(kind)?;
    let cfg = MatmulConfig::for_adapter(&ctx);
    let mm = MatmulKernels::new(&ctx, cfg)?;
    println!("GPU matmuls on {} ({cfg:?})", ctx.info.name);
    // (name, layout, M, K, N): the products of one 784-128-64-10 step at batch 128.
    let shapes = [
        ("forward L1  X·W1ᵀ", Trans::NT, 128, 784, 128),
        ("forward L2  A1·W2ᵀ", Trans::NT, 128, 128, 64),
        ("input grad  dZ2·W2", Trans::NN, 128, 64, 128),
        ("weight grad dZ1ᵀ·X", Trans::TN, 128, 128, 784),
        ("square 512³", Trans::NT, 512, 512, 512),
    ];
    for (name, trans, m, k, n) in shapes {
        let a_len = m * k;
        let b_len = k * n;
        let a = ctx.storage_buffer_f32("a", &vec![0.5; a_len])?;
        let b = ctx.storage_buffer_f32("b", &vec![0.25; b_len])?;
        let c = ctx.storage_buffer_zeroed("c", (m * n * 4) as u64)?;
        let call = mm.prepare(MatmulSpec {
            trans,
            epilogue: Epilogue::Store,
            act: Activation::Identity,
            m: m as u32,
            k: k as u32,
            n: n as u32,
            step: None,
            a: &a,
            b: &b,
            out: &c,
            extra: None,
        })?;
        let reps = 20;
        let mut times = Vec::new();
        for round in 0..4 {
            let t = Instant::now();
            let mut enc = ctx.device.create_command_encoder(&Default::default());
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                for _ in 0..reps {
                    mm.encode(&mut pass, &call);
                }
            }
            ctx.queue.submit([enc.finish()]);
            ctx.wait_idle()?;
            if round > 0 {
                times.push(t.elapsed().as_secs_f64() / reps as f64);
            }
        }
        let s = median(times);
        println!(
            "  {name:<22} {m:>4}x{k:>4}x{n:>4}  {:>8.2} GFLOP/s  {:>8.1} µs",
            call.flops() / s / 1e9,
            s * 1e6
        );
    }
    Ok(())
}

fn cpu_reference_matmul() {
    let (m, k, n) = (128, 784, 128);
    let a = vec![0.5f32; m * k];
    let b = vec![0.25f32; n * k];
    let t = Instant::now();
    let c = gpunn::cpu::ops::matmul_nt(&a, &b, m, k, n);
    let s = t.elapsed().as_secs_f64();
    std::hint::black_box(c);
    println!(
        "CPU reference loops    128x 784x 128  {:>8.2} GFLOP/s",
        2.0 * (m * k * n) as f64 / s / 1e9
    );
}

fn main() {
    let kind: DeviceKind = std::env::var("GPUNN_BENCH_DEVICE")
        .unwrap_or_else(|_| "software".into())
        .parse()
        .expect("GPUNN_BENCH_DEVICE");
    if let Err(e) = gpu_matmuls(kind) {
        println!("GPU matmuls skipped: {e}");
    }
    cpu_reference_matmul();
    println!("\nwhole training steps (784-128-64-10, batch 128), per optimizer:");
    for optimizer in [OptimizerKind::Sgd, OptimizerKind::Adam] {
        let cfg = BenchConfig {
            layers: vec![784, 128, 64, 10],
            batch: 128,
            steps: 100,
            warmup: 10,
            lr: 0.01,
            seed: 1,
            optimizer: OptimizerConfig::of(optimizer),
        };
        for device in [DeviceKind::Cpu, kind] {
            match run(device, &cfg) {
                Ok(r) => print!("{r}"),
                Err(e) => println!("{device}: skipped: {e}"),
            }
        }
    }
}
