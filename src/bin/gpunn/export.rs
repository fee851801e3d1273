//! `gpunn export`: a saved model as an ONNX model, for runtimes without gpunn.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ExportArgs {
    /// A model saved by `gpunn train --save` (or an estimator's `save`).
    #[arg(long)]
    model: PathBuf,
    /// The ONNX file to write (written whole or not at all).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: ExportArgs) -> Result<()> {
    let (params, io) = gpunn::export::export_onnx(&a.model, &a.out)?;
    let sizes: Vec<String> = std::iter::once(params.inputs())
        .chain(params.layers.iter().map(|l| l.outputs))
        .map(|n| n.to_string())
        .collect();
    let mut input = vec![];
    if io.pixels {
        input.push("pixels 0-255 divided by 255".to_string());
    }
    if io.scaler.kind != gpunn::data::scale::ScaleKind::None {
        input.push(format!("{} scaling", io.scaler.kind));
    }
    let output = params
        .layers
        .last()
        .map_or("identity", |l| l.activation.name());
    println!(
        "wrote {}: opset {}, input '{}' [batch, {}]{}, layers {}, output '{}' [batch, {}] ({}{})",
        a.out.display(),
        gpunn::export::onnx::OPSET,
        gpunn::export::onnx::INPUT,
        params.inputs(),
        if input.is_empty() {
            String::new()
        } else {
            format!(" ({})", input.join(", then "))
        },
        sizes.join("-"),
        gpunn::export::onnx::OUTPUT,
        params.outputs(),
        output,
        if io.scaler.target_shift.is_empty() {
            ""
        } else {
            ", in the targets' units"
        },
    );
    Ok(())
}
