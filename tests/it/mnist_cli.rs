//! MNIST end to end through the real binary: train on the bundled sample with metrics, a
//! checkpoint and plots; eval and predict with the saved model; CPU and GPU agree.

use crate::cli::{gpunn, stderr, stdout};
use crate::common::gpu_or_skip;
use std::path::{Path, PathBuf};

fn scratch(test: &str) -> crate::common::Scratch {
    crate::common::Scratch::new(&format!("mnist-{test}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Trains the default network on the bundled sample and returns the parsed metrics JSON.
fn train(device: &str, dir: &Path, epochs: &str) -> serde_json::Value {
    let metrics = dir.join(format!("metrics-{device}.json"));
    let model = dir.join(format!("model-{device}.safetensors"));
    let plots = dir.join(format!("plots-{device}"));
    let o = gpunn(&[
        "train",
        "--dataset",
        "mnist-sample",
        "--epochs",
        epochs,
        "--device",
        device,
        "--metrics",
        s(&metrics),
        "--save",
        s(&model),
        "--plots",
        s(&plots),
    ]);
    assert!(
        o.status.success(),
        "train --device {device}: {}",
        stderr(&o)
    );
    let out = stdout(&o);
    assert!(out.contains("784-128-64-10"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("test: loss")), "{out}");
    for png in ["learning_curves.png", "confusion_matrix.png"] {
        let img = image::open(plots.join(png)).unwrap_or_else(|e| panic!("{png}: {e}"));
        assert!(img.width() > 400 && img.height() > 300);
    }
    serde_json::from_str(&std::fs::read_to_string(&metrics).unwrap()).unwrap()
}

fn check_metrics(m: &serde_json::Value, epochs: usize) {
    let history = m["history"].as_array().unwrap();
    assert_eq!(history.len(), epochs);
    for key in [
        "epoch",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "seconds",
    ] {
        assert!(
            history[0].get(key).is_some_and(|v| !v.is_null()),
            "history lacks {key}: {}",
            history[0]
        );
    }
    let cm = m["confusion_matrix"].as_array().unwrap();
    assert_eq!(cm.len(), 10);
    let total: u64 = cm
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        total, 2000,
        "the confusion matrix counts the 2000 test samples"
    );
    // Rows are the true class: each row sums to that class's test count (class 1 has 225).
    let row1: u64 = cm[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(row1, 225);
    let diag: u64 = (0..10).map(|i| cm[i][i].as_u64().unwrap()).sum();
    let acc = m["test_accuracy"].as_f64().unwrap();
    assert!(
        (acc - diag as f64 / 2000.0).abs() < 1e-6,
        "accuracy {acc} vs diagonal {diag}"
    );
    assert!(m["test_loss"].as_f64().unwrap() > 0.0);
}

/// Writes test digit `i` of the sample as a dark-on-light 3x upscaled RGB PNG, as a person's
/// scan might be; returns its path and label.
fn digit_png(dir: &Path, i: usize) -> (PathBuf, u32) {
    let (_, test) = gpunn::data::mnist::load_named("mnist-sample").unwrap();
    let gpunn::data::Features::U8(px) = &test.features else {
        panic!("u8 pixels")
    };
    let img = image::RgbImage::from_fn(84, 84, |x, y| {
        let v = 255 - px[i * 784 + (y / 3) as usize * 28 + (x / 3) as usize];
        image::Rgb([v, v, v])
    });
    let path = dir.join(format!("digit-{i}.png"));
    img.save(&path).unwrap();
    (path, test.labels[i])
}

#[test]
fn train_eval_predict_on_the_bundled_sample() {
    let dir = scratch("mnist_e2e");
    let m = train("cpu", &dir, "2");
    check_metrics(&m, 2);
    let acc = m["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.85, "2 epochs on the sample reach {acc}");

    let model = dir.join("model-cpu.safetensors");
    let o = gpunn(&["eval", "--model", s(&model), "--device", "cpu"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for want in [
        "accuracy",
        "confusion matrix",
        "precision",
        "recall",
        "f1-score",
        "macro avg",
    ] {
        assert!(out.contains(want), "eval output lacks {want}:\n{out}");
    }
    assert!(
        out.contains(&format!("{:.2}%", 100.0 * acc)),
        "eval accuracy differs from training's {acc}:\n{out}"
    );

    let (files, labels): (Vec<PathBuf>, Vec<u32>) =
        (0..40).map(|i| digit_png(&dir, i * 47)).unzip();
    let mut args = vec!["predict", "--model", s(&model), "--json"];
    args.extend(files.iter().map(|p| s(p)));
    let o = gpunn(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), files.len());
    let mut right = 0;
    for (v, label) in lines.iter().zip(&labels) {
        let p: Vec<f64> = v["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(p.len(), 10);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4);
        right += usize::from(v["class"].as_u64().unwrap() as u32 == *label);
    }
    // The model is ~88% right on the raw test digits; a broken pipeline (no inversion, no
    // centring, wrong scale) lands near chance.
    println!(
        "predict: {right} of {} scanned test digits right",
        files.len()
    );
    assert!(
        right >= 30,
        "predict got {right} of {} scanned test digits",
        files.len()
    );
}

/// The two engines reach the same test accuracy within a point on the bundled sample.
#[test]
fn cpu_and_gpu_agree_on_the_bundled_sample() {
    if gpu_or_skip("cpu_and_gpu_agree_on_the_bundled_sample").is_none() {
        return;
    }
    let device = std::env::var("GPUNN_TEST_DEVICE").unwrap_or_else(|_| "software".into());
    let dir = scratch("mnist_cpu_gpu");
    let cpu = train("cpu", &dir, "1")["test_accuracy"].as_f64().unwrap();
    let gpu = train(&device, &dir, "1")["test_accuracy"].as_f64().unwrap();
    assert!(
        (cpu - gpu).abs() <= 0.01,
        "test accuracy: cpu {cpu}, {device} {gpu}"
    );
}

#[test]
fn binary_digits_task() {
    let dir = scratch("mnist_digits");
    let metrics = dir.join("m.json");
    let o = gpunn(&[
        "train",
        "--dataset",
        "mnist-sample",
        "--digits",
        "3,6",
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--metrics",
        s(&metrics),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("784-128-64-1"), "{}", stdout(&o));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&metrics).unwrap()).unwrap();
    assert_eq!(m["confusion_matrix"].as_array().unwrap().len(), 2);
    assert!(
        m["test_accuracy"].as_f64().unwrap() > 0.95,
        "{}",
        m["test_accuracy"]
    );
}
