//! `gpunn predict`: digit images through a saved model, on the CPU or a GPU.

use crate::open_engine;
use anyhow::Result;
use clap::Args;
use gpunn::checkpoint;
use gpunn::data::{Dataset, Features};
use gpunn::digit;
use gpunn::model::Activation;
use std::path::PathBuf;

#[derive(Args)]
pub struct PredictArgs {
    /// A model saved by `gpunn train --save` (28x28 input).
    #[arg(long)]
    model: PathBuf,
    /// PNG or JPEG images of single digits, any size and colour.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// One JSON object per line: {"file", "class", "probabilities"}.
    #[arg(long)]
    json: bool,
    /// cpu, auto, vulkan, metal, dx12, gl or software (a few images do not pay for a GPU's
    /// start-up, so the CPU is the default).
    #[arg(long, default_value = "cpu")]
    device: String,
}

pub fn run(a: PredictArgs) -> Result<()> {
    let (params, meta) = checkpoint::load(&a.model)?;
    if params.inputs() != 784 {
        anyhow::bail!(gpunn::Error::bad_file(
            &a.model,
            format!(
                "the model takes {} inputs; predict needs a 28x28 (784-input) image model",
                params.inputs()
            )
        ));
    }
    let names: Option<Vec<String>> = meta
        .extra
        .get("class_names")
        .map(|n| n.split(',').map(|s| s.to_string()).collect());
    let mut pixels = Vec::with_capacity(a.files.len() * 784);
    for file in &a.files {
        pixels.extend(digit::load_digit(file)?);
    }
    let images = Dataset {
        name: "images".into(),
        dim: 784,
        features: Features::U8(pixels),
        labels: vec![0; a.files.len()],
        classes: meta.classes.max(2),
        target: Default::default(),
        weights: None,
    };
    // The scaling the model was trained with (none for image models trained as they are).
    let images = gpunn::run::scaler_of(&a.model, &meta)?.apply(&images)?;
    let device = crate::parse_flag("--device", &a.device)?;
    let mut engine = open_engine(device, &params, a.files.len())?;
    let outputs = params.outputs();
    let all = engine.outputs(&images)?;
    for (file, out) in a.files.iter().zip(all.chunks_exact(outputs)) {
        let act = params
            .layers
            .last()
            .map_or(Activation::Identity, |l| l.activation);
        let class = gpunn::cpu::loss::predict(act, out, outputs)[0];
        // One sigmoid output is the probability of class 1.
        let probabilities: Vec<f32> = if outputs == 1 {
            vec![1.0 - out[0], out[0]]
        } else {
            out.to_vec()
        };
        let p = probabilities.get(class as usize).copied().unwrap_or(0.0);
        if a.json {
            let v = serde_json::json!({
                "file": file.display().to_string(),
                "class": class,
                "probabilities": probabilities.iter().map(|&v| gpunn::step::num(v)).collect::<Vec<_>>(),
            });
            println!("{v}");
        } else {
            let name = names
                .as_ref()
                .and_then(|n| n.get(class as usize))
                .map_or(String::new(), |n| format!(" ({n})"));
            println!("{}: {class}{name}  p = {p:.4}", file.display());
        }
    }
    Ok(())
}
