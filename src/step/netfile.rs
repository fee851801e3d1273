//! The JSON network file of `gpunn step`:
//! `{"layers": [{"weights": [[...], ...], "bias": [...], "activation": "sigmoid"}, ...]}`,
//! where `weights[j][i]` is the weight from input `i` to neuron `j`.

use crate::model::{Activation, Layer, Loss, Params};
use crate::{Error, Result};
use serde_json::Value;
use std::path::Path;

/// Reads and validates a network file. Every error names the file and, where it applies, the
/// layer (1-based) and the field.
pub fn load(path: &Path, loss: Loss) -> Result<Params> {
    use std::io::Read;
    // A network worth stepping by hand is tiny; the cap keeps a wrong path (a dataset, a
    // device file) from being read whole.
    const MAX_BYTES: u64 = 64 << 20;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(Error::bad_file(
            path,
            format!("larger than {} MiB; not a network file", MAX_BYTES >> 20),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        Error::bad_file(
            path,
            format!("not a JSON text file: invalid UTF-8 at byte {at}"),
        )
    })?;
    parse(&text, loss).map_err(|msg| Error::bad_file(path, msg))
}

/// Parses a network from JSON text; the error is a one-line message.
pub fn parse(text: &str, loss: Loss) -> std::result::Result<Params, String> {
    let root: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let layers = root
        .get("layers")
        .ok_or("missing field \"layers\"")?
        .as_array()
        .ok_or("\"layers\" must be an array")?;
    if layers.is_empty() {
        return Err("no layers: \"layers\" is empty".into());
    }
    let mut out: Vec<Layer> = Vec::with_capacity(layers.len());
    for (l, layer) in layers.iter().enumerate() {
        let n = l + 1;
        let field = |name: &str| {
            layer
                .get(name)
                .ok_or_else(|| format!("layer {n}: missing field \"{name}\""))
        };
        let rows = field("weights")?
            .as_array()
            .ok_or_else(|| format!("layer {n}: \"weights\" must be an array of rows"))?;
        if rows.is_empty() {
            return Err(format!("layer {n}: \"weights\" has no rows"));
        }
        let mut weights = Vec::new();
        let mut inputs = None;
        for (j, row) in rows.iter().enumerate() {
            let row = numbers(row).map_err(|e| format!("layer {n}: weights row {}: {e}", j + 1))?;
            match inputs {
                None => inputs = Some(row.len()),
                Some(k) if k != row.len() => {
                    return Err(format!(
                        "layer {n}: ragged weights: row {} has {} values, row 1 has {k}",
                        j + 1,
                        row.len()
                    ))
                }
                _ => {}
            }
            weights.extend(row);
        }
        let inputs = inputs.unwrap_or(0);
        if inputs == 0 {
            return Err(format!("layer {n}: weights rows are empty"));
        }
        let outputs = rows.len();
        let bias = numbers(field("bias")?).map_err(|e| format!("layer {n}: bias: {e}"))?;
        if bias.len() != outputs {
            return Err(format!(
                "layer {n}: bias has {} values but weights have {outputs} rows (one bias per neuron)",
                bias.len()
            ));
        }
        let activation: Activation = field("activation")?
            .as_str()
            .ok_or_else(|| format!("layer {n}: \"activation\" must be a string"))?
            .parse()
            .map_err(|e| format!("layer {n}: {e}"))?;
        if let Some(prev) = out.last() {
            if prev.outputs != inputs {
                return Err(format!(
                    "layer {n}: shapes don't chain: it takes {inputs} inputs but layer {} has {} outputs",
                    n - 1,
                    prev.outputs
                ));
            }
        }
        out.push(Layer {
            inputs,
            outputs,
            weights,
            bias,
            activation,
        });
    }
    let params = Params {
        layers: out,
        loss,
        bias: true,
    };
    params.spec().validate().map_err(|e| e.to_string())?;
    Ok(params)
}

fn numbers(v: &Value) -> std::result::Result<Vec<f32>, String> {
    let arr = v
        .as_array()
        .ok_or_else(|| format!("expected an array of numbers, got {v}"))?;
    arr.iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_f64()
                .map(|f| f as f32)
                .filter(|f| f.is_finite())
                .ok_or_else(|| format!("value {} is not a number: {x}", i + 1))
        })
        .collect()
}

/// Writes parameters back as a network file (the inverse of [`parse`]).
pub fn to_json(params: &Params) -> Value {
    let layers: Vec<Value> = params
        .layers
        .iter()
        .map(|l| {
            serde_json::json!({
                "weights": l.weights.chunks(l.inputs).collect::<Vec<_>>(),
                "bias": l.bias,
                "activation": l.activation.name(),
            })
        })
        .collect();
    serde_json::json!({ "layers": layers })
}
