//! Fitted estimators to and from gpunn's safetensors checkpoints, the files `gpunn eval`,
//! `predict`, `features` and `embed` read: the layers as tensors, the resolved run (TOML) and
//! whatever the Python layer keeps (its parameters and classes, as JSON) in the metadata.

use super::{params, py_err};
use gpunn::checkpoint::{self, ModelMeta};
use gpunn::run::RUN_KEY;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Writes the network `layers` (`(W [out][in], b)`, with `activations` and `loss`) to `path`
/// atomically, with the resolved `run`, `classes` and their `class_names`, the `epoch` count and
/// the `extra` metadata entries.
#[pyfunction]
#[pyo3(signature = (path, run, layers, activations, loss, classes, class_names, epoch, extra))]
#[allow(clippy::too_many_arguments)]
pub fn save(
    py: Python<'_>,
    path: PathBuf,
    run: String,
    layers: Vec<(PyReadonlyArray2<'_, f32>, PyReadonlyArray1<'_, f32>)>,
    activations: Vec<String>,
    loss: &str,
    classes: usize,
    class_names: Vec<String>,
    epoch: usize,
    extra: BTreeMap<String, String>,
) -> PyResult<()> {
    let p = params(layers, &activations, loss)?;
    let mut entries = extra;
    entries.insert("class_names".into(), class_names.join(","));
    entries.insert(RUN_KEY.into(), run);
    let meta = ModelMeta {
        input_shape: vec![p.inputs()],
        classes,
        dataset: "arrays".into(),
        epoch,
        extra: entries,
    };
    py.detach(move || checkpoint::save(&path, &p, &meta))
        .map_err(py_err)
}

/// Reads a checkpoint: a dict of `weights` (`[out][in]` arrays), `biases`, `activations`,
/// `loss`, `classes`, `epoch` and the metadata entries `extra`.
#[pyfunction]
pub fn load(py: Python<'_>, path: PathBuf) -> PyResult<Bound<'_, PyDict>> {
    let (p, meta) = py.detach(move || checkpoint::load(&path)).map_err(py_err)?;
    let out = PyDict::new(py);
    let weights = PyList::empty(py);
    let biases = PyList::empty(py);
    let mut activations = Vec::new();
    for l in &p.layers {
        weights.append(PyArray1::from_slice(py, &l.weights).reshape([l.outputs, l.inputs])?)?;
        biases.append(PyArray1::from_slice(py, &l.bias))?;
        activations.push(l.activation.name());
    }
    out.set_item("weights", weights)?;
    out.set_item("biases", biases)?;
    out.set_item("activations", activations)?;
    out.set_item("loss", p.loss.name())?;
    out.set_item("classes", meta.classes)?;
    out.set_item("epoch", meta.epoch)?;
    out.set_item("extra", meta.extra)?;
    Ok(out)
}
