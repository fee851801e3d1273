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

mod read;
mod write;

use crate::error::Result;
use crate::model::Params;
use crate::optim::OptimizerState;
use read::{check_prefix, decode};
use std::collections::BTreeMap;
use std::path::Path;
use write::encode;

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

/// The metadata key of the optimizer's step count, written with its state; like
/// [`RESERVED_KEYS`], [`ModelMeta::extra`] may not use it.
pub const OPTIMIZER_STEP_KEY: &str = "optimizer_step";

/// The metadata key saying `"false"` when the layers have no bias (their biases are zero and
/// never trained); absent otherwise. Like [`RESERVED_KEYS`], [`ModelMeta::extra`] may not use it.
pub const BIAS_KEY: &str = "bias";

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
    save_with_state(path, params, meta, None)
}

/// [`save`] with the optimizer's state: tensors `optimizer.{i}.{weight,bias}.{velocity,m,v}`
/// (those the rule keeps, each of its parameter's shape) and the metadata key
/// `optimizer_step`, so that a resumed run continues exactly.
pub fn save_with_state(
    path: &Path,
    params: &Params,
    meta: &ModelMeta,
    state: Option<&OptimizerState>,
) -> Result<()> {
    let bytes = encode(path, params, meta, state)?;
    crate::io::write_atomic(path, &bytes)
}

/// Reads a checkpoint written by [`save`], checking everything: the safetensors structure,
/// the metadata, every tensor's name, dtype and shape against the spec, and that every value is
/// finite.
pub fn load(path: &Path) -> Result<(Params, ModelMeta)> {
    load_with_state(path).map(|(p, m, _)| (p, m))
}

/// [`load`], and the optimizer's state when the checkpoint has one (checkpoints of plain SGD
/// and those written before optimizers were saved have none).
pub fn load_with_state(path: &Path) -> Result<(Params, ModelMeta, Option<OptimizerState>)> {
    let bytes = crate::io::read_capped(path, MAX_FILE_BYTES, "checkpoint")?;
    let len = bytes.len() as u64;
    let prefix: Option<[u8; 8]> = bytes.get(..8).and_then(|p| p.try_into().ok());
    check_prefix(path, prefix, len)?;
    decode(path, &bytes)
}

/// [`load`] on a checkpoint already in memory (the fuzz target's entry point); `source` names
/// it in errors. Makes the same checks, and never panics nor allocates more than `bytes` holds.
pub fn from_bytes(source: &Path, bytes: &[u8]) -> Result<(Params, ModelMeta)> {
    let len = bytes.len() as u64;
    let prefix: Option<[u8; 8]> = bytes.get(..8).and_then(|p| p.try_into().ok());
    check_prefix(source, prefix, len)?;
    decode(source, bytes).map(|(p, m, _)| (p, m))
}
