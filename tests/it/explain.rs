//! The pictures of what a network learned: every new PNG at its size and not blank; the
//! decision boundary agrees with the model at the training points; PCA recovers a rank-2 set;
//! embeddings repeat for a seed; `gpunn embed` writes a map and coordinates per layer and set.

use crate::cli::{gpunn, stderr, stdout};
use crate::common::Scratch;
use crate::plots::png_stats;
use gpunn::cpu::fast::FastCpu;
use gpunn::data::scale::Scaler;
use gpunn::data::{synth, Dataset, Features};
use gpunn::engine::Engine;
use gpunn::explain::{self, pca, Method};
use gpunn::model::{Activation, Init, Loss, MlpSpec, Params};
use gpunn::plots;
use gpunn::train::{self, TrainConfig};

/// A 2-6-1 tanh network trained on circles (CPU).
fn circles_model() -> (FastCpu, Dataset) {
    let data = synth::circles(600, 0.4, 0.05, 3);
    let spec = MlpSpec::new(
        vec![2, 6, 1],
        vec![Activation::Tanh, Activation::Sigmoid],
        Loss::Bce,
    )
    .unwrap();
    let mut engine = FastCpu::with_threads(Params::init(&spec, Init::XavierUniform, 1).unwrap(), 1);
    let cfg = TrainConfig {
        steps_per_chunk: 16,
        ..TrainConfig::new(60, 16, 0.5, 2)
    };
    train::train(&mut engine, &data, None, &cfg, &mut train::Quiet).unwrap();
    (engine, data)
}

#[test]
fn the_decision_boundary_agrees_with_the_model_at_the_training_points() {
    let dir = Scratch::new("explain-boundary");
    let (mut engine, data) = circles_model();
    let field = explain::boundary_field(&mut engine, &Scaler::default(), &data, 200).unwrap();
    let preds = engine.evaluate(&data).unwrap().predictions;
    let agree = (0..data.len())
        .filter(|&i| {
            let (r, c) = field.cell(data.value(i, 0), data.value(i, 1));
            field.class(r, c) == preds[i]
        })
        .count();
    // Only points within half a grid cell of the boundary may differ.
    assert!(
        agree * 100 >= data.len() * 98,
        "{agree} of {} agree",
        data.len()
    );
    let acc = engine.evaluate(&data).unwrap().accuracy;
    assert!(acc > 0.9, "the circles model learned: {acc}");
    let points: Vec<(f32, f32, u32)> = (0..data.len())
        .map(|i| (data.value(i, 0), data.value(i, 1), data.labels[i]))
        .collect();
    let path = dir.join("b.png");
    let names = ["outer".to_string(), "inner".to_string()];
    let axes = ["x1".to_string(), "x2".to_string()];
    plots::decision_boundary(&path, &field, &points, &names, &axes, "circles").unwrap();
    let (st, _) = png_stats(&path);
    assert_eq!((st.width, st.height), (960, 820));
    assert!(
        st.colours > 50 && st.dark > 2000,
        "a field, a boundary and text: {}",
        st.colours
    );
}

#[test]
fn pca_recovers_a_rank_two_set() {
    // 300 points a·u + b·v + c in 8 dimensions.
    let (u, v): (Vec<f32>, Vec<f32>) = (0..8)
        .map(|k| ((k as f32).sin(), (k as f32 * 0.7).cos()))
        .unzip();
    let n = 300;
    let mut x = Vec::new();
    for i in 0..n {
        let (a, b) = ((i as f32 * 0.37).sin() * 3.0, (i as f32 * 0.11).cos());
        x.extend((0..8).map(|k| a * u[k] + b * v[k] + 5.0));
    }
    let (coords, share) = pca::pca_2d(&x, n, 8);
    assert!(
        share[0] + share[1] > 0.99999,
        "two components explain it all: {share:?}"
    );
    assert!(share[0] > share[1]);
    // The coordinates keep every distance of the original points.
    for (i, j) in [(0, 1), (5, 200), (17, 299)] {
        let d = |p: &[f32], q: &[f32]| {
            p.iter()
                .zip(q)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f32>()
                .sqrt()
        };
        let orig = d(&x[i * 8..i * 8 + 8], &x[j * 8..j * 8 + 8]);
        let mapped = d(&coords[i * 2..i * 2 + 2], &coords[j * 2..j * 2 + 2]);
        assert!(
            (orig - mapped).abs() < 1e-3 * orig.max(1.0),
            "{i},{j}: {orig} vs {mapped}"
        );
    }
}

#[test]
fn embeddings_repeat_for_a_seed_and_draw() {
    let dir = Scratch::new("explain-embed");
    let pixels: Vec<u8> = (0..240 * 16).map(|i| ((i * 7919) % 251) as u8).collect();
    let labels: Vec<u32> = (0..240).map(|i| (i % 3) as u32).collect();
    let data = Dataset::classes("toy", 16, Features::U8(pixels), labels, 3);
    let spec = MlpSpec::new(
        vec![16, 8, 3],
        vec![Activation::Tanh, Activation::Softmax],
        Loss::Ce,
    )
    .unwrap();
    let params = Params::init(&spec, Init::XavierUniform, 4).unwrap();
    let run = |seed: u64| {
        let sets = [("train", &data)];
        let cfg = (Method::Tsne, 120, seed);
        explain::embed(
            gpunn::gpu::DeviceKind::Cpu,
            &params,
            &sets,
            &[1, 2],
            cfg,
            &|_, _| {},
        )
        .unwrap()
    };
    let (a, b, c) = (run(5), run(5), run(6));
    assert_eq!(a.len(), 2);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            x.coords, y.coords,
            "layer {}: the same seed, the same map",
            x.layer
        );
    }
    assert_ne!(a[0].labels.len(), 0);
    assert_ne!(a[0].coords, c[0].coords, "another seed, another sample");
    // Stratified: each class keeps its share of the 120.
    let count = |k: u32| a[0].labels.iter().filter(|&&l| l == k).count();
    assert_eq!((count(0), count(1), count(2)), (40, 40, 40));
    let path = dir.join("map.png");
    let names = ["a".to_string(), "b".to_string(), "c".to_string()];
    plots::scatter_2d(&path, &a[0].coords, &a[0].labels, &names, &a[0].axes, "toy").unwrap();
    let (st, _) = png_stats(&path);
    assert_eq!((st.width, st.height), (1000, 820));
    assert!(st.colours > 10 && st.dark > 500);
}

#[test]
fn train_plots_and_embed_write_their_pictures() {
    let dir = Scratch::new("explain-cli");
    let d = |p: &str| dir.join(p).to_str().unwrap().to_string();
    let ok = |args: &[&str]| {
        let o = gpunn(args);
        assert!(
            o.status.success(),
            "{args:?}\n{}\n{}",
            stderr(&o),
            stdout(&o)
        );
    };
    ok(&[
        "train",
        "--dataset",
        "circles",
        "--layers",
        "2,5,1",
        "--activation",
        "tanh",
        "--epochs",
        "30",
        "--device",
        "cpu",
        "--plots",
        &d("c"),
    ]);
    let (st, _) = png_stats(&dir.join("c/decision_boundary.png"));
    assert_eq!((st.width, st.height), (960, 820));
    ok(&[
        "train",
        "--dataset",
        "mnist-sample",
        "--layers",
        "784,16,10",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--plots",
        &d("m"),
        "--save",
        &d("m.safetensors"),
    ]);
    let (st, _) = png_stats(&dir.join("m/predictions.png"));
    assert_eq!((st.width, st.height), (1170, 50 + 4 * (28 * 4 + 62)));
    assert!(st.dark > 5000, "digits and captions");
    ok(&[
        "embed",
        "--model",
        &d("m.safetensors"),
        "--method",
        "pca",
        "--samples",
        "300",
        "--device",
        "cpu",
        "--out",
        &d("e"),
    ]);
    for layer in [1, 2] {
        for set in ["train", "validation", "test"] {
            let (st, _) = png_stats(&dir.join(format!("e/layer{layer}_{set}.png")));
            assert!(st.colours > 10, "layer {layer} {set}");
            let csv =
                std::fs::read_to_string(dir.join(format!("e/layer{layer}_{set}.csv"))).unwrap();
            assert_eq!(csv.lines().count(), 301, "a header and 300 points");
        }
    }
}
