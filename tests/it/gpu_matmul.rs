//! The matmul kernel family (src/gpu/matmul.rs, shaders/matmul.wgsl) against the CPU reference
//! (`cpu::ops::matmul_*`, `cpu::activation`), plus the context helpers it stands on.
//!
//! Every layout (NT, NN, TN) × epilogue (store, bias+activation for each activation, activation
//! gradient for each activation, fused SGD with and without the stored gradient) runs at the
//! edge shapes of the tiling: 1×1×1, smaller than a tile, exactly a tile, a tile plus one in
//! every dimension; fewer epilogues at the irregular 123×255×72 and the MNIST-sized
//! 256×784×128. Shapes are written M×K×N. Tile-dependent shapes follow the configuration chosen
//! for the adapter; `every_preset_*` runs the other presets at their own tile edges.
//!
//! Tolerance: |gpu − cpu| ≤ atol + rtol·|cpu| with atol = 1e-5·√K and rtol = 1e-4. Inputs are
//! U(−1, 1), so partial sums grow like √K/3 and each of the K f32 additions rounds by at most
//! half an ulp of that (≈ 3e-8·√K); the two summation orders (sequential on the CPU, tiled with
//! FMA on the GPU) then differ by a random walk of ≈ √K such errors, ≈ 1e-6·√K at K = 784, and
//! 1e-5·√K leaves a 10× margin. rtol covers exp/tanh on the GPU (a few ulp, ~1e-6 relative) and
//! the sigmoid/tanh derivatives. A wrong index, a missing bound or a wrong epilogue is off by
//! O(0.1–1), far outside this.

use crate::common::{assert_close, gpu_or_skip};
use gpunn::cpu::{activation, ops};
use gpunn::gpu::{
    DeviceKind, Epilogue, GpuContext, MatmulConfig, MatmulKernels, MatmulSpec, Trans,
};
use gpunn::model::Activation;
use gpunn::Error;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Written after C in the output buffer; must survive every call (no writes past M×N).
const SENTINEL: f32 = 7.25;
const TAIL: usize = 5;
const LR: f32 = 0.05;

/// One `MatmulKernels` per configuration for the whole test binary: pipelines compile once.
fn kernels(ctx: &Arc<GpuContext>, cfg: MatmulConfig) -> Arc<MatmulKernels> {
    static CACHE: OnceLock<Mutex<HashMap<MatmulConfig, Arc<MatmulKernels>>>> = OnceLock::new();
    let mut map = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    map.entry(cfg)
        .or_insert_with(|| Arc::new(MatmulKernels::new(ctx, cfg).expect("MatmulKernels::new")))
        .clone()
}

fn adapter_kernels(ctx: &Arc<GpuContext>) -> Arc<MatmulKernels> {
    kernels(ctx, MatmulConfig::for_adapter(ctx))
}

fn uniform(rng: &mut StdRng, len: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(lo..hi)).collect()
}

/// The CPU reference product for `trans` (a and b in the layouts `Trans` documents).
fn reference(trans: Trans, a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    match trans {
        Trans::NT => ops::matmul_nt(a, b, m, k, n),
        Trans::NN => ops::matmul_nn(a, b, m, k, n),
        Trans::TN => ops::matmul_tn(a, b, m, k, n),
    }
}

/// The elementwise activation as the kernels see it: softmax is the identity there.
fn act_ref(act: Activation, z: f32) -> f32 {
    if act == Activation::Softmax {
        z
    } else {
        activation::apply(act, z)
    }
}

fn act_grad_ref(act: Activation, a: f32) -> f32 {
    if act == Activation::Softmax {
        1.0
    } else {
        activation::derivative_from_output(act, a)
    }
}

/// `data` followed by the sentinel tail.
fn with_tail(data: &[f32]) -> Vec<f32> {
    let mut v = data.to_vec();
    v.extend([SENTINEL; TAIL]);
    v
}

/// Runs one product on the GPU and checks it (and, for SGD with the stored gradient, both
/// outputs) against the CPU reference.
fn check(
    kern: &MatmulKernels,
    trans: Trans,
    (m, k, n): (usize, usize, usize),
    epilogue: Epilogue,
    act: Activation,
    seed: u64,
) {
    let ctx = kern.context();
    let what = format!(
        "{trans:?} {epilogue:?} {act} {m}x{k}x{n} {:?}",
        kern.config()
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let a = uniform(&mut rng, m * k, -1.0, 1.0);
    let b = uniform(&mut rng, k * n, -1.0, 1.0);
    let c = reference(trans, &a, &b, m, k, n);
    let atol = 1e-5 * (k as f32).sqrt();
    let rtol = 1e-4;

    // A and B get the tail too: operands may be larger than the product needs.
    let a_buf = ctx.storage_buffer_f32("a", &with_tail(&a)).unwrap();
    let b_buf = ctx.storage_buffer_f32("b", &with_tail(&b)).unwrap();
    // (initial out, initial extra, expected out, expected extra)
    type Setup = (Vec<f32>, Option<Vec<f32>>, Vec<f32>, Option<Vec<f32>>);
    let (out_init, extra_init, want_out, want_extra): Setup = match epilogue {
        Epilogue::Store => (vec![0.0; m * n], None, c.clone(), None),
        Epilogue::BiasAct => {
            let bias = uniform(&mut rng, n, -1.0, 1.0);
            let want = (0..m * n)
                .map(|i| act_ref(act, c[i] + bias[i % n]))
                .collect();
            (vec![0.0; m * n], Some(bias), want, None)
        }
        Epilogue::ActGrad => {
            // Real activation outputs (sigmoid in (0,1), relu with exact zeros, ...).
            let aux: Vec<f32> = uniform(&mut rng, m * n, -3.0, 3.0)
                .into_iter()
                .map(|z| act_ref(act, z))
                .collect();
            let want = (0..m * n)
                .map(|i| c[i] * act_grad_ref(act, aux[i]))
                .collect();
            (vec![0.0; m * n], Some(aux), want, None)
        }
        Epilogue::Sgd { store_grad } => {
            let w = uniform(&mut rng, m * n, -1.0, 1.0);
            let want: Vec<f32> = w.iter().zip(&c).map(|(w, g)| w - LR * g).collect();
            let grad_init = store_grad.then(|| vec![0.0; m * n]);
            (w, grad_init, want, store_grad.then(|| c.clone()))
        }
    };
    let out_buf = ctx
        .storage_buffer_f32("out", &with_tail(&out_init))
        .unwrap();
    let extra_buf = extra_init.map(|e| ctx.storage_buffer_f32("extra", &with_tail(&e)).unwrap());

    kern.run_once(MatmulSpec {
        trans,
        epilogue,
        act,
        m: m as u32,
        k: k as u32,
        n: n as u32,
        lr: LR,
        a: &a_buf,
        b: &b_buf,
        out: &out_buf,
        extra: extra_buf.as_ref(),
    })
    .unwrap_or_else(|e| panic!("{what}: {e}"));

    let got = ctx.read_f32(&out_buf, 0, (m * n + TAIL) as u64).unwrap();
    assert_close(&what, &got[..m * n], &want_out, atol, rtol);
    assert_eq!(
        got[m * n..],
        [SENTINEL; TAIL],
        "{what}: wrote past the end of out"
    );
    if let (Some(want), Some(buf)) = (want_extra, &extra_buf) {
        let got = ctx.read_f32(buf, 0, (m * n + TAIL) as u64).unwrap();
        assert_close(
            &format!("{what} (stored gradient)"),
            &got[..m * n],
            &want,
            atol,
            rtol,
        );
        assert_eq!(
            got[m * n..],
            [SENTINEL; TAIL],
            "{what}: wrote past the end of grad"
        );
    }
}

/// Every epilogue, with every activation where there is one.
fn all_epilogues() -> Vec<(Epilogue, Activation)> {
    let mut v = vec![(Epilogue::Store, Activation::Identity)];
    for act in Activation::ALL {
        v.push((Epilogue::BiasAct, act));
        v.push((Epilogue::ActGrad, act));
    }
    v.push((Epilogue::Sgd { store_grad: true }, Activation::Identity));
    v.push((Epilogue::Sgd { store_grad: false }, Activation::Identity));
    v
}

/// A few epilogues for the big shapes (one per kind; the activations are covered above).
fn some_epilogues() -> Vec<(Epilogue, Activation)> {
    vec![
        (Epilogue::Store, Activation::Identity),
        (Epilogue::BiasAct, Activation::Tanh),
        (Epilogue::ActGrad, Activation::Sigmoid),
        (Epilogue::Sgd { store_grad: true }, Activation::Identity),
    ]
}

fn run_cases(
    test: &str,
    trans: Trans,
    shape: impl Fn(MatmulConfig) -> (usize, usize, usize),
    epilogues: Vec<(Epilogue, Activation)>,
) {
    let Some(ctx) = gpu_or_skip(test) else { return };
    let kern = adapter_kernels(&ctx);
    let shape = shape(kern.config());
    for (i, (epilogue, act)) in epilogues.into_iter().enumerate() {
        check(&kern, trans, shape, epilogue, act, 1000 + i as u64);
    }
}

/// The six shape tests for one layout.
macro_rules! shape_tests {
    ($trans:expr, $one:ident, $small:ident, $tile:ident, $plus:ident, $irregular:ident, $mnist:ident) => {
        #[test]
        fn $one() {
            run_cases(stringify!($one), $trans, |_| (1, 1, 1), all_epilogues());
        }
        #[test]
        fn $small() {
            run_cases(stringify!($small), $trans, |_| (3, 5, 7), all_epilogues());
        }
        #[test]
        fn $tile() {
            let shape = |c: MatmulConfig| (c.tile_m as usize, c.tile_k as usize, c.tile_n as usize);
            run_cases(stringify!($tile), $trans, shape, all_epilogues());
        }
        #[test]
        fn $plus() {
            let shape = |c: MatmulConfig| {
                (
                    c.tile_m as usize + 1,
                    c.tile_k as usize + 1,
                    c.tile_n as usize + 1,
                )
            };
            run_cases(stringify!($plus), $trans, shape, all_epilogues());
        }
        #[test]
        fn $irregular() {
            run_cases(
                stringify!($irregular),
                $trans,
                |_| (123, 255, 72),
                some_epilogues(),
            );
        }
        #[test]
        fn $mnist() {
            let epilogues = vec![
                (Epilogue::Store, Activation::Identity),
                (Epilogue::Sgd { store_grad: true }, Activation::Identity),
            ];
            run_cases(stringify!($mnist), $trans, |_| (256, 784, 128), epilogues);
        }
    };
}

shape_tests!(
    Trans::NT,
    nt_1x1x1,
    nt_smaller_than_tile_3x5x7,
    nt_exact_tile,
    nt_tile_plus_one,
    nt_irregular_123x255x72,
    nt_mnist_256x784x128
);
shape_tests!(
    Trans::NN,
    nn_1x1x1,
    nn_smaller_than_tile_3x5x7,
    nn_exact_tile,
    nn_tile_plus_one,
    nn_irregular_123x255x72,
    nn_mnist_256x784x128
);
shape_tests!(
    Trans::TN,
    tn_1x1x1,
    tn_smaller_than_tile_3x5x7,
    tn_exact_tile,
    tn_tile_plus_one,
    tn_irregular_123x255x72,
    tn_mnist_256x784x128
);

/// The presets not chosen for this adapter get their own tile edges: a tile plus one, and K
/// spanning several tiles with M and N one short of two tiles.
#[test]
fn every_preset_tile_edges() {
    let Some(ctx) = gpu_or_skip("every_preset_tile_edges") else {
        return;
    };
    for cfg in [
        MatmulConfig::GPU,
        MatmulConfig::SOFTWARE,
        MatmulConfig::SMALL,
    ] {
        if cfg.check(&ctx.limits).is_err() {
            eprintln!("every_preset_tile_edges: {cfg:?} does not fit this adapter; skipped");
            continue;
        }
        let kern = kernels(&ctx, cfg);
        let (tm, tk, tn) = (
            cfg.tile_m as usize,
            cfg.tile_k as usize,
            cfg.tile_n as usize,
        );
        for trans in Trans::ALL {
            for shape in [
                (tm + 1, tk + 1, tn + 1),
                (2 * tm - 1, 3 * tk + 5, 2 * tn - 1),
            ] {
                for (epilogue, act) in [
                    (Epilogue::Store, Activation::Identity),
                    (Epilogue::BiasAct, Activation::LeakyRelu),
                    (Epilogue::ActGrad, Activation::Tanh),
                    (Epilogue::Sgd { store_grad: true }, Activation::Identity),
                ] {
                    check(&kern, trans, shape, epilogue, act, 7);
                }
            }
        }
    }
}

/// Large pre-activations: sigmoid must not overflow and tanh must not turn into NaN.
#[test]
fn bias_act_saturates_without_nan() {
    let Some(ctx) = gpu_or_skip("bias_act_saturates_without_nan") else {
        return;
    };
    let kern = adapter_kernels(&ctx);
    // 1×1×4 products of ±30·±1 plus a bias reach ±100.
    let a = ctx.storage_buffer_f32("a", &[30.0]).unwrap();
    let b = ctx
        .storage_buffer_f32("b", &[-3.0, -1.0, 1.0, 3.0])
        .unwrap();
    let bias = ctx
        .storage_buffer_f32("bias", &[-10.0, 0.0, 0.0, 10.0])
        .unwrap();
    for act in [Activation::Sigmoid, Activation::Tanh] {
        let out = ctx.storage_buffer_zeroed("out", 16).unwrap();
        kern.run_once(MatmulSpec {
            trans: Trans::NT,
            epilogue: Epilogue::BiasAct,
            act,
            m: 1,
            k: 1,
            n: 4,
            lr: 0.0,
            a: &a,
            b: &b,
            out: &out,
            extra: Some(&bias),
        })
        .unwrap();
        let got = ctx.read_f32(&out, 0, 4).unwrap();
        let want: Vec<f32> = [-100.0f32, -30.0, 30.0, 100.0]
            .iter()
            .map(|&z| act_ref(act, z))
            .collect();
        assert_close(&format!("{act} at ±100"), &got, &want, 1e-6, 1e-6);
    }
}

/// A prepared call can be encoded many times, and `set_lr` changes the step of the next submit.
#[test]
fn sgd_call_reused_with_new_lr() {
    let Some(ctx) = gpu_or_skip("sgd_call_reused_with_new_lr") else {
        return;
    };
    let kern = adapter_kernels(&ctx);
    let (m, k, n) = (10usize, 33usize, 20usize);
    let mut rng = StdRng::seed_from_u64(3);
    let dz = uniform(&mut rng, k * m, -1.0, 1.0); // [K=batch][M=out]
    let x = uniform(&mut rng, k * n, -1.0, 1.0); // [K=batch][N=in]
    let w = uniform(&mut rng, m * n, -1.0, 1.0); // [out][in]
    let g = ops::matmul_tn(&dz, &x, m, k, n);
    let (dz_buf, x_buf) = (
        ctx.storage_buffer_f32("dz", &dz).unwrap(),
        ctx.storage_buffer_f32("x", &x).unwrap(),
    );
    let w_buf = ctx.storage_buffer_f32("w", &w).unwrap();
    let call = kern
        .prepare(MatmulSpec {
            trans: Trans::TN,
            epilogue: Epilogue::Sgd { store_grad: false },
            act: Activation::Identity,
            m: m as u32,
            k: k as u32,
            n: n as u32,
            lr: 1.0,
            a: &dz_buf,
            b: &x_buf,
            out: &w_buf,
            extra: None,
        })
        .unwrap();
    assert_eq!(call.workgroups()[2], 1);
    kern.set_lr(&call, 0.25);
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        // Two dispatches in one pass: the second must see the first's update of W.
        kern.encode(&mut pass, &call);
        kern.encode(&mut pass, &call);
    }
    ctx.queue.submit([enc.finish()]);
    let got = ctx.read_f32(&w_buf, 0, (m * n) as u64).unwrap();
    let want: Vec<f32> = w
        .iter()
        .zip(&g)
        .map(|(w, g)| (w - 0.25 * g) - 0.25 * g)
        .collect();
    assert_close(
        "W after two steps at lr 0.25",
        &got,
        &want,
        1e-5 * (k as f32).sqrt(),
        1e-4,
    );
}

#[test]
fn prepare_rejects_bad_shapes() {
    let Some(ctx) = gpu_or_skip("prepare_rejects_bad_shapes") else {
        return;
    };
    let kern = adapter_kernels(&ctx);
    let small = ctx.storage_buffer_zeroed("small", 4 * 11).unwrap();
    let big = ctx.storage_buffer_zeroed("big", 4 * 100).unwrap();
    let spec = MatmulSpec {
        trans: Trans::NT,
        epilogue: Epilogue::Store,
        act: Activation::Identity,
        m: 4,
        k: 3,
        n: 5,
        lr: 0.0,
        a: &big,
        b: &big,
        out: &big,
        extra: None,
    };
    kern.prepare(spec)
        .expect("a valid spec with oversized buffers");
    let shape_err = |s: MatmulSpec<'_>, needle: &str| match kern.prepare(s) {
        Err(Error::Shape { msg, .. }) => {
            assert!(msg.contains(needle), "message {msg:?} lacks {needle:?}")
        }
        other => panic!("expected a shape error containing {needle:?}, got {other:?}"),
    };
    shape_err(MatmulSpec { a: &small, ..spec }, "A [M][K] needs 48 bytes");
    shape_err(MatmulSpec { b: &small, ..spec }, "B [N][K] needs 60 bytes");
    shape_err(
        MatmulSpec {
            out: &small,
            ..spec
        },
        "C [M][N] needs 80 bytes",
    );
    shape_err(MatmulSpec { k: 0, ..spec }, "at least 1");
    shape_err(
        MatmulSpec {
            epilogue: Epilogue::BiasAct,
            ..spec
        },
        "needs the extra operand",
    );
    shape_err(
        MatmulSpec {
            extra: Some(&big),
            ..spec
        },
        "takes no extra operand",
    );
    let bias = ctx.storage_buffer_zeroed("bias", 4 * 4).unwrap();
    shape_err(
        MatmulSpec {
            epilogue: Epilogue::BiasAct,
            extra: Some(&bias),
            ..spec
        },
        "bias [N] needs 20 bytes",
    );
}

#[test]
fn context_refuses_oversized_buffers_and_reads() {
    let Some(ctx) = gpu_or_skip("context_refuses_oversized_buffers_and_reads") else {
        return;
    };
    let too_big = ctx.limits.max_storage_buffer_binding_size + 4;
    let err = ctx
        .storage_buffer_zeroed("huge activations", too_big)
        .unwrap_err();
    assert!(err.to_string().contains("huge activations"), "{err}");
    let buf = ctx.storage_buffer_f32("ten", &[1.0; 10]).unwrap();
    assert!(matches!(ctx.read_f32(&buf, 8, 3), Err(Error::Shape { .. })));
    assert_eq!(ctx.read_f32(&buf, 8, 2).unwrap(), vec![1.0, 1.0]);
    assert_eq!(ctx.read_u32(&buf, 0, 1).unwrap(), vec![1.0f32.to_bits()]);
    ctx.wait_idle().unwrap();
}

#[test]
fn shader_errors_become_error_values() {
    let Some(ctx) = gpu_or_skip("shader_errors_become_error_values") else {
        return;
    };
    match ctx.load_shader("broken", "fn main( {") {
        Err(Error::GpuValidation { context, .. }) => {
            assert!(context.contains("broken"), "{context}")
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    // The context still works afterwards.
    ctx.load_shader("fine", "@compute @workgroup_size(1) fn main() {}")
        .unwrap();
}

#[test]
fn device_kind_parses_and_lists_options() {
    for k in DeviceKind::ALL {
        assert_eq!(k.to_string().parse::<DeviceKind>(), Ok(k));
    }
    assert_eq!("Software".parse::<DeviceKind>(), Ok(DeviceKind::Software));
    let err = "tpu".parse::<DeviceKind>().unwrap_err();
    assert!(
        err.contains("auto, vulkan, metal, dx12, gl, software, cpu"),
        "{err}"
    );
    assert!(matches!(
        GpuContext::new(DeviceKind::Cpu),
        Err(Error::Gpu(_))
    ));
}

/// `auto` takes hardware only: without a GPU it fails (the caller falls back to the CPU engine).
#[test]
fn auto_never_picks_a_software_adapter() {
    match GpuContext::new(DeviceKind::Auto) {
        Ok(ctx) => assert!(!ctx.is_software(), "auto chose {}", ctx.info.name),
        Err(Error::Gpu(msg)) => assert!(msg.contains("no hardware GPU adapter"), "{msg}"),
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

#[test]
fn list_adapters_includes_the_test_adapter() {
    let Some(ctx) = gpu_or_skip("list_adapters_includes_the_test_adapter") else {
        return;
    };
    let reports = gpunn::gpu::list_adapters();
    let text: String = reports.iter().map(|r| format!("{r}\n")).collect();
    assert!(
        text.contains(&ctx.info.name),
        "{} not in:\n{text}",
        ctx.info.name
    );
    assert!(text.contains("storage binding"), "{text}");
}

/// Not a check: GFLOP/s of each preset on this adapter (`cargo test --release --test it
/// matmul_gflops -- --ignored --nocapture`). Candidate configurations come from
/// `GPUNN_MATMUL_CONFIGS="tm,tn,tk,rm,rn;..."` when set.
#[test]
#[ignore]
fn matmul_gflops_by_config() {
    let Some(ctx) = gpu_or_skip("matmul_gflops_by_config") else {
        return;
    };
    let mut configs = vec![
        MatmulConfig::GPU,
        MatmulConfig::SOFTWARE,
        MatmulConfig::SMALL,
    ];
    if let Ok(list) = std::env::var("GPUNN_MATMUL_CONFIGS") {
        configs = list
            .split(';')
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                let v: Vec<u32> = s.split(',').map(|x| x.trim().parse().unwrap()).collect();
                MatmulConfig {
                    tile_m: v[0],
                    tile_n: v[1],
                    tile_k: v[2],
                    reg_m: v[3],
                    reg_n: v[4],
                }
            })
            .collect();
    }
    let shapes = [
        (128usize, 784usize, 128usize),
        (256, 784, 1024),
        (256, 128, 784),
    ];
    for cfg in configs {
        if let Err(e) = cfg.check(&ctx.limits) {
            eprintln!("{e}");
            continue;
        }
        let kern = kernels(&ctx, cfg);
        let t = std::time::Instant::now();
        for trans in Trans::ALL {
            kern.pipeline(trans, Epilogue::Store).unwrap();
        }
        println!(
            "{cfg:?}: 3 pipelines compiled in {:.0} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        for trans in Trans::ALL {
            for &(m, k, n) in &shapes {
                let a = ctx.storage_buffer_f32("a", &vec![0.5; m * k]).unwrap();
                let b = ctx.storage_buffer_f32("b", &vec![0.25; k * n]).unwrap();
                let c = ctx.storage_buffer_zeroed("c", (m * n * 4) as u64).unwrap();
                let call = kern
                    .prepare(MatmulSpec {
                        trans,
                        epilogue: Epilogue::Store,
                        act: Activation::Identity,
                        m: m as u32,
                        k: k as u32,
                        n: n as u32,
                        lr: 0.0,
                        a: &a,
                        b: &b,
                        out: &c,
                        extra: None,
                    })
                    .unwrap();
                let run = |reps: usize| {
                    let t = std::time::Instant::now();
                    let mut enc = ctx.device.create_command_encoder(&Default::default());
                    {
                        let mut pass = enc.begin_compute_pass(&Default::default());
                        for _ in 0..reps {
                            kern.encode(&mut pass, &call);
                        }
                    }
                    ctx.queue.submit([enc.finish()]);
                    ctx.wait_idle().unwrap();
                    t.elapsed().as_secs_f64()
                };
                run(1); // warm-up
                let reps = 5;
                let secs = run(reps);
                println!(
                    "{cfg:?} {trans:?} {m}x{k}x{n}: {:.2} GFLOP/s",
                    call.flops() * reps as f64 / secs / 1e9
                );
            }
        }
    }
}
