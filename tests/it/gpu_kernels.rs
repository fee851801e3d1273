//! The small kernels of a step, each alone against its CPU twin at awkward sizes: gather (of
//! classes, values and inputs as targets),
//! loss (every loss × output activation), bias gradient + SGD, and metrics (the optimizer's
//! kernels: gpu_optim_kernels.rs).

use crate::common::{assert_close, gpu_or_skip};
use gpunn::cpu::activation;
use gpunn::cpu::loss::{self as cpu_loss, Targets};
use gpunn::data::{Dataset, Features, Target};
use gpunn::engine::Stats;
use gpunn::gpu::kernels::{
    gather, BiasBindings, BiasKernel, BiasParams, GatherBindings, GatherKernel, GatherParams,
    LossBindings, LossKernel, LossParams, MetricsBindings, MetricsKernel, MetricsParams,
    StepUniform,
};
use gpunn::gpu::GpuContext;
use gpunn::model::{Activation, Loss};
use rand::{Rng, SeedableRng};

fn rng(seed: u64) -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(seed)
}

/// A storage buffer holding `words` (u32 data goes in by its bits).
fn words(ctx: &GpuContext, label: &str, words: &[u32]) -> wgpu::Buffer {
    let as_f32: Vec<f32> = words.iter().map(|&w| f32::from_bits(w)).collect();
    ctx.storage_buffer_f32(label, &as_f32).unwrap()
}

fn floats(ctx: &GpuContext, label: &str, v: &[f32]) -> wgpu::Buffer {
    ctx.storage_buffer_f32(label, v).unwrap()
}

fn uniform<T: bytemuck::Pod>(ctx: &GpuContext, v: &T) -> wgpu::Buffer {
    ctx.uniform_buffer("params", bytemuck::bytes_of(v)).unwrap()
}

/// Runs one recorded dispatch and waits for it.
fn dispatch(ctx: &GpuContext, record: impl FnOnce(&mut wgpu::ComputePass<'_>)) {
    ctx.submit_pass("kernel test", record).unwrap();
    ctx.wait_idle().unwrap();
}

#[test]
fn gather_matches_dataset_gather() {
    let Some(ctx) = gpu_or_skip("gather_matches_dataset_gather") else {
        return;
    };
    let mut r = rng(1);
    // (dim, outputs, batch, run length): one feature, a word-straddling dim, MNIST+1.
    for (dim, outputs, batch, n) in [(1, 1, 1, 1), (3, 3, 4, 9), (785, 10, 5, 11), (7, 1, 64, 13)] {
        let total = n + 4;
        let labels: Vec<u32> = (0..total)
            .map(|_| r.random_range(0..outputs.max(2)) as u32)
            .collect();
        let pixels: Vec<u8> = (0..total * dim).map(|_| r.random()).collect();
        let values: Vec<f32> = (0..total * dim)
            .map(|_| r.random_range(-2.0..2.0))
            .collect();
        let mut order: Vec<u32> = (0..total as u32).collect();
        order.sort_by_key(|_| r.random::<u32>());
        order.truncate(n);
        let targets: Vec<f32> = (0..total * outputs)
            .map(|_| r.random_range(-3.0..3.0))
            .collect();
        let sample_weights: Vec<f32> = (0..total)
            .map(|_| [0.0, 0.5, 1.0, 2.5][r.random_range(0..4)])
            .collect();
        for (u8s, mode) in [true, false]
            .into_iter()
            .flat_map(|u| [0, 1, 2].map(|m| (u, m)))
        {
            // Sample weights (after the labels) with the f32 features, none with the u8 ones.
            let weighted = !u8s;
            // 0: classes, 1: values, 2: the input (an autoencoder: outputs = dim)
            let (target, outputs) = match mode {
                0 => (Target::Classes, outputs),
                1 => (
                    Target::Values {
                        dim: outputs,
                        values: targets.clone().into(),
                        units: Vec::new(),
                    },
                    outputs,
                ),
                _ => (Target::Input, dim),
            };
            let (features, data_words) = if u8s {
                let mut w = vec![0u32; pixels.len().div_ceil(4)];
                bytemuck::cast_slice_mut::<u32, u8>(&mut w)[..pixels.len()]
                    .copy_from_slice(&pixels);
                (Features::U8(pixels.clone()), w)
            } else {
                (
                    Features::F32(values.clone().into()),
                    values.iter().map(|v| v.to_bits()).collect(),
                )
            };
            let set = Dataset {
                name: "g".into(),
                dim,
                features,
                labels: labels.clone(),
                classes: outputs.max(2),
                target,
                weights: None,
            };
            let kernel = GatherKernel::new(&ctx, u8s).unwrap();
            let params = uniform(
                &ctx,
                &GatherParams {
                    dim: dim as u32,
                    batch: batch as u32,
                    outputs: outputs as u32,
                    target: gather::target_id(&set.target),
                    weighted: weighted as u32,
                    n_total: total as u32,
                    _pad: [0; 2],
                },
            );
            let mut label_words = labels.clone();
            if weighted {
                label_words.extend(sample_weights.iter().map(|w| w.to_bits()));
            }
            let (data, lab, ord) = (
                words(&ctx, "data", &data_words),
                words(&ctx, "labels", &label_words),
                words(&ctx, "order", &order),
            );
            let x = floats(&ctx, "x", &vec![9.0; batch * dim]);
            let y = floats(&ctx, "y", &vec![9.0; batch * outputs]);
            let cls = words(&ctx, "cls", &vec![99; 2 * batch]);
            let vals = match &set.target {
                Target::Values { values, .. } => floats(&ctx, "values", values),
                _ => floats(&ctx, "no values", &[0.0]),
            };
            for step in 0..n.div_ceil(batch) {
                let state = words(&ctx, "state", &[step as u32, n as u32]);
                let bind = kernel
                    .bind(
                        &ctx,
                        GatherBindings {
                            params: &params,
                            data: &data,
                            labels: &lab,
                            order: &ord,
                            state: &state,
                            x: &x,
                            y: &y,
                            cls: &cls,
                            values: &vals,
                        },
                    )
                    .unwrap();
                dispatch(&ctx, |pass| {
                    kernel.encode(pass, &bind, (batch * dim) as u32)
                });
                // CPU twin: the run's rows, then zeros and class 0 past its end.
                let rows: Vec<u32> = order
                    .iter()
                    .skip(step * batch)
                    .take(batch)
                    .copied()
                    .collect();
                let mut want_x = Vec::new();
                set.gather(&rows, &mut want_x);
                want_x.resize(batch * dim, 0.0);
                let row_labels: Vec<u32> = rows.iter().map(|&i| labels[i as usize]).collect();
                let Targets::Values(mut want_y) =
                    Targets::for_samples(Loss::Mse, &set, &rows, outputs)
                else {
                    unreachable!()
                };
                want_y.resize(batch * outputs, 0.0);
                let mut want_cls = row_labels.clone();
                want_cls.resize(batch, 0);
                let what = format!(
                    "gather u8={u8s} target mode {mode} dim {dim} outputs {outputs} batch {batch} step {step}"
                );
                assert_close(
                    &format!("{what}: x"),
                    &ctx.read_f32(&x, 0, (batch * dim) as u64).unwrap(),
                    &want_x,
                    0.0,
                    0.0,
                );
                assert_close(
                    &format!("{what}: y"),
                    &ctx.read_f32(&y, 0, (batch * outputs) as u64).unwrap(),
                    &want_y,
                    0.0,
                    0.0,
                );
                // Each row's weight after the classes: the sample's (1.0 unweighted), 0 past
                // the end of the run.
                let mut want_w: Vec<f32> = rows
                    .iter()
                    .map(|&i| {
                        if weighted {
                            sample_weights[i as usize]
                        } else {
                            1.0
                        }
                    })
                    .collect();
                want_w.resize(batch, 0.0);
                let got_w: Vec<f32> = ctx
                    .read_u32(&cls, batch as u64, batch as u64)
                    .unwrap()
                    .into_iter()
                    .map(f32::from_bits)
                    .collect();
                assert_close(&format!("{what}: weights"), &got_w, &want_w, 0.0, 0.0);
                assert_eq!(
                    ctx.read_u32(&cls, 0, batch as u64).unwrap(),
                    want_cls,
                    "{what}: classes"
                );
            }
        }
    }
}

/// Every (loss, output activation) pair the spec allows.
fn loss_pairs() -> Vec<(Loss, Activation, usize)> {
    let mut pairs = Vec::new();
    for outputs in [1, 3, 10] {
        for loss in Loss::ALL {
            for act in Activation::ALL {
                let ok = match loss.required_output() {
                    Some(req) => act == req,
                    None => !(act == Activation::Softmax && outputs == 1),
                };
                if ok && !(loss == Loss::Ce && outputs < 2) {
                    pairs.push((loss, act, outputs));
                }
            }
        }
    }
    pairs
}

#[test]
fn loss_matches_reference_for_every_loss_and_output() {
    let Some(ctx) = gpu_or_skip("loss_matches_reference_for_every_loss_and_output") else {
        return;
    };
    let kernel = LossKernel::new(&ctx).unwrap();
    let mut r = rng(2);
    let pairs = loss_pairs();
    // One output: mse and half-mse with 5 activations (no softmax), bce. Three and ten
    // outputs: mse and half-mse with all 6, bce, ce.
    assert_eq!(pairs.len(), (2 * 5 + 1) + 2 * (2 * 6 + 2));
    for (loss, act, outputs) in pairs {
        // A batch of one, a partial last batch (rows past n masked), a batch past a workgroup.
        // Unweighted, and weighted (weights with zeros and fractions; one batch all zero).
        for (batch, n, step, weighted) in [
            (1, 1, 0, false),
            (7, 12, 1, false),
            (65, 65, 0, false),
            (1, 1, 0, true),
            (7, 12, 1, true),
            (65, 65, 0, true),
            (3, 3, 0, true),
        ] {
            let valid = batch.min(n - step * batch);
            let all_zero = batch == 3;
            let w: Vec<f32> = (0..batch)
                .map(|i| match (i < valid, weighted && !all_zero) {
                    (false, _) => 0.0,
                    (true, true) => [0.0, 0.5, 1.0, 2.5][r.random_range(0..4)],
                    (true, false) if all_zero => 0.0,
                    (true, false) => 1.0,
                })
                .collect();
            let z: Vec<f32> = (0..batch * outputs)
                .map(|_| r.random_range(-4.0..4.0))
                .collect();
            let cls: Vec<u32> = (0..batch)
                .map(|_| r.random_range(0..outputs.max(2)) as u32)
                .collect();
            let y: Vec<f32> = match loss {
                Loss::Bce => (0..batch * outputs)
                    .map(|_| r.random_range(0..2) as f32)
                    .collect(),
                _ => (0..batch * outputs)
                    .map(|_| r.random_range(-1.0..1.0))
                    .collect(),
            };
            let params = uniform(
                &ctx,
                &LossParams {
                    batch: batch as u32,
                    outputs: outputs as u32,
                    act: act.gpu_id(),
                    loss: loss.gpu_id(),
                    train: 1,
                    weighted: weighted as u32,
                    _pad: [0; 2],
                },
            );
            let cls_and_w: Vec<u32> = cls
                .iter()
                .copied()
                .chain(w.iter().map(|v| v.to_bits()))
                .collect();
            let (zb, yb, cb) = (
                floats(&ctx, "z", &z),
                floats(&ctx, "y", &y),
                words(&ctx, "cls", &cls_and_w),
            );
            let state = words(&ctx, "state", &[step as u32, n as u32]);
            let a = floats(&ctx, "a", &vec![0.0; batch * outputs]);
            let dz = floats(&ctx, "dz", &vec![7.0; batch * outputs]);
            let rows = floats(&ctx, "rows", &vec![7.0; 2 * batch]);
            let pred = words(&ctx, "pred", &vec![99; n]);
            let bind = kernel
                .bind(
                    &ctx,
                    LossBindings {
                        params: &params,
                        z: &zb,
                        y: &yb,
                        cls: &cb,
                        state: &state,
                        a: &a,
                        dz: &dz,
                        rows: &rows,
                        pred: &pred,
                    },
                )
                .unwrap();
            dispatch(&ctx, |pass| kernel.encode(pass, &bind, batch as u32));

            // CPU twin on the valid rows.
            let vz = &z[..valid * outputs];
            let mut want_a = z.clone();
            activation::forward_rows(act, &mut want_a, outputs);
            let va = &want_a[..valid * outputs];
            let targets = match loss {
                Loss::Ce => Targets::Classes(cls[..valid].to_vec()),
                _ => Targets::Values(y[..valid * outputs].to_vec()),
            };
            let vw = weighted.then(|| &w[..valid]);
            let (want_loss, mut want_dz) =
                cpu_loss::weighted_loss_and_grad(loss, act, vz, va, &targets, outputs, vw);
            want_dz.resize(batch * outputs, 0.0);
            let want_pred = cpu_loss::predict(act, va, outputs);
            let what = format!(
                "{loss} with {act} output, {outputs} outputs, batch {batch}, {valid} valid, weighted {weighted}"
            );
            let got_a = ctx.read_f32(&a, 0, (batch * outputs) as u64).unwrap();
            assert_close(&format!("{what}: a"), &got_a, &want_a, 1e-6, 1e-5);
            let got_dz = ctx.read_f32(&dz, 0, (batch * outputs) as u64).unwrap();
            assert_close(&format!("{what}: dz"), &got_dz, &want_dz, 1e-6, 1e-4);
            let got_rows = ctx.read_f32(&rows, 0, (2 * batch) as u64).unwrap();
            let got_loss: f32 = got_rows.iter().step_by(2).sum::<f32>() / valid as f32;
            assert_close(
                &format!("{what}: loss"),
                &[got_loss],
                &[want_loss],
                1e-5,
                1e-4,
            );
            let hits: Vec<f32> = (0..batch)
                .map(|i| f32::from(i < valid && want_pred[i.min(valid - 1)] == cls[i]))
                .collect();
            let got_hits: Vec<f32> = got_rows.iter().skip(1).step_by(2).copied().collect();
            assert_close(&format!("{what}: hits"), &got_hits, &hits, 0.0, 0.0);
            let got_pred = ctx.read_u32(&pred, 0, n as u64).unwrap();
            let start = step * batch;
            assert_eq!(
                &got_pred[start..start + valid],
                &want_pred[..],
                "{what}: predictions"
            );
        }
    }
}

#[test]
fn bias_gradient_and_sgd_match_column_sums() {
    let Some(ctx) = gpu_or_skip("bias_gradient_and_sgd_match_column_sums") else {
        return;
    };
    let kernel = BiasKernel::new(&ctx).unwrap();
    let mut r = rng(3);
    for (rows, cols) in [(1, 1), (3, 63), (7, 65), (123, 255), (32, 1)] {
        let dz: Vec<f32> = (0..rows * cols)
            .map(|_| r.random_range(-1.0..1.0))
            .collect();
        let bias: Vec<f32> = (0..cols).map(|_| r.random_range(-1.0..1.0)).collect();
        let lr = 0.3f32;
        let params = uniform(
            &ctx,
            &BiasParams {
                rows: rows as u32,
                cols: cols as u32,
                store_grad: 1,
                update: 1,
            },
        );
        let step = StepUniform::buffer(&ctx, lr).unwrap();
        let (dzb, bb, gb) = (
            floats(&ctx, "dz", &dz),
            floats(&ctx, "bias", &bias),
            floats(&ctx, "grad", &vec![0.0; cols]),
        );
        let bind = kernel
            .bind(
                &ctx,
                BiasBindings {
                    params: &params,
                    dz: &dzb,
                    bias: &bb,
                    grad: &gb,
                    step: &step,
                },
            )
            .unwrap();
        dispatch(&ctx, |pass| kernel.encode(pass, &bind, cols as u32));
        let want_grad = gpunn::cpu::ops::column_sums(&dz, rows, cols);
        let want_bias: Vec<f32> = bias
            .iter()
            .zip(&want_grad)
            .map(|(b, g)| b - lr * g)
            .collect();
        let what = format!("bias {rows}x{cols}");
        assert_close(
            &format!("{what}: grad"),
            &ctx.read_f32(&gb, 0, cols as u64).unwrap(),
            &want_grad,
            1e-6,
            1e-5,
        );
        assert_close(
            &format!("{what}: bias"),
            &ctx.read_f32(&bb, 0, cols as u64).unwrap(),
            &want_bias,
            1e-6,
            1e-5,
        );
    }
}

#[test]
fn metrics_accumulate_like_stats() {
    let Some(ctx) = gpu_or_skip("metrics_accumulate_like_stats") else {
        return;
    };
    let kernel = MetricsKernel::new(&ctx).unwrap();
    let mut r = rng(4);
    // (batch, run length, step whose loss is NaN)
    // (batch, run length, step whose loss is NaN, step whose optimizer flagged a non-finite
    // update)
    let cases: [(usize, usize, Option<usize>, Option<usize>); 5] = [
        (1, 1, None, None),
        (5, 12, Some(1), None),
        (64, 200, None, None),
        (3, 7, Some(2), None),
        (4, 9, None, Some(1)),
    ];
    for (batch, n, bad, flagged) in cases {
        let params = uniform(
            &ctx,
            &MetricsParams {
                batch: batch as u32,
                advance: 1,
                _pad: [0; 2],
            },
        );
        let state = words(&ctx, "state", &[0, n as u32, 0, 0]);
        let totals = words(&ctx, "totals", &[0; 8]);
        let rows = floats(&ctx, "rows", &vec![0.0; 2 * batch]);
        let flags = words(&ctx, "flags", &[0; 4]);
        let bind = kernel
            .bind(
                &ctx,
                MetricsBindings {
                    params: &params,
                    rows: &rows,
                    state: &state,
                    totals: &totals,
                    flags: &flags,
                },
            )
            .unwrap();
        let mut want = Stats::default();
        for step in 0..n.div_ceil(batch) {
            let count = batch.min(n - step * batch);
            let mut v: Vec<f32> = Vec::new();
            for _ in 0..batch {
                v.push(r.random_range(0.0..3.0));
                v.push(r.random_range(0..2) as f32);
            }
            if bad == Some(step) {
                v[0] = f32::NAN;
            }
            ctx.queue.write_buffer(&rows, 0, bytemuck::cast_slice(&v));
            if flagged == Some(step) {
                ctx.queue
                    .write_buffer(&flags, 0, bytemuck::cast_slice(&[1u32]));
            }
            dispatch(&ctx, |pass| kernel.encode(pass, &bind));
            let sum: f32 = v.iter().step_by(2).take(count).sum();
            let hits = v
                .iter()
                .skip(1)
                .step_by(2)
                .take(count)
                .filter(|&&h| h == 1.0)
                .count();
            want.add_step(sum / count as f32, count, hits);
            if flagged == Some(step) {
                want.flag_nonfinite();
            }
        }
        assert_eq!(
            ctx.read_u32(&flags, 0, 1).unwrap(),
            [0],
            "the flag is cleared"
        );
        let t = ctx.read_u32(&totals, 0, 6).unwrap();
        let what = format!("metrics batch {batch}, {n} samples");
        if bad.is_none() {
            assert_close(
                &format!("{what}: loss sum"),
                &[f32::from_bits(t[0])],
                &[want.loss_sum as f32],
                1e-4,
                1e-5,
            );
        }
        assert_eq!(
            (t[2] as u64, t[3] as u64, t[5] as u64),
            (want.correct, want.samples, want.steps),
            "{what}"
        );
        assert_eq!(
            (t[4] != 0).then_some(t[4] as u64),
            want.nonfinite_step,
            "{what}: first non-finite step"
        );
        let s = ctx.read_u32(&state, 0, 3).unwrap();
        assert_eq!(
            s[0] as u64, want.steps,
            "{what}: the step counter advanced once per dispatch"
        );
    }
}
