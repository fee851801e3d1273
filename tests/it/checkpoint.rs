//! Checkpoints (`gpunn::checkpoint`): round trips, the safetensors layout other tools read,
//! atomic saves, and one test per kind of broken file, each checking that the error names the
//! file and the problem on one line.

use crate::common::Scratch;
use gpunn::checkpoint::{self, ModelMeta};
use gpunn::model::{Activation, Init, Loss, MlpSpec, Params};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;

/// A fresh, empty directory for one test, removed when the test passes.
fn scratch(name: &str) -> Scratch {
    Scratch::new(&format!("ckpt-{name}"))
}

fn params_6_5_4_3() -> Params {
    let spec = MlpSpec::new(
        vec![6, 5, 4, 3],
        vec![Activation::Relu, Activation::Tanh, Activation::Softmax],
        Loss::Ce,
    )
    .unwrap();
    let mut p = Params::init(&spec, Init::XavierUniform, 7).unwrap();
    // Non-zero biases, so a bias mix-up would show.
    for (l, layer) in p.layers.iter_mut().enumerate() {
        for (j, b) in layer.bias.iter_mut().enumerate() {
            *b = 0.01 * (l * 10 + j) as f32 - 0.02;
        }
    }
    p
}

fn meta_6() -> ModelMeta {
    let mut extra = BTreeMap::new();
    extra.insert("lr".to_string(), "0.1".to_string());
    extra.insert("seed".to_string(), "7".to_string());
    ModelMeta {
        input_shape: vec![2, 3],
        classes: 3,
        dataset: "synthetic, with spaces: ünïcode".into(),
        epoch: 12,
        extra,
    }
}

/// Files in `dir` other than `keep`.
fn leftovers(dir: &Path, keep: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect();
    v.sort();
    v
}

#[test]
fn checkpoint_round_trip_keeps_params_and_meta() {
    let dir = scratch("round-trip");
    let path = dir.join("model.safetensors");
    let (p, m) = (params_6_5_4_3(), meta_6());
    checkpoint::save(&path, &p, &m).unwrap();
    let (p2, m2) = checkpoint::load(&path).unwrap();
    assert_eq!(p2, p);
    assert_eq!(m2, m);
    // Bit-exact, not just equal as floats.
    for (a, b) in p.layers.iter().zip(&p2.layers) {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.weights), bits(&b.weights));
        assert_eq!(bits(&a.bias), bits(&b.bias));
    }
}

#[test]
fn checkpoint_round_trip_every_activation_and_loss() {
    let dir = scratch("every-name");
    let path = dir.join("m.safetensors");
    let cases = [
        (vec![Activation::Sigmoid, Activation::Sigmoid], Loss::Bce, 1),
        (
            vec![Activation::LeakyRelu, Activation::Identity],
            Loss::Mse,
            1,
        ),
        (
            vec![Activation::Tanh, Activation::Sigmoid],
            Loss::HalfMse,
            1,
        ),
        (vec![Activation::Relu, Activation::Softmax], Loss::Ce, 2),
    ];
    for (acts, loss, out) in cases {
        let spec = MlpSpec::new(vec![2, 3, out], acts, loss).unwrap();
        let p = Params::init(&spec, Init::HeNormal, 1).unwrap();
        let m = ModelMeta {
            input_shape: vec![2],
            classes: 2,
            dataset: "xor".into(),
            ..Default::default()
        };
        checkpoint::save(&path, &p, &m).unwrap();
        let (p2, m2) = checkpoint::load(&path).unwrap();
        assert_eq!((p2, m2), (p, m), "{spec:?}");
    }
}

#[test]
fn checkpoint_file_is_standard_safetensors() {
    let dir = scratch("layout");
    let path = dir.join("model.safetensors");
    let p = params_6_5_4_3();
    checkpoint::save(&path, &p, &meta_6()).unwrap();
    let bytes = fs::read(&path).unwrap();

    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort();
    assert_eq!(
        names,
        [
            "layers.0.bias",
            "layers.0.weight",
            "layers.1.bias",
            "layers.1.weight",
            "layers.2.bias",
            "layers.2.weight"
        ]
    );
    for (i, l) in p.layers.iter().enumerate() {
        let w = st.tensor(&format!("layers.{i}.weight")).unwrap();
        assert_eq!(w.dtype(), Dtype::F32);
        assert_eq!(
            w.shape(),
            [l.outputs, l.inputs],
            "[out, in] as in torch.nn.Linear"
        );
        let le: Vec<u8> = l.weights.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(w.data(), &le[..], "row-major little-endian f32");
        let b = st.tensor(&format!("layers.{i}.bias")).unwrap();
        assert_eq!(b.dtype(), Dtype::F32);
        assert_eq!(b.shape(), [l.outputs]);
    }

    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let md = header.metadata().as_ref().expect("__metadata__ present");
    let want = [
        ("format", "gpunn-mlp"),
        ("version", "1"),
        ("layers", "6,5,4,3"),
        ("activations", "relu,tanh,softmax"),
        ("loss", "ce"),
        ("input_shape", "2,3"),
        ("classes", "3"),
        ("dataset", "synthetic, with spaces: ünïcode"),
        ("epoch", "12"),
        ("lr", "0.1"),
        ("seed", "7"),
    ];
    for (k, v) in want {
        assert_eq!(md.get(k).map(String::as_str), Some(v), "metadata {k}");
    }
    assert_eq!(md.len(), want.len());
}

#[test]
fn checkpoint_save_over_existing_leaves_no_temp_files() {
    let dir = scratch("overwrite");
    let path = dir.join("model.safetensors");
    let mut p = params_6_5_4_3();
    checkpoint::save(&path, &p, &meta_6()).unwrap();
    p.layers[0].weights[0] = 42.0;
    let m = ModelMeta {
        epoch: 13,
        ..meta_6()
    };
    checkpoint::save(&path, &p, &m).unwrap();
    assert_eq!(checkpoint::load(&path).unwrap(), (p, m));
    assert_eq!(
        leftovers(&dir, &["model.safetensors"]),
        Vec::<String>::new()
    );
}

#[test]
fn checkpoint_concurrent_saves_leave_one_valid_file() {
    let dir = scratch("concurrent");
    let path = dir.join("model.safetensors");
    let p = params_6_5_4_3();
    std::thread::scope(|s| {
        for epoch in 0..4 {
            let (path, p) = (&path, &p);
            s.spawn(move || {
                for _ in 0..5 {
                    checkpoint::save(path, p, &ModelMeta { epoch, ..meta_6() }).unwrap();
                }
            });
        }
    });
    let (p2, m2) = checkpoint::load(&path).unwrap();
    assert_eq!(p2, p);
    assert!(m2.epoch < 4);
    assert_eq!(
        leftovers(&dir, &["model.safetensors"]),
        Vec::<String>::new()
    );
}

#[test]
fn checkpoint_failed_save_keeps_old_file() {
    let dir = scratch("failed-save");
    let path = dir.join("model.safetensors");
    let p = params_6_5_4_3();
    checkpoint::save(&path, &p, &meta_6()).unwrap();
    let before = fs::read(&path).unwrap();

    // Parameters that load would refuse are refused before anything is written.
    let mut nan = p.clone();
    nan.layers[1].bias[2] = f32::NAN;
    let e = checkpoint::save(&path, &nan, &meta_6())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model.safetensors") && e.contains("non-finite"),
        "{e}"
    );

    let mut reserved = meta_6();
    reserved.extra.insert("loss".into(), "mse".into());
    let e = checkpoint::save(&path, &p, &reserved)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model.safetensors") && e.contains("'loss' is reserved"),
        "{e}"
    );

    let bad_shape = ModelMeta {
        input_shape: vec![28, 28],
        ..meta_6()
    };
    let e = checkpoint::save(&path, &p, &bad_shape)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("input_shape [28, 28]") && e.contains("6 inputs"),
        "{e}"
    );

    let mut ragged = p.clone();
    ragged.layers[0].weights.pop();
    let e = checkpoint::save(&path, &ragged, &meta_6())
        .unwrap_err()
        .to_string();
    assert!(e.contains("layer 0 is 6 -> 5 but holds 29 weights"), "{e}");

    assert_eq!(
        fs::read(&path).unwrap(),
        before,
        "the old checkpoint is intact"
    );
    assert_eq!(
        leftovers(&dir, &["model.safetensors"]),
        Vec::<String>::new()
    );
}

#[test]
fn checkpoint_save_into_a_file_as_directory_fails_cleanly() {
    let dir = scratch("parent-is-file");
    let not_a_dir = dir.join("plain-file");
    fs::write(&not_a_dir, b"x").unwrap();
    let path = not_a_dir.join("model.safetensors");
    let e = checkpoint::save(&path, &params_6_5_4_3(), &meta_6())
        .unwrap_err()
        .to_string();
    assert!(e.contains(&path.display().to_string()), "{e}");
    assert_eq!(fs::read(&not_a_dir).unwrap(), b"x");
    assert_eq!(leftovers(&dir, &["plain-file"]), Vec::<String>::new());
}

#[test]
fn checkpoint_save_onto_a_directory_fails_cleanly() {
    let dir = scratch("target-is-dir");
    let path = dir.join("model.safetensors");
    fs::create_dir(&path).unwrap();
    fs::write(path.join("inside"), b"keep me").unwrap();
    let e = checkpoint::save(&path, &params_6_5_4_3(), &meta_6())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&path.display().to_string()) && e.contains("renaming"),
        "{e}"
    );
    assert_eq!(fs::read(path.join("inside")).unwrap(), b"keep me");
    assert_eq!(
        leftovers(&dir, &["model.safetensors"]),
        Vec::<String>::new(),
        "temp file removed"
    );
}

#[test]
fn checkpoint_save_to_missing_directory_names_the_path() {
    let dir = scratch("missing-dir");
    let path = dir.join("no/such/dir/model.safetensors");
    let e = checkpoint::save(&path, &params_6_5_4_3(), &meta_6())
        .unwrap_err()
        .to_string();
    assert!(e.contains(&path.display().to_string()), "{e}");
}

// ------------------------------------------------------------------------------------------------
// Broken files. The base case is a valid 4 -> 3 -> 2 (relu, softmax, ce) checkpoint built
// directly with the safetensors crate; each test breaks one thing.
// ------------------------------------------------------------------------------------------------

struct Raw {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

fn f32s(shape: &[usize], f: impl Fn(usize) -> f32) -> Vec<u8> {
    let n: usize = shape.iter().product();
    (0..n).flat_map(|i| f(i).to_le_bytes()).collect()
}

fn raw(name: &str, shape: &[usize]) -> Raw {
    Raw {
        name: name.into(),
        dtype: Dtype::F32,
        shape: shape.to_vec(),
        data: f32s(shape, |i| i as f32 * 0.125 - 0.5),
    }
}

fn base_tensors() -> Vec<Raw> {
    vec![
        raw("layers.0.weight", &[3, 4]),
        raw("layers.0.bias", &[3]),
        raw("layers.1.weight", &[2, 3]),
        raw("layers.1.bias", &[2]),
    ]
}

fn base_meta() -> HashMap<String, String> {
    [
        ("format", "gpunn-mlp"),
        ("version", "1"),
        ("layers", "4,3,2"),
        ("activations", "relu,softmax"),
        ("loss", "ce"),
        ("input_shape", "2,2"),
        ("classes", "2"),
        ("dataset", "toy"),
        ("epoch", "3"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn build(tensors: &[Raw], meta: Option<HashMap<String, String>>) -> Vec<u8> {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                TensorView::new(t.dtype, t.shape.clone(), &t.data).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, meta).unwrap()
}

/// Writes `bytes` to a file named after the case, loads it, and checks that the error is one
/// line naming the file and containing `want`.
#[track_caller]
fn expect_bad(case: &str, bytes: &[u8], want: &str) {
    let dir = scratch(&format!("bad-{case}"));
    let path = dir.join(format!("{case}.safetensors"));
    fs::write(&path, bytes).unwrap();
    let err = match checkpoint::load(&path) {
        Ok(_) => panic!("{case}: loaded a broken checkpoint"),
        Err(e) => e.to_string(),
    };
    eprintln!("{case}: {err}");
    assert!(
        err.contains(&path.display().to_string()),
        "{case}: error does not name the file: {err}"
    );
    assert!(
        err.contains(want),
        "{case}: error should mention '{want}': {err}"
    );
    assert!(!err.contains('\n'), "{case}: error is not one line: {err}");
}

#[test]
fn checkpoint_base_fixture_loads() {
    let dir = scratch("base");
    let path = dir.join("base.safetensors");
    fs::write(&path, build(&base_tensors(), Some(base_meta()))).unwrap();
    let (p, m) = checkpoint::load(&path).unwrap();
    assert_eq!(p.spec().sizes, [4, 3, 2]);
    assert_eq!(
        p.layers[1].weights,
        [-0.5, -0.375, -0.25, -0.125, 0.0, 0.125]
    );
    assert_eq!(m.input_shape, [2, 2]);
    assert_eq!((m.classes, m.epoch, m.dataset.as_str()), (2, 3, "toy"));
    assert!(m.extra.is_empty());
}

#[test]
fn checkpoint_rejects_empty_and_garbage_files() {
    expect_bad("empty", b"", "too short");
    expect_bad("seven-bytes", &[1, 0, 0, 0, 0, 0, 0], "too short");
    expect_bad(
        "garbage",
        b"this is not a checkpoint, just some text",
        "header length",
    );
    expect_bad("all-ones", &[0xff; 64], "header length");
}

#[test]
fn checkpoint_rejects_header_length_beyond_file() {
    // Claims a 1000-byte header in a 10-byte file: refused before allocating anything.
    let mut bytes = 1000u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    expect_bad(
        "header-too-long",
        &bytes,
        "header length field says 1000 bytes but the file has 2",
    );
    let mut huge = u64::MAX.to_le_bytes().to_vec();
    huge.extend_from_slice(b"{}");
    expect_bad("header-u64-max", &huge, "header length");
}

#[test]
fn checkpoint_rejects_bad_json_and_truncation() {
    let mut bytes = 8u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{not js}");
    expect_bad("bad-json", &bytes, "not a valid safetensors file");

    let good = build(&base_tensors(), Some(base_meta()));
    expect_bad(
        "truncated",
        &good[..good.len() - 4],
        "truncated file or trailing bytes",
    );
    let mut longer = good.clone();
    longer.extend_from_slice(&[0; 4]);
    expect_bad(
        "trailing-bytes",
        &longer,
        "truncated file or trailing bytes",
    );
}

#[test]
fn checkpoint_rejects_missing_metadata() {
    expect_bad(
        "no-metadata",
        &build(&base_tensors(), None),
        "no __metadata__",
    );
    for key in checkpoint::RESERVED_KEYS {
        let mut md = base_meta();
        md.remove(key);
        expect_bad(
            &format!("no-{key}"),
            &build(&base_tensors(), Some(md)),
            &format!("metadata has no '{key}' entry"),
        );
    }
}

#[test]
fn checkpoint_rejects_bad_metadata_values() {
    let cases: [(&str, &str, &str); 13] = [
        (
            "format",
            "pytorch",
            "'format' is 'pytorch', expected 'gpunn-mlp'",
        ),
        ("version", "2", "version '2' is not supported"),
        ("layers", "4,x,2", "'x' is not a whole number"),
        ("layers", "", "metadata 'layers' is empty"),
        ("activations", "relu,swish", "unknown activation 'swish'"),
        ("activations", "relu", "1 activations for 2 layers"),
        (
            "activations",
            "softmax,softmax",
            "softmax is allowed on the output layer only",
        ),
        ("loss", "hinge", "unknown loss 'hinge'"),
        ("loss", "bce", "loss bce needs a sigmoid output layer"),
        (
            "input_shape",
            "28,28",
            "input_shape [28, 28] does not hold the network's 4 inputs",
        ),
        ("input_shape", "4,0", "does not hold"),
        (
            "classes",
            "ten",
            "metadata 'classes' = 'ten' is not a whole number",
        ),
        (
            "epoch",
            "-1",
            "metadata 'epoch' = '-1' is not a whole number",
        ),
    ];
    for (i, (key, value, want)) in cases.into_iter().enumerate() {
        let mut md = base_meta();
        md.insert(key.into(), value.into());
        expect_bad(
            &format!("meta-{i}-{key}"),
            &build(&base_tensors(), Some(md)),
            want,
        );
    }
}

#[test]
fn checkpoint_rejects_missing_and_unexpected_tensors() {
    for name in ["layers.0.weight", "layers.1.bias"] {
        let t: Vec<Raw> = base_tensors()
            .into_iter()
            .filter(|t| t.name != name)
            .collect();
        expect_bad(
            "missing-tensor",
            &build(&t, Some(base_meta())),
            &format!("missing tensor {name}"),
        );
    }
    let mut t = base_tensors();
    t.push(raw("layers.2.weight", &[2, 2]));
    expect_bad(
        "extra-layer",
        &build(&t, Some(base_meta())),
        "unexpected tensor 'layers.2.weight'",
    );
    let mut t = base_tensors();
    t.push(raw("optimizer.momentum", &[3]));
    expect_bad(
        "extra-tensor",
        &build(&t, Some(base_meta())),
        "unexpected tensor 'optimizer.momentum'",
    );
    let mut t = base_tensors();
    t[1].name = "layers.00.bias".into();
    expect_bad(
        "odd-name",
        &build(&t, Some(base_meta())),
        "unexpected tensor 'layers.00.bias'",
    );
}

#[test]
fn checkpoint_rejects_wrong_dtype() {
    let mut t = base_tensors();
    t[0] = Raw {
        name: "layers.0.weight".into(),
        dtype: Dtype::F64,
        shape: vec![3, 4],
        data: vec![0; 12 * 8],
    };
    expect_bad(
        "f64",
        &build(&t, Some(base_meta())),
        "layers.0.weight has dtype F64 but must be F32",
    );
    let mut t = base_tensors();
    t[3] = Raw {
        name: "layers.1.bias".into(),
        dtype: Dtype::F16,
        shape: vec![2],
        data: vec![0; 4],
    };
    expect_bad(
        "f16",
        &build(&t, Some(base_meta())),
        "layers.1.bias has dtype F16",
    );
}

#[test]
fn checkpoint_rejects_shapes_that_disagree_with_the_spec() {
    let mut t = base_tensors();
    t[2] = raw("layers.1.weight", &[2, 5]);
    expect_bad(
        "weight-shape",
        &build(&t, Some(base_meta())),
        "layers.1.weight has shape [2, 5] but the spec says 3 -> 2",
    );
    // Transposed ([in, out] instead of [out, in]).
    let mut t = base_tensors();
    t[0] = raw("layers.0.weight", &[4, 3]);
    expect_bad(
        "transposed",
        &build(&t, Some(base_meta())),
        "layers.0.weight has shape [4, 3]",
    );
    let mut t = base_tensors();
    t[1] = raw("layers.0.bias", &[1, 3]);
    expect_bad(
        "bias-shape",
        &build(&t, Some(base_meta())),
        "layers.0.bias has shape [1, 3]",
    );
}

#[test]
fn checkpoint_rejects_non_finite_values() {
    for (case, v, shown) in [
        ("nan", f32::NAN, "NaN"),
        ("inf", f32::INFINITY, "inf"),
        ("neg-inf", f32::NEG_INFINITY, "-inf"),
    ] {
        let mut t = base_tensors();
        t[3].data = f32s(&[2], |i| if i == 1 { v } else { 0.5 });
        expect_bad(
            case,
            &build(&t, Some(base_meta())),
            &format!("layers.1.bias element 1 is {shown}"),
        );
    }
}

#[test]
fn checkpoint_load_names_missing_file_and_directories() {
    let dir = scratch("not-files");
    let missing = dir.join("nope.safetensors");
    let e = checkpoint::load(&missing).unwrap_err().to_string();
    assert!(e.contains(&missing.display().to_string()), "{e}");
    let e = checkpoint::load(&dir).unwrap_err().to_string();
    assert!(e.contains(&dir.display().to_string()), "{e}");
}
