//! Checkpoints: a trained network's parameters and what it was trained on, in the standard
//! [safetensors](https://github.com/huggingface/safetensors) format, so PyTorch, candle and
//! `safetensors` tooling can read them.
//!
//! Layout of a file written by [`save`]:
//!
//! - tensors `layers.{i}.weight`, F32 little-endian, shape `[out, in]` (row `j` holds the weights
//!   into neuron `j`, as in PyTorch's `nn.Linear`), and `layers.{i}.bias`, shape `[out]`, for
//!   `i` = 0, 1, … in order from the input;
//! - the safetensors `__metadata__` string map:
//!
//! | key           | example            | meaning                                           |
//! |---------------|--------------------|---------------------------------------------------|
//! | `format`      | `gpunn-mlp`        | always this                                       |
//! | `version`     | `1`                | layout version; others are refused                |
//! | `layers`      | `784,128,64,10`    | all layer sizes, input first                      |
//! | `activations` | `relu,relu,softmax`| one per dense layer                               |
//! | `loss`        | `ce`               | the loss the network was trained with             |
//! | `input_shape` | `28,28`            | shape of one sample; its product is the input size|
//! | `classes`     | `10`               | number of classes                                 |
//! | `dataset`     | `mnist`            | what it was trained on                            |
//! | `epoch`       | `12`               | the epoch these parameters come from              |
//! | anything else |                    | [`ModelMeta::extra`]                               |
//!
//! [`save`] is atomic: it writes a temporary file next to the target, fsyncs it and renames it
//! over the target, so a crash or a full disk leaves the previous checkpoint intact.
//! [`load`] is strict: anything that does not describe exactly one valid network is refused
//! with a one-line error naming the file, never a panic.

use crate::error::{Error, Result};
use crate::model::{Activation, Layer, Loss, MlpSpec, Params};
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The value of the `format` metadata key.
pub const FORMAT: &str = "gpunn-mlp";
/// The layout version written, and the only one read.
pub const VERSION: &str = "1";
/// The largest checkpoint [`load`] reads (1 GiB, a quarter of a billion f32 parameters).
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// The largest JSON header [`load`] accepts (the safetensors crate's own limit).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Metadata keys [`save`] writes itself; [`ModelMeta::extra`] may not use them.
pub const RESERVED_KEYS: [&str; 9] = [
    "format",
    "version",
    "layers",
    "activations",
    "loss",
    "input_shape",
    "classes",
    "dataset",
    "epoch",
];

/// What a checkpoint says about its network besides the parameters.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ModelMeta {
    /// Shape of one input sample, e.g. `[28, 28]` for MNIST or `[2]` for xor. Its product must
    /// equal the network's input size.
    pub input_shape: Vec<usize>,
    /// Number of classes the output encodes (2 for a single sigmoid output).
    pub classes: usize,
    /// The data set trained on, e.g. `mnist`.
    pub dataset: String,
    /// The epoch the parameters come from (0 = untrained).
    pub epoch: usize,
    /// Free-form entries (learning rate, seed, git revision…), stored as metadata strings.
    pub extra: BTreeMap<String, String>,
}

/// Writes `params` and `meta` to `path` atomically (temporary file, fsync, rename, fsync of the
/// directory). On error the temporary file is removed and a previous file at `path` is intact.
pub fn save(path: &Path, params: &Params, meta: &ModelMeta) -> Result<()> {
    let bytes = encode(path, params, meta)?;
    crate::io::write_atomic(path, &bytes)
}

/// Reads a checkpoint written by [`save`], checking everything: the safetensors structure,
/// the metadata, every tensor's name, dtype and shape against the spec, and that every value is
/// finite.
pub fn load(path: &Path) -> Result<(Params, ModelMeta)> {
    let bytes = crate::io::read_capped(path, MAX_FILE_BYTES, "checkpoint")?;
    from_bytes(path, &bytes)
}

/// [`load`] on a checkpoint already in memory (the fuzz target's entry point); `source` names
/// it in errors. Makes the same checks, and never panics nor allocates more than `bytes` holds.
pub fn from_bytes(source: &Path, bytes: &[u8]) -> Result<(Params, ModelMeta)> {
    let len = bytes.len() as u64;
    let prefix: Option<[u8; 8]> = bytes.get(..8).and_then(|p| p.try_into().ok());
    check_prefix(source, prefix, len)?;
    decode(source, bytes)
}

// ------------------------------------------------------------------------------------------------
// Writing
// ------------------------------------------------------------------------------------------------

/// One f32 tensor, ready for `safetensors::serialize`.
struct F32Tensor {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl F32Tensor {
    fn new(shape: Vec<usize>, values: &[f32]) -> Self {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        F32Tensor { shape, bytes }
    }
}

impl safetensors::View for &F32Tensor {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn join<T: ToString>(items: &[T]) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}

/// Checks what is being saved and serialises it. Refuses parameters that [`load`] would refuse,
/// so a checkpoint that was written can always be read back.
fn encode(path: &Path, params: &Params, meta: &ModelMeta) -> Result<Vec<u8>> {
    let refuse = |msg: String| Error::bad_file(path, format!("cannot save checkpoint: {msg}"));
    if params.layers.is_empty() {
        return Err(refuse("the network has no layers".into()));
    }
    for (i, l) in params.layers.iter().enumerate() {
        if l.weights.len() != l.inputs * l.outputs || l.bias.len() != l.outputs {
            return Err(refuse(format!(
                "layer {i} is {} -> {} but holds {} weights and {} biases",
                l.inputs,
                l.outputs,
                l.weights.len(),
                l.bias.len()
            )));
        }
        if i > 0 && l.inputs != params.layers[i - 1].outputs {
            return Err(refuse(format!(
                "layer {i} takes {} inputs but layer {} has {} outputs",
                l.inputs,
                i - 1,
                params.layers[i - 1].outputs
            )));
        }
        if let Some(k) = l.weights.iter().chain(&l.bias).position(|v| !v.is_finite()) {
            return Err(refuse(format!(
                "layer {i} holds a non-finite value (element {k} of weights then bias)"
            )));
        }
    }
    let spec = params.spec();
    spec.validate().map_err(|e| refuse(e.to_string()))?;
    check_input_shape(&meta.input_shape, spec.inputs()).map_err(refuse)?;
    check_classes(meta.classes, spec.outputs()).map_err(refuse)?;
    if let Some(k) = meta
        .extra
        .keys()
        .find(|k| RESERVED_KEYS.contains(&k.as_str()))
    {
        return Err(refuse(format!("extra metadata key '{k}' is reserved")));
    }

    let mut md: HashMap<String, String> = meta.extra.clone().into_iter().collect();
    for (k, v) in [
        ("format", FORMAT.to_string()),
        ("version", VERSION.to_string()),
        ("layers", join(&spec.sizes)),
        ("activations", join(&spec.activations)),
        ("loss", spec.loss.to_string()),
        ("input_shape", join(&meta.input_shape)),
        ("classes", meta.classes.to_string()),
        ("dataset", meta.dataset.clone()),
        ("epoch", meta.epoch.to_string()),
    ] {
        md.insert(k.to_string(), v);
    }

    let tensors: Vec<(String, F32Tensor)> = params
        .layers
        .iter()
        .enumerate()
        .flat_map(|(i, l)| {
            [
                (
                    format!("layers.{i}.weight"),
                    F32Tensor::new(vec![l.outputs, l.inputs], &l.weights),
                ),
                (
                    format!("layers.{i}.bias"),
                    F32Tensor::new(vec![l.outputs], &l.bias),
                ),
            ]
        })
        .collect();
    safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(md))
        .map_err(|e| refuse(one_line(&e.to_string())))
}

// ------------------------------------------------------------------------------------------------
// Reading
// ------------------------------------------------------------------------------------------------

/// Checks the 8-byte header length `prefix` (`None`: the data is shorter than 8 bytes) of
/// `len` bytes of checkpoint.
fn check_prefix(path: &Path, prefix: Option<[u8; 8]>, len: u64) -> Result<()> {
    let Some(prefix) = prefix.filter(|_| len >= 8) else {
        return Err(Error::bad_file(
            path,
            format!("not a safetensors file: {len} bytes, too short for the 8-byte header length"),
        ));
    };
    let n = u64::from_le_bytes(prefix);
    if n <= len - 8 && n > MAX_HEADER_BYTES {
        return Err(Error::bad_file(
            path,
            format!("the header length field says {n} bytes, more than the {MAX_HEADER_BYTES}-byte limit"),
        ));
    }
    if n > len - 8 {
        return Err(Error::bad_file(
            path,
            format!(
                "not a safetensors file: the header length field says {n} bytes but the file has {} after it",
                len - 8
            ),
        ));
    }
    Ok(())
}

/// Collapses a message onto one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses a comma-separated list of positive sizes.
fn parse_usizes(key: &str, s: &str) -> std::result::Result<Vec<usize>, String> {
    if s.trim().is_empty() {
        return Err(format!("metadata '{key}' is empty"));
    }
    s.split(',')
        .map(|t| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("metadata '{key}' = '{s}': '{t}' is not a whole number"))
        })
        .collect()
}

/// One sigmoid output encodes 2 classes; otherwise each class needs its own output. A count
/// beyond that would index past the outputs (and size confusion matrices after a lying file).
fn check_classes(classes: usize, outputs: usize) -> std::result::Result<(), String> {
    let most = outputs.max(2);
    if classes == 0 || classes > most {
        return Err(format!(
            "classes {classes} does not fit the network's {outputs} output{} (1 to {most})",
            if outputs == 1 { "" } else { "s" }
        ));
    }
    Ok(())
}

fn check_input_shape(shape: &[usize], inputs: usize) -> std::result::Result<(), String> {
    let product = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if shape.is_empty() || shape.contains(&0) || product != Some(inputs) {
        return Err(format!(
            "input_shape {shape:?} does not hold the network's {inputs} inputs"
        ));
    }
    Ok(())
}

fn decode(path: &Path, bytes: &[u8]) -> Result<(Params, ModelMeta)> {
    let bad = |msg: String| Error::bad_file(path, one_line(&msg));
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| match e {
        SafeTensorError::MetadataIncompleteBuffer => bad(
            "not a valid safetensors file: the tensor data does not match the header \
             (truncated file or trailing bytes)"
                .into(),
        ),
        e => bad(format!("not a valid safetensors file: {e}")),
    })?;
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
    let md = header
        .metadata()
        .as_ref()
        .ok_or_else(|| bad("no __metadata__ (not a gpunn checkpoint)".into()))?;
    let get = |key: &str| -> Result<&str> {
        md.get(key)
            .map(String::as_str)
            .ok_or_else(|| bad(format!("metadata has no '{key}' entry")))
    };

    let format = get("format")?;
    if format != FORMAT {
        return Err(bad(format!(
            "metadata 'format' is '{format}', expected '{FORMAT}'"
        )));
    }
    let version = get("version")?;
    if version != VERSION {
        return Err(bad(format!(
            "checkpoint version '{version}' is not supported (this build reads version {VERSION})"
        )));
    }
    let sizes = parse_usizes("layers", get("layers")?).map_err(bad)?;
    let activations = get("activations")?
        .split(',')
        .map(|t| {
            t.parse::<Activation>()
                .map_err(|e| bad(format!("metadata 'activations': {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let loss = get("loss")?
        .parse::<Loss>()
        .map_err(|e| bad(format!("metadata 'loss': {e}")))?;
    let spec = MlpSpec {
        sizes,
        activations,
        loss,
    };
    spec.validate().map_err(|e| {
        // The spec's own errors name command-line flags, which mean nothing here.
        let msg = match e {
            Error::Invalid { msg, .. } => msg,
            e => e.to_string(),
        };
        bad(format!("the spec in the metadata is invalid: {msg}"))
    })?;
    let input_shape = parse_usizes("input_shape", get("input_shape")?).map_err(bad)?;
    check_input_shape(&input_shape, spec.inputs()).map_err(bad)?;
    let whole = |key: &str| -> Result<usize> {
        let v = get(key)?;
        v.trim()
            .parse::<usize>()
            .map_err(|_| bad(format!("metadata '{key}' = '{v}' is not a whole number")))
    };
    let classes = whole("classes")?;
    check_classes(classes, spec.outputs()).map_err(bad)?;
    let epoch = whole("epoch")?;
    let dataset = get("dataset")?.to_string();
    let extra = md
        .iter()
        .filter(|(k, _)| !RESERVED_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    // Every tensor must be one the spec asks for (checked here) and every one it asks for must be
    // there (checked by name below).
    let is_expected = |name: &str| -> bool {
        let Some(rest) = name.strip_prefix("layers.") else {
            return false;
        };
        let Some((i, kind)) = rest.split_once('.') else {
            return false;
        };
        // `n.to_string() == i` refuses spellings such as `layers.01.bias`.
        let index_ok = i
            .parse::<usize>()
            .is_ok_and(|n| n < spec.depth() && n.to_string() == i);
        index_ok && (kind == "weight" || kind == "bias")
    };
    let mut names = st.names();
    names.sort_unstable();
    if let Some(odd) = names.iter().find(|n| !is_expected(n)) {
        return Err(bad(format!(
            "unexpected tensor '{odd}' (the spec has {} layers: layers.0 to layers.{})",
            spec.depth(),
            spec.depth() - 1
        )));
    }
    let tensor = |name: &str, shape: &[usize], what: String| -> Result<Vec<f32>> {
        let t = st
            .tensor(name)
            .map_err(|_| bad(format!("missing tensor {name}")))?;
        if t.dtype() != Dtype::F32 {
            return Err(bad(format!(
                "{name} has dtype {} but must be F32",
                t.dtype()
            )));
        }
        if t.shape() != shape {
            return Err(bad(format!(
                "{name} has shape {:?} but the spec says {what}",
                t.shape()
            )));
        }
        // The data length matches the shape (checked by safetensors); it may be unaligned.
        let values: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if let Some(k) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("{name} element {k} is {}", values[k])));
        }
        Ok(values)
    };

    let mut layers = Vec::with_capacity(spec.depth());
    for i in 0..spec.depth() {
        let (inputs, outputs) = (spec.sizes[i], spec.sizes[i + 1]);
        let weights = tensor(
            &format!("layers.{i}.weight"),
            &[outputs, inputs],
            format!("{inputs} -> {outputs}, i.e. [{outputs}, {inputs}]"),
        )?;
        let bias = tensor(
            &format!("layers.{i}.bias"),
            &[outputs],
            format!("{inputs} -> {outputs}, i.e. [{outputs}]"),
        )?;
        layers.push(Layer {
            inputs,
            outputs,
            weights,
            bias,
            activation: spec.activations[i],
        });
    }
    let params = Params {
        layers,
        loss: spec.loss,
    };
    let meta = ModelMeta {
        input_shape,
        classes,
        dataset,
        epoch,
        extra,
    };
    Ok((params, meta))
}
