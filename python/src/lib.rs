//! `gpunn._core`: the thin binding under the Python package. It holds no policy: a run
//! description (TOML, the same keys as `gpunn train --config`) and NumPy arrays go in, the
//! library trains them with one call (`run::train_run`, the GIL released), and parameters and
//! the history come back. scikit-learn's names, validation and bookkeeping live in the
//! pure-Python layer (`python/gpunn/`).

mod checkpoint;

use gpunn::data::floats::Storage;
use gpunn::data::table::Task;
use gpunn::data::{Dataset, Features, Floats, Target};
use gpunn::model::{Layer, Params};
use gpunn::optim::OptimizerState;
use gpunn::run::{self, LoadedData, RunSpec, TrainOptions};
use gpunn::train::{EpochRecord, Observer};
use numpy::{
    PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::Arc;

/// A library error as Python's: bad settings and data are `ValueError`, the rest
/// `RuntimeError`; the message is the library's one line.
fn py_err(e: gpunn::Error) -> PyErr {
    use gpunn::Error as E;
    match e {
        E::Invalid { .. } | E::Shape { .. } | E::BadLayer { .. } | E::Unsupported { .. } => {
            PyValueError::new_err(e.to_string())
        }
        _ => PyRuntimeError::new_err(e.to_string()),
    }
}

/// The values of a C-contiguous f32 NumPy array, read in place by the library
/// ([`Floats::shared`]) rather than copied.
///
/// It holds a bare pointer: [`fit`] keeps the array borrowed (`PyReadonlyArray2`) until it
/// returns, and every dataset that reads it is dropped before then (training runs inside
/// `fit`, and what comes back out of it holds parameters, never the data). As with
/// scikit-learn's own compiled loops, Python code that writes into the array from another
/// thread while it trains sees its writes read.
struct ArrayView {
    ptr: *const f32,
    len: usize,
}

// SAFETY: the array outlives every reader (see above) and the library only reads it.
unsafe impl Send for ArrayView {}
unsafe impl Sync for ArrayView {}

impl Storage for ArrayView {
    fn values(&self) -> &[f32] {
        // SAFETY: `ptr` and `len` came from a live, C-contiguous array (see the type's notes).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The caller's array is never written: a write copies it.
    fn values_mut(&mut self) -> Option<&mut [f32]> {
        None
    }

    fn truncate(&mut self, _len: usize) {}
}

/// The array's values: read in place when C-contiguous, copied otherwise.
fn floats(a: &PyReadonlyArray2<'_, f32>) -> Floats {
    match a.as_slice() {
        Ok(s) => Floats::shared(Arc::new(ArrayView {
            ptr: s.as_ptr(),
            len: s.len(),
        })),
        _ => a.as_array().iter().copied().collect(),
    }
}

/// Samples `[n][dim]` as the library's dataset: class labels (`labels`, with `classes`) or value
/// targets `[n][k]` (regression; multi-label classification when `classes > 0`).
fn dataset(
    x: &PyReadonlyArray2<'_, f32>,
    labels: Option<PyReadonlyArray1<'_, u32>>,
    values: Option<PyReadonlyArray2<'_, f32>>,
    classes: usize,
) -> PyResult<Dataset> {
    let (n, dim) = (x.shape()[0], x.shape()[1]);
    let features = floats(x);
    let (labels, target) = match (labels, values) {
        (Some(l), None) => (l.as_array().to_vec(), Target::Classes),
        (None, Some(v)) => {
            let k = v.shape()[1];
            let values = floats(&v);
            (
                vec![0; n],
                Target::Values {
                    dim: k,
                    values,
                    units: Vec::new(),
                },
            )
        }
        _ => {
            return Err(PyValueError::new_err(
                "give the targets as labels or as values, one of them",
            ))
        }
    };
    if labels.len() != n {
        return Err(PyValueError::new_err(format!(
            "{n} samples but {} targets",
            labels.len()
        )));
    }
    Ok(Dataset {
        name: "arrays".into(),
        dim,
        features: Features::F32(features),
        labels,
        classes,
        target,
        weights: None,
    })
}

/// Layers from `(weights [out][in], biases [out])` pairs and their activations.
fn params(
    layers: Vec<(PyReadonlyArray2<'_, f32>, PyReadonlyArray1<'_, f32>)>,
    activations: &[String],
    loss: &str,
) -> PyResult<Params> {
    if layers.len() != activations.len() {
        return Err(PyValueError::new_err(format!(
            "{} layers but {} activations",
            layers.len(),
            activations.len()
        )));
    }
    let mut out = Vec::new();
    for ((w, b), act) in layers.into_iter().zip(activations) {
        let (outputs, inputs) = (w.shape()[0], w.shape()[1]);
        if b.len() != outputs {
            return Err(PyValueError::new_err(format!(
                "a layer of {outputs} outputs has {} biases",
                b.len()
            )));
        }
        out.push(Layer {
            inputs,
            outputs,
            weights: w.as_array().iter().copied().collect(),
            bias: b.as_array().to_vec(),
            activation: act.parse().map_err(PyValueError::new_err)?,
        });
    }
    let params = Params {
        layers: out,
        loss: loss.parse().map_err(PyValueError::new_err)?,
        bias: true,
    };
    params.spec().validate().map_err(py_err)?;
    Ok(params)
}

/// Tells Python each epoch (`callback(epoch, train_loss, val_score, l2)`, which may print) and
/// asks it for signals between steps: Ctrl-C ends training there.
struct PyObserver {
    callback: Option<Py<PyAny>>,
    interrupted: bool,
}

impl Observer for PyObserver {
    fn epoch_end(&mut self, r: &EpochRecord) {
        if let Some(cb) = &self.callback {
            Python::attach(|py| {
                let l2 = r.train_l2.unwrap_or(0.0);
                if let Err(e) = cb.call1(py, (r.epoch, r.train_loss, r.val_score(), l2)) {
                    self.interrupted |= e.is_instance_of::<PyKeyboardInterrupt>(py);
                }
            });
        }
    }

    fn stop_requested(&mut self) -> bool {
        if !self.interrupted {
            self.interrupted = Python::attach(|py| py.check_signals().is_err());
        }
        self.interrupted
    }
}

impl run::RunObserver for PyObserver {}

/// What a fit gives back, held without the GIL.
struct Fitted {
    params: Params,
    state: OptimizerState,
    epochs: Vec<EpochRecord>,
    best_epoch: Option<usize>,
    converged: bool,
    interrupted: bool,
    engine: String,
    run: String,
    /// The model trained on `x` where it lies (its features were never copied).
    in_place: bool,
}

/// Trains the run `settings` describes (TOML) on `x` with class `labels` or target `values`
/// (and per-sample `weights` of the loss), from fresh parameters or from `start` (`[(W [out][in], b)]` with `activations`, and the
/// optimizer state `start_state` of an earlier fit). Returns a dict: `weights`, `biases`,
/// `state`, `epochs` (`(epoch, train_loss, val_score, l2)`: the L2 term is part of the loss),
/// `best_epoch`, `converged`,
/// `interrupted`, `engine`, `run` (the resolved description), `in_place` (whether `x` was
/// trained where it lies, never copied). `tensorboard`: a directory to
/// write a TensorBoard log of the fit into.
#[pyfunction]
#[pyo3(signature = (settings, x, labels=None, values=None, classes=0, weights=None, start=None, activations=None, loss=None, start_state=None, callback=None, tensorboard=None))]
#[allow(clippy::too_many_arguments)]
fn fit<'py>(
    py: Python<'py>,
    settings: &str,
    x: PyReadonlyArray2<'py, f32>,
    labels: Option<PyReadonlyArray1<'py, u32>>,
    values: Option<PyReadonlyArray2<'py, f32>>,
    classes: usize,
    weights: Option<PyReadonlyArray1<'py, f32>>,
    start: Option<Vec<(PyReadonlyArray2<'py, f32>, PyReadonlyArray1<'py, f32>)>>,
    activations: Option<Vec<String>>,
    loss: Option<String>,
    start_state: Option<Vec<PyReadonlyArray1<'py, f32>>>,
    callback: Option<Py<PyAny>>,
    tensorboard: Option<std::path::PathBuf>,
) -> PyResult<Bound<'py, PyDict>> {
    let spec = RunSpec::from_toml_str(settings).map_err(py_err)?;
    let task = if classes > 0 && values.is_none() {
        Task::Classify
    } else {
        Task::Regress
    };
    let mut train = dataset(&x, labels, values, classes)?;
    let x_at = x.as_slice().map_or(0, |s| s.as_ptr() as usize);
    if let Some(w) = weights {
        if w.len() != train.len() {
            return Err(PyValueError::new_err(format!(
                "{} samples but {} sample weights",
                train.len(),
                w.len()
            )));
        }
        train.weights = Some(w.as_array().to_vec());
    }
    let start = match start {
        Some(layers) => {
            let acts = activations.unwrap_or_default();
            let p = params(layers, &acts, loss.as_deref().unwrap_or("mse"))?;
            let state = start_state.map(|flat| state_from(&flat));
            Some((p, state.transpose()?))
        }
        None => None,
    };
    let fitted = py.detach(move || -> gpunn::Result<Fitted> {
        let options = TrainOptions {
            data: Some(LoadedData::in_memory(train, task)),
            start,
            tensorboard,
            ..Default::default()
        };
        let mut observer = PyObserver {
            callback,
            interrupted: false,
        };
        let mut t = run::train_run(&spec, options, &mut observer)?;
        Ok(Fitted {
            params: t.engine.params()?,
            state: t.engine.optimizer_state()?,
            best_epoch: t.history.best_epoch,
            converged: t.history.converged,
            interrupted: t.history.interrupted,
            engine: t.engine.describe(),
            in_place: matches!(&t.sets.train.features, Features::F32(f) if f.as_ptr() as usize == x_at),
            run: t.run.to_toml(),
            epochs: t.history.epochs,
        })
    });
    let f = fitted.map_err(py_err)?;
    let out = PyDict::new(py);
    let weights = PyList::empty(py);
    let biases = PyList::empty(py);
    for l in &f.params.layers {
        let w = PyArray1::from_slice(py, &l.weights).reshape([l.outputs, l.inputs])?;
        weights.append(w)?;
        biases.append(PyArray1::from_slice(py, &l.bias))?;
    }
    out.set_item("weights", weights)?;
    out.set_item("biases", biases)?;
    out.set_item("state", state_to(py, &f.state)?)?;
    let epochs: Vec<(usize, f32, Option<f32>, f32)> = f
        .epochs
        .iter()
        .map(|r| {
            let l2 = r.train_l2.unwrap_or(0.0);
            (r.epoch, r.train_loss, r.val_score(), l2)
        })
        .collect();
    out.set_item("epochs", epochs)?;
    out.set_item("best_epoch", f.best_epoch)?;
    out.set_item("converged", f.converged)?;
    out.set_item("interrupted", f.interrupted)?;
    out.set_item("engine", f.engine)?;
    out.set_item("run", f.run)?;
    out.set_item("in_place", f.in_place)?;
    Ok(out)
}

/// The optimizer state as flat arrays: `[step]`, then per tensor its velocity, m and v (empty
/// where the rule keeps none), so that it pickles with the estimator.
fn state_to<'py>(py: Python<'py>, s: &OptimizerState) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    list.append(PyArray1::from_slice(py, &[s.step as f32]))?;
    for t in &s.tensors {
        for part in [&t.velocity, &t.m, &t.v] {
            list.append(PyArray1::from_slice(py, part))?;
        }
    }
    Ok(list)
}

/// [`state_to`] read back.
fn state_from(flat: &[PyReadonlyArray1<'_, f32>]) -> PyResult<OptimizerState> {
    let bad = || PyValueError::new_err("an optimizer state of the wrong layout");
    let (step, rest) = flat.split_first().ok_or_else(bad)?;
    if !rest.len().is_multiple_of(3) {
        return Err(bad());
    }
    let step = *step.as_array().first().ok_or_else(bad)? as u64;
    let tensors = rest
        .chunks(3)
        .map(|c| gpunn::optim::TensorState {
            velocity: c[0].as_array().to_vec(),
            m: c[1].as_array().to_vec(),
            v: c[2].as_array().to_vec(),
        })
        .collect();
    Ok(OptimizerState { step, tensors })
}

/// The network's outputs `[n][outputs]` for `x` (after the output activation: probabilities for
/// sigmoid and softmax outputs), on `device`.
#[pyfunction]
#[pyo3(signature = (layers, activations, loss, x, device="cpu"))]
fn forward<'py>(
    py: Python<'py>,
    layers: Vec<(PyReadonlyArray2<'py, f32>, PyReadonlyArray1<'py, f32>)>,
    activations: Vec<String>,
    loss: &str,
    x: PyReadonlyArray2<'py, f32>,
    device: &str,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let p = params(layers, &activations, loss)?;
    let device = gpunn::backend::parse_device(device).map_err(py_err)?;
    let outputs = p.outputs();
    let n = x.shape()[0];
    let zeros = PyArray1::<u32>::zeros(py, n, false);
    let data = dataset(&x, Some(zeros.readonly()), None, 0)?;
    let out = py
        .detach(move || -> gpunn::Result<Vec<f32>> {
            let mut engine = gpunn::backend::open(device, &p, 256)?.engine;
            gpunn::engine::check_fits(&p, &data)?;
            engine.outputs(&data)
        })
        .map_err(py_err)?;
    PyArray1::from_vec(py, out).reshape([n, outputs])
}

/// `gpunn._core`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(forward, m)?)?;
    m.add_function(wrap_pyfunction!(checkpoint::save, m)?)?;
    m.add_function(wrap_pyfunction!(checkpoint::load, m)?)?;
    m.add_function(wrap_pyfunction!(checkpoint::export_onnx, m)?)?;
    m.add_function(wrap_pyfunction!(checkpoint::predict_raw, m)?)?;
    Ok(())
}
