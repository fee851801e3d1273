//! Reading a checkpoint strictly: the safetensors structure, the metadata, every tensor's
//! name, dtype and shape against the spec, and that every value is finite.

use super::{
    ModelMeta, BIAS_KEY, FORMAT, MAX_HEADER_BYTES, OPTIMIZER_STEP_KEY, RESERVED_KEYS, VERSION,
};
use crate::error::{Error, Result};
use crate::model::{Activation, Layer, Loss, MlpSpec, Params};
use crate::optim::{OptimizerState, TensorState};
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use std::path::Path;

/// Checks the 8-byte header length `prefix` (`None`: the data is shorter than 8 bytes) of
/// `len` bytes of checkpoint.
pub(super) fn check_prefix(path: &Path, prefix: Option<[u8; 8]>, len: u64) -> Result<()> {
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
pub(super) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses a comma-separated list of positive sizes.
pub(super) fn parse_usizes(key: &str, s: &str) -> std::result::Result<Vec<usize>, String> {
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
pub(super) fn check_classes(classes: usize, outputs: usize) -> std::result::Result<(), String> {
    // 0: no classes (regression, an autoencoder of unlabelled data).
    let most = outputs.max(2);
    if classes > most {
        return Err(format!(
            "classes {classes} does not fit the network's {outputs} output{} (0 to {most})",
            if outputs == 1 { "" } else { "s" }
        ));
    }
    Ok(())
}

pub(super) fn check_input_shape(shape: &[usize], inputs: usize) -> std::result::Result<(), String> {
    let product = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if shape.is_empty() || shape.contains(&0) || product != Some(inputs) {
        return Err(format!(
            "input_shape {shape:?} does not hold the network's {inputs} inputs"
        ));
    }
    Ok(())
}

pub(super) fn decode(
    path: &Path,
    bytes: &[u8],
) -> Result<(Params, ModelMeta, Option<OptimizerState>)> {
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
        .filter(|(k, _)| {
            !RESERVED_KEYS.contains(&k.as_str())
                && ![OPTIMIZER_STEP_KEY, BIAS_KEY].contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    // Every tensor must be one the spec asks for (checked here) and every one it asks for must be
    // there (checked by name below).
    let is_expected = |name: &str| -> bool {
        // `n.to_string() == i` refuses spellings such as `layers.01.bias`.
        let index_ok = |i: &str| {
            i.parse::<usize>()
                .is_ok_and(|n| n < spec.depth() && n.to_string() == i)
        };
        if let Some(rest) = name.strip_prefix("optimizer.") {
            let parts: Vec<&str> = rest.split('.').collect();
            return matches!(parts[..], [i, "weight" | "bias", "velocity" | "m" | "v"] if index_ok(i));
        }
        let Some(rest) = name.strip_prefix("layers.") else {
            return false;
        };
        let Some((i, kind)) = rest.split_once('.') else {
            return false;
        };
        index_ok(i) && (kind == "weight" || kind == "bias")
    };
    let mut names = st.names();
    names.sort_unstable();
    if let Some(odd) = names.iter().find(|n| !is_expected(n)) {
        return Err(bad(format!(
            "unexpected tensor '{odd}' (the spec has {} layers: layers.0 to layers.{}, and their optimizer.* state)",
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
        // Layers without bias (`gpunn train --no-bias`) say so; older checkpoints have biases.
        bias: md.get(BIAS_KEY).is_none_or(|v| v != "false"),
    };
    // The optimizer's state, when saved: each tensor of its parameter's shape.
    let saved_state = names.iter().any(|n| n.starts_with("optimizer."));
    let state = match (saved_state, md.get(OPTIMIZER_STEP_KEY)) {
        (false, None) => None,
        (_, None) => {
            return Err(bad(
                "optimizer tensors without the metadata key optimizer_step".into(),
            ))
        }
        (_, Some(step)) => {
            let step = step.parse::<u64>().map_err(|_| {
                bad(format!(
                    "metadata optimizer_step: '{}' is not a step count",
                    one_line(step)
                ))
            })?;
            let mut tensors = Vec::with_capacity(2 * params.layers.len());
            for (i, l) in params.layers.iter().enumerate() {
                for (kind, shape) in [
                    ("weight", vec![l.outputs, l.inputs]),
                    ("bias", vec![l.outputs]),
                ] {
                    let slot = |s: &str| -> Result<Vec<f32>> {
                        let name = format!("optimizer.{i}.{kind}.{s}");
                        if names.iter().any(|n| *n == name) {
                            tensor(
                                &name,
                                &shape,
                                format!("the shape of layers.{i}.{kind}, {shape:?}"),
                            )
                        } else {
                            Ok(Vec::new())
                        }
                    };
                    tensors.push(TensorState {
                        velocity: slot("velocity")?,
                        m: slot("m")?,
                        v: slot("v")?,
                    });
                }
            }
            Some(OptimizerState { step, tensors })
        }
    };
    let meta = ModelMeta {
        input_shape,
        classes,
        dataset,
        epoch,
        extra,
    };
    Ok((params, meta, state))
}
