//! Trained models for tools without gpunn: [`onnx`] writes a checkpoint's network, with its
//! input scaling and output units, as a standard ONNX model.
//!
//! [`raw_outputs`] is what such a model must compute: the library's outputs for raw inputs,
//! as `gpunn predict` and the Python estimators produce them (the tests hold ONNX Runtime's
//! results of the exported graph against it).

pub mod onnx;
mod onnx_proto;

use crate::checkpoint::{self, ModelMeta};
use crate::cpu::fast::FastCpu;
use crate::data::{Dataset, Features};
use crate::engine::Engine;
use crate::model::Params;
use crate::{Error, Result};
pub use onnx::Io;
use std::path::Path;

/// The checkpoint metadata key saying what a model's raw inputs are (`pixels`: 0..=255,
/// divided by 255 before the scaling); without it, a model of 2-D input (images) takes pixels.
pub const INPUT_KEY: &str = "input";

/// How the model at `path` (its metadata `meta`) sees raw inputs and gives outputs.
pub fn io_of(path: &Path, meta: &ModelMeta) -> Result<Io> {
    let pixels = match meta.extra.get(INPUT_KEY).map(String::as_str) {
        Some("pixels") => true,
        Some("values") => false,
        Some(other) => {
            return Err(Error::bad_file(
                path,
                format!("metadata '{INPUT_KEY}' is '{other}'; expected pixels or values"),
            ))
        }
        None => meta.input_shape.len() > 1,
    };
    Ok(Io {
        pixels,
        scaler: crate::run::scaler_of(path, meta)?,
    })
}

/// Writes the model saved at `model` as an ONNX model at `out` (atomically); returns the
/// parameters and how inputs and outputs are mapped, for a summary.
pub fn export_onnx(model: &Path, out: &Path) -> Result<(Params, Io)> {
    let (params, meta) = checkpoint::load(model)?;
    let io = io_of(model, &meta)?;
    let doc = format!(
        "gpunn model trained on {} (epoch {}); input: raw {}",
        meta.dataset,
        meta.epoch,
        if io.pixels {
            "pixels 0-255"
        } else {
            "feature values"
        }
    );
    let bytes = onnx::onnx_bytes(&params, &io, &doc)?;
    crate::io::write_atomic(out, &bytes)?;
    Ok((params, io))
}

/// The outputs `[n][outputs]` of `params` for raw inputs `raw` (`[n][inputs]`), mapped as
/// `io` says, on the fast CPU path: what an exported model computes.
pub fn raw_outputs(params: &Params, io: &Io, raw: Vec<f32>) -> Result<Vec<f32>> {
    let dim = params.inputs();
    if dim == 0 || !raw.len().is_multiple_of(dim) {
        return Err(Error::invalid(
            "inputs",
            format!("{} values are not rows of {dim} features", raw.len()),
        ));
    }
    let n = raw.len() / dim;
    let values = if io.pixels {
        raw.iter().map(|&p| p / 255.0).collect()
    } else {
        raw
    };
    let data = Dataset::classes("inputs", dim, Features::F32(values.into()), vec![0; n], 0);
    let data = io.scaler.apply(&data)?;
    let mut engine = FastCpu::new(params.clone());
    let mut outputs = engine.outputs(&data)?;
    io.scaler.unscale_targets(&mut outputs);
    Ok(outputs)
}
