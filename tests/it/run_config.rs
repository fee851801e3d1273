//! The run description: defaults resolved in one place, TOML round trips, errors naming keys,
//! flags over `--config`, the run in the metrics JSON and the checkpoint, resume and eval
//! reading it back, and old checkpoints still resuming.

use crate::cli::{gpunn, stderr, stdout, temp_file};
use crate::common::Scratch;
use gpunn::checkpoint::{self, ModelMeta};
use gpunn::model::{Activation, Init, Loss};
use gpunn::run::{Resumed, Run, RunSpec};
use gpunn::train::LrSchedule;

fn resolve(toml: &str) -> Run {
    let spec = RunSpec::from_toml_str(toml).unwrap();
    let data = spec.load_data().unwrap();
    spec.resolve(&data).unwrap()
}

#[test]
fn image_defaults_are_the_clis() {
    let run = resolve("[data]\ndataset = \"mnist-sample\"\n");
    assert_eq!(run.model.layers, [784, 128, 64, 10]);
    use Activation::{Relu, Softmax};
    assert_eq!(run.model.activations, [Relu, Relu, Softmax]);
    assert_eq!(run.model.loss, Loss::Ce);
    assert_eq!(run.model.init, Init::HeNormal);
    assert_eq!(
        (run.train.epochs, run.train.batch_size, run.train.lr),
        (10, 32, 0.1)
    );
    assert_eq!(run.train.schedule, LrSchedule::Cosine);
    assert_eq!((run.seed, run.data.val_split), (42, 0.1));
}

#[test]
fn binary_digits_get_one_sigmoid_output_and_bce() {
    let run = resolve("[data]\ndataset = \"mnist-sample\"\ndigits = [3, 6]\n");
    assert_eq!(run.model.layers, [784, 128, 64, 1]);
    assert_eq!(run.model.loss, Loss::Bce);
    assert_eq!(run.model.activations.last(), Some(&Activation::Sigmoid));
}

#[test]
fn synthetic_defaults_and_tanh_picks_xavier() {
    let run = resolve("[data]\ndataset = \"circles\"\n[model]\nactivations = [\"tanh\"]\n");
    assert_eq!(run.model.layers, [2, 8, 1]);
    assert_eq!(run.model.init, Init::XavierUniform);
    assert_eq!(
        (run.train.epochs, run.train.lr, run.train.schedule),
        (100, 0.5, LrSchedule::Constant)
    );
    assert_eq!(run.data.samples, Some(1000));
    // xor has 4 samples: no validation split by default.
    assert_eq!(resolve("[data]\ndataset = \"xor\"\n").data.val_split, 0.0);
}

#[test]
fn resolved_toml_reads_back_as_the_same_run() {
    for toml in [
        "[data]\ndataset = \"mnist-sample\"\ndigits = [3, 6]\n[train]\nearly_stopping = 2\n",
        "[data]\ndataset = \"xor\"\n[train]\nvalidate_every = 4\n",
        "seed = 7\n[data]\ndataset = \"circles\"\nnoise = 0.1\n[model]\nlayers = [2, 5, 1]\ninit = \"normal:0.2\"\n",
    ] {
        let run = resolve(toml);
        let text = run.to_toml();
        assert_eq!(Run::from_toml_str(&text).unwrap(), run, "{text}");
        assert_eq!(resolve(&text), run, "{text}");
        assert_eq!(run.to_spec().to_toml(), text);
    }
}

#[test]
fn library_errors_name_fields() {
    let spec = RunSpec::from_toml_str("[train]\nlr = -1.0\n[data]\ndataset = \"xor\"\n").unwrap();
    let err = spec.resolve(&spec.load_data().unwrap()).unwrap_err();
    assert!(err.to_string().starts_with("train.lr: "), "{err}");
    let err = RunSpec::from_toml_str("[model]\nlayers = [2, \"x\"]\n").unwrap_err();
    assert!(err.to_string().starts_with("model.layers"), "{err}");
    let spec =
        RunSpec::from_toml_str("[train]\nvalidate_every = 0\n[data]\ndataset = \"xor\"\n").unwrap();
    let err = spec.resolve(&spec.load_data().unwrap()).unwrap_err();
    assert!(
        err.to_string().starts_with("train.validate_every: "),
        "{err}"
    );
    // Descriptions written before the key existed validate every epoch.
    assert_eq!(
        resolve("[data]\ndataset = \"xor\"\n").train.validate_every,
        1
    );
}

#[test]
fn bad_config_files_name_the_file_and_key() {
    let cases = [
        (
            "seed = 1\n[train]\nlr = \"fast\"\n",
            "train.lr: invalid type",
        ),
        (
            "[train]\nlearning_rate = 0.1\n",
            "train.learning_rate: unknown field",
        ),
        ("colour = \"red\"\n", "colour: unknown field"),
        (
            "[model]\nloss = \"hinge\"\n",
            "model.loss: unknown loss 'hinge'",
        ),
        (
            "[model]\nactivations = \"relu\"\n",
            "model.activations: invalid type",
        ),
        ("[data\n", "line 1:"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let path = temp_file("run_config_bad", &format!("bad{i}.toml"), text);
        let out = gpunn(&["train", "--config", path.to_str().unwrap(), "--dry-run"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{text}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("{}: {want}", path.display())),
            "{text}: {err}"
        );
    }
    // A value that parses but does not make a run names the flag on the command line.
    let out = gpunn(&[
        "train",
        "--dataset",
        "xor",
        "--batch-size",
        "0",
        "--dry-run",
    ]);
    assert!(
        stderr(&out).contains("--batch-size: must be at least 1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn dry_run_prints_the_run_and_flags_override_the_config() {
    let dir = Scratch::new("run_config_overlay");
    let config = dir.join("run.toml");
    std::fs::write(
        &config,
        "[data]\ndataset = \"circles\"\n[train]\nlr = 0.3\nepochs = 7\n",
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let out = gpunn(&["train", "--config", c, "--epochs", "3", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = Run::from_toml_str(&stdout(&out)).unwrap();
    assert_eq!((run.train.lr, run.train.epochs), (0.3, 3));
    assert_eq!(run.data.dataset.as_deref(), Some("circles"));
    // Nothing but the TOML on standard output; the note goes to standard error.
    assert!(stderr(&out).contains("nothing is trained"));
}

#[test]
fn metrics_and_checkpoint_record_the_run_and_resume_reads_it() {
    let dir = Scratch::new("run_config_record");
    let (m, ck) = (dir.join("m.json"), dir.join("model.safetensors"));
    let args = [
        "train",
        "--dataset",
        "circles",
        "--samples",
        "200",
        "--layers",
        "2,5,1",
        "--epochs",
        "2",
        "--device",
        "cpu",
    ];
    let dry = gpunn(&[&args[..], &["--dry-run"]].concat());
    let want = Run::from_toml_str(&stdout(&dry)).unwrap();
    let extra = [
        "--metrics",
        m.to_str().unwrap(),
        "--save",
        ck.to_str().unwrap(),
    ];
    let out = gpunn(&[&args[..], &extra[..]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&m).unwrap()).unwrap();
    let in_metrics: Run = serde_json::from_value(v["run"].clone()).unwrap();
    assert_eq!(in_metrics, want);
    let resumed = Resumed::load(&ck).unwrap();
    assert_eq!(resumed.spec, want.to_spec());
    assert_eq!(resumed.history.len(), 2);
    assert_eq!(resumed.next_epoch(), 3);
    // --resume continues that run: same data (200 circles), epochs 3 and 4.
    let out = gpunn(&[
        "train",
        "--resume",
        ck.to_str().unwrap(),
        "--epochs",
        "4",
        "--device",
        "cpu",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("resuming after epoch 2") && text.contains("epoch   4/4"),
        "{text}"
    );
    assert!(text.contains("circles (200 samples)"), "{text}");
    assert_eq!(Resumed::load(&ck).unwrap().history.len(), 4);
    // eval finds the model's data in the run.
    let out = gpunn(&["eval", "--model", ck.to_str().unwrap(), "--device", "cpu"]);
    assert!(
        stdout(&out).contains("on circles (200 samples"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn a_checkpoint_from_before_run_descriptions_still_resumes() {
    let dir = Scratch::new("run_config_legacy");
    let ck = dir.join("old.safetensors");
    let spec = gpunn::model::MlpSpec::new(
        vec![2, 4, 1],
        vec![Activation::Tanh, Activation::Sigmoid],
        Loss::Bce,
    )
    .unwrap();
    let params = gpunn::model::Params::init(&spec, Init::XavierUniform, 3).unwrap();
    let state = r#"{"dataset":"circles","data":null,"digits":null,"seed":5,"lr":0.2,"schedule":"constant","batch_size":16,"val_split":0.1,"early_stopping":null,"samples":300,"factor":0.4,"noise":0.05,"epochs":2,"history":[{"epoch":1,"train_loss":0.7,"train_accuracy":0.5,"val_loss":0.69,"val_accuracy":0.5,"seconds":0.1,"samples_per_sec":100.0}]}"#;
    let meta = ModelMeta {
        input_shape: vec![2],
        classes: 2,
        dataset: "circles".into(),
        epoch: 1,
        extra: [("run_state".to_string(), state.to_string())].into(),
    };
    checkpoint::save(&ck, &params, &meta).unwrap();
    let r = Resumed::load(&ck).unwrap();
    assert_eq!(r.spec.seed, Some(5));
    assert_eq!(r.spec.train.batch_size, Some(16));
    assert_eq!(r.spec.data.samples, Some(300));
    assert_eq!(r.next_epoch(), 2);
    let out = gpunn(&["train", "--resume", ck.to_str().unwrap(), "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("epoch   2/2"), "{}", stdout(&out));
}

/// Settings read in every output as the user wrote them: `--metrics` JSON and a sweep's
/// `results.json` write lr 0.1, β1 0.9 and ε 1e-8, not their f32 values widened to f64
/// (0.10000000149011612, 0.8999999761581421, 9.99999993922529e-09).
#[test]
fn outputs_write_settings_as_written() {
    let dir = Scratch::new("run_config_as_written");
    let m = dir.join("m.json");
    let common = [
        "--dataset",
        "xor",
        "--epochs",
        "1",
        "--optimizer",
        "adam",
        "--device",
        "cpu",
    ];
    let out = gpunn(
        &[
            &["train", "--lr", "0.1", "--metrics", m.to_str().unwrap()],
            &common[..],
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let sw = dir.join("sweep");
    let out = gpunn(
        &[
            &["sweep", "--lr", "0.1,0.3", "--out", sw.to_str().unwrap()],
            &common[..],
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for path in [m, sw.join("results.json")] {
        let text = std::fs::read_to_string(&path).unwrap();
        for widened in [
            "0.10000000149011612",
            "0.8999999761581421",
            "9.99999993922529e-09",
        ] {
            assert!(
                !text.contains(widened),
                "{}: {widened}\n{text}",
                path.display()
            );
        }
        for written in ["\"lr\": 0.1", "\"beta1\": 0.9", "\"eps\": 1e-8"] {
            assert!(
                text.contains(written),
                "{}: no {written}\n{text}",
                path.display()
            );
        }
    }
}
