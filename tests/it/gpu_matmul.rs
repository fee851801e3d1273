//! The matmul kernel family (src/gpu/kernels/matmul/, shaders/matmul.wgsl) against the CPU reference
//! (`cpu::ops::matmul_*`, `cpu::activation`), plus the context helpers it stands on.
//!
//! Every layout (NT, NN, TN) × epilogue (store, bias+activation for each activation, activation
//! gradient for each activation, fused SGD with and without the stored gradient) runs at the
//! edge shapes of the tiling: 1×1×1, smaller than a tile, exactly a tile, a tile plus one in
//! every dimension; fewer epilogues at the irregular 123×255×72 and the MNIST-sized
//! 256×784×128. Shapes are written M×K×N. Tile-dependent shapes follow the configuration chosen
//! for the adapter; `every_preset_*` runs every preset (tiled, subgroup, register kernels) at
//! the same edges in its own tiles, with one epilogue of each kind, and the products of an
//! MNIST training step. The subgroup and register kernels read A and B as vec4 where rows are
//! 16-byte aligned, so the shapes mix dimensions that are and are not multiples of 4.
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
use gpunn::gpu::kernels::StepUniform;
use gpunn::gpu::matmul::MatmulKernel;
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
        Epilogue::Optim => unreachable!("optim_epilogue_applies_the_reference_rule tests it"),
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

    let lr_step = StepUniform::buffer(ctx, LR).unwrap();
    kern.run_once(MatmulSpec {
        trans,
        epilogue,
        act,
        m: m as u32,
        k: k as u32,
        n: n as u32,
        step: Some(&lr_step),
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

/// The presets this adapter supports (the others are skipped with a note).
fn supported_presets(ctx: &GpuContext, test: &str) -> Vec<MatmulConfig> {
    MatmulConfig::PRESETS
        .into_iter()
        .filter(|cfg| match cfg.supported(ctx) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("{test}: skipping {cfg:?}: {e}");
                false
            }
        })
        .collect()
}

/// One epilogue of each kind, the activations varied.
fn one_of_each() -> [(Epilogue, Activation); 5] {
    [
        (Epilogue::Store, Activation::Identity),
        (Epilogue::BiasAct, Activation::LeakyRelu),
        (Epilogue::ActGrad, Activation::Tanh),
        (Epilogue::Sgd { store_grad: true }, Activation::Identity),
        (Epilogue::Sgd { store_grad: false }, Activation::Identity),
    ]
}

/// Every preset, every layout, at the edges of its own tiles (1×1×1, smaller than a tile,
/// exactly a tile, a tile plus one, K over several tiles with M and N one short of two tiles),
/// at 123×255×72 and at 256×784×128, with the store epilogue; the other epilogue kinds at one
/// shape whose dimensions are not multiples of 4 and at one whose are (the subgroup and
/// register kernels compile a variant for each). The presets that share their epilogue code
/// with another (the register kernel with the subgroup kernel, the other tiled presets with
/// [`MatmulConfig::GPU`]) run each other epilogue once. Every pipeline of the subgroup and
/// register kernels costs a shader compile of about half a second on lavapipe the first time
/// (Mesa caches it on disk), which is what this test's size is balanced against.
#[test]
fn every_preset_every_layout_at_tile_edges() {
    let test = "every_preset_every_layout_at_tile_edges";
    let Some(ctx) = gpu_or_skip(test) else {
        return;
    };
    for cfg in supported_presets(&ctx, test) {
        let kern = kernels(&ctx, cfg);
        let full = cfg == MatmulConfig::GPU || cfg == MatmulConfig::SUBGROUP;
        let (tm, tk, tn) = (
            cfg.tile_m as usize,
            cfg.tile_k as usize,
            cfg.tile_n as usize,
        );
        for trans in Trans::ALL {
            for shape in [
                (1, 1, 1),
                (3, 5, 7),
                (tm, tk, tn),
                (tm + 1, tk + 1, tn + 1),
                (2 * tm - 1, 3 * tk + 5, 2 * tn - 1),
                (123, 255, 72),
                (256, 784, 128),
            ] {
                check(
                    &kern,
                    trans,
                    shape,
                    Epilogue::Store,
                    Activation::Identity,
                    7,
                );
            }
            if full {
                for shape in [(3, 5, 7), (tm, tk, tn)] {
                    for (epilogue, act) in &one_of_each()[1..] {
                        check(&kern, trans, shape, *epilogue, *act, 8);
                    }
                }
            }
        }
        if !full {
            for (i, (epilogue, act)) in one_of_each()[1..].iter().enumerate() {
                let shape = [(tm + 1, tk + 1, tn + 1), (tm, tk, tn)][i % 2];
                check(&kern, Trans::ALL[i % 3], shape, *epilogue, *act, 9);
            }
        }
    }
}

/// The kernels that read vec4 pick their variant from each dimension's alignment: every
/// combination of M, K and N being a multiple of 4 or not, in every layout.
#[test]
fn every_preset_mixed_alignment() {
    let test = "every_preset_mixed_alignment";
    let Some(ctx) = gpu_or_skip(test) else {
        return;
    };
    for cfg in supported_presets(&ctx, test) {
        if cfg.kernel == MatmulKernel::Tiled {
            continue; // one variant for every shape: the tile edges cover it
        }
        let kern = kernels(&ctx, cfg);
        for trans in Trans::ALL {
            for shape in [
                (36, 20, 44),
                (37, 20, 44),
                (36, 21, 44),
                (36, 20, 45),
                (37, 21, 45),
                (4, 4, 4),
                (8, 3, 1),
                (1, 12, 8),
            ] {
                check(
                    &kern,
                    trans,
                    shape,
                    Epilogue::Store,
                    Activation::Identity,
                    11,
                );
            }
        }
    }
}

/// The products of one 784-128-64-10 training step at batch 128 (and the last, partial batch
/// of 32) with the epilogues the engine uses, on every preset.
#[test]
fn every_preset_mnist_step_products() {
    let test = "every_preset_mnist_step_products";
    let Some(ctx) = gpu_or_skip(test) else {
        return;
    };
    let relu = Activation::Relu;
    let sgd = Epilogue::Sgd { store_grad: false };
    let products = [
        (Trans::NT, (128, 784, 128), Epilogue::BiasAct, relu),
        (Trans::NT, (128, 128, 64), Epilogue::BiasAct, relu),
        (
            Trans::NT,
            (128, 64, 10),
            Epilogue::BiasAct,
            Activation::Identity,
        ),
        (Trans::NN, (128, 10, 64), Epilogue::ActGrad, relu),
        (Trans::NN, (128, 64, 128), Epilogue::ActGrad, relu),
        (Trans::TN, (10, 128, 64), sgd, Activation::Identity),
        (Trans::TN, (64, 128, 128), sgd, Activation::Identity),
        (Trans::TN, (128, 128, 784), sgd, Activation::Identity),
        (Trans::TN, (128, 32, 784), sgd, Activation::Identity),
    ];
    for cfg in supported_presets(&ctx, test) {
        let kern = kernels(&ctx, cfg);
        for (i, &(trans, shape, epilogue, act)) in products.iter().enumerate() {
            check(&kern, trans, shape, epilogue, act, 20 + i as u64);
        }
    }
}

/// Software adapters get the lavapipe-fast kernel, with subgroups where the device has them;
/// hardware keeps the shared-memory tiles.
#[test]
fn for_adapter_picks_the_kernel_by_adapter_type() {
    let Some(ctx) = gpu_or_skip("for_adapter_picks_the_kernel_by_adapter_type") else {
        return;
    };
    let cfg = MatmulConfig::for_adapter(&ctx);
    cfg.supported(&ctx).unwrap();
    if std::env::var_os("GPUNN_MATMUL").is_some() {
        eprintln!("GPUNN_MATMUL is set: the adapter's own choice is not checked");
        return;
    }
    let want = match (ctx.is_software(), ctx.has_subgroups()) {
        (false, _) => MatmulKernel::Tiled,
        (true, true) if ctx.info.subgroup_min_size >= 8 => MatmulKernel::Subgroup,
        (true, _) => MatmulKernel::Register,
    };
    assert_eq!(cfg.kernel, want, "{} chose {cfg:?}", ctx.info.name);
    // A kernel the device cannot run is refused up front, not at the first dispatch.
    if !ctx.has_subgroups() {
        assert!(MatmulKernels::new(&ctx, MatmulConfig::SUBGROUP).is_err());
    }
    let bad = MatmulConfig {
        tile_n: 64,
        ..MatmulConfig::SUBGROUP
    };
    let err = bad.check(&ctx.limits).unwrap_err().to_string();
    assert!(err.contains("tile_n = 8·reg_n"), "{err}");
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
            step: None,
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

/// A prepared call can be encoded many times, and a new rate in its step uniform changes the
/// next submission's step.
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
    let step = StepUniform::buffer(&ctx, 1.0).unwrap();
    let call = kern
        .prepare(MatmulSpec {
            trans: Trans::TN,
            epilogue: Epilogue::Sgd { store_grad: false },
            act: Activation::Identity,
            m: m as u32,
            k: k as u32,
            n: n as u32,
            step: Some(&step),
            a: &dz_buf,
            b: &x_buf,
            out: &w_buf,
            extra: None,
        })
        .unwrap();
    assert_eq!(call.workgroups()[2], 1);
    StepUniform::set_lr(&ctx, &step, 0.25);
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
        step: None,
        a: &big,
        b: &big,
        out: &big,
        extra: None,
    };
    kern.prepare(spec)
        .expect("a valid spec with oversized buffers");
    // A buffer too small is a shape error with the sizes as fields; a missing or extra
    // operand, or a zero dimension, an error saying what is not supported.
    let shape_err = |s: MatmulSpec<'_>, needle: &str| match kern.prepare(s) {
        Err(e @ Error::Shape { .. }) | Err(e @ Error::Unsupported { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(needle), "message {msg:?} lacks {needle:?}")
        }
        other => panic!("expected a shape error containing {needle:?}, got {other:?}"),
    };
    shape_err(
        MatmulSpec { a: &small, ..spec },
        "A [M][K]'s buffer (f32 values, at least) is 11, expected 12",
    );
    shape_err(
        MatmulSpec { b: &small, ..spec },
        "B [N][K]'s buffer (f32 values, at least) is 11, expected 15",
    );
    shape_err(
        MatmulSpec {
            out: &small,
            ..spec
        },
        "C [M][N]'s buffer (f32 values, at least) is 11, expected 20",
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
        "bias [N]'s buffer (f32 values, at least) is 4, expected 5",
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

/// Not a check: GFLOP/s of each preset on this adapter, per layout, on the products of a
/// 784-128-64-10 training step at batch 128 and two bigger ones (`cargo test --release --test
/// it matmul_gflops -- --ignored --nocapture`). Each figure is the best of 5 rounds of 10
/// back-to-back dispatches in one pass, so the small products include the per-dispatch
/// overhead a training step pays. Candidate configurations come from
/// `GPUNN_MATMUL_CONFIGS="kernel,tm,tn,tk,rm,rn;..."` (kernel: tiled, subgroup or register)
/// when set.
#[test]
#[ignore]
fn matmul_gflops_by_config() {
    let Some(ctx) = gpu_or_skip("matmul_gflops_by_config") else {
        return;
    };
    let mut configs = MatmulConfig::PRESETS.to_vec();
    if let Ok(list) = std::env::var("GPUNN_MATMUL_CONFIGS") {
        configs = list
            .split(';')
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                let f: Vec<&str> = s.split(',').map(str::trim).collect();
                let kernel = match f[0] {
                    "tiled" => MatmulKernel::Tiled,
                    "subgroup" => MatmulKernel::Subgroup,
                    "register" => MatmulKernel::Register,
                    other => panic!("GPUNN_MATMUL_CONFIGS: unknown kernel {other}"),
                };
                let v: Vec<u32> = f[1..].iter().map(|x| x.parse().unwrap()).collect();
                MatmulConfig {
                    kernel,
                    tile_m: v[0],
                    tile_n: v[1],
                    tile_k: v[2],
                    reg_m: v[3],
                    reg_n: v[4],
                }
            })
            .collect();
    }
    // (what, layout, M, K, N)
    let shapes = [
        ("fwd L1  X·W1ᵀ", Trans::NT, 128usize, 784usize, 128usize),
        ("fwd L2  A1·W2ᵀ", Trans::NT, 128, 128, 64),
        ("fwd L3  A2·W3ᵀ", Trans::NT, 128, 64, 10),
        ("dX L3   dZ3·W3", Trans::NN, 128, 10, 64),
        ("dX L2   dZ2·W2", Trans::NN, 128, 64, 128),
        ("dW L3   dZ3ᵀ·A2", Trans::TN, 10, 128, 64),
        ("dW L2   dZ2ᵀ·A1", Trans::TN, 64, 128, 128),
        ("dW L1   dZ1ᵀ·X", Trans::TN, 128, 128, 784),
        ("NN 128x784x128", Trans::NN, 128, 784, 128),
        ("NT 256x784x1024", Trans::NT, 256, 784, 1024),
    ];
    for cfg in configs {
        if let Err(e) = cfg.supported(&ctx) {
            eprintln!("{e}");
            continue;
        }
        let kern = kernels(&ctx, cfg);
        let t = std::time::Instant::now();
        for &(_, trans, m, k, n) in &shapes {
            kern.pipeline_for(trans, Epilogue::Store, m as u32, k as u32, n as u32)
                .unwrap();
        }
        println!(
            "{cfg:?}: pipelines compiled in {:.0} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        let mut step_flops = 0.0;
        let mut step_secs = 0.0;
        for &(what, trans, m, k, n) in &shapes {
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
                    step: None,
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
            run(1); // warm-up (and the driver's first-use compile)
            let reps = 10;
            let secs = (0..5).map(|_| run(reps)).fold(f64::INFINITY, f64::min) / reps as f64;
            if !what.starts_with("NN ") && !what.starts_with("NT ") {
                step_flops += call.flops();
                step_secs += secs;
            }
            println!(
                "  {what:<16} {:?} {m:>4}x{k:>4}x{n:>4}: {:>7.2} GFLOP/s {:>8.1} µs",
                trans,
                call.flops() / secs / 1e9,
                secs * 1e6
            );
        }
        println!(
            "  the 8 products of a training step: {:.2} ms, {:.2} GFLOP/s",
            step_secs * 1e3,
            step_flops / step_secs / 1e9
        );
    }
}

/// The fused optimizer epilogue: the weight-gradient product (TN) with Adam, AdamW and SGD with
/// momentum, Nesterov, weight decay and clipping by value, against the reference rule
/// (`optim::rule::update_tensor`) applied to the reference product, at awkward shapes; a NaN in
/// the state raises the flag. On the tiled kernel and on the adapter's own (the presets share
/// their epilogue code with one of these; each new pipeline is a cold compile on lavapipe).
#[test]
fn optim_epilogue_applies_the_reference_rule() {
    use gpunn::optim::rule::{self, Moments};
    use gpunn::optim::{OptimizerConfig, OptimizerKind};
    let Some(ctx) = gpu_or_skip("optim_epilogue_applies_the_reference_rule") else {
        return;
    };
    let configs = {
        let mut adam = OptimizerConfig::of(OptimizerKind::Adam);
        adam.weight_decay = 0.01;
        adam.clip_value = Some(0.5);
        let mut sgd = OptimizerConfig::of(OptimizerKind::Sgd);
        sgd.momentum = 0.9;
        sgd.nesterov = true;
        sgd.weight_decay = 0.05;
        [adam, OptimizerConfig::of(OptimizerKind::AdamW), sgd]
    };
    let step = 3u64;
    let own = MatmulConfig::for_adapter(&ctx);
    let presets = if own == MatmulConfig::GPU {
        vec![own]
    } else {
        vec![MatmulConfig::GPU, own]
    };
    for cfg in presets {
        let kern = kernels(&ctx, cfg);
        for (m, k, n) in [(1, 1, 1), (3, 5, 7), (33, 17, 65), (123, 255, 72)] {
            for opt in &configs {
                let what = format!("{:?} {:?} {m}x{k}x{n}", cfg.kernel, opt.kind);
                let mut rng = StdRng::seed_from_u64(m as u64 * 31 + n as u64);
                // TN: A = dz [K][M], B = x [K][N], C = dW [M][N].
                let a = uniform(&mut rng, k * m, -1.0, 1.0);
                let b = uniform(&mut rng, k * n, -1.0, 1.0);
                let c = reference(Trans::TN, &a, &b, m, k, n);
                let w = uniform(&mut rng, m * n, -1.0, 1.0);
                let m0 = uniform(&mut rng, m * n, -0.5, 0.5);
                let v0 = uniform(&mut rng, m * n, 0.1, 2.0);
                let sgd = opt.kind == OptimizerKind::Sgd;
                let (mut want_w, mut want_m, mut want_v) = (w.clone(), m0.clone(), v0.clone());
                let (mut g, mut none) = (c.clone(), Vec::new());
                let moments = if sgd {
                    Moments {
                        velocity: &mut want_m,
                        m: &mut none,
                        v: &mut [],
                    }
                } else {
                    Moments {
                        velocity: &mut [],
                        m: &mut want_m,
                        v: &mut want_v,
                    }
                };
                rule::update_tensor(opt, moments, &mut want_w, &mut g, true, LR, step);

                let (got_w, got_m, got_v, flag) =
                    run_optim_epilogue(&kern, opt, (m, k, n), [&a, &b, &w, &m0, &v0], step);
                let atol = 1e-5 * (k as f32).sqrt();
                assert_close(&format!("{what}: w"), &got_w, &want_w, atol, 1e-4);
                assert_close(&format!("{what}: m"), &got_m, &want_m, atol, 1e-4);
                if !sgd {
                    assert_close(&format!("{what}: v"), &got_v, &want_v, atol, 1e-4);
                }
                assert_eq!(flag, 0, "{what}: no flag");
            }
        }
        // A NaN in the state raises the flag.
        let (ones, nan) = ([1.0; 4], [f32::NAN; 4]);
        let operands = [&ones[..2], &ones[..2], &ones, &nan, &ones];
        let (.., flag) = run_optim_epilogue(&kern, &configs[0], (2, 1, 2), operands, 1);
        assert_ne!(flag, 0, "{cfg:?}: the NaN is flagged");
    }
}

/// One `m×k×n` TN product with the optim epilogue on operands `[A, B, W, m, v]` at step
/// `step`; W, m and v afterwards, and the flag.
fn run_optim_epilogue(
    kern: &MatmulKernels,
    opt: &gpunn::optim::OptimizerConfig,
    (m, k, n): (usize, usize, usize),
    [a, b, w, m0, v0]: [&[f32]; 5],
    step: u64,
) -> (Vec<f32>, Vec<f32>, Vec<f32>, u32) {
    use gpunn::gpu::kernels::optim::OptimRule;
    use gpunn::gpu::matmul::MatmulOptim;
    let ctx = kern.context();
    let buf = |label: &str, v: &[f32]| ctx.storage_buffer_f32(label, v).unwrap();
    let (a_buf, b_buf, out) = (buf("a", a), buf("b", b), buf("w", w));
    let (m_buf, v_buf) = (buf("m", m0), buf("v", v0));
    // What the optimizer's tick writes for this step.
    let step_size = LR / (1.0 - opt.beta1.powi(step as i32));
    let bc2 = (1.0 - opt.beta2.powi(step as i32)).sqrt();
    let state = [0.0, f32::from_bits(step as u32), step_size, bc2];
    let (state_buf, flags) = (buf("state", &state), buf("flags", &[0.0; 4]));
    let lr_step = StepUniform::buffer(ctx, LR).unwrap();
    let spec = MatmulSpec {
        trans: Trans::TN,
        epilogue: Epilogue::Optim,
        act: Activation::Identity,
        m: m as u32,
        k: k as u32,
        n: n as u32,
        step: Some(&lr_step),
        a: &a_buf,
        b: &b_buf,
        out: &out,
        extra: None,
    };
    let operands = MatmulOptim {
        rule: OptimRule::new(opt),
        m: &m_buf,
        v: &v_buf,
        state: &state_buf,
        flags: &flags,
    };
    let call = kern.prepare_optim(spec, operands).unwrap();
    ctx.submit_pass("optim epilogue", |pass| kern.encode(pass, &call))
        .unwrap();
    let read = |b: &wgpu::Buffer| ctx.read_f32(b, 0, (m * n) as u64).unwrap();
    let flag = ctx.read_u32(&flags, 0, 1).unwrap()[0];
    (read(&out), read(&m_buf), read(&v_buf), flag)
}
