//! Your own data through the binary: a CSV classification and a CSV regression end to end (with
//! the metrics JSON and pictures), circles read from CSV, an autoencoder whose bottleneck
//! features train a second network, `eval` of a scaled regression model, and a corpus of
//! broken CSV and NumPy files (`tests/data/tables/broken/`, written by its make_broken.py),
//! each failing with exit code 1 and one line naming the file and the place.

use crate::cli::{gpunn, stderr, stdout};
use crate::common::Scratch;
use std::path::{Path, PathBuf};
use std::process::Output;

fn tables(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tables")
        .join(rel)
        .display()
        .to_string()
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{:?}\nstderr:\n{}\nstdout:\n{}",
        out.status,
        stderr(out),
        stdout(out)
    );
    stdout(out)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn csv_classification_end_to_end() {
    let dir = Scratch::new("tables-cli-classify");
    let metrics = dir.join("m.json");
    let out = ok(&gpunn(&[
        "train",
        "--data",
        &tables("breast_cancer.csv"),
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--epochs",
        "15",
        "--device",
        "cpu",
        "--metrics",
        s(&metrics),
        "--plots",
        s(&dir),
    ]));
    let m = json(&metrics);
    assert_eq!(
        m["run"]["data"]["scale"], "standard",
        "tables default to standard"
    );
    assert!((m["run"]["data"]["test_split"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    assert_eq!(m["run"]["model"]["layers"], serde_json::json!([30, 32, 1]));
    let acc = m["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.93, "breast cancer test accuracy {acc}\n{out}");
    assert!(dir.join("confusion_matrix.png").exists());
}

#[test]
fn csv_regression_end_to_end() {
    let dir = Scratch::new("tables-cli-regress");
    let (metrics, model) = (dir.join("m.json"), dir.join("r.safetensors"));
    let out = ok(&gpunn(&[
        "train",
        "--data",
        &tables("diabetes.csv"),
        "--task",
        "regress",
        "--target",
        "progression",
        "--layers",
        "10,16,1",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--weight-decay",
        "0.001",
        "--epochs",
        "30",
        "--device",
        "cpu",
        "--metrics",
        s(&metrics),
        "--plots",
        s(&dir),
        "--save",
        s(&model),
    ]));
    let m = json(&metrics);
    assert_eq!(m["task"], "regress");
    let (mse, mae, r2) = (
        m["test_mse"].as_f64().unwrap(),
        m["test_mae"].as_f64().unwrap(),
        m["test_r2"].as_f64().unwrap(),
    );
    // In the target's units (disease progression, 25 to 346): a useful fit, not a perfect one.
    assert!(r2 > 0.25 && r2 < 0.8, "R² {r2}\n{out}");
    assert!(
        mae > 20.0 && mae < 70.0 && mse > mae * mae,
        "MSE {mse} MAE {mae}"
    );
    let last = m["history"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["val_mse"].as_f64().unwrap() > 100.0,
        "val MSE in units: {last}"
    );
    assert!(last["val_r2"].is_number());
    assert!(out.contains("R²"), "{out}");
    assert!(dir.join("predicted_vs_true.png").exists());
    // eval reads the scaling from the checkpoint and gives the same test figures.
    let e = ok(&gpunn(&["eval", "--model", s(&model), "--device", "cpu"]));
    // The JSON writes the f32 figure in its shortest form; eval prints the same f32.
    let want = format!("MSE {:.5}", mse as f32);
    assert!(e.contains(&want), "eval should report {want}:\n{e}");
}

#[test]
fn circles_from_csv_and_a_model_without_bias() {
    let dir = Scratch::new("tables-cli-circles");
    let metrics = dir.join("m.json");
    ok(&gpunn(&[
        "train",
        "--data",
        &tables("circles.csv"),
        "--layers",
        "2,8,1",
        "--activation",
        "tanh",
        "--epochs",
        "60",
        "--lr",
        "0.5",
        "--device",
        "cpu",
        "--metrics",
        s(&metrics),
    ]));
    let acc = json(&metrics)["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.9, "circles test accuracy {acc}");
    // Standardised circles are centred on the origin: tanh layers without bias still learn
    // them; the checkpoint says so, and every bias stays zero.
    let model = dir.join("nb.safetensors");
    ok(&gpunn(&[
        "train",
        "--data",
        &tables("circles.csv"),
        "--layers",
        "2,8,1",
        "--activation",
        "tanh",
        "--no-bias",
        "--epochs",
        "60",
        "--lr",
        "0.5",
        "--device",
        "cpu",
        "--save",
        s(&model),
    ]));
    let (params, _) = gpunn::checkpoint::load(&model).unwrap();
    assert!(!params.bias);
    assert!(params
        .layers
        .iter()
        .all(|l| l.bias.iter().all(|&b| b == 0.0)));
}

#[test]
fn autoencoder_features_train_a_second_network() {
    let dir = Scratch::new("tables-cli-features");
    let (ae, feats) = (dir.join("ae.safetensors"), dir.join("f.npz"));
    let out = ok(&gpunn(&[
        "train",
        "--dataset",
        "mnist-sample",
        "--task",
        "autoencode",
        "--layers",
        "784,64,16,64,784",
        "--optimizer",
        "adam",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--save",
        s(&ae),
        "--plots",
        s(&dir),
    ]));
    assert!(out.contains("MSE"), "{out}");
    assert!(dir.join("reconstructions.png").exists());
    ok(&gpunn(&[
        "features",
        "--model",
        s(&ae),
        "--layer",
        "2",
        "--out",
        s(&feats),
        "--device",
        "cpu",
    ]));
    let sets =
        gpunn::data::table::read(&feats, None, &[], gpunn::data::table::Task::Classify).unwrap();
    assert_eq!((sets.train.len(), sets.train.dim), (8000, 16));
    assert_eq!(sets.test.as_ref().map(|t| t.len()), Some(2000));
    let metrics = dir.join("m.json");
    ok(&gpunn(&[
        "train",
        "--data",
        s(&feats),
        "--layers",
        "16,32,10",
        "--optimizer",
        "adam",
        "--epochs",
        "5",
        "--device",
        "cpu",
        "--metrics",
        s(&metrics),
    ]));
    let acc = json(&metrics)["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.6, "a classifier on 16 bottleneck features: {acc}");
}

/// `(file, extra flags, phrases the one-line error must contain)`.
fn corpus() -> Vec<(&'static str, Vec<&'static str>, Vec<&'static str>)> {
    vec![
        (
            "ragged.csv",
            vec![],
            vec!["ragged.csv", "line 4", "2 columns", "3"],
        ),
        (
            "not_a_number.csv",
            vec![],
            vec!["line 3, column 2 ('b')", "'x7' is not a number"],
        ),
        (
            "nan_feature.csv",
            vec![],
            vec!["line 3, column 2 ('b')", "NaN is not a finite"],
        ),
        (
            "inf_feature.csv",
            vec![],
            vec!["line 3, column 1", "inf is not a finite"],
        ),
        (
            "fractional_label.csv",
            vec![],
            vec!["line 3, column 3 ('label')", "2.5", "non-negative integer"],
        ),
        (
            "negative_label.csv",
            vec![],
            vec!["line 3", "-1", "non-negative integer"],
        ),
        ("empty.csv", vec![], vec!["empty.csv", "empty file"]),
        ("header_only.csv", vec![], vec!["no data rows"]),
        (
            "good.csv",
            vec!["--target", "nope"],
            vec!["no column 'nope'", "a, b, label"],
        ),
        ("good.csv", vec!["--target", "7"], vec!["no column '7'"]),
        ("no_labels.npz", vec![], vec!["no array y_train"]),
        (
            "mismatch.npz",
            vec![],
            vec!["x_train, y_train", "10 samples", "9"],
        ),
        ("nan.npz", vec![], vec!["array x_train[3, 1]", "NaN"]),
        (
            "wrong_keys.npz",
            vec![],
            vec!["no array x_train or x", "features, targets"],
        ),
        (
            "bad_test.npz",
            vec![],
            vec!["x_test has 3 features", "x_train 2"],
        ),
        (
            "not_zip.npz",
            vec![],
            vec!["not_zip.npz", "not a readable .npz"],
        ),
        (
            "complex.npy",
            vec!["--labels", "y.npy"],
            vec!["unsupported dtype '<c8'"],
        ),
        (
            "big_endian.npy",
            vec!["--labels", "y.npy"],
            vec!["unsupported dtype '>f4'"],
        ),
        ("fortran.npy", vec!["--labels", "y.npy"], vec!["Fortran"]),
        (
            "four_d.npy",
            vec!["--labels", "y.npy"],
            vec!["2-D", "[2, 2, 2, 2]"],
        ),
        (
            "truncated.npy",
            vec!["--labels", "y.npy"],
            vec!["truncated", "80 bytes", "67"],
        ),
        (
            "huge_claim.npy",
            vec!["--labels", "y.npy"],
            vec!["huge_claim.npy", "truncated", "8000000000000 bytes"],
        ),
        ("not_npy.npy", vec!["--labels", "y.npy"], vec!["not a .npy"]),
        ("x.npy", vec![], vec!["--labels", "features only"]),
        (
            "x.npy",
            vec!["--labels", "y_short.npy"],
            vec!["y_short.npy", "10 samples", "7"],
        ),
    ]
}

#[test]
fn broken_tables_fail_with_one_clear_line() {
    let dir = tables("broken");
    for (file, extra, wants) in corpus() {
        let path = PathBuf::from(&dir).join(file);
        let labels: Vec<String> = extra
            .iter()
            .map(|a| {
                if a.ends_with(".npy") {
                    format!("{dir}/{a}")
                } else {
                    a.to_string()
                }
            })
            .collect();
        let mut args = vec![
            "train",
            "--data",
            s(&path),
            "--device",
            "cpu",
            "--epochs",
            "1",
        ];
        args.extend(labels.iter().map(|a| a.as_str()));
        let out = gpunn(&args);
        let case = format!("{file} {extra:?}");
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{case}: panicked:\n{err}");
        assert_eq!(out.status.code(), Some(1), "{case}: exit code\n{err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{case}: one line on stderr:\n{err}");
        for w in &wants {
            assert!(
                lines[0].contains(w),
                "{case}: error should mention '{w}':\n{}",
                lines[0]
            );
        }
    }
    eprintln!("{} broken tables, each a one-line error", corpus().len());
}
