//! `gpunn eval`: a saved model on its own data (from the run in the checkpoint) or another.

use crate::open_engine;
use anyhow::Result;
use clap::Args;
use gpunn::checkpoint;
use gpunn::metrics::{self, ConfusionMatrix};
use gpunn::run::RunSpec;
use std::path::PathBuf;

#[derive(Args)]
pub struct EvalArgs {
    /// A model saved by `gpunn train --save`.
    #[arg(long)]
    model: PathBuf,
    /// mnist, fashion-mnist, mnist-sample, ... [default: the model's own dataset].
    #[arg(long)]
    dataset: Option<String>,
    /// A directory with the four IDX files.
    #[arg(long, conflicts_with = "dataset")]
    data: Option<PathBuf>,
    /// auto, vulkan, metal, dx12, gl, software or cpu.
    #[arg(long, default_value = "auto")]
    device: String,
}

pub fn run(a: EvalArgs) -> Result<()> {
    let (params, meta) = checkpoint::load(&a.model)?;
    let mut spec = RunSpec::of_checkpoint(&a.model, &meta)?;
    if a.dataset.is_some() || a.data.is_some() {
        spec.data.dataset = a.dataset.clone();
        spec.data.dir = a.data.clone();
    }
    let mut data = spec.load_data()?;
    let test = data.test.take().unwrap_or_else(|| data.train.clone());
    let names: Vec<String> = match meta.extra.get("class_names") {
        Some(n) => n.split(',').map(|s| s.to_string()).collect(),
        None => gpunn::data::mnist::class_names(&data.name, meta.classes),
    };
    // Name the model, not --layers (a flag eval does not have), when model and data disagree.
    gpunn::engine::check_fits(&params, &test).map_err(|e| {
        let msg = match e {
            gpunn::Error::Invalid { msg, .. } => msg,
            e => e.to_string(),
        };
        gpunn::Error::bad_file(
            &a.model,
            format!(
                "does not fit the data: {msg} (pick the model's data with --dataset or --data)"
            ),
        )
    })?;
    if test.classes > meta.classes {
        anyhow::bail!(gpunn::Error::bad_file(
            &a.model,
            format!(
                "records {} classes but {} has {} (pick the model's data with --dataset or --data)",
                meta.classes, test.name, test.classes
            )
        ));
    }
    let device = crate::parse_flag("--device", &a.device)?;
    let mut engine = open_engine(device, &params, 128)?;
    let e = engine.evaluate(&test)?;
    let cm = ConfusionMatrix::new(meta.classes, &test.labels, &e.predictions);
    println!(
        "model {} on {} ({} samples, {})",
        a.model.display(),
        data.name,
        test.len(),
        engine.describe()
    );
    println!("loss {:.4}  accuracy {:.2}%\n", e.loss, 100.0 * e.accuracy);
    println!(
        "confusion matrix (rows: true class, columns: predicted)\n{}",
        metrics::format_matrix(&cm, &names)
    );
    println!("{}", metrics::format_report(&cm.report(), &names));
    Ok(())
}
