//! `gpunn step`: one SGD step on a network from a JSON file, every number shown.

use crate::parse_flag;
use anyhow::Result;
use clap::Args;
use gpunn::engine::Engine;
use gpunn::gpu::GpuEngine;
use gpunn::model::Loss;
use std::path::PathBuf;

#[derive(Args)]
pub struct StepArgs {
    /// The network as JSON: {"layers": [{"weights": [[..]], "bias": [..], "activation": "sigmoid"}, ..]}.
    #[arg(long)]
    net: PathBuf,
    /// Layers without bias: the file's biases (if any) are set to zero and never updated.
    #[arg(long)]
    no_bias: bool,
    /// One sample as comma-separated numbers; samples separated by ';' form a batch.
    #[arg(long, allow_hyphen_values = true)]
    input: String,
    /// Targets in the same form; with --loss ce, one class index per sample.
    #[arg(long, allow_hyphen_values = true)]
    target: String,
    /// Learning rate [default: 0.1; 0.001 for adam and adamw].
    #[arg(long)]
    lr: Option<f32>,
    /// mse, half-mse, bce or ce.
    #[arg(long, default_value = "half-mse")]
    loss: String,
    /// auto, vulkan, metal, dx12, gl, software or cpu.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Updates on the same batch; the table shows each, the JSON the first step's gradients,
    /// the last step's parameters and every step's loss (`losses`).
    #[arg(long, default_value_t = 1)]
    steps: usize,
    #[command(flatten)]
    optimizer: crate::setting_flags::SettingFlags<crate::setting_flags::Optimizer>,
}

pub fn run(a: StepArgs) -> Result<()> {
    let loss: Loss = parse_flag("--loss", &a.loss)?;
    let cfg = a.optimizer.spec()?.optimizer.resolve();
    cfg.validate()?;
    let lr = a.lr.or(cfg.kind.default_lr()).unwrap_or(0.1);
    if !(lr.is_finite() && lr >= 0.0) {
        anyhow::bail!(gpunn::Error::invalid(
            "--lr",
            format!("must be a number >= 0, got {lr}")
        ));
    }
    if !(1..=10_000).contains(&a.steps) {
        anyhow::bail!(gpunn::Error::invalid(
            "--steps",
            format!("must be between 1 and 10000, got {}", a.steps)
        ));
    }
    let params = gpunn::step::netfile::load(&a.net, loss)?;
    let params = if a.no_bias {
        params.without_bias()
    } else {
        params
    };
    let (x, batch) = gpunn::step::parse_batch(&a.input, params.inputs(), "--input")?;
    let targets = gpunn::step::parse_targets(&a.target, loss, params.outputs(), batch)?;
    let (ctx, fallback) = gpunn::backend::context(parse_flag("--device", &a.device)?)?;
    if let Some(note) = fallback {
        eprintln!("note: {note}");
    }
    let steps = match ctx {
        None => gpunn::step::steps_cpu(&params, (&x, batch), &targets, lr, &cfg, a.steps)?,
        Some(ctx) => {
            let mut engine = GpuEngine::new(ctx, &params, batch, true)?;
            engine.set_optimizer(&cfg, None)?;
            let mut steps = Vec::with_capacity(a.steps);
            for _ in 0..a.steps {
                let result = engine.step_report(&x, &targets, lr)?;
                let state = engine.optimizer_state()?;
                steps.push(gpunn::step::Step { result, state });
            }
            steps
        }
    };
    if a.json {
        println!("{}", gpunn::step::to_json(&steps));
    } else {
        print!("{}", gpunn::step::to_table(&params, &x, &steps, lr, &cfg));
    }
    Ok(())
}
