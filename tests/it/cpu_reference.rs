//! The CPU reference: the worked 2-3-1 examples, finite-difference gradient checks in f64 for
//! every activation × loss pair, and convergence on the synthetic sets.

use crate::common::assert_close;
use gpunn::cpu::loss::Targets;
use gpunn::cpu::net;
use gpunn::data::synth;
use gpunn::engine::Engine;
use gpunn::model::{Activation, Init, Layer, Loss, MlpSpec, Params};
use gpunn::train::{self, TrainConfig};
use rand::{Rng, SeedableRng};

/// The 2-3-1 sigmoid network of the worked examples.
pub fn net_231(
    hidden: [[f32; 2]; 3],
    hidden_bias: [f32; 3],
    out: [f32; 3],
    out_bias: f32,
) -> Params {
    Params {
        layers: vec![
            Layer {
                inputs: 2,
                outputs: 3,
                weights: hidden.concat(),
                bias: hidden_bias.to_vec(),
                activation: Activation::Sigmoid,
            },
            Layer {
                inputs: 3,
                outputs: 1,
                weights: out.to_vec(),
                bias: vec![out_bias],
                activation: Activation::Sigmoid,
            },
        ],
        loss: Loss::HalfMse,
        bias: true,
    }
}

#[test]
fn worked_example_all_ones() {
    let before = net_231([[1.0; 2]; 3], [1.0; 3], [1.0; 3], 1.0);
    let r = gpunn::step::step_cpu(&before, &[1.0, 0.0], 1, &Targets::Values(vec![1.0]), 0.1);
    assert_close("output", &r.output, &[0.974479], 1e-6, 0.0);
    assert_close("loss", &[r.loss], &[0.00032567], 1e-8, 0.0);
    let (hid, out) = (&r.after.layers[0], &r.after.layers[1]);
    assert_close("output weights", &out.weights, &[1.0000559; 3], 1e-7, 0.0);
    assert_close("output bias", &out.bias, &[1.0000635], 2e-7, 0.0);
    assert_close(
        "hidden weights",
        &hid.weights,
        &[1.0000067, 1.0, 1.0000067, 1.0, 1.0000067, 1.0],
        1e-7,
        0.0,
    );
    assert_close("hidden biases", &hid.bias, &[1.0000067; 3], 1e-7, 0.0);
}

#[test]
fn worked_example_mixed_weights() {
    let before = net_231([[0.5, -0.25]; 3], [0.1; 3], [1.0, -1.0, 0.0], 0.1);
    let r = gpunn::step::step_cpu(&before, &[1.0, 0.0], 1, &Targets::Values(vec![1.0]), 0.1);
    assert_close("output", &r.output, &[0.524979], 1e-6, 0.0);
    let (hid, out) = (&r.after.layers[0], &r.after.layers[1]);
    assert_close(
        "hidden weights",
        &hid.weights,
        &[0.5027102, -0.25, 0.4972898, -0.25, 0.5, -0.25],
        1e-7,
        0.0,
    );
    assert_close(
        "hidden biases",
        &hid.bias,
        &[0.1027102, 0.0972898, 0.1],
        1e-7,
        0.0,
    );
    assert_close(
        "output weights",
        &out.weights,
        &[1.0076484, -0.9923516, 0.0076484],
        1e-7,
        0.0,
    );
    assert_close("output bias", &out.bias, &[0.1118459], 1e-7, 0.0);
}

/// The activations valid on the output layer for `loss`.
pub fn output_activations(loss: Loss) -> Vec<Activation> {
    match loss.required_output() {
        Some(a) => vec![a],
        None => Activation::ALL.to_vec(),
    }
}

/// Every (hidden activation, output activation, loss) triple the spec allows.
pub fn all_pairs() -> Vec<(Activation, Activation, Loss)> {
    let mut v = Vec::new();
    for loss in Loss::ALL {
        for out in output_activations(loss) {
            for hidden in Activation::ALL
                .into_iter()
                .filter(|&a| a != Activation::Softmax)
            {
                v.push((hidden, out, loss));
            }
        }
    }
    v
}

/// Random parameters and a batch for a 3-4-5-k network; targets fit the loss.
pub fn random_case(
    hidden: Activation,
    out: Activation,
    loss: Loss,
    batch: usize,
    seed: u64,
) -> (Params<f64>, Vec<f64>, Targets<f64>) {
    let k = if loss == Loss::Ce { 3 } else { 2 };
    let spec = MlpSpec::new(vec![3, 4, 5, k], vec![hidden, hidden, out], loss).unwrap();
    let params = Params::init(&spec, Init::Normal(0.7), seed)
        .unwrap()
        .cast::<f64>();
    let mut params = params;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed + 1);
    for l in &mut params.layers {
        for b in &mut l.bias {
            *b = rng.random_range(-0.5..0.5);
        }
    }
    let x: Vec<f64> = (0..batch * 3)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let targets = match loss {
        Loss::Ce => Targets::Classes((0..batch).map(|_| rng.random_range(0..k as u32)).collect()),
        Loss::Bce => Targets::Values((0..batch * k).map(|_| rng.random_range(0.0..1.0)).collect()),
        _ => Targets::Values(
            (0..batch * k)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect(),
        ),
    };
    (params, x, targets)
}

fn loss_of(params: &Params<f64>, x: &[f64], batch: usize, t: &Targets<f64>) -> f64 {
    let trace = net::forward(params, x, batch);
    net::backward(params, &trace, t).loss
}

/// Central differences in f64 against the analytic gradients of every weight, bias and input.
#[test]
fn finite_differences_every_activation_and_loss() {
    let eps = 1e-6;
    let batch = 3;
    let mut checked = 0;
    for (n, (hidden, out, loss)) in all_pairs().into_iter().enumerate() {
        let (params, x, t) = random_case(hidden, out, loss, batch, 100 + n as u64);
        let trace = net::forward(&params, &x, batch);
        let grads = net::backward(&params, &trace, &t);
        let what = format!("{hidden} hidden, {out} output, {loss}");
        let check = |name: &str, analytic: f64, plus: f64, minus: f64| {
            let numeric = (plus - minus) / (2.0 * eps);
            let tol = 1e-7 + 1e-5 * numeric.abs().max(analytic.abs());
            assert!(
                (numeric - analytic).abs() <= tol,
                "{what}: {name}: analytic {analytic:e} vs numeric {numeric:e}"
            );
        };
        for l in 0..params.layers.len() {
            for i in 0..params.layers[l].weights.len() {
                let mut p = params.clone();
                p.layers[l].weights[i] += eps;
                let plus = loss_of(&p, &x, batch, &t);
                p.layers[l].weights[i] -= 2.0 * eps;
                let minus = loss_of(&p, &x, batch, &t);
                check(
                    &format!("layer {} weight {i}", l + 1),
                    grads.layers[l].weights[i],
                    plus,
                    minus,
                );
            }
            for i in 0..params.layers[l].bias.len() {
                let mut p = params.clone();
                p.layers[l].bias[i] += eps;
                let plus = loss_of(&p, &x, batch, &t);
                p.layers[l].bias[i] -= 2.0 * eps;
                let minus = loss_of(&p, &x, batch, &t);
                check(
                    &format!("layer {} bias {i}", l + 1),
                    grads.layers[l].bias[i],
                    plus,
                    minus,
                );
            }
        }
        for i in 0..x.len() {
            let mut xp = x.clone();
            xp[i] += eps;
            let plus = loss_of(&params, &xp, batch, &t);
            xp[i] -= 2.0 * eps;
            let minus = loss_of(&params, &xp, batch, &t);
            check(&format!("input {i}"), grads.input[i], plus, minus);
        }
        checked += 1;
    }
    // 4 losses: mse and half-mse with 6 outputs each, bce and ce with 1; 5 hidden activations.
    assert_eq!(checked, (6 + 6 + 1 + 1) * 5);
}

fn train_synthetic(
    data: &gpunn::data::Dataset,
    sizes: Vec<usize>,
    acts: Vec<Activation>,
    loss: Loss,
    lr: f32,
    batch: usize,
    epochs: usize,
) -> f32 {
    let spec = MlpSpec::new(sizes, acts, loss).unwrap();
    let params = Params::init(&spec, Init::XavierUniform, 7).unwrap();
    let mut engine = gpunn::cpu::engine::CpuReference::new(params);
    let cfg = TrainConfig {
        steps_per_chunk: 64,
        ..TrainConfig::new(epochs, batch, lr, 7)
    };
    train::train(&mut engine, data, None, &cfg, &mut train::Quiet).unwrap();
    engine.evaluate(data).unwrap().accuracy
}

#[test]
fn xor_reaches_full_accuracy() {
    use Activation::Sigmoid;
    let acc = train_synthetic(
        &synth::xor(),
        vec![2, 4, 1],
        vec![Sigmoid, Sigmoid],
        Loss::Mse,
        2.0,
        4,
        3000,
    );
    assert_eq!(acc, 1.0, "xor accuracy {acc}");
}

#[test]
fn linear_reaches_full_accuracy() {
    use Activation::{Sigmoid, Tanh};
    let data = synth::linear(400, 3);
    let acc = train_synthetic(
        &data,
        vec![2, 4, 1],
        vec![Tanh, Sigmoid],
        Loss::Bce,
        0.5,
        16,
        150,
    );
    assert_eq!(acc, 1.0, "linear accuracy {acc}");
}

#[test]
fn circles_reach_95_percent() {
    use Activation::{Sigmoid, Tanh};
    let data = synth::circles(1000, 0.4, 0.05, 42);
    let acc = train_synthetic(
        &data,
        vec![2, 5, 1],
        vec![Tanh, Sigmoid],
        Loss::Bce,
        0.5,
        32,
        100,
    );
    assert!(acc >= 0.95, "circles accuracy {acc}");
}

#[test]
fn bad_specs_are_refused() {
    use Activation::*;
    assert!(MlpSpec::new(vec![2, 0, 1], vec![Relu, Sigmoid], Loss::Mse).is_err());
    assert!(MlpSpec::new(vec![2], vec![], Loss::Mse).is_err());
    assert!(MlpSpec::new(vec![2, 3, 1], vec![Softmax, Sigmoid], Loss::Mse).is_err());
    assert!(MlpSpec::new(vec![2, 3, 2], vec![Relu, Sigmoid], Loss::Ce).is_err());
    assert!(MlpSpec::new(vec![2, 3, 1], vec![Relu, Softmax], Loss::Bce).is_err());
    assert!(MlpSpec::new(vec![2, 3, 1], vec![Relu, Sigmoid, Sigmoid], Loss::Mse).is_err());
}

#[test]
fn initializers_are_seeded_and_scaled() {
    use Activation::*;
    let spec = MlpSpec::new(vec![100, 50, 10], vec![Relu, Softmax], Loss::Ce).unwrap();
    for init in [
        "zeros",
        "constant:0.3",
        "uniform",
        "xavier-normal",
        "xavier-uniform",
        "he-normal",
        "normal:0.2",
        "sklearn",
    ] {
        let init: Init = init.parse().unwrap();
        let a = Params::init(&spec, init, 5).unwrap();
        assert_eq!(
            a,
            Params::init(&spec, init, 5).unwrap(),
            "{init} is not reproducible"
        );
        let w = &a.layers[0].weights;
        let mean = w.iter().sum::<f32>() / w.len() as f32;
        let std = (w.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / w.len() as f32).sqrt();
        let want = match init {
            Init::Zeros | Init::Constant(_) => 0.0,
            Init::Uniform => (6.0f32 / 100.0).sqrt() / 3f32.sqrt(),
            Init::XavierUniform => (6.0f32 / 150.0).sqrt() / 3f32.sqrt(),
            Init::XavierNormal => (2.0f32 / 150.0).sqrt(),
            Init::HeNormal => (2.0f32 / 100.0).sqrt(),
            Init::Normal(s) => s,
            Init::Sklearn => (6.0f32 / 150.0).sqrt() / 3f32.sqrt(),
        };
        assert!(
            (std - want).abs() <= 0.1 * want + 1e-4,
            "{init}: std {std}, want {want}"
        );
        if let Init::Constant(v) = init {
            assert!(w.iter().chain(&a.layers[0].bias).all(|&x| x == v));
        }
    }
    assert!("bogus".parse::<Init>().is_err());
}

/// scikit-learn's `_init_coef`: weights and biases uniform in ±sqrt(factor/(fan_in+fan_out)),
/// factor 2 when the hidden layers are logistic, else 6; every layer of one network uses the
/// hidden activation's factor, the output layer's too.
#[test]
fn sklearn_init_draws_weights_and_biases_within_its_bounds() {
    use Activation::*;
    for (hidden, factor) in [(Sigmoid, 2.0f32), (Tanh, 6.0), (Relu, 6.0)] {
        let spec = MlpSpec::new(vec![30, 20, 4], vec![hidden, Softmax], Loss::Ce).unwrap();
        let p = Params::init(&spec, Init::Sklearn, 3).unwrap();
        for l in &p.layers {
            let bound = (factor / (l.inputs + l.outputs) as f32).sqrt();
            let all: Vec<f32> = l.weights.iter().chain(&l.bias).copied().collect();
            let max = all.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(max <= bound, "{hidden}: |w| {max} above {bound}");
            // Uniform draws reach close to the bound, biases included.
            assert!(
                max > 0.9 * bound,
                "{hidden}: |w| at most {max}, bound {bound}"
            );
            let bmax = l.bias.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(bmax > 0.3 * bound, "{hidden}: biases not drawn ({bmax})");
        }
    }
}

/// Epoch `epoch` of 10, 100 samples each, power_t 0.5.
fn at(epoch: usize) -> gpunn::train::ScheduleAt {
    gpunn::train::ScheduleAt {
        epoch,
        epochs: 10,
        samples: 100,
        power_t: 0.5,
        divisions: 0,
    }
}

#[test]
fn cosine_schedule_decays_from_lr_towards_zero() {
    use gpunn::train::LrSchedule;
    let r = |e| LrSchedule::Cosine.rate(0.1, at(e));
    assert!((r(1) - 0.1).abs() < 1e-7, "epoch 1 uses the full rate");
    assert!((r(6) - 0.05).abs() < 1e-7, "half way: half the rate");
    assert!(
        r(10) > 0.0 && r(10) < 0.003,
        "the last epoch is near 0: {}",
        r(10)
    );
    assert!((2..=10).all(|e| r(e) < r(e - 1)), "strictly decreasing");
    assert_eq!(LrSchedule::Constant.rate(0.1, at(7)), 0.1);
    assert!("linear".parse::<LrSchedule>().is_err());
}

/// scikit-learn's invscaling, as its SGDOptimizer.iteration_ends computes it after each
/// epoch: `learning_rate_init / (t_ + 1) ** power_t`, t_ the samples seen so far.
#[test]
fn invscaling_schedule_is_scikit_learns() {
    use gpunn::train::LrSchedule;
    let r = |a| LrSchedule::InvScaling.rate(0.1, a);
    assert_eq!(r(at(1)), 0.1, "the first epoch at the initial rate");
    for epoch in 2..=10 {
        let t = ((epoch - 1) * 100) as f64;
        let want = (0.1f32 as f64 / (t + 1.0).powf(0.5)) as f32;
        assert_eq!(r(at(epoch)), want, "epoch {epoch}");
    }
    // Epoch 2 after 100 samples: 0.1/√101.
    assert!((r(at(2)) - 0.1 / 101f32.sqrt()).abs() < 1e-9);
    let flat = gpunn::train::ScheduleAt {
        power_t: 0.0,
        ..at(5)
    };
    assert_eq!(r(flat), 0.1, "power_t 0 keeps the rate");
    assert_eq!(
        "invscaling".parse::<LrSchedule>(),
        Ok(LrSchedule::InvScaling)
    );
    // Through the command line: the flags reach the run, and a bad power_t names its flag.
    let out = crate::cli::gpunn(&[
        "train",
        "--dataset",
        "xor",
        "--lr-schedule",
        "invscaling",
        "--power-t",
        "0.25",
        "--dry-run",
    ]);
    let text = crate::cli::stdout(&out);
    assert!(
        text.contains("schedule = \"invscaling\"") && text.contains("power_t = 0.25"),
        "{text}"
    );
    let out = crate::cli::gpunn(&["train", "--dataset", "xor", "--power-t", "-1", "--dry-run"]);
    assert!(
        crate::cli::stderr(&out).contains("--power-t: must be a finite number >= 0"),
        "{}",
        crate::cli::stderr(&out)
    );
}
