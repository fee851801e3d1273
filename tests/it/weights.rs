//! Per-sample weights of the loss (scikit-learn's `sample_weight`): the reference's weighted
//! mean against repeated rows, then the fast CPU path and the GPU against the reference at
//! awkward shapes (a batch of one, a partial last batch, zero weights, a batch of zero weights),
//! for every activation × loss pair.

use crate::common::{assert_close, gpu_or_skip};
use crate::cpu_fast::{assert_params_close, compare};
use crate::cpu_reference::{all_pairs, random_case};
use gpunn::cpu::engine::CpuReference;
use gpunn::cpu::loss::Targets;
use gpunn::cpu::net;
use gpunn::data::{Dataset, Features, Target};
use gpunn::engine::Engine;
use gpunn::gpu::GpuEngine;
use gpunn::model::Loss;
use rand::{Rng, SeedableRng};

/// Integer weights: each row counts as that many copies of itself.
const WEIGHTS: [usize; 5] = [2, 0, 1, 3, 1];

/// The rows of `t` repeated by `WEIGHTS` (targets of `k` outputs).
fn repeat_targets(t: &Targets<f64>, k: usize) -> Targets<f64> {
    match t {
        Targets::Classes(c) => Targets::Classes(
            c.iter()
                .zip(WEIGHTS)
                .flat_map(|(&c, w)| std::iter::repeat_n(c, w))
                .collect(),
        ),
        Targets::Values(v) => Targets::Values(
            v.chunks(k)
                .zip(WEIGHTS)
                .flat_map(|(row, w)| std::iter::repeat_n(row, w).flatten().copied())
                .collect(),
        ),
    }
}

#[test]
fn weighted_reference_equals_repeated_rows() {
    let batch = WEIGHTS.len();
    for (n, (hidden, out, loss)) in all_pairs().into_iter().enumerate() {
        let (params, x, targets) = random_case(hidden, out, loss, batch, 900 + n as u64);
        let k = params.outputs();
        let what = format!("{hidden} hidden, {out} output, {loss}");
        let w: Vec<f64> = WEIGHTS.iter().map(|&w| w as f64).collect();
        let trace = net::forward(&params, &x, batch);
        let weighted = net::weighted_backward(&params, &trace, &targets, Some(&w));
        let xr: Vec<f64> = x
            .chunks(3)
            .zip(WEIGHTS)
            .flat_map(|(row, w)| std::iter::repeat_n(row, w).flatten().copied())
            .collect();
        let rows = WEIGHTS.iter().sum();
        let trace_r = net::forward(&params, &xr, rows);
        let repeated = net::backward(&params, &trace_r, &repeat_targets(&targets, k));
        assert!(
            (weighted.loss - repeated.loss).abs() < 1e-12,
            "{what}: loss {} against {}",
            weighted.loss,
            repeated.loss
        );
        for (l, (a, b)) in weighted.layers.iter().zip(&repeated.layers).enumerate() {
            for (g, h) in a.weights.iter().zip(&b.weights) {
                assert!(
                    (g - h).abs() < 1e-12,
                    "{what}: layer {l} ∂W {g} against {h}"
                );
            }
            for (g, h) in a.bias.iter().zip(&b.bias) {
                assert!(
                    (g - h).abs() < 1e-12,
                    "{what}: layer {l} ∂b {g} against {h}"
                );
            }
        }
        // Unit weights are the plain mean.
        let ones = vec![1.0; batch];
        let unit = net::weighted_backward(&params, &trace, &targets, Some(&ones));
        let plain = net::backward(&params, &trace, &targets);
        assert!(
            (unit.loss - plain.loss).abs() < 1e-12,
            "{what}: unit weights"
        );
        // A batch of zero weights contributes nothing.
        let zeros = vec![0.0; batch];
        let none = net::weighted_backward(&params, &trace, &targets, Some(&zeros));
        assert_eq!(none.loss, 0.0, "{what}: zero weights");
        assert!(none
            .layers
            .iter()
            .all(|g| g.weights.iter().all(|&v| v == 0.0)));
    }
}

/// A dataset of `n` random samples of 3 features for `loss` with `k` outputs, and weights.
fn weighted_set(loss: Loss, k: usize, n: usize, weights: Vec<f32>, seed: u64) -> Dataset {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let features: Vec<f32> = (0..n * 3).map(|_| rng.random_range(-1.0..1.0)).collect();
    let (labels, classes, target) = match loss {
        Loss::Ce => (
            (0..n).map(|_| rng.random_range(0..k as u32)).collect(),
            k,
            Target::Classes,
        ),
        _ => {
            let hi = if loss == Loss::Bce { 0.0 } else { -1.0 };
            let values = (0..n * k).map(|_| rng.random_range(hi..1.0)).collect();
            (
                vec![0; n],
                0,
                Target::Values {
                    dim: k,
                    values,
                    units: Vec::new(),
                },
            )
        }
    };
    Dataset {
        name: "weighted".into(),
        dim: 3,
        features: Features::F32(features.into()),
        labels,
        classes,
        target,
        weights: Some(weights),
    }
}

/// Weights with zeros and fractions; the second batch of 3 (samples 3..6 in order) is all 0.
fn awkward_weights(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| match i {
            3..6 => 0.0,
            _ => [2.0, 0.0, 0.5, 1.0, 3.25][i % 5],
        })
        .collect()
}

#[test]
fn fast_cpu_weighted_matches_the_reference() {
    for (n, (hidden, out, loss)) in all_pairs().into_iter().enumerate() {
        let (params, _, _) = random_case(hidden, out, loss, 1, 950 + n as u64);
        let params = params.cast::<f32>();
        let data = weighted_set(loss, params.outputs(), 11, awkward_weights(11), n as u64);
        let order: Vec<u32> = (0..11).collect();
        let what = format!("weighted {hidden} hidden, {out} output, {loss}");
        // Batches of 3 (a partial last one of 2) and of 1.
        for (batch, threads) in [(3, 1), (3, 2), (1, 1), (11, 3)] {
            compare(&what, &params, &data, &order, batch, 0.05, threads);
        }
    }
}

#[test]
fn gpu_weighted_matches_the_reference() {
    let Some(ctx) = gpu_or_skip("gpu_weighted_matches_the_reference") else {
        return;
    };
    for (n, (hidden, out, loss)) in all_pairs().into_iter().enumerate() {
        let (params, _, _) = random_case(hidden, out, loss, 1, 970 + n as u64);
        let params = params.cast::<f32>();
        let data = weighted_set(loss, params.outputs(), 11, awkward_weights(11), n as u64);
        let order: Vec<u32> = vec![4, 0, 9, 3, 5, 10, 1, 8, 2, 7, 6];
        let what = format!("weighted {hidden} hidden, {out} output, {loss}");
        let mut cpu = CpuReference::new(params.clone());
        let mut gpu = GpuEngine::new(ctx.clone(), &params, 3, false).unwrap();
        for e in [&mut cpu as &mut dyn Engine, &mut gpu] {
            e.load_train_set(&data).unwrap();
            e.train_steps(&order, 3, 0.05).unwrap();
        }
        let (sc, sg) = (cpu.take_stats().unwrap(), gpu.take_stats().unwrap());
        assert_close(
            &format!("{what}: epoch loss"),
            &[sg.mean_loss()],
            &[sc.mean_loss()],
            1e-5,
            1e-4,
        );
        assert_params_close(&what, &gpu.params().unwrap(), &cpu.params().unwrap());
        // Evaluation is the plain mean, as without weights.
        let (ec, eg) = (cpu.evaluate(&data).unwrap(), gpu.evaluate(&data).unwrap());
        assert_close(
            &format!("{what}: eval loss"),
            &[eg.loss],
            &[ec.loss],
            1e-5,
            1e-4,
        );
    }
}

/// Weights change training: doubling one sample's weight moves the result (so a weight the
/// engines ignore fails the tests above), and scaling all weights together does not.
#[test]
fn weights_are_relative() {
    let (params, _, _) = random_case(
        gpunn::model::Activation::Tanh,
        gpunn::model::Activation::Softmax,
        Loss::Ce,
        1,
        5,
    );
    let params = params.cast::<f32>();
    let train = |w: Vec<f32>| {
        let data = weighted_set(Loss::Ce, 3, 6, w, 3);
        let mut e = CpuReference::new(params.clone());
        e.load_train_set(&data).unwrap();
        e.train_steps(&[0, 1, 2, 3, 4, 5], 6, 0.5).unwrap();
        e.params().unwrap()
    };
    let base = train(vec![1.0; 6]);
    let scaled = train(vec![4.0; 6]);
    assert_params_close("all weights ×4", &scaled, &base);
    let mut w = vec![1.0; 6];
    w[2] = 2.0;
    let moved = train(w);
    assert_ne!(moved.layers[0].weights, base.layers[0].weights);
}
