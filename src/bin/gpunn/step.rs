//! `gpunn step`: one SGD step on a network from a JSON file, every number shown.

use crate::parse_flag;
use anyhow::Result;
use clap::Args;
use gpunn::gpu::GpuEngine;
use gpunn::model::Loss;
use std::path::PathBuf;

#[derive(Args)]
pub struct StepArgs {
    /// The network as JSON: {"layers": [{"weights": [[..]], "bias": [..], "activation": "sigmoid"}, ..]}.
    #[arg(long)]
    net: PathBuf,
    /// One sample as comma-separated numbers; samples separated by ';' form a batch.
    #[arg(long, allow_hyphen_values = true)]
    input: String,
    /// Targets in the same form; with --loss ce, one class index per sample.
    #[arg(long, allow_hyphen_values = true)]
    target: String,
    #[arg(long, default_value_t = 0.1)]
    lr: f32,
    /// mse, half-mse, bce or ce.
    #[arg(long, default_value = "half-mse")]
    loss: String,
    /// auto, vulkan, metal, dx12, gl, software or cpu.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

pub fn run(a: StepArgs) -> Result<()> {
    let loss: Loss = parse_flag("--loss", &a.loss)?;
    if !(a.lr.is_finite() && a.lr >= 0.0) {
        anyhow::bail!(gpunn::Error::invalid(
            "--lr",
            format!("must be a number >= 0, got {}", a.lr)
        ));
    }
    let params = gpunn::netfile::load(&a.net, loss)?;
    let (x, batch) = gpunn::step::parse_batch(&a.input, params.inputs(), "--input")?;
    let targets = gpunn::step::parse_targets(&a.target, loss, params.outputs(), batch)?;
    let (ctx, fallback) = gpunn::backend::context(parse_flag("--device", &a.device)?)?;
    if let Some(note) = fallback {
        eprintln!("note: {note}");
    }
    let result = match ctx {
        None => gpunn::step::step_cpu(&params, &x, batch, &targets, a.lr),
        Some(ctx) => GpuEngine::new(ctx, &params, batch, true)?.step_report(&x, &targets, a.lr)?,
    };
    if a.json {
        println!("{}", gpunn::step::to_json(&result));
    } else {
        print!("{}", gpunn::step::to_table(&params, &x, &result, a.lr));
    }
    Ok(())
}
