//! The optimizer kernels (shaders/optim.wgsl) alone against their CPU twins in
//! `optim::rule`, at awkward sizes (one element, less than a vec4, a workgroup's elements plus
//! one): `tick` (the step count and Adam's bias corrections), `norm` (Σ g² over several
//! tensors) and `update` (clipping, decay and every rule on one tensor).

use crate::common::{assert_close, gpu_or_skip};
use gpunn::gpu::kernels::{OptimBindings, OptimKernel, OptimParams, StepUniform};
use gpunn::gpu::GpuContext;
use gpunn::model::DenseGrads;
use gpunn::optim::rule::{self, Moments};
use gpunn::optim::{OptimizerConfig, OptimizerKind};
use rand::{Rng, SeedableRng};

/// Sizes that straddle a vec4, a 256-thread norm pass and an update workgroup (1,024).
const SIZES: [usize; 7] = [1, 3, 4, 5, 257, 1025, 4099];

/// `v` padded with zeros to whole vec4s, in a storage buffer.
fn padded(ctx: &GpuContext, label: &str, v: &[f32]) -> wgpu::Buffer {
    let mut p = v.to_vec();
    p.resize(v.len().next_multiple_of(4).max(4), 0.0);
    ctx.storage_buffer_f32(label, &p).unwrap()
}

/// The optimizer state buffer: Σ g², the step count, the two corrections.
fn state(ctx: &GpuContext, sum: f32, step: u32) -> wgpu::Buffer {
    let words = [sum.to_bits(), step, 0, 0];
    let as_f32: Vec<f32> = words.iter().map(|&w| f32::from_bits(w)).collect();
    ctx.storage_buffer_f32("optim state", &as_f32).unwrap()
}

/// One tensor's buffers and bind group.
struct Tensor {
    g: wgpu::Buffer,
    w: wgpu::Buffer,
    m: wgpu::Buffer,
    v: wgpu::Buffer,
    bind: (wgpu::BindGroup, u32),
}

#[allow(clippy::too_many_arguments)]
fn tensor(
    ctx: &GpuContext,
    kernel: &OptimKernel,
    cfg: &OptimizerConfig,
    lr: f32,
    is_weight: bool,
    (g, w, m, v): (&[f32], &[f32], &[f32], &[f32]),
    state: &wgpu::Buffer,
    flags: &wgpu::Buffer,
) -> Tensor {
    let n = g.len();
    let params = OptimParams::new(cfg, n, is_weight);
    let params = ctx
        .uniform_buffer("optim params", bytemuck::bytes_of(&params))
        .unwrap();
    let step = StepUniform::buffer(ctx, lr).unwrap();
    let (g, w, m, v) = (
        padded(ctx, "g", g),
        padded(ctx, "w", w),
        padded(ctx, "m", m),
        padded(ctx, "v", v),
    );
    let bind = kernel
        .bind(
            ctx,
            OptimBindings {
                params: &params,
                g: &g,
                w: &w,
                m: &m,
                v: &v,
                state,
                flags,
                step: &step,
            },
        )
        .unwrap();
    Tensor {
        g,
        w,
        m,
        v,
        bind: (bind, n as u32),
    }
}

fn run(ctx: &GpuContext, record: impl FnOnce(&mut wgpu::ComputePass<'_>)) {
    ctx.submit_pass("optim kernel test", record).unwrap();
    ctx.wait_idle().unwrap();
}

fn random(r: &mut rand::rngs::StdRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| r.random_range(-scale..scale)).collect()
}

fn adam(beta1: f32, beta2: f32) -> OptimizerConfig {
    OptimizerConfig {
        beta1,
        beta2,
        ..OptimizerConfig::of(OptimizerKind::Adam)
    }
}

#[test]
fn optim_tick_counts_steps_and_takes_adams_corrections() {
    let Some(ctx) = gpu_or_skip("optim_tick_counts_steps_and_takes_adams_corrections") else {
        return;
    };
    let kernel = OptimKernel::new(&ctx).unwrap();
    let flags = padded(&ctx, "flags", &[0.0]);
    let zeros = [0.0f32; 1];
    for cfg in [adam(0.9, 0.999), adam(0.5, 0.9999), adam(0.99, 0.9)] {
        for before in [0u32, 1, 9, 999, 100_000] {
            let lr = 0.003;
            let st = state(&ctx, 3.5, before);
            let t = tensor(
                &ctx,
                &kernel,
                &cfg,
                lr,
                true,
                (&zeros, &zeros, &zeros, &zeros),
                &st,
                &flags,
            );
            run(&ctx, |pass| kernel.encode_tick(pass, &t.bind.0));
            let got = ctx.read_u32(&st, 0, 4).unwrap();
            let step = u64::from(before) + 1;
            assert_eq!(f32::from_bits(got[0]), 0.0, "the norm's sum starts at 0");
            assert_eq!(u64::from(got[1]), step, "the step count");
            let (bc1, bc2) = rule::bias_corrections(&cfg, step);
            let want = [(lr as f64 / bc1) as f32, bc2.sqrt() as f32];
            let what = format!(
                "tick: β {} {}, step {step}: lr/(1−β1ᵗ), √(1−β2ᵗ)",
                cfg.beta1, cfg.beta2
            );
            let got = [f32::from_bits(got[2]), f32::from_bits(got[3])];
            // Within a few ulps of the f64 values rounded once.
            assert_close(&what, &got, &want, 0.0, 4e-7);
        }
    }
}

#[test]
fn optim_norm_adds_each_tensors_squares() {
    let Some(ctx) = gpu_or_skip("optim_norm_adds_each_tensors_squares") else {
        return;
    };
    let kernel = OptimKernel::new(&ctx).unwrap();
    let cfg = OptimizerConfig {
        clip_norm: Some(1.0),
        ..OptimizerConfig::of(OptimizerKind::Adam)
    };
    let flags = padded(&ctx, "flags", &[0.0]);
    let mut r = rand::rngs::StdRng::seed_from_u64(5);
    // Every size alone, then all of them as the tensors of one step.
    let mut cases: Vec<Vec<usize>> = SIZES.iter().map(|&n| vec![n]).collect();
    cases.push(SIZES.to_vec());
    for sizes in cases {
        let st = state(&ctx, 0.0, 0);
        let grads: Vec<Vec<f32>> = sizes.iter().map(|&n| random(&mut r, n, 2.0)).collect();
        let tensors: Vec<Tensor> = grads
            .iter()
            .map(|g| {
                let z = vec![0.0; g.len()];
                tensor(&ctx, &kernel, &cfg, 0.1, true, (g, &z, &z, &z), &st, &flags)
            })
            .collect();
        run(&ctx, |pass| {
            kernel.encode_norms(pass, tensors.iter().map(|t| &t.bind))
        });
        let got = f32::from_bits(ctx.read_u32(&st, 0, 1).unwrap()[0]);
        // The CPU's ‖g‖ over the same tensors (as weights of one layer each), squared.
        let dense: Vec<DenseGrads<f64>> = grads
            .iter()
            .map(|g| DenseGrads {
                weights: g.iter().map(|&x| x as f64).collect(),
                bias: Vec::new(),
            })
            .collect();
        let want = rule::global_norm(&dense).powi(2) as f32;
        assert_close(
            &format!("Σ g² of tensors {sizes:?}"),
            &[got],
            &[want],
            0.0,
            1e-5,
        );
    }
}

#[test]
fn optim_update_matches_the_cpu_rule() {
    let Some(ctx) = gpu_or_skip("optim_update_matches_the_cpu_rule") else {
        return;
    };
    let kernel = OptimKernel::new(&ctx).unwrap();
    let of = OptimizerConfig::of;
    let configs = [
        OptimizerConfig {
            momentum: 0.9,
            weight_decay: 0.01,
            ..of(OptimizerKind::Sgd)
        },
        OptimizerConfig {
            momentum: 0.8,
            nesterov: true,
            clip_value: Some(0.5),
            ..of(OptimizerKind::Sgd)
        },
        OptimizerConfig {
            weight_decay: 0.05,
            clip_norm: Some(1.0),
            ..of(OptimizerKind::Adam)
        },
        OptimizerConfig {
            clip_value: Some(0.3),
            ..of(OptimizerKind::AdamW)
        },
    ];
    let flags = padded(&ctx, "flags", &[0.0]);
    let mut r = rand::rngs::StdRng::seed_from_u64(9);
    let lr = 0.05f32;
    for cfg in &configs {
        let (keeps_m, keeps_v) = cfg.keeps();
        for &n in &SIZES {
            for is_weight in [true, false] {
                let before = 6u32;
                let (g, w) = (random(&mut r, n, 1.5), random(&mut r, n, 1.0));
                let m: Vec<f32> = if keeps_m {
                    random(&mut r, n, 0.2)
                } else {
                    vec![0.0; n]
                };
                let v: Vec<f32> = if keeps_v {
                    random(&mut r, n, 0.1).iter().map(|x| x.abs()).collect()
                } else {
                    vec![0.0; n]
                };
                let st = state(&ctx, 0.0, before);
                let t = tensor(
                    &ctx,
                    &kernel,
                    cfg,
                    lr,
                    is_weight,
                    (&g, &w, &m, &v),
                    &st,
                    &flags,
                );
                run(&ctx, |pass| {
                    kernel.encode_tick(pass, &t.bind.0);
                    if cfg.clip_norm.is_some() {
                        kernel.encode_norms(pass, std::iter::once(&t.bind));
                    }
                    kernel.encode_updates(pass, std::iter::once(&t.bind));
                });
                // The CPU rule on the same tensor: clipping by the norm of this one tensor,
                // then the rule at the next step.
                let (mut cw, mut cg, mut cm, mut cv) = (w.clone(), g.clone(), m.clone(), v.clone());
                if let Some(c) = cfg.clip_norm {
                    let dense = [DenseGrads {
                        weights: g.clone(),
                        bias: Vec::new(),
                    }];
                    if let Some(s) = rule::clip_scale(rule::global_norm(&dense), c) {
                        cg.iter_mut().for_each(|x| *x *= s);
                    }
                }
                // SGD keeps its velocity where Adam keeps m; what a rule does not keep is empty.
                let (mut e1, mut e2) = (Vec::new(), Vec::new());
                let (velocity, m_cpu) = match (cfg.kind, keeps_m) {
                    (OptimizerKind::Sgd, true) => (&mut cm, &mut e1),
                    (OptimizerKind::Sgd, false) => (&mut e1, &mut e2),
                    _ => (&mut e1, &mut cm),
                };
                let mut e3 = Vec::new();
                let moments = Moments {
                    velocity,
                    m: m_cpu,
                    v: if keeps_v { &mut cv } else { &mut e3 },
                };
                rule::update_tensor(
                    cfg,
                    moments,
                    &mut cw,
                    &mut cg,
                    is_weight,
                    lr,
                    u64::from(before) + 1,
                );
                let what = |x: &str| format!("{} n={n} weight={is_weight}: {x}", cfg.describe());
                let read = |b: &wgpu::Buffer| ctx.read_f32(b, 0, n as u64).unwrap();
                assert_close(&what("w"), &read(&t.w), &cw, 1e-6, 1e-5);
                if keeps_m {
                    assert_close(&what("m"), &read(&t.m), &cm, 1e-6, 1e-5);
                }
                if keeps_v {
                    assert_close(&what("v"), &read(&t.v), &cv, 1e-7, 1e-5);
                }
                // The gradient is read, not changed (clipping is applied on the fly).
                assert_eq!(read(&t.g), g, "{}", what("g unchanged"));
            }
        }
    }
}
