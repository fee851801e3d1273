//! Fitted estimators to and from gpunn's safetensors checkpoints, the files `gpunn eval`,
//! `predict`, `features` and `embed` read: the layers as tensors, the resolved run (TOML) and
//! whatever the Python layer keeps (its parameters and classes, as JSON) in the metadata.

use super::{params, py_err};
use gpunn::checkpoint::{self, ModelMeta};
use gpunn::run::RUN_KEY;
use numpy::{
    PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
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

/// Writes the model saved at `path` as an ONNX model at `out` (`gpunn export`).
#[pyfunction]
pub fn export_onnx(py: Python<'_>, path: PathBuf, out: PathBuf) -> PyResult<()> {
    py.detach(move || gpunn::export::export_onnx(&path, &out).map(|_| ()))
        .map_err(py_err)
}

/// The outputs `[n][outputs]` of the model saved at `path` for raw inputs `x` (`[n][inputs]`):
/// its stored input scaling applied, regression outputs in the targets' units, as `gpunn
/// predict` gives them and an exported ONNX model computes them.
#[pyfunction]
pub fn predict_raw<'py>(
    py: Python<'py>,
    path: PathBuf,
    x: PyReadonlyArray2<'py, f32>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let n = x.shape()[0];
    let raw: Vec<f32> = x.as_array().iter().copied().collect();
    let (out, width) = py
        .detach(move || -> gpunn::Result<(Vec<f32>, usize)> {
            let (params, meta) = checkpoint::load(&path)?;
            let io = gpunn::export::io_of(&path, &meta)?;
            Ok((
                gpunn::export::raw_outputs(&params, &io, raw)?,
                params.outputs(),
            ))
        })
        .map_err(py_err)?;
    PyArray1::from_vec(py, out).reshape([n, width])
}
