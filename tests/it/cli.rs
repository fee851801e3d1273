//! The real binary, run as a user would: `gpunn step` and `gpunn train`.

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn gpunn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gpunn"))
        .args(args)
        .output()
        .expect("run gpunn")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A file with `text` in a fresh temp directory of this test, removed with the directory
/// when the value is dropped (kept when the test fails, to look at).
pub fn temp_file(test: &str, name: &str, text: &str) -> TempPath {
    let dir = crate::common::Scratch::new(test);
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    TempPath { path, _dir: dir }
}

/// A path in a test's scratch directory, which lives as long as this value.
pub struct TempPath {
    path: PathBuf,
    _dir: crate::common::Scratch,
}

impl std::ops::Deref for TempPath {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.path
    }
}

pub const NET_ONES: &str = r#"{"layers": [{"weights": [[1,1],[1,1],[1,1]], "bias": [1,1,1], "activation": "sigmoid"}, {"weights": [[1,1,1]], "bias": [1], "activation": "sigmoid"}]}"#;

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().expect("number")
}

/// `gpunn step --json` on the worked input (1,0) → target 1, lr 0.1, half-mse, with `net` on
/// `device`; the one JSON object it prints.
pub fn step_json(device: &str, net: &str, test: &str) -> serde_json::Value {
    let path = temp_file(test, "net.json", net);
    let o = gpunn(&[
        "step",
        "--net",
        path.to_str().unwrap(),
        "--input",
        "1,0",
        "--target",
        "1",
        "--lr",
        "0.1",
        "--loss",
        "half-mse",
        "--json",
        "--device",
        device,
    ]);
    assert!(
        o.status.success(),
        "gpunn step --device {device}: {}",
        stderr(&o)
    );
    serde_json::from_str(stdout(&o).trim()).expect("stdout is one JSON object")
}

#[test]
fn step_json_is_one_object_with_the_worked_numbers() {
    let v = step_json("cpu", NET_ONES, "step_json");
    assert!((f(&v["loss"]) - 0.00032567).abs() < 1e-8);
    assert!((f(&v["output"][0][0]) - 0.974479).abs() < 1e-6);
    assert_eq!(v["grad_input"][0].as_array().unwrap().len(), 2);
    let out = &v["layers"][1];
    assert!((f(&out["weights"][0][2]) - 1.0000559).abs() < 1e-7);
    assert!((f(&out["bias"][0]) - 1.0000635).abs() < 2e-7);
    assert!((f(&v["layers"][0]["weights"][1][0]) - 1.0000067).abs() < 1e-7);
    assert_eq!(f(&v["layers"][0]["weights"][1][1]), 1.0);
    assert!(f(&out["grad_bias"][0]) < 0.0);
}

#[test]
fn step_batch_and_ce() {
    let net = temp_file(
        "step_ce",
        "net.json",
        r#"{"layers": [{"weights": [[0.1,0.2],[0.3,-0.4]], "bias": [0,0.1], "activation": "tanh"}, {"weights": [[1,0],[0,1],[0.5,0.5]], "bias": [0,0,0], "activation": "softmax"}]}"#,
    );
    let o = gpunn(&[
        "step",
        "--net",
        net.to_str().unwrap(),
        "--input",
        "1,0;0,1",
        "--target",
        "2;0",
        "--loss",
        "ce",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["output"].as_array().unwrap().len(), 2);
    let p: f64 = v["output"][0].as_array().unwrap().iter().map(f).sum();
    assert!((p - 1.0).abs() < 1e-6, "softmax rows sum to 1, got {p}");
}

#[test]
fn step_table_shows_every_parameter() {
    let net = temp_file("step_table", "net.json", NET_ONES);
    let o = gpunn(&[
        "step",
        "--net",
        net.to_str().unwrap(),
        "--input",
        "1,0",
        "--target",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    for want in [
        "0.9744787",
        "0.00032567",
        "L2 w[1][3]",
        "1.0000559",
        "L1 b[3]",
        "1.0000067",
    ] {
        assert!(s.contains(want), "table lacks {want}:\n{s}");
    }
}

#[test]
fn bad_net_files_fail_with_a_message() {
    let cases = [
        ("invalid_json", "{", "invalid JSON"),
        ("no_layers_field", "{}", "missing field \"layers\""),
        ("empty_layers", r#"{"layers": []}"#, "no layers"),
        (
            "not_chaining",
            r#"{"layers": [{"weights": [[1,1],[1,1]], "bias": [0,0], "activation": "relu"}, {"weights": [[1,1,1]], "bias": [0], "activation": "sigmoid"}]}"#,
            "layer 2: shapes don't chain",
        ),
        (
            "bias_len",
            r#"{"layers": [{"weights": [[1,1]], "bias": [0,0], "activation": "sigmoid"}]}"#,
            "layer 1: bias has 2 values",
        ),
        (
            "ragged",
            r#"{"layers": [{"weights": [[1,1],[1]], "bias": [0,0], "activation": "sigmoid"}]}"#,
            "layer 1: ragged weights",
        ),
        (
            "unknown_act",
            r#"{"layers": [{"weights": [[1,1]], "bias": [0], "activation": "swish"}]}"#,
            "layer 1: unknown activation 'swish'",
        ),
        (
            "not_number",
            r#"{"layers": [{"weights": [[1,"x"]], "bias": [0], "activation": "sigmoid"}]}"#,
            "layer 1: weights row 1: value 2 is not a number",
        ),
        (
            "missing_bias",
            r#"{"layers": [{"weights": [[1,1]], "activation": "sigmoid"}]}"#,
            "layer 1: missing field \"bias\"",
        ),
        (
            "missing_act",
            r#"{"layers": [{"weights": [[1,1]], "bias": [0]}]}"#,
            "layer 1: missing field \"activation\"",
        ),
    ];
    for (name, text, want) in cases {
        let net = temp_file("bad_net", &format!("{name}.json"), text);
        let o = gpunn(&[
            "step",
            "--net",
            net.to_str().unwrap(),
            "--input",
            "1,0",
            "--target",
            "1",
        ]);
        let err = stderr(&o);
        assert!(!o.status.success(), "{name}: exit 0");
        assert_eq!(
            o.status.code(),
            Some(1),
            "{name}: not a clean error exit:\n{err}"
        );
        assert!(err.contains(want), "{name}: stderr lacks '{want}':\n{err}");
        assert!(
            err.contains(&format!("{name}.json")),
            "{name}: stderr does not name the file:\n{err}"
        );
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{name}: not one line:\n{err}"
        );
        assert!(!err.contains("panicked"), "{name}: panicked");
    }
}

#[test]
fn bad_step_values_fail_with_a_message() {
    let net = temp_file("bad_step", "net.json", NET_ONES);
    let net = net.to_str().unwrap();
    for (args, want) in [
        (
            vec!["--input", "1", "--target", "1"],
            "--input: sample 1 has 1 values, expected 2",
        ),
        (
            vec!["--input", "1,x", "--target", "1"],
            "--input: sample 1: 'x' is not a number",
        ),
        (
            vec!["--input", "1,0;0,1", "--target", "1"],
            "--target: 1 samples but --input has 2",
        ),
        (
            vec!["--input", "1,0", "--target", "1", "--loss", "hinge"],
            "--loss: unknown loss 'hinge'",
        ),
    ] {
        let mut a = vec!["step", "--net", net];
        a.extend(args);
        let o = gpunn(&a);
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains(want),
            "stderr lacks '{want}': {}",
            stderr(&o)
        );
    }
}

#[test]
fn train_xor_prints_epochs_and_reaches_full_accuracy() {
    let o = gpunn(&[
        "train",
        "--dataset",
        "xor",
        "--layers",
        "2,4,1",
        "--activation",
        "sigmoid",
        "--loss",
        "mse",
        "--lr",
        "2",
        "--batch-size",
        "4",
        "--epochs",
        "3000",
        "--device",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.lines().filter(|l| l.starts_with("epoch")).count() == 3000);
    let test = s
        .lines()
        .find(|l| l.starts_with("test:"))
        .expect("a test line");
    assert!(test.contains("accuracy 100.00%"), "{test}");
}

/// `gpunn step` with an optimizer and several steps: Adam's first step moves every weight with
/// a gradient by lr (m̂/√v̂ = ±1), the JSON has every step's loss, the table every step's state,
/// and the GPU gives the same numbers.
#[test]
fn step_with_adam_over_several_steps() {
    let net = temp_file("step_adam", "net.json", NET_ONES);
    let n = net.to_str().unwrap();
    let args = |device: &'static str, json: bool| {
        let mut a = vec![
            "step",
            "--net",
            n,
            "--input",
            "1,0",
            "--target",
            "1",
            "--loss",
            "half-mse",
            "--optimizer",
            "adam",
            "--lr",
            "0.1",
            "--steps",
            "3",
            "--device",
            device,
        ];
        if json {
            a.push("--json");
        }
        a
    };
    let o = gpunn(&args("cpu", true));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let losses: Vec<f64> = v["losses"].as_array().unwrap().iter().map(f).collect();
    assert_eq!(losses.len(), 3);
    assert!((losses[0] - 0.00032566782).abs() < 1e-10, "{losses:?}");
    assert!(losses[2] < losses[1] && losses[1] < losses[0], "{losses:?}");
    // The first step's gradients, as with SGD.
    assert!((f(&v["layers"][1]["grad_bias"][0]) + 0.00063471275).abs() < 1e-9);
    // x2 = 0: those weights have no gradient and never move.
    assert_eq!(f(&v["layers"][0]["weights"][0][1]), 1.0);
    // Step 1 alone: w += lr (the sign of −g), up to ε.
    let one = gpunn(&[&args("cpu", true)[..13], &["--steps", "1", "--json"]].concat());
    let v1: serde_json::Value = serde_json::from_str(stdout(&one).trim()).unwrap();
    assert!((f(&v1["layers"][1]["bias"][0]) - 1.1).abs() < 1e-5, "{v1}");
    // The table shows each step with Adam's moments.
    let t = stdout(&gpunn(&args("cpu", false)));
    for want in ["Step 3 of 3", "m_hat", "v_hat", "step count t = 3"] {
        assert!(t.contains(want), "table lacks {want}:\n{t}");
    }
    if crate::common::gpu_or_skip("step_with_adam_over_several_steps").is_some() {
        let g = gpunn(&args("software", true));
        assert!(g.status.success(), "{}", stderr(&g));
        let vg: serde_json::Value = serde_json::from_str(stdout(&g).trim()).unwrap();
        let flat = |v: &serde_json::Value| -> Vec<f32> {
            let mut out = Vec::new();
            for l in v["layers"].as_array().unwrap() {
                for row in l["weights"].as_array().unwrap() {
                    out.extend(row.as_array().unwrap().iter().map(|x| f(x) as f32));
                }
                out.extend(l["bias"].as_array().unwrap().iter().map(|x| f(x) as f32));
            }
            out
        };
        crate::common::assert_close("step adam gpu vs cpu", &flat(&vg), &flat(&v), 1e-4, 1e-4);
    }
}

/// Opening devices prints nothing the user did not cause, without XDG_RUNTIME_DIR or with it
/// empty: the library gives the process one (the window-system libraries the Vulkan and EGL
/// drivers load would print `error: XDG_RUNTIME_DIR is invalid or not set` otherwise). The
/// binary itself no longer sets it, so this is the library's doing.
#[test]
fn opening_devices_without_xdg_runtime_dir_is_quiet() {
    for value in [None, Some("")] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gpunn"));
        c.arg("devices");
        match value {
            None => c.env_remove("XDG_RUNTIME_DIR"),
            Some(v) => c.env("XDG_RUNTIME_DIR", v),
        };
        let o = c.output().expect("run gpunn");
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            !stderr(&o).contains("XDG_RUNTIME_DIR"),
            "XDG_RUNTIME_DIR {value:?}: {}",
            stderr(&o)
        );
    }
}

/// Output into a closed pipe (`gpunn train | head -2`) ends the program quietly, as grep's
/// does: no panic, no exit status 101.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_the_program_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let mut child = Command::new(env!("CARGO_BIN_EXE_gpunn"))
        .args([
            "train",
            "--dataset",
            "xor",
            "--epochs",
            "2000",
            "--device",
            "cpu",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run gpunn");
    // Closed before the program has printed its first line.
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(o.status.code(), Some(101), "{err}");
    assert_eq!(
        o.status.signal(),
        Some(13),
        "ended by SIGPIPE: {:?} {err}",
        o.status
    );
}

/// `train --help` states the defaults of every kind of data and names every picture; `gpu` is
/// no device name; the dataset error lists the synthetic sets; eval trains nothing.
#[test]
fn help_and_messages_say_what_happens() {
    let help = stdout(&gpunn(&["train", "--help"]));
    for want in [
        "100 for the synthetic sets and\n          tables",
        "constant for the synthetic sets and tables",
        "decision_boundary.png",
        "predictions.png",
        "predicted_vs_true.png",
        "reconstructions.png",
    ] {
        let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat(&help).contains(&flat(want)),
            "train --help lacks '{want}':\n{help}"
        );
    }
    let o = gpunn(&["train", "--dataset", "xor", "--device", "gpu"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown device 'gpu'") && stderr(&o).contains("vulkan"));
    let o = gpunn(&["train", "--dataset", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    for name in ["mnist-sample", "xor", "linear", "circles"] {
        assert!(stderr(&o).contains(name), "{}", stderr(&o));
    }
    // eval on the default device (auto): without a hardware GPU it says where it runs.
    let dir = crate::common::Scratch::new("cli_help_messages");
    let model = dir.join("xor.safetensors");
    let model = model.to_str().unwrap();
    let o = gpunn(&[
        "train",
        "--dataset",
        "xor",
        "--epochs",
        "1",
        "--save",
        model,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = gpunn(&["eval", "--model", model, "--device", "auto"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("training on"), "{}", stderr(&o));
}
