//! The reference optimizer: each rule against updates worked by hand, and trajectories of
//! several steps against torch.optim (tests/data/optim/torch_trajectories.py and its output).

use gpunn::cpu::dense::DenseGrads;
use gpunn::cpu::loss::Targets;
use gpunn::cpu::net;
use gpunn::model::{Activation, Layer, Loss, Params};
use gpunn::optim::rule::{self, Moments};
use gpunn::optim::{OptimizerConfig, OptimizerKind, OptimizerState};
use gpunn::run::OptimizerSpec;

fn cfg(kind: OptimizerKind) -> OptimizerConfig {
    OptimizerConfig::of(kind)
}

/// One tensor `w` with gradient `g` through `update_tensor`, `steps` times with the same
/// gradient; returns the weights after each step.
fn run_tensor(
    c: &OptimizerConfig,
    w: &[f64],
    g: &[f64],
    lr: f64,
    steps: u64,
    is_weight: bool,
) -> Vec<Vec<f64>> {
    let n = w.len();
    let (mut w, mut vel, mut m, mut v) = (w.to_vec(), vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut out = Vec::new();
    for step in 1..=steps {
        let mut g = g.to_vec();
        let moments = Moments {
            velocity: &mut vel,
            m: &mut m,
            v: &mut v,
        };
        rule::update_tensor(c, moments, &mut w, &mut g, is_weight, lr, step);
        out.push(w.clone());
    }
    out
}

fn close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

#[test]
fn sgd_momentum_and_nesterov_by_hand() {
    // w = 1, g = 0.5, lr = 0.1, μ = 0.9.
    let plain = run_tensor(&cfg(OptimizerKind::Sgd), &[1.0], &[0.5], 0.1, 2, true);
    close("sgd", &[plain[0][0], plain[1][0]], &[0.95, 0.90], 1e-15);
    let mut c = cfg(OptimizerKind::Sgd);
    c.momentum = 0.9;
    // v1 = 0.5, w1 = 1 − 0.05 = 0.95; v2 = 0.9·0.5 + 0.5 = 0.95, w2 = 0.95 − 0.095 = 0.855.
    let m = run_tensor(&c, &[1.0], &[0.5], 0.1, 2, true);
    close("momentum", &[m[0][0], m[1][0]], &[0.95, 0.855], 1e-7);
    c.nesterov = true;
    // Step 1: v = 0.5, d = 0.5 + 0.9·0.5 = 0.95, w = 0.905. Step 2: v = 0.95,
    // d = 0.5 + 0.855 = 1.355, w = 0.905 − 0.1355 = 0.7695.
    let n = run_tensor(&c, &[1.0], &[0.5], 0.1, 2, true);
    close("nesterov", &[n[0][0], n[1][0]], &[0.905, 0.7695], 1e-7);
}

#[test]
fn adam_and_adamw_by_hand() {
    // Step 1 of Adam moves every weight by lr·sign(g) (m̂ = g, v̂ = g²), up to ε.
    let a = run_tensor(
        &cfg(OptimizerKind::Adam),
        &[1.0, -2.0],
        &[0.5, -3.0],
        0.1,
        2,
        true,
    );
    close("adam step 1", &a[0], &[0.9, -1.9], 1e-7);
    // Step 2 with the same g: m = 0.9·0.1g + 0.1g = 0.19g, m̂ = 0.19g/0.19 = g; likewise
    // v̂ = g²: again lr·sign(g).
    close("adam step 2", &a[1], &[0.8, -1.8], 1e-7);
    // AdamW, λ = 0.1: w·(1 − lr·λ) = 0.99 first, then −lr: 0.89.
    let mut c = cfg(OptimizerKind::AdamW);
    c.weight_decay = 0.1;
    close(
        "adamw",
        &run_tensor(&c, &[1.0], &[0.5], 0.1, 1, true)[0],
        &[0.89],
        1e-7,
    );
    // ... but not on a bias.
    close(
        "adamw bias",
        &run_tensor(&c, &[1.0], &[0.5], 0.1, 1, false)[0],
        &[0.9],
        1e-7,
    );
    // Adam's L2 on the gradient, g' = g + λw, decides the direction. With β1 = β2 = 0,
    // m̂ = g' and v̂ = g'², so w moves by lr·sign(g'): w = 1, g' = 0.5 + 0.1 = 0.6 → 0.9;
    // w = −10, g' = 0.5 − 1 = −0.5 → −9.9.
    let mut c = cfg(OptimizerKind::Adam);
    c.weight_decay = 0.1;
    c.beta1 = 0.0;
    c.beta2 = 0.0;
    close(
        "adam l2",
        &run_tensor(&c, &[1.0, -10.0], &[0.5, 0.5], 0.1, 1, true)[0],
        &[0.9, -9.9],
        1e-7,
    );
}

#[test]
fn weight_decay_and_clipping_by_hand() {
    // SGD with L2: g' = g + λw = 0.5 + 0.2·2 = 0.9; w = 2 − 0.1·0.9 = 1.91. Bias: no decay.
    let mut c = cfg(OptimizerKind::Sgd);
    c.weight_decay = 0.2;
    close(
        "sgd l2",
        &run_tensor(&c, &[2.0], &[0.5], 0.1, 1, true)[0],
        &[1.91],
        1e-7,
    );
    close(
        "sgd l2 bias",
        &run_tensor(&c, &[2.0], &[0.5], 0.1, 1, false)[0],
        &[1.95],
        1e-7,
    );
    // Clip by value 0.3, before the decay: g = clamp(0.5) = 0.3, + 0.2·2 → 0.7.
    c.clip_value = Some(0.3);
    close(
        "clip value",
        &run_tensor(&c, &[2.0, 0.0], &[0.5, -0.1], 0.1, 1, true)[0],
        &[1.93, 0.01],
        1e-7,
    );
    // Clip by the global norm: gradients (3, 4) and bias 0 have norm 5; c = 1 scales them by
    // 1/(5 + 1e-6).
    let mut grads = vec![DenseGrads {
        weights: vec![3.0f64, 4.0],
        bias: vec![0.0],
    }];
    assert_eq!(rule::global_norm(&grads), 5.0);
    let scale = rule::clip_scale(5.0f64, 1.0).unwrap();
    assert!((scale - 1.0 / 5.000001).abs() < 1e-15);
    assert_eq!(
        rule::clip_scale(0.5f64, 1.0),
        None,
        "below the threshold nothing is scaled"
    );
    let layer = Layer {
        inputs: 2,
        outputs: 1,
        weights: vec![0.0, 0.0],
        bias: vec![0.0],
        activation: Activation::Identity,
    };
    let mut params = Params {
        layers: vec![layer],
        loss: Loss::Mse,
        bias: true,
    };
    let mut c = cfg(OptimizerKind::Sgd);
    c.clip_norm = Some(1.0);
    let mut state = OptimizerState::new(&c, &params);
    rule::step(&c, &mut state, &mut params, &mut grads, 1.0);
    close(
        "clip norm",
        &params.layers[0].weights,
        &[-3.0 * scale, -4.0 * scale],
        1e-15,
    );
    assert_eq!(state.step, 1);
}

/// The torch trajectories file.
fn trajectories() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/optim/torch_trajectories.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn f64s(v: &serde_json::Value) -> Vec<f64> {
    match v {
        serde_json::Value::Array(a) => a.iter().flat_map(f64s).collect(),
        v => vec![v.as_f64().unwrap()],
    }
}

/// The network of the trajectories file, in f64.
fn torch_net(t: &serde_json::Value) -> Params<f64> {
    let layers = t["net"]["layers"].as_array().unwrap();
    Params {
        layers: layers
            .iter()
            .map(|l| {
                let weights = f64s(&l["weights"]);
                let bias = f64s(&l["bias"]);
                Layer {
                    inputs: weights.len() / bias.len(),
                    outputs: bias.len(),
                    weights,
                    bias,
                    activation: l["activation"].as_str().unwrap().parse().unwrap(),
                }
            })
            .collect(),
        loss: Loss::Mse,
        bias: true,
    }
}

#[test]
fn reference_matches_torch_trajectories() {
    let t = trajectories();
    let (x, y) = (f64s(&t["x"]), f64s(&t["y"]));
    let steps = t["steps"].as_u64().unwrap();
    let cases = t["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 11);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let spec: OptimizerSpec = serde_json::from_value(case["optimizer"].clone()).unwrap();
        let c = spec.resolve();
        let lr = case["lr"].as_f64().unwrap();
        let mut params = torch_net(&t);
        let mut state = OptimizerState::<f64>::new(&c, &params);
        let batch = x.len() / params.inputs();
        let mut losses = Vec::new();
        for _ in 0..steps {
            let trace = net::forward(&params, &x, batch);
            let mut grads = net::backward(&params, &trace, &Targets::Values(y.clone()));
            losses.push(grads.loss);
            rule::step(&c, &mut state, &mut params, &mut grads.layers, lr);
        }
        // The settings are f32 (β1 = 0.9 is 0.899999976...), torch's are f64: agreement to
        // about 1e-7 relative, far below what a wrong rule changes (> 1e-3 here).
        let tol = 2e-6;
        close(
            &format!("{name}: losses"),
            &losses,
            &f64s(&case["losses"]),
            tol,
        );
        for (l, want) in case["layers"].as_array().unwrap().iter().enumerate() {
            close(
                &format!("{name}: layer {l} weights"),
                &params.layers[l].weights,
                &f64s(&want["weights"]),
                tol,
            );
            close(
                &format!("{name}: layer {l} bias"),
                &params.layers[l].bias,
                &f64s(&want["bias"]),
                tol,
            );
        }
        assert_eq!(state.step, steps, "{name}");
    }
}

#[test]
fn settings_are_checked_and_name_their_field() {
    let mut c = cfg(OptimizerKind::Adam);
    c.beta1 = 1.0;
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("optimizer.beta1: "));
    let mut c = cfg(OptimizerKind::Adam);
    c.nesterov = true;
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("optimizer.nesterov: "));
    let mut c = cfg(OptimizerKind::Sgd);
    c.clip_norm = Some(-1.0);
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("optimizer.clip_norm: "));
    assert!(cfg(OptimizerKind::Sgd).is_plain_sgd());
    assert_eq!(
        cfg(OptimizerKind::AdamW).weight_decay,
        0.01,
        "torch.optim.AdamW's default"
    );
}
