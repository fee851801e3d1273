//! Writing a checkpoint: the parameters as F32 tensors and the metadata map, checked so that
//! a written checkpoint always reads back.

use super::read::{check_classes, check_input_shape, one_line};
use super::{ModelMeta, BIAS_KEY, FORMAT, OPTIMIZER_STEP_KEY, RESERVED_KEYS, VERSION};
use crate::error::{Error, Result};
use crate::model::Params;
use crate::optim::OptimizerState;
use safetensors::Dtype;
use std::collections::HashMap;
use std::path::Path;

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

pub(super) fn join<T: ToString>(items: &[T]) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}

/// Checks what is being saved and serialises it. Refuses parameters that [`load`] would refuse,
/// so a checkpoint that was written can always be read back.
pub(super) fn encode(
    path: &Path,
    params: &Params,
    meta: &ModelMeta,
    state: Option<&OptimizerState>,
) -> Result<Vec<u8>> {
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
    if let Some(k) = meta.extra.keys().find(|k| {
        RESERVED_KEYS.contains(&k.as_str()) || [OPTIMIZER_STEP_KEY, BIAS_KEY].contains(&k.as_str())
    }) {
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
    if !params.bias {
        md.insert(BIAS_KEY.to_string(), "false".to_string());
    }

    let mut tensors: Vec<(String, F32Tensor)> = params
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
    if let Some(state) = state {
        if state.tensors.len() != 2 * params.layers.len() {
            return Err(refuse(format!(
                "the optimizer state has {} tensors, the network {}",
                state.tensors.len(),
                2 * params.layers.len()
            )));
        }
        md.insert(OPTIMIZER_STEP_KEY.into(), state.step.to_string());
        for (k, t) in state.tensors.iter().enumerate() {
            let l = &params.layers[k / 2];
            let (kind, shape) = if k % 2 == 0 {
                ("weight", vec![l.outputs, l.inputs])
            } else {
                ("bias", vec![l.outputs])
            };
            let n: usize = shape.iter().product();
            for (slot, v) in [("velocity", &t.velocity), ("m", &t.m), ("v", &t.v)] {
                if v.is_empty() {
                    continue;
                }
                let name = format!("optimizer.{}.{kind}.{slot}", k / 2);
                if v.len() != n {
                    return Err(refuse(format!("{name} has {} values for {n}", v.len())));
                }
                if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                    return Err(refuse(format!("{name} element {i} is {}", v[i])));
                }
                tensors.push((name, F32Tensor::new(shape.clone(), v)));
            }
        }
    }
    safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(md))
        .map_err(|e| refuse(one_line(&e.to_string())))
}
