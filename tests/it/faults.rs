//! Faults, through the real binary: every kind of broken input ends in exit code 1 (never 101,
//! a panic) with one line on stderr naming the file or flag and the problem; a diverging run
//! stops with its epoch and step and keeps its last good checkpoint; `--resume` reproduces an
//! uninterrupted run bit for bit; a run killed while it saves leaves a loadable checkpoint; and
//! GPU faults (no driver, a buffer beyond the limits, a wait that times out) are errors or
//! announced fallbacks, not hangs.
//!
//! The corpora are files: `tests/data/idx/` (IDX, see its README) and
//! `tests/data/checkpoints/` (safetensors, see its README). Each test prints how many broken
//! inputs it covered.

use crate::cli::{gpunn, stderr, stdout, NET_ONES};
use crate::common::gpu_or_skip;
use gpunn::checkpoint;
use gpunn::data::idx;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

// ------------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------------

/// This module's scratch directories.
struct Scratch(crate::common::Scratch);

impl Scratch {
    fn new(test: &str) -> Self {
        Scratch(crate::common::Scratch::new(&format!("faults-{test}")))
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// Runs gpunn with extra environment variables, killing it (and failing) after `limit`: a
/// fault must end the process, never hang it.
fn gpunn_env(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_gpunn"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gpunn");
    // Drain both pipes while waiting, so a chatty child cannot block on a full pipe.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gpunn {args:?} did not finish within {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Asserts a clean failure: exit code 1 (not 101, a panic, nor a signal), no panic text, and
/// stderr exactly one line, `error: ...`, containing every phrase of `wants`. Returns the line.
#[track_caller]
fn expect_error(case: &str, out: &Output, wants: &[&str]) -> String {
    let err = stderr(out);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{case}: gpunn panicked:\n{err}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{case}: want exit code 1, got {:?}; stderr:\n{err}\nstdout:\n{}",
        out.status,
        stdout(out)
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "{case}: stderr should be one line, got {}:\n{err}",
        lines.len()
    );
    let line = lines[0];
    assert!(line.starts_with("error: "), "{case}: {line}");
    for want in wants {
        assert!(
            line.contains(want),
            "{case}: error should mention '{want}':\n{line}"
        );
    }
    eprintln!("{case}: {line}");
    line.to_string()
}

#[track_caller]
fn expect_ok(case: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{case}: {:?}\nstderr:\n{}\nstdout:\n{}",
        out.status,
        stderr(out),
        stdout(out)
    );
}

/// The device the GPU tests run on: as `gpu_or_skip` (`GPUNN_TEST_DEVICE`, else software).
fn test_device() -> String {
    std::env::var("GPUNN_TEST_DEVICE").unwrap_or_else(|_| "software".into())
}

// ------------------------------------------------------------------------------------------------
// IDX files through `gpunn train --data`
// ------------------------------------------------------------------------------------------------

/// The file of each slot in `tests/data/idx/tiny/` (which uses every accepted spelling).
const TINY_FILES: [(&str, &str); 4] = [
    (idx::TRAIN_IMAGES, "train-images-idx3-ubyte.gz"),
    (idx::TRAIN_LABELS, "train-labels-idx1-ubyte"),
    (idx::TEST_IMAGES, "t10k-images.idx3-ubyte"),
    (idx::TEST_LABELS, "t10k-labels.idx1-ubyte.gz"),
];

/// Copies `tiny/` into `dir`, then puts each `(slot, fixture)` of `replace` in place of that
/// slot's file (named `slot`, plus `.gz` when the fixture has it). Returns the placed paths.
fn mnist_dir(dir: &Path, replace: &[(&str, &str)]) -> Vec<PathBuf> {
    fs::create_dir_all(dir).unwrap();
    for (_, name) in TINY_FILES {
        fs::copy(data("idx/tiny").join(name), dir.join(name)).unwrap();
    }
    replace
        .iter()
        .map(|&(slot, fixture)| {
            let (_, old) = TINY_FILES.iter().find(|(s, _)| *s == slot).unwrap();
            fs::remove_file(dir.join(old)).unwrap();
            let gz = if fixture.ends_with(".gz") { ".gz" } else { "" };
            let placed = dir.join(format!("{slot}{gz}"));
            fs::copy(data("idx").join(fixture), &placed).unwrap();
            placed
        })
        .collect()
}

/// The file names in `tests/data/<dir>`.
fn fixture_names(dir: &str) -> Vec<String> {
    fs::read_dir(data(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn train_on(dir: &Path) -> Output {
    gpunn(&[
        "train",
        "--data",
        s(dir),
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--layers",
        "6,4,3",
    ])
}

#[test]
fn faults_idx_corpus_through_train() {
    use idx::{TEST_IMAGES as TEI, TEST_LABELS as TEL, TRAIN_IMAGES as TRI, TRAIN_LABELS as TRL};
    let root = Scratch::new("idx");
    // The untouched copy trains: the failures below are the fixtures' doing.
    let good = root.join("good");
    mnist_dir(&good, &[]);
    expect_ok("tiny", &train_on(&good));

    // (fixture, slot, phrases); the phrases are README.md's. Some go into the test-set slots,
    // which are read after the training set.
    let cases: [(&str, &str, &[&str]); 26] = [
        (
            "images-magic-labels-idx3-ubyte",
            TRI,
            &["wrong magic number 2049 (0x00000801", "expected 2051"],
        ),
        (
            "labels-magic-images-idx1-ubyte",
            TRL,
            &["wrong magic number 2051 (0x00000803", "expected 2049"],
        ),
        (
            "images-float-idx3-ubyte",
            TRI,
            &["wrong magic number 3331 (0x00000d03, IDX f32"],
        ),
        ("garbage-idx3-ubyte", TEI, &["not an IDX file"]),
        ("empty-idx3-ubyte", TEL, &["empty file"]),
        ("images-short-header-idx3-ubyte", TRI, &["truncated header"]),
        ("images-zero-rows-idx3-ubyte", TRI, &["zero dimension"]),
        ("images-zero-count-idx3-ubyte", TEI, &["zero dimension"]),
        ("labels-zero-count-idx1-ubyte", TRL, &["zero dimension"]),
        ("images-overflow-idx3-ubyte", TRI, &["overflows"]),
        (
            "images-truncated-idx3-ubyte",
            TRI,
            &[
                "truncated: header declares 3 images of 2x2 = 12 bytes",
                "only 9 bytes",
            ],
        ),
        (
            "images-truncated-idx3-ubyte.gz",
            TEI,
            &[
                "truncated: header declares 3 images of 2x2 = 12 bytes",
                "only 9 bytes",
            ],
        ),
        (
            "labels-truncated-idx1-ubyte",
            TRL,
            &["truncated", "only 2 bytes"],
        ),
        (
            "images-huge-count-idx3-ubyte",
            TRI,
            &["truncated", "4294967295 images of 28x28"],
        ),
        (
            "images-huge-count-idx3-ubyte.gz",
            TRI,
            &["truncated", "4294967295 images of 28x28"],
        ),
        (
            "labels-huge-count-idx1-ubyte",
            TRL,
            &["truncated", "4294967295 labels"],
        ),
        (
            "labels-huge-count-idx1-ubyte.gz",
            TEL,
            &["truncated", "4294967295 labels"],
        ),
        (
            "images-trailing-idx3-ubyte",
            TRI,
            &["5 bytes of trailing data"],
        ),
        ("images-trailing-idx3-ubyte.gz", TRI, &["trailing data"]),
        (
            "labels-trailing-idx1-ubyte",
            TEL,
            &["1 byte of trailing data"],
        ),
        (
            "images-garbage-after-gzip-idx3-ubyte.gz",
            TRI,
            &["trailing data after the end of the gzip stream"],
        ),
        ("images-not-gzip-idx3-ubyte.gz", TRI, &["not a gzip file"]),
        ("images-cut-idx3-ubyte.gz", TEI, &["gzip stream cut short"]),
        (
            "images-cut-trailer-idx3-ubyte.gz",
            TRI,
            &["gzip stream cut short"],
        ),
        ("images-bad-crc-idx3-ubyte.gz", TRI, &["damaged gzip file"]),
        (
            "images-empty-gzip-idx3-ubyte.gz",
            TRI,
            &["truncated header"],
        ),
    ];
    // Every broken fixture in the directory is a case here (a new one must be added).
    for f in fixture_names("idx") {
        let known = cases.iter().any(|c| c.0 == f)
            || f == "mismatch-labels-idx1-ubyte"
            || f == "label-255-labels-idx1-ubyte";
        let good =
            f.starts_with("good-") || f == "tiny" || f.ends_with(".md") || f.ends_with(".py");
        assert!(known || good, "tests/data/idx/{f} is not covered here");
    }
    let mut covered = 0;
    for (i, (fixture, slot, wants)) in cases.iter().enumerate() {
        let dir = root.join(format!("case-{i}"));
        let placed = mnist_dir(&dir, &[(slot, fixture)]);
        let mut wants = wants.to_vec();
        wants.push(s(&placed[0]));
        expect_error(fixture, &train_on(&dir), &wants);
        covered += 1;
    }

    // Labels that only fail next to their images: the 3 good 2x2 images in the train slots.
    for (fixture, want) in [
        (
            "mismatch-labels-idx1-ubyte",
            "count mismatch: 2 labels, but",
        ),
        ("label-255-labels-idx1-ubyte", "label #1 is 255"),
    ] {
        let dir = root.join(fixture);
        let placed = mnist_dir(&dir, &[(TRI, "good-images-idx3-ubyte"), (TRL, fixture)]);
        expect_error(fixture, &train_on(&dir), &[want, s(&placed[1])]);
        covered += 1;
    }

    // Directories: the training set's images (2x2) disagree with the test set's (2x3); one file
    // missing; no directory; a file instead of a directory.
    let dir = root.join("sizes-disagree");
    mnist_dir(
        &dir,
        &[
            (TRI, "good-images-idx3-ubyte"),
            (TRL, "good-labels-idx1-ubyte"),
        ],
    );
    expect_error(
        "train and test image sizes disagree",
        &train_on(&dir),
        &[
            s(&dir.join("t10k-images.idx3-ubyte")),
            "holds images of 6 pixels",
            "holds images of 4",
        ],
    );
    let dir = root.join("missing-file");
    mnist_dir(&dir, &[]);
    fs::remove_file(dir.join("t10k-labels.idx1-ubyte.gz")).unwrap();
    expect_error(
        "a missing file",
        &train_on(&dir),
        &[s(&dir), "missing t10k-labels-idx1-ubyte"],
    );
    let gone = root.join("no-such-dir");
    expect_error("a missing directory", &train_on(&gone), &[s(&gone)]);
    let file = data("idx/good-labels-idx1-ubyte");
    expect_error(
        "a file as --data",
        &train_on(&file),
        &[s(&file), "not a directory"],
    );
    covered += 4;
    eprintln!("faults: {covered} broken IDX inputs, each a one-line error");
}

// ------------------------------------------------------------------------------------------------
// Images through `gpunn predict`
// ------------------------------------------------------------------------------------------------

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 7 + y * 3) % 256) as u8]));
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png).unwrap();
    buf.into_inner()
}

/// A PNG whose header claims `w`x`h` pixels, with almost no data behind it.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut bytes = png(4, 4);
    // IHDR's width and height are bytes 16..24; its CRC (29..33) must match them.
    bytes[16..20].copy_from_slice(&w.to_be_bytes());
    bytes[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn faults_images_through_predict() {
    let dir = Scratch::new("predict");
    let model = data("checkpoints/good.safetensors");
    let good = dir.join("good.png");
    fs::write(&good, png(28, 28)).unwrap();
    expect_ok(
        "good png",
        &gpunn(&["predict", "--model", s(&model), s(&good)]),
    );

    // The same probabilities on the CPU and the GPU engine (a batch of 3 images).
    let second = dir.join("second.png");
    fs::write(&second, png(40, 33)).unwrap();
    let probs = |device: &str| -> Vec<f32> {
        let out = gpunn(&[
            "predict",
            "--model",
            s(&model),
            "--json",
            "--device",
            device,
            s(&good),
            s(&second),
            s(&good),
        ]);
        expect_ok(device, &out);
        stdout(&out)
            .lines()
            .flat_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["probabilities"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_f64().unwrap() as f32)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let cpu = probs("cpu");
    assert_eq!(cpu.len(), 30);
    if crate::common::gpu_or_skip("predict on the GPU").is_some() {
        crate::common::assert_close("predict cpu vs gpu", &probs("software"), &cpu, 1e-5, 1e-4);
    }

    let whole = png(40, 40);
    let garbage: Vec<u8> = (0..1000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("garbage.png", garbage, "not a PNG or JPEG image"),
        (
            "truncated.png",
            whole[..whole.len() / 2].to_vec(),
            "PNG image",
        ),
        ("empty.png", Vec::new(), "empty file"),
        (
            "notes.txt",
            b"these are not the pixels you are looking for\n".to_vec(),
            "not a PNG or JPEG image",
        ),
        (
            "animated.gif",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(),
            "look like GIF",
        ),
        (
            "huge.png",
            png_claiming(100_000, 100_000),
            "too large to decode safely",
        ),
        (
            "broken.jpg",
            [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[0x13; 64]].concat(),
            "JPEG image",
        ),
    ];
    let mut covered = 0;
    for (name, bytes, want) in &cases {
        let path = dir.join(name);
        fs::write(&path, bytes).unwrap();
        let out = gpunn(&["predict", "--model", s(&model), s(&path)]);
        expect_error(name, &out, &[s(&path), want]);
        covered += 1;
    }
    let missing = dir.join("missing.png");
    let out = gpunn(&["predict", "--model", s(&model), s(&missing)]);
    expect_error("missing image", &out, &[s(&missing), "No such file"]);
    let a_dir = dir.join("a-directory.png");
    fs::create_dir(&a_dir).unwrap();
    let out = gpunn(&["predict", "--model", s(&model), s(&a_dir)]);
    expect_error("directory as image", &out, &[s(&a_dir)]);
    covered += 2;
    eprintln!("faults: {covered} broken images, each a one-line error");
}

// ------------------------------------------------------------------------------------------------
// Checkpoints through `gpunn eval` and `gpunn predict`
// ------------------------------------------------------------------------------------------------

#[test]
fn faults_checkpoints_through_eval_and_predict() {
    let dir = Scratch::new("ckpt");
    let image = dir.join("digit.png");
    fs::write(&image, png(28, 28)).unwrap();
    let eval = |m: &Path| gpunn(&["eval", "--device", "cpu", "--model", s(m)]);
    let predict = |m: &Path| gpunn(&["predict", "--model", s(m), s(&image)]);

    let good = data("checkpoints/good.safetensors");
    expect_ok("good: eval", &eval(&good));
    expect_ok("good: predict", &predict(&good));

    // (fixture, phrase): both commands refuse the file the same way (it does not load).
    let unloadable: [(&str, &str); 21] = [
        ("empty", "0 bytes, too short for the 8-byte header length"),
        ("short", "3 bytes, too short"),
        (
            "garbage",
            "not a safetensors file: the header length field says",
        ),
        ("text", "not a safetensors file"),
        (
            "huge-header-len",
            "the header length field says 18446744073709551600 bytes",
        ),
        ("header-len-beyond-file", "the header length field says"),
        ("header-not-json", "invalid JSON in header"),
        ("truncated", "the tensor data does not match the header"),
        ("trailing", "the tensor data does not match the header"),
        ("no-metadata", "no __metadata__"),
        ("wrong-format", "metadata 'format' is 'pytorch'"),
        ("wrong-version", "version '9' is not supported"),
        ("no-layers-key", "metadata has no 'layers' entry"),
        ("zero-layer-size", "size 0 (position 2) is zero"),
        ("bad-activation", "unknown activation 'swish'"),
        (
            "bad-input-shape",
            "input_shape [28, 27] does not hold the network's 784 inputs",
        ),
        ("missing-tensor", "missing tensor layers.1.bias"),
        ("extra-tensor", "unexpected tensor 'layers.2.weight'"),
        (
            "shape-transposed",
            "layers.0.weight has shape [784, 4] but the spec says 784 -> 4",
        ),
        (
            "shape-disagrees",
            "layers.0.weight has shape [4, 784] but the spec says 784 -> 5",
        ),
        ("wrong-dtype", "layers.1.bias has dtype I32 but must be F32"),
    ];
    // Every fixture in the directory is a case here (a new one must be added).
    for f in fixture_names("checkpoints") {
        let Some(stem) = f.strip_suffix(".safetensors") else {
            continue;
        };
        let known = unloadable.iter().any(|c| c.0 == stem)
            || [
                "good",
                "nan-weight",
                "classes-huge",
                "classes-too-few",
                "dataset-disagrees",
                "dataset-missing-dir",
                "not-784-inputs",
            ]
            .contains(&stem);
        assert!(known, "tests/data/checkpoints/{f} is not covered here");
    }
    let mut covered = 0;
    for (name, want) in unloadable.iter().chain(&[
        ("nan-weight", "layers.0.weight element 0 is NaN"),
        (
            "classes-huge",
            "classes 18446744073709551615 does not fit the network's 10 outputs",
        ),
    ]) {
        let path = data(&format!("checkpoints/{name}.safetensors"));
        expect_error(&format!("{name}: eval"), &eval(&path), &[s(&path), want]);
        expect_error(
            &format!("{name}: predict"),
            &predict(&path),
            &[s(&path), want],
        );
        covered += 1;
    }

    // Files that load but do not fit what the command does with them.
    for (name, want) in [
        (
            "classes-too-few",
            "records 3 classes but mnist-sample-test has 10",
        ),
        (
            "dataset-disagrees",
            "does not fit the data: the network takes 784 inputs but circles has 2",
        ),
        ("dataset-missing-dir", "/nonexistent/gpunn-data"),
    ] {
        let path = data(&format!("checkpoints/{name}.safetensors"));
        expect_error(&format!("{name}: eval"), &eval(&path), &[want]);
        covered += 1;
    }
    let path = data("checkpoints/not-784-inputs.safetensors");
    expect_error(
        "not-784-inputs: predict",
        &predict(&path),
        &[s(&path), "predict needs a 28x28 (784-input) image model"],
    );
    covered += 1;

    let missing = dir.join("missing.safetensors");
    expect_error(
        "missing: eval",
        &eval(&missing),
        &[s(&missing), "No such file"],
    );
    expect_error(
        "missing: predict",
        &predict(&missing),
        &[s(&missing), "No such file"],
    );
    let a_dir = dir.join("a-directory.safetensors");
    fs::create_dir(&a_dir).unwrap();
    expect_error(
        "directory: eval",
        &eval(&a_dir),
        &[s(&a_dir), "not a regular file"],
    );
    // A checkpoint given to --resume that has no run state (written by checkpoint::save alone).
    let out = gpunn(&["train", "--resume", s(&good), "--device", "cpu"]);
    expect_error(
        "no run state: resume",
        &out,
        &[s(&good), "no run state to resume from"],
    );
    covered += 3;
    eprintln!("faults: {covered} broken checkpoints, each a one-line error");
}

// ------------------------------------------------------------------------------------------------
// Flag values
// ------------------------------------------------------------------------------------------------

#[test]
fn faults_bad_flag_values() {
    let dir = Scratch::new("flags");
    let circles = [
        "train",
        "--dataset",
        "circles",
        "--epochs",
        "1",
        "--device",
        "cpu",
    ];
    let mnist = [
        "train",
        "--dataset",
        "mnist-sample",
        "--epochs",
        "1",
        "--device",
        "cpu",
    ];
    let cases: Vec<(&[&str], Vec<&str>, Vec<&str>)> = vec![
        (
            &circles,
            vec!["--lr=0"],
            vec!["--lr", "must be a positive number, got 0"],
        ),
        (&circles, vec!["--lr=-1"], vec!["--lr", "got -1"]),
        (&circles, vec!["--lr=nan"], vec!["--lr", "got NaN"]),
        (&circles, vec!["--lr=inf"], vec!["--lr", "got inf"]),
        (&circles, vec!["--lr=1e40"], vec!["--lr", "got inf"]),
        (
            &circles,
            vec!["--batch-size", "0"],
            vec!["--batch-size", "must be at least 1"],
        ),
        (
            &circles,
            vec!["--layers", "2,0,1"],
            vec!["--layers", "size 0 (position 2) is zero"],
        ),
        (
            &circles,
            vec!["--layers", "2,4,0"],
            vec!["--layers", "is zero"],
        ),
        (
            &circles,
            vec!["--layers", "2"],
            vec!["--layers", "need at least an input and an output size"],
        ),
        (
            &circles,
            vec!["--layers", "2,x,1"],
            vec!["--layers", "'x' is not a layer size"],
        ),
        (
            &circles,
            vec!["--layers", "5,4,1"],
            vec!["--layers", "takes 5 inputs but circles has 2"],
        ),
        (
            &mnist,
            vec!["--layers", "784,16,5"],
            vec![
                "--layers",
                "5 outputs but mnist-sample-train has 10 classes",
            ],
        ),
        (
            &circles,
            vec!["--activation", "swish"],
            vec!["--activation", "unknown activation 'swish'"],
        ),
        (
            &circles,
            vec!["--activation", "relu,relu,relu,relu"],
            vec!["--activation", "4 activations"],
        ),
        (
            &circles,
            vec!["--activation", "softmax,softmax"],
            vec![
                "--activation/--loss",
                "softmax is allowed on the output layer only",
            ],
        ),
        (
            &circles,
            vec!["--loss", "hinge"],
            vec!["--loss", "unknown loss 'hinge'"],
        ),
        (
            &circles,
            vec!["--loss", "ce"],
            vec!["--activation/--loss", "loss ce needs at least 2 outputs"],
        ),
        (
            &circles,
            vec!["--init", "lecun"],
            vec!["--init", "unknown init 'lecun'"],
        ),
        (
            &circles,
            vec!["--init", "normal:-1"],
            vec!["--init", "std must be >= 0"],
        ),
        (
            &circles[..5],
            vec!["--device", "tpu"],
            vec!["--device", "unknown device 'tpu'"],
        ),
        (
            &circles,
            vec!["--val-split", "1.5"],
            vec!["--val-split", "1.5 is not a fraction in [0, 1)"],
        ),
        (
            &circles,
            vec!["--val-split", "nan"],
            vec!["--val-split", "NaN is not a fraction"],
        ),
        (
            &circles,
            vec!["--early-stopping", "0"],
            vec!["--early-stopping", "at least 1"],
        ),
        (
            &circles,
            vec!["--samples", "0"],
            vec!["--samples", "must be between 1 and"],
        ),
        (
            &circles,
            vec!["--samples", "100000000000000"],
            vec!["--samples", "got 100000000000000"],
        ),
        (
            &circles,
            vec!["--noise", "inf"],
            vec!["--noise", "must be a finite number >= 0, got inf"],
        ),
        (&circles, vec!["--noise", "nan"], vec!["--noise", "got NaN"]),
        (
            &circles,
            vec!["--factor", "nan"],
            vec!["--factor", "must be in [0, 1)"],
        ),
        (&circles, vec!["--factor", "2"], vec!["--factor", "got 2"]),
        (
            &mnist,
            vec!["--digits", "3"],
            vec!["--digits", "exactly 2 labels"],
        ),
        (
            &mnist,
            vec!["--digits", "3,3"],
            vec!["--digits", "got 3 twice"],
        ),
        (
            &mnist,
            vec!["--digits", "3,42"],
            vec!["--digits", "label 42 does not occur"],
        ),
        (
            &mnist,
            vec!["--digits", "three,six"],
            vec!["--digits", "'three' is not a class label"],
        ),
        (
            &["train", "--epochs", "1", "--device", "cpu"],
            vec!["--dataset", "imagenet"],
            vec!["--dataset", "unknown dataset 'imagenet'"],
        ),
    ];
    let mut covered = 0;
    for (base, extra, wants) in &cases {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        expect_error(&extra.join(" "), &gpunn(&args), wants);
        covered += 1;
    }
    // A named dataset that is nowhere: where gpunn looked and how to get it, on one line.
    let nowhere = dir.join("nowhere");
    let out = gpunn_env(
        &[
            "train",
            "--dataset",
            "mnist",
            "--epochs",
            "0",
            "--layers",
            "784,1,10",
            "--device",
            "cpu",
        ],
        &[("GPUNN_DATA", s(&nowhere)), ("XDG_DATA_HOME", s(&nowhere))],
        Duration::from_secs(120),
    );
    if out.status.success() {
        eprintln!("SKIPPED the missing-dataset case: MNIST is installed here");
    } else {
        expect_error(
            "--dataset mnist, not installed",
            &out,
            &[
                "--dataset: mnist: no directory with the four IDX files",
                s(&nowhere),
                "gpunn data fetch mnist",
            ],
        );
        covered += 1;
    }
    let save = dir.join("no-such-dir/model.safetensors");
    let out = gpunn(&[&circles[..], &["--save", s(&save)]].concat());
    expect_error(
        "--save into a missing directory",
        &out,
        &[s(&save), "No such file"],
    );
    let resume = dir.join("missing.safetensors");
    let out = gpunn(&["train", "--resume", s(&resume), "--device", "cpu"]);
    expect_error(
        "--resume a missing file",
        &out,
        &[s(&resume), "No such file"],
    );
    covered += 2;

    // `gpunn step`: the learning rate and the targets.
    let net = dir.join("net.json");
    fs::write(&net, NET_ONES).unwrap();
    let step = ["step", "--net", s(&net), "--input", "1,0"];
    for (extra, wants) in [
        (
            vec!["--target", "1", "--lr=-0.5"],
            vec!["--lr", "must be a number >= 0, got -0.5"],
        ),
        (vec!["--target", "1", "--lr=nan"], vec!["--lr", "got NaN"]),
        (
            vec!["--target", "5", "--loss", "bce"],
            vec!["--target", "5 is not a probability in [0, 1]"],
        ),
        (
            vec!["--target", "1;1"],
            vec!["--target", "2 samples but --input has 1"],
        ),
        (
            vec!["--target", "1", "--device", "tpu"],
            vec!["--device", "unknown device 'tpu'"],
        ),
    ] {
        let args: Vec<&str> = step.iter().copied().chain(extra.iter().copied()).collect();
        expect_error(&extra.join(" "), &gpunn(&args), &wants);
        covered += 1;
    }
    // `gpunn bench`.
    for (args, wants) in [
        (
            vec!["bench", "--device", ","],
            vec!["--device", "no device given"],
        ),
        (
            vec!["bench", "--device", "cpu", "--batch-size", "0"],
            vec!["--batch-size", "must be at least 1"],
        ),
        (
            vec!["bench", "--device", "cpu", "--layers", "784,0,10"],
            vec!["--layers", "is zero"],
        ),
    ] {
        expect_error(&args.join(" "), &gpunn(&args), &wants);
        covered += 1;
    }
    let binary = data("checkpoints/good.safetensors");
    let out = gpunn(&[
        "step",
        "--net",
        s(&binary),
        "--input",
        "1,0",
        "--target",
        "1",
    ]);
    expect_error(
        "a binary file as --net",
        &out,
        &[s(&binary), "not a JSON text file"],
    );
    covered += 1;

    // --epochs 0 is allowed: nothing to train, the untrained network is evaluated and saved.
    let zero = dir.join("zero.safetensors");
    let out = gpunn(&[&circles[..], &["--epochs", "0", "--save", s(&zero)]].concat());
    // (`circles` already has --epochs 1; clap refuses the repeat: a usage error, exit 2.)
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = gpunn(&[
        "train",
        "--dataset",
        "circles",
        "--samples",
        "64",
        "--epochs",
        "0",
        "--device",
        "cpu",
        "--save",
        s(&zero),
    ]);
    expect_ok("--epochs 0", &out);
    assert!(stdout(&out).contains("test: loss"), "{}", stdout(&out));
    let (_, meta) = checkpoint::load(&zero).unwrap();
    assert_eq!(meta.epoch, 0);
    eprintln!("faults: {covered} bad flag values, each a one-line error");
}

// ------------------------------------------------------------------------------------------------
// Divergence, resume, and kills during saves
// ------------------------------------------------------------------------------------------------

const DIVERGED: &str = "try a lower learning rate (--lr)";

#[test]
fn faults_divergence_names_epoch_and_step_on_cpu_and_gpu() {
    let mut devices = vec!["cpu".to_string()];
    if gpu_or_skip("faults_divergence_names_epoch_and_step_on_cpu_and_gpu").is_some() {
        devices.push(test_device());
    }
    for device in &devices {
        let out = gpunn(&[
            "train",
            "--dataset",
            "circles",
            "--samples",
            "256",
            "--epochs",
            "3",
            "--lr",
            "1e30",
            "--device",
            device,
        ]);
        let line = expect_error(
            &format!("lr 1e30 on {device}"),
            &out,
            &[
                "training diverged at epoch 1, step ",
                "loss is NaN",
                DIVERGED,
            ],
        );
        // The step is a number, and the one where the loss first went bad (not the last).
        let step: usize = line
            .split("step ")
            .nth(1)
            .and_then(|t| t.split(':').next())
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no step number in: {line}"));
        assert!((1..=8).contains(&step), "{line}");
    }
}

#[test]
fn faults_divergence_keeps_the_last_good_checkpoint() {
    let dir = Scratch::new("diverge-keep");
    let ckpt = dir.join("run.safetensors");
    let out = gpunn(&[
        "train",
        "--dataset",
        "circles",
        "--samples",
        "256",
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--save",
        s(&ckpt),
    ]);
    expect_ok("2 good epochs", &out);
    let before = fs::read(&ckpt).unwrap();
    let (params, meta) = checkpoint::load(&ckpt).unwrap();
    assert_eq!(meta.epoch, 2);

    let out = gpunn(&[
        "train",
        "--resume",
        s(&ckpt),
        "--lr",
        "1e30",
        "--epochs",
        "4",
        "--device",
        "cpu",
    ]);
    expect_error(
        "resumed with lr 1e30",
        &out,
        &["training diverged at epoch 3, step ", DIVERGED],
    );
    assert!(
        stdout(&out).contains("resuming after epoch 2"),
        "{}",
        stdout(&out)
    );
    assert_eq!(fs::read(&ckpt).unwrap(), before, "the checkpoint changed");
    let (params2, meta2) = checkpoint::load(&ckpt).unwrap();
    assert_eq!((meta2.epoch, &params2), (2, &params));
    assert_eq!(leftovers(&dir, "run.safetensors"), 0);

    // A fresh run that diverges in its second epoch keeps the first one's checkpoint, on every
    // engine (an mse network with a linear output blows up within two epochs at lr 30).
    let mut devices = vec!["cpu".to_string()];
    if gpu_or_skip("faults_divergence_keeps_the_last_good_checkpoint").is_some() {
        devices.push(test_device());
    }
    for device in &devices {
        let ckpt = dir.join(format!("fresh-{device}.safetensors"));
        let out = gpunn(&[
            "train",
            "--dataset",
            "circles",
            "--samples",
            "256",
            "--epochs",
            "3",
            "--lr",
            "30",
            "--loss",
            "mse",
            "--activation",
            "relu,identity",
            "--device",
            device,
            "--save",
            s(&ckpt),
        ]);
        expect_error(
            &format!("lr 30 on {device}"),
            &out,
            &["training diverged at epoch 2, step ", DIVERGED],
        );
        let (p, m) = checkpoint::load(&ckpt).unwrap();
        assert_eq!(m.epoch, 1, "{device}");
        assert!(p
            .layers
            .iter()
            .all(|l| l.weights.iter().all(|w| w.is_finite())));
    }
}

/// Temporary files of interrupted saves of `name` in `dir` (`.name.tmp-*`).
fn leftovers(dir: &Path, name: &str) -> usize {
    let prefix = format!(".{name}.tmp-");
    fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(&prefix)
        })
        .count()
}

/// Trains 200 circles for 4 epochs on `device` with the optimizer flags `opt`, and again for
/// 2 epochs then `--resume` to 4; asserts both checkpoints hold bit-identical parameters and
/// equal optimizer states, and returns that state.
fn resume_matches_the_whole_run(
    dir: &Path,
    tag: &str,
    device: &str,
    opt: &[&str],
) -> Option<gpunn::optim::OptimizerState> {
    let run = |epochs: &str, path: &Path| {
        let args = [
            "train",
            "--dataset",
            "circles",
            "--samples",
            "200",
            "--epochs",
            epochs,
            "--device",
            device,
            "--save",
            s(path),
        ];
        gpunn(&[&args[..], opt].concat())
    };
    let whole = dir.join(format!("whole{tag}.safetensors"));
    expect_ok("4 epochs", &run("4", &whole));
    let parts = dir.join(format!("parts{tag}.safetensors"));
    expect_ok("2 epochs", &run("2", &parts));
    assert_eq!(checkpoint::load(&parts).unwrap().1.epoch, 2);
    let out = gpunn(&[
        "train",
        "--resume",
        s(&parts),
        "--epochs",
        "4",
        "--device",
        device,
    ]);
    expect_ok("resume to 4", &out);
    assert!(stdout(&out).contains("resuming after epoch 2"));

    let (a, ma, sa) = checkpoint::load_with_state(&whole).unwrap();
    let (b, mb, sb) = checkpoint::load_with_state(&parts).unwrap();
    assert_eq!((ma.epoch, mb.epoch), (4, 4));
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (i, (la, lb)) in a.layers.iter().zip(&b.layers).enumerate() {
        let what = format!("{device} {opt:?}: layer {i}");
        assert_eq!(bits(&la.weights), bits(&lb.weights), "{what} weights");
        assert_eq!(bits(&la.bias), bits(&lb.bias), "{what} bias");
    }
    assert_eq!(sa, sb, "{device} {opt:?}: the optimizer state");
    sa
}

#[test]
fn faults_resume_on_cpu_is_bit_identical_to_an_uninterrupted_run() {
    let dir = Scratch::new("resume");
    let optimizers: [&[&str]; 3] = [
        &[],
        &["--optimizer", "adam", "--lr", "0.01"],
        &[
            "--momentum",
            "0.9",
            "--nesterov",
            "--clip-norm",
            "1",
            "--weight-decay",
            "0.01",
        ],
    ];
    for (k, opt) in optimizers.iter().enumerate() {
        let state = resume_matches_the_whole_run(&dir, &k.to_string(), "cpu", opt);
        if k == 1 {
            let steps = state.unwrap().step;
            assert_eq!(steps, 4 * 6, "4 epochs of 180 samples in batches of 32");
        }
    }
}

/// The same through a checkpoint on the GPU (lavapipe in CI) with Adam, whose step count
/// must come back with the moments: a resumed engine that restarted it at 0 would redo the
/// first steps' bias corrections and part from the uninterrupted run.
#[test]
fn faults_resume_on_gpu_with_adam_is_bit_identical_to_an_uninterrupted_run() {
    if gpu_or_skip("faults_resume_on_gpu_with_adam").is_none() {
        return;
    }
    let dir = Scratch::new("resume_gpu");
    let adam = ["--optimizer", "adam", "--lr", "0.01"];
    let state = resume_matches_the_whole_run(&dir, "gpu", "software", &adam).unwrap();
    assert_eq!(
        state.step,
        4 * 6,
        "4 epochs of 180 samples in batches of 32"
    );
}

/// Kills `gpunn train` at many moments while it saves a 4 MB checkpoint after every (very
/// short) epoch. Whenever a checkpoint has been written, the file must load afterwards: a kill
/// in the middle of a save leaves a temporary file behind (counted) but never a torn
/// checkpoint.
#[test]
fn faults_kill_during_save_keeps_a_loadable_checkpoint() {
    let dir = Scratch::new("kill");
    let name = "model.safetensors";
    let ckpt = dir.join(name);
    // 2 samples a epoch through 2-1024-1024-1 (1.05 M parameters): the epoch is a few ms, the
    // checkpoint 4.2 MB, so much of the run is spent saving.
    let args = [
        "train",
        "--dataset",
        "circles",
        "--samples",
        "2",
        "--val-split",
        "0",
        "--layers",
        "2,1024,1024,1",
        "--epochs",
        "1000000",
        "--device",
        "cpu",
        "--save",
        s(&ckpt),
    ];
    let start = Instant::now();
    let (mut kills, mut mid_save, mut loads) = (0, 0, 0);
    let mut last_epoch = 0;
    for round in 0..40u64 {
        // Delays from 60 ms to about 600 ms, spread unevenly so they fall at every point of
        // the epoch/save cycle.
        let delay = Duration::from_millis(60 + (round * 137) % 540);
        let mut child = Command::new(env!("CARGO_BIN_EXE_gpunn"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap();
        assert!(
            finished.is_none(),
            "round {round}: gpunn exited early: {finished:?}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        let torn = leftovers(&dir, name);
        if torn > 0 {
            mid_save += 1;
            for e in fs::read_dir(&*dir).unwrap() {
                let p = e.unwrap().path();
                if p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!(".{name}.tmp-"))
                {
                    fs::remove_file(p).unwrap();
                }
            }
        }
        if ckpt.exists() {
            let (p, m) = checkpoint::load(&ckpt)
                .unwrap_or_else(|e| panic!("round {round} (killed after {delay:?}): {e}"));
            assert_eq!(p.spec().sizes, [2, 1024, 1024, 1]);
            assert!(m.epoch >= 1);
            last_epoch = m.epoch;
            loads += 1;
        }
        if start.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    eprintln!(
        "faults: {kills} kills, {mid_save} during a save (temp file left behind), \
         {loads} checkpoints loaded after a kill (last at epoch {last_epoch}), {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert!(
        loads >= kills / 2,
        "too few rounds got as far as a first checkpoint"
    );
}

// ------------------------------------------------------------------------------------------------
// GPU faults
// ------------------------------------------------------------------------------------------------

/// The Vulkan loader pointed at no driver.
const NO_VULKAN: [(&str, &str); 2] = [
    ("VK_ICD_FILENAMES", "/nonexistent.json"),
    ("VK_DRIVER_FILES", "/nonexistent.json"),
];

#[test]
fn faults_no_vulkan_driver_errors_with_a_hint_or_falls_back_on_auto() {
    let base = [
        "train",
        "--dataset",
        "circles",
        "--samples",
        "64",
        "--epochs",
        "1",
    ];
    let limit = Duration::from_secs(120);
    let out = gpunn_env(
        &[&base[..], &["--device", "vulkan"]].concat(),
        &NO_VULKAN,
        limit,
    );
    expect_error(
        "--device vulkan without a driver",
        &out,
        &[
            "no Vulkan adapter found",
            "install your GPU's Vulkan driver",
        ],
    );

    let out = gpunn_env(
        &[&base[..], &["--device", "auto"]].concat(),
        &NO_VULKAN,
        limit,
    );
    expect_ok("--device auto without a driver", &out);
    let err = stderr(&out);
    if !err.contains("note: --device auto: no hardware GPU") {
        // A hardware adapter outside Vulkan (GL, Metal, DX12) was there to take the run.
        eprintln!("SKIPPED the fallback check: auto found a non-Vulkan hardware GPU: {err}");
        return;
    }
    assert!(err.contains("running on the CPU engine"), "{err}");
    let note = err
        .lines()
        .find(|l| l.starts_with("note:"))
        .unwrap_or_default();
    assert!(
        note.len() < 160,
        "the fallback note fits on one line: {note}"
    );
    let text = stdout(&out);
    assert!(
        text.contains("cpu (") && text.contains("epoch   1/1"),
        "{text}"
    );
}

#[test]
fn faults_buffer_beyond_the_binding_limit_is_refused() {
    let Some(ctx) = gpu_or_skip("faults_buffer_beyond_the_binding_limit_is_refused") else {
        return;
    };
    let limit = ctx
        .limits
        .max_storage_buffer_binding_size
        .min(ctx.limits.max_buffer_size);
    if limit > 512 << 20 {
        eprintln!(
            "SKIPPED: this adapter binds {limit} bytes; a layer beyond that is too big for a test"
        );
        return;
    }
    // The first weight matrix, 784 x hidden f32, one element past the limit.
    let hidden = (limit / (784 * 4) + 1).to_string();
    let layers = format!("784,{hidden},10");
    let start = Instant::now();
    let out = gpunn_env(
        &[
            "train",
            "--dataset",
            "mnist-sample",
            "--layers",
            &layers,
            "--epochs",
            "1",
            "--device",
            &test_device(),
        ],
        &[],
        Duration::from_secs(120),
    );
    expect_error(
        "a layer beyond one storage binding",
        &out,
        &[
            "buffer 'W1' needs",
            "max_storage_buffer_binding_size",
            &limit.to_string(),
        ],
    );
    eprintln!("refused in {:.2} s", start.elapsed().as_secs_f64());
}

#[test]
fn faults_gpu_wait_that_times_out_is_an_error() {
    if gpu_or_skip("faults_gpu_wait_that_times_out_is_an_error").is_none() {
        return;
    }
    // No training (--epochs 0), then the test set through a 784-1024-10 network: seconds of
    // work on a software adapter, far more than a microsecond on any.
    let args = [
        "train",
        "--dataset",
        "mnist-sample",
        "--layers",
        "784,1024,10",
        "--epochs",
        "0",
        "--device",
        &test_device(),
    ];
    let start = Instant::now();
    let out = gpunn_env(
        &args,
        &[("GPUNN_GPU_TIMEOUT_SECS", "0.000001")],
        Duration::from_secs(120),
    );
    expect_error(
        "a 1 us GPU timeout",
        &out,
        &[
            "GPU: ",
            "no answer from",
            "GPUNN_GPU_TIMEOUT_SECS raises the limit",
        ],
    );
    eprintln!(
        "timed out and exited in {:.2} s",
        start.elapsed().as_secs_f64()
    );

    // 0 is not a timeout: a warning, the default, and the run goes on.
    let out = gpunn_env(
        &[
            "train",
            "--dataset",
            "circles",
            "--samples",
            "64",
            "--epochs",
            "1",
            "--device",
            &test_device(),
        ],
        &[("GPUNN_GPU_TIMEOUT_SECS", "0")],
        Duration::from_secs(120),
    );
    expect_ok("GPUNN_GPU_TIMEOUT_SECS=0", &out);
    assert!(
        stderr(&out).contains("is not a positive number"),
        "{}",
        stderr(&out)
    );
}

// ------------------------------------------------------------------------------------------------
// The fuzz targets' entry points
// ------------------------------------------------------------------------------------------------

/// `idx::parse_*_bytes` and `checkpoint::from_bytes` (what fuzz/ drives) decide exactly as the
/// file readers do on the whole corpus, with the same messages after the name. The one
/// exception: only a file has a name, so only a file can be "not a gzip file" by its `.gz`.
#[test]
fn faults_bytes_entry_points_agree_with_the_file_readers() {
    fn same<T: PartialEq + std::fmt::Debug>(
        what: &str,
        path: &Path,
        file: gpunn::Result<T>,
        bytes: gpunn::Result<T>,
    ) {
        match (file, bytes) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{what}"),
            (Err(a), Err(b)) => {
                let a = a.to_string();
                let b = b.to_string();
                let a = a.strip_prefix(&format!("{}: ", path.display())).unwrap();
                let b = b.strip_prefix("<bytes>: ").unwrap();
                assert_eq!(a, b, "{what}");
            }
            (a, b) => panic!("{what}: the file gives {a:?}, the bytes {b:?}"),
        }
    }
    let mut n = 0;
    for name in fixture_names("idx") {
        let path = data("idx").join(&name);
        if !path.is_file() || name.ends_with(".md") || name.ends_with(".py") {
            continue;
        }
        let bytes = fs::read(&path).unwrap();
        if name == "images-not-gzip-idx3-ubyte.gz" {
            assert!(idx::read_images(&path).is_err());
            continue;
        }
        same(
            &format!("{name} as images"),
            &path,
            idx::read_images(&path),
            idx::parse_images_bytes(&bytes),
        );
        same(
            &format!("{name} as labels"),
            &path,
            idx::read_labels(&path),
            idx::parse_labels_bytes(&bytes),
        );
        n += 1;
    }
    for name in fixture_names("checkpoints") {
        let path = data("checkpoints").join(&name);
        if !name.ends_with(".safetensors") {
            continue;
        }
        let bytes = fs::read(&path).unwrap();
        same(
            &name,
            &path,
            checkpoint::load(&path),
            checkpoint::from_bytes(Path::new("<bytes>"), &bytes),
        );
        n += 1;
    }
    assert!(n > 50, "{n}");
}
