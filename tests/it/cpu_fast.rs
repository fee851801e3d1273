//! The fast CPU path against the reference: one step for every activation × loss triple,
//! awkward shapes (1-wide layers, batch 1, a partial last batch, layers wider than the GEMM
//! blocks, more threads than rows), a whole epoch, evaluation; and an ignored throughput check.

use crate::common::assert_close;
use crate::cpu_reference::{all_pairs, random_case};
use gpunn::cpu::engine::CpuReference;
use gpunn::cpu::fast::FastCpu;
use gpunn::cpu::loss::Targets;
use gpunn::data::{synth, Dataset, Features};
use gpunn::engine::{Engine, Stats};
use gpunn::model::{Activation, Init, Loss, MlpSpec, Params};
use rand::{Rng, SeedableRng};

const ATOL: f32 = 1e-5;
const RTOL: f32 = 1e-4;

pub fn assert_params_close(what: &str, got: &Params, want: &Params) {
    assert_eq!(got.layers.len(), want.layers.len(), "{what}: depth");
    for (l, (g, w)) in got.layers.iter().zip(&want.layers).enumerate() {
        assert_close(
            &format!("{what}: layer {} weights", l + 1),
            &g.weights,
            &w.weights,
            ATOL,
            RTOL,
        );
        assert_close(
            &format!("{what}: layer {} bias", l + 1),
            &g.bias,
            &w.bias,
            ATOL,
            RTOL,
        );
    }
}

fn assert_stats_close(what: &str, got: Stats, want: Stats) {
    assert_eq!(got.samples, want.samples, "{what}: samples");
    assert_eq!(got.correct, want.correct, "{what}: correct");
    assert_eq!(got.steps, want.steps, "{what}: steps");
    assert_eq!(
        got.nonfinite_step, want.nonfinite_step,
        "{what}: first non-finite step"
    );
    assert_close(
        &format!("{what}: loss sum"),
        &[got.loss_sum as f32],
        &[want.loss_sum as f32],
        ATOL,
        RTOL,
    );
}

/// Trains both engines on `data` in `order`, `batch` at a time, then compares parameters,
/// stats and evaluation (predictions identical, loss close). With several threads, both ways
/// of sharing a layer are checked: by batch rows (the default on small layers) and by
/// neurons/inputs (forced on every layer).
pub fn compare(
    what: &str,
    params: &Params,
    data: &Dataset,
    order: &[u32],
    batch: usize,
    lr: f32,
    threads: usize,
) {
    compare_split(what, params, data, order, batch, lr, threads, None);
    if threads > 1 {
        compare_split(what, params, data, order, batch, lr, threads, Some(0));
    }
}

#[allow(clippy::too_many_arguments)]
fn compare_split(
    what: &str,
    params: &Params,
    data: &Dataset,
    order: &[u32],
    batch: usize,
    lr: f32,
    threads: usize,
    column_split_min: Option<usize>,
) {
    let mut fast = FastCpu::with_threads(params.clone(), threads);
    if let Some(min) = column_split_min {
        fast = fast.with_column_split_min(min);
    }
    let mut reference = CpuReference::new(params.clone());
    fast.load_train_set(data).unwrap();
    reference.load_train_set(data).unwrap();
    fast.train_steps(order, batch, lr).unwrap();
    reference.train_steps(order, batch, lr).unwrap();
    let split = match column_split_min {
        Some(_) => ", split by columns",
        None => "",
    };
    let what = format!("{what} ({threads} threads{split})");
    assert_params_close(&what, &fast.params().unwrap(), &reference.params().unwrap());
    assert_stats_close(
        &what,
        fast.take_stats().unwrap(),
        reference.take_stats().unwrap(),
    );
    let (ef, er) = (
        fast.evaluate(data).unwrap(),
        reference.evaluate(data).unwrap(),
    );
    assert_eq!(
        ef.predictions, er.predictions,
        "{what}: evaluate predictions"
    );
    assert_close(
        &format!("{what}: evaluate loss"),
        &[ef.loss],
        &[er.loss],
        ATOL,
        RTOL,
    );
    assert_eq!(ef.accuracy, er.accuracy, "{what}: evaluate accuracy");
}

/// `n` random samples of `dim` features (f32 in [−1, 1], or u8 pixels) with labels below
/// `classes`.
pub fn random_data(n: usize, dim: usize, classes: usize, pixels: bool, seed: u64) -> Dataset {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let features = if pixels {
        Features::U8((0..n * dim).map(|_| rng.random()).collect())
    } else {
        Features::F32((0..n * dim).map(|_| rng.random_range(-1.0..1.0)).collect())
    };
    let labels = (0..n)
        .map(|_| rng.random_range(0..classes as u32))
        .collect();
    Dataset {
        name: "random".into(),
        dim,
        features,
        labels,
        classes,
        target: Default::default(),
        weights: None,
    }
}

pub fn params_for(sizes: &[usize], acts: &[Activation], loss: Loss, seed: u64) -> Params {
    let spec = MlpSpec::new(sizes.to_vec(), acts.to_vec(), loss).unwrap();
    let mut p = Params::init(&spec, Init::XavierUniform, seed).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed + 1);
    for l in &mut p.layers {
        for b in &mut l.bias {
            *b = rng.random_range(-0.3..0.3);
        }
    }
    p
}

/// Classes for a network with `outputs` outputs: 2 with one output, else `outputs`.
fn classes(outputs: usize) -> usize {
    outputs.max(2)
}

#[test]
fn one_step_every_activation_and_loss() {
    let batch = 7;
    for (n, (hidden, out, loss)) in all_pairs().into_iter().enumerate() {
        let (params, x, targets) = random_case(hidden, out, loss, batch, 500 + n as u64);
        let params = params.cast::<f32>();
        let k = params.outputs();
        // The engines train on class labels: ce's classes as they are, one-hot (or 0/1 with
        // one output) labels for the others.
        let labels: Vec<u32> = match targets {
            Targets::Classes(c) => c,
            Targets::Values(_) => {
                let mut rng = rand::rngs::StdRng::seed_from_u64(n as u64);
                (0..batch)
                    .map(|_| rng.random_range(0..classes(k) as u32))
                    .collect()
            }
        };
        let data = Dataset {
            name: "case".into(),
            dim: 3,
            features: Features::F32(x.iter().map(|&v| v as f32).collect()),
            labels,
            classes: classes(k),
            target: Default::default(),
            weights: None,
        };
        let order: Vec<u32> = (0..batch as u32).collect();
        for threads in [1, 2, 3] {
            compare(
                &format!("{hidden} hidden, {out} output, {loss}"),
                &params,
                &data,
                &order,
                batch,
                0.3,
                threads,
            );
        }
    }
}

#[test]
fn one_wide_layers() {
    use Activation::*;
    let p = params_for(&[4, 1, 1], &[Tanh, Sigmoid], Loss::Bce, 1);
    let data = random_data(9, 4, 2, false, 2);
    let order: Vec<u32> = (0..9).collect();
    for threads in [1, 2, 4] {
        compare("4-1-1 bce", &p, &data, &order, 3, 0.5, threads);
    }
    let p = params_for(&[1, 1, 3], &[LeakyRelu, Softmax], Loss::Ce, 3);
    let data = random_data(6, 1, 3, false, 4);
    let order: Vec<u32> = (0..6).collect();
    for threads in [1, 2] {
        compare("1-1-3 ce", &p, &data, &order, 2, 0.5, threads);
    }
}

#[test]
fn batch_of_one() {
    use Activation::*;
    let p = params_for(&[5, 6, 3], &[Relu, Softmax], Loss::Ce, 5);
    let data = random_data(4, 5, 3, false, 6);
    let order = [2, 0, 3, 1];
    for threads in [1, 2, 3] {
        compare("batch 1", &p, &data, &order, 1, 0.2, threads);
    }
}

#[test]
fn partial_last_batch() {
    use Activation::*;
    let p = params_for(&[6, 8, 4], &[Sigmoid, Identity], Loss::Mse, 7);
    let data = random_data(10, 6, 4, false, 8);
    let order: Vec<u32> = vec![9, 3, 0, 7, 1, 5, 2, 8, 6, 4];
    for threads in [1, 2, 3] {
        compare("10 samples at batch 4", &p, &data, &order, 4, 0.3, threads);
    }
}

#[test]
fn layer_wider_than_gemm_blocks() {
    use Activation::*;
    let p = params_for(&[3, 300, 7], &[Tanh, Softmax], Loss::Ce, 9);
    let data = random_data(40, 3, 7, false, 10);
    let order: Vec<u32> = (0..40).rev().collect();
    compare("3-300-7", &p, &data, &order, 13, 0.1, 2);
    // Depth and width past gemm's k and n blocks, u8 pixels, more rows than one block.
    let p = params_for(&[700, 530, 2], &[Relu, Sigmoid], Loss::HalfMse, 11);
    let data = random_data(70, 700, 2, true, 12);
    let order: Vec<u32> = (0..70).collect();
    compare("700-530-2", &p, &data, &order, 70, 0.05, 2);
}

#[test]
fn mnist_shaped_u8_batches() {
    use Activation::*;
    let p = params_for(&[784, 32, 16, 10], &[Relu, Relu, Softmax], Loss::Ce, 13);
    let data = random_data(100, 784, 10, true, 14);
    let order = gpunn::train::epoch_order(100, 1, 1);
    for threads in [1, 2] {
        compare("784-32-16-10", &p, &data, &order, 32, 0.1, threads);
    }
}

#[test]
fn circles_epoch_matches_reference() {
    use Activation::*;
    let data = synth::circles(1000, 0.4, 0.05, 42);
    let p = params_for(&[2, 8, 1], &[Tanh, Sigmoid], Loss::Bce, 15);
    let order = gpunn::train::epoch_order(data.len(), 7, 1);
    compare("circles epoch", &p, &data, &order, 32, 0.5, 2);
}

#[test]
fn divergence_names_the_same_step() {
    use Activation::*;
    let p = params_for(&[4, 6, 3], &[Identity, Identity], Loss::Mse, 23);
    let data = random_data(40, 4, 3, false, 24);
    let order: Vec<u32> = (0..40).collect();
    let mut fast = FastCpu::with_threads(p.clone(), 2);
    let mut reference = CpuReference::new(p);
    fast.load_train_set(&data).unwrap();
    reference.load_train_set(&data).unwrap();
    // One good call first, so that the step is counted across calls.
    fast.train_steps(&order[..8], 4, 0.01).unwrap();
    reference.train_steps(&order[..8], 4, 0.01).unwrap();
    fast.train_steps(&order, 4, 1e4).unwrap();
    reference.train_steps(&order, 4, 1e4).unwrap();
    let (f, r) = (fast.take_stats().unwrap(), reference.take_stats().unwrap());
    assert!(
        r.nonfinite_step.is_some(),
        "the reference should diverge: {r:?}"
    );
    assert_eq!(f.nonfinite_step, r.nonfinite_step);
    assert_eq!((f.steps, f.samples), (r.steps, r.samples));
}

#[test]
fn profile_times_phases_and_restores_state() {
    use Activation::*;
    let p = params_for(&[6, 5, 3], &[Relu, Softmax], Loss::Ce, 25);
    let data = random_data(20, 6, 3, false, 26);
    let mut fast = FastCpu::with_threads(p, 2);
    assert!(fast.profile(2).is_err(), "profile before load_train_set");
    fast.load_train_set(&data).unwrap();
    fast.train_steps(&[0, 1, 2, 3, 4], 4, 0.1).unwrap();
    let (params, stats) = (fast.params().unwrap(), fast.take_stats().unwrap());
    fast.train_steps(&[5, 6], 4, 0.1).unwrap();
    let families = fast.profile(3).unwrap();
    assert!(families.iter().any(|f| f.name == "gather"), "{families:?}");
    assert!(families.iter().all(|f| f.seconds >= 0.0), "{families:?}");
    // 3 steps of 4 samples (the last batch size asked for): 12·(6·5 + 5·3) multiply-adds.
    let forward = families
        .iter()
        .find(|f| f.name.starts_with("matmul forward"))
        .unwrap();
    assert_eq!(forward.flops, 2.0 * 12.0 * 45.0);
    // The profiled steps leave no trace: the same stats and parameters as before them.
    let after: Stats = fast.take_stats().unwrap();
    assert_eq!((after.steps, after.samples), (1, 2));
    let mut again = FastCpu::with_threads(params, 2);
    again.load_train_set(&data).unwrap();
    again.train_steps(&[5, 6], 4, 0.1).unwrap();
    assert_eq!(fast.params().unwrap(), again.params().unwrap());
    assert_eq!(stats.samples, 5);
}

/// Profiling before any training step (the first steps may reorder the first layer's weights
/// for the split) leaves the parameters and the Adam state exactly as they were.
#[test]
fn profile_before_training_leaves_params_and_state_as_they_were() {
    use gpunn::optim::{OptimizerConfig, OptimizerKind};
    use Activation::*;
    let p = params_for(&[6, 5, 3], &[Tanh, Softmax], Loss::Ce, 27);
    let data = random_data(20, 6, 3, false, 28);
    let mut fast = FastCpu::with_threads(p.clone(), 1);
    fast.set_optimizer(&OptimizerConfig::of(OptimizerKind::Adam), None)
        .unwrap();
    fast.load_train_set(&data).unwrap();
    let state = fast.optimizer_state().unwrap();
    fast.profile(3).unwrap();
    assert_eq!(fast.params().unwrap(), p);
    assert_eq!(fast.optimizer_state().unwrap(), state);
}

#[test]
fn evaluate_more_samples_than_the_workspace() {
    use Activation::*;
    let p = params_for(&[3, 5, 4], &[Relu, Softmax], Loss::Ce, 17);
    let data = random_data(1500, 3, 4, false, 18);
    let (mut fast, mut reference) = (FastCpu::with_threads(p.clone(), 2), CpuReference::new(p));
    let (ef, er) = (
        fast.evaluate(&data).unwrap(),
        reference.evaluate(&data).unwrap(),
    );
    assert_eq!(ef.predictions, er.predictions);
    assert_close("loss", &[ef.loss], &[er.loss], ATOL, RTOL);
}

#[test]
fn set_params_and_errors() {
    use Activation::*;
    let p = params_for(&[3, 4, 2], &[Relu, Sigmoid], Loss::Mse, 19);
    let mut fast = FastCpu::new(p.clone());
    assert!(
        fast.describe().starts_with("cpu (fast, "),
        "{}",
        fast.describe()
    );
    assert!(
        fast.train_steps(&[0], 1, 0.1).is_err(),
        "train_steps before load_train_set"
    );
    let data = random_data(5, 3, 2, false, 20);
    fast.load_train_set(&data).unwrap();
    assert!(
        fast.train_steps(&[5], 1, 0.1).is_err(),
        "sample out of range"
    );
    assert!(
        fast.load_train_set(&random_data(5, 4, 2, false, 21))
            .is_err(),
        "wrong input size"
    );
    let mut broken = p.clone();
    broken.layers[1].weights.pop();
    assert!(
        fast.set_params(&broken).is_err(),
        "weights of the wrong size"
    );
    // Another shape: the workspace follows.
    let q = params_for(&[3, 9, 2], &[Tanh, Sigmoid], Loss::Mse, 22);
    fast.set_params(&q).unwrap();
    assert_eq!(fast.params().unwrap(), q);
    let mut reference = CpuReference::new(q.clone());
    reference.load_train_set(&data).unwrap();
    fast.train_steps(&[0, 1, 2, 3, 4], 2, 0.1).unwrap();
    reference.train_steps(&[0, 1, 2, 3, 4], 2, 0.1).unwrap();
    assert_params_close(
        "after set_params",
        &fast.params().unwrap(),
        &reference.params().unwrap(),
    );
}

/// Throughput on MNIST-shaped random data, FastCpu beside the reference and (where python3
/// has numpy) a plain-NumPy MLP of the same shape. Not a timed assertion: run with
/// `cargo test --release --test it cpu_fast::throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    use Activation::*;
    let n = 6144;
    let data = random_data(n, 784, 10, true, 1);
    for (sizes, batch, epochs) in [
        (vec![784, 128, 64, 10], 128, 8),
        (vec![784, 1024, 1024, 10], 256, 2),
    ] {
        let acts = [vec![Relu; sizes.len() - 2], vec![Softmax]].concat();
        let p = params_for(&sizes, &acts, Loss::Ce, 2);
        let run = |engine: &mut dyn Engine, samples: usize, epochs: usize| {
            engine.load_train_set(&data).unwrap();
            let order: Vec<u32> = (0..samples as u32).collect();
            engine
                .train_steps(&order[..samples.min(4 * batch)], batch, 0.01)
                .unwrap(); // warm-up
            let mut best = 0.0f64;
            for e in 0..epochs {
                let order = gpunn::train::epoch_order(samples, 3, e);
                let t = std::time::Instant::now();
                engine.train_steps(&order, batch, 0.01).unwrap();
                engine.take_stats().unwrap();
                best = best.max(samples as f64 / t.elapsed().as_secs_f64());
            }
            best
        };
        let fast = run(&mut FastCpu::new(p.clone()), n, epochs);
        // The reference's plain loops take seconds per wide batch: one or four batches.
        let steps = if sizes[1] > 256 { 1 } else { 4 };
        let reference = run(&mut CpuReference::new(p.clone()), steps * batch, 1);
        let numpy = numpy_samples_per_sec(&sizes, batch, n, epochs);
        let fast_again = run(&mut FastCpu::new(p.clone()), n, epochs);
        let name = sizes
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("-");
        println!(
            "{name} batch {batch}: fast {:.0} samples/s ({:.0} GFLOP/s; again {:.0}), reference {:.0}, numpy {}",
            fast,
            fast.max(fast_again) * train_flops(&sizes) / 1e9,
            fast_again,
            reference,
            numpy.map_or("n/a".into(), |v| format!(
                "{v:.0} (fast/numpy {:.2})",
                fast.max(fast_again) / v
            )),
        );
    }
}

/// Floating-point operations of one training sample: forward, weight gradient, and input
/// gradient for every layer but the first, 2 per multiply-add.
fn train_flops(sizes: &[usize]) -> f64 {
    let macs: Vec<f64> = sizes.windows(2).map(|w| (w[0] * w[1]) as f64).collect();
    2.0 * (3.0 * macs.iter().sum::<f64>() - macs[0])
}

/// The best epoch's samples/s of a plain float32 NumPy MLP (ReLU, softmax-CE, SGD), or None
/// without python3 and numpy.
fn numpy_samples_per_sec(sizes: &[usize], batch: usize, n: usize, epochs: usize) -> Option<f64> {
    const SCRIPT: &str = r#"
import sys, time
import numpy as np
sizes = [int(s) for s in sys.argv[1].split(",")]
batch, n, epochs = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(0)
X8 = rng.integers(0, 256, size=(n, sizes[0]), dtype=np.uint8)
Y = rng.integers(0, sizes[-1], size=n)
W = [(rng.standard_normal((o, i)) * np.sqrt(2.0 / i)).astype(np.float32) for i, o in zip(sizes, sizes[1:])]
B = [np.zeros(o, np.float32) for o in sizes[1:]]
lr = np.float32(0.01)
def epoch(order):
    for s in range(0, n, batch):
        idx = order[s:s + batch]
        x = X8[idx].astype(np.float32) / np.float32(255.0)
        acts = [x]
        for l, (w, b) in enumerate(zip(W, B)):
            z = acts[-1] @ w.T + b
            if l + 1 < len(W):
                z = np.maximum(z, 0, out=z)
            acts.append(z)
        z = acts[-1]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        p[np.arange(len(idx)), Y[idx]] -= 1
        dz = p / np.float32(len(idx))
        for l in range(len(W) - 1, -1, -1):
            dw = dz.T @ acts[l]
            db = dz.sum(axis=0)
            if l > 0:
                dz = (dz @ W[l]) * (acts[l] > 0)
            W[l] -= lr * dw
            B[l] -= lr * db
epoch(rng.permutation(n)[: 4 * batch])
best = 0.0
for _ in range(epochs):
    order = rng.permutation(n)
    t = time.perf_counter()
    epoch(order)
    best = max(best, n / (time.perf_counter() - t))
print(best)
"#;
    let sizes = sizes
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            SCRIPT,
            &sizes,
            &batch.to_string(),
            &n.to_string(),
            &epochs.to_string(),
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "numpy baseline skipped: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// FastCpu alone for a few seconds on one of the throughput shapes, for profiling
/// (`GPUNN_PROFILE_MODEL=wide` for 784-1024-1024-10 at batch 256, else 784-128-64-10 at 128;
/// `GPUNN_THREADS` and `GPUNN_COLUMN_SPLIT_MIN` to try other settings):
/// `perf record <test binary> cpu_fast::profile_fast --ignored --nocapture`.
#[test]
#[ignore]
fn profile_fast() {
    use Activation::*;
    let wide = std::env::var("GPUNN_PROFILE_MODEL").is_ok_and(|m| m == "wide");
    let (sizes, batch, epochs) = if wide {
        (vec![784, 1024, 1024, 10], 256, 5)
    } else {
        (vec![784, 128, 64, 10], 128, 60)
    };
    let n = 6144;
    let data = random_data(n, 784, 10, true, 1);
    let acts = [vec![Relu; sizes.len() - 2], vec![Softmax]].concat();
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
    };
    let params = params_for(&sizes, &acts, Loss::Ce, 2);
    let mut fast = match env("GPUNN_THREADS") {
        Some(t) => FastCpu::with_threads(params, t),
        None => FastCpu::new(params),
    };
    if let Some(min) = env("GPUNN_COLUMN_SPLIT_MIN") {
        fast = fast.with_column_split_min(min);
    }
    fast.load_train_set(&data).unwrap();
    for e in 0..epochs {
        let order = gpunn::train::epoch_order(n, 3, e);
        let t = std::time::Instant::now();
        fast.train_steps(&order, batch, 0.01).unwrap();
        let rate = n as f64 / t.elapsed().as_secs_f64();
        println!(
            "epoch {e}: {rate:.0} samples/s, {:.0} GFLOP/s",
            rate * train_flops(&sizes) / 1e9
        );
    }
}

/// The fast path's vectorisable exp, tanh and sigmoid against the C library's, over their
/// whole useful range (a million points each).
#[test]
fn fast_exp_tanh_and_sigmoid_match_the_library() {
    use gpunn::cpu::fast::mathfn;
    let (mut worst_exp, mut worst_tanh, mut worst_sig) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..=1_000_000 {
        let t = i as f64 / 1_000_000.0;
        let x = (-87.0 + t * 175.0) as f32;
        let rel = |got: f32, want: f32| {
            ((got as f64 - want as f64) / (want as f64).abs().max(1e-30)).abs()
        };
        worst_exp = worst_exp.max(rel(mathfn::exp(x), x.exp()));
        let y = (-20.0 + t * 40.0) as f32;
        worst_tanh = worst_tanh.max(rel(mathfn::tanh(y), y.tanh()));
        worst_sig = worst_sig.max(rel(mathfn::sigmoid(y), 1.0 / (1.0 + (-y).exp())));
    }
    eprintln!(
        "worst relative error: exp {worst_exp:e}, tanh {worst_tanh:e}, sigmoid {worst_sig:e}"
    );
    assert!(worst_exp < 5e-7, "exp: {worst_exp:e}");
    assert!(worst_tanh < 2e-6, "tanh: {worst_tanh:e}");
    assert!(worst_sig < 5e-7, "sigmoid: {worst_sig:e}");
    assert_eq!(mathfn::tanh(0.0), 0.0);
    assert_eq!(mathfn::tanh(-30.0), -1.0);
    assert_eq!(mathfn::sigmoid(-200.0).min(1e-30), mathfn::sigmoid(-200.0));
}

/// `outputs` (inference for features, embeddings, decision fields and regression metrics)
/// equals the reference's, for every thread count, on a set that is not a whole number of
/// blocks, and ignores the set's targets.
#[test]
fn outputs_match_the_reference() {
    let spec = MlpSpec::new(
        vec![7, 5, 3],
        vec![Activation::Tanh, Activation::Softmax],
        Loss::Ce,
    )
    .unwrap();
    let params = Params::init(&spec, Init::XavierUniform, 9).unwrap();
    let values: Vec<f32> = (0..301 * 7)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let mut data = Dataset::classes("o", 7, Features::F32(values.into()), vec![0; 301], 3);
    // A regression target of another width must not matter to the outputs.
    data.target = gpunn::data::Target::Values {
        dim: 1,
        values: vec![0.0; 301].into(),
        units: Vec::new(),
    };
    let want = CpuReference::new(params.clone()).outputs(&data).unwrap();
    for threads in [1, 2, 3] {
        let got = FastCpu::with_threads(params.clone(), threads)
            .outputs(&data)
            .unwrap();
        assert_close(
            &format!("outputs, {threads} threads"),
            &got,
            &want,
            1e-6,
            1e-5,
        );
    }
}
