//! `gpunn eval`: a saved model on its own data (from the run in the checkpoint, with the
//! scaling it was trained with) or another.

use crate::open_engine;
use crate::setting_flags::{OtherData, SettingFlags};
use anyhow::Result;
use clap::Args;
use gpunn::checkpoint;
use gpunn::data::table::Task;
use gpunn::data::Dataset;
use gpunn::metrics::{self, ConfusionMatrix};
use gpunn::model::Params;
use gpunn::run::{self, RunSpec};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct EvalArgs {
    /// A model saved by `gpunn train --save`.
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    data: SettingFlags<OtherData>,
    /// auto, vulkan, metal, dx12, gl, software or cpu.
    #[arg(long, default_value = "auto")]
    device: String,
}

pub fn run(a: EvalArgs) -> Result<()> {
    let (params, meta) = checkpoint::load(&a.model)?;
    let spec = RunSpec::of_checkpoint(&a.model, &meta)?;
    let spec = spec.on_other_data(a.data.spec()?);
    let mut data = spec.load_data()?;
    let raw = data.test.take().unwrap_or_else(|| data.train.clone());
    // The scaling fitted on the model's training part, as the model saw its data.
    let test = run::scaler_of(&a.model, &meta)?.apply(&raw)?;
    let names: Vec<String> = match meta.extra.get("class_names") {
        Some(n) => n.split(',').map(|s| s.to_string()).collect(),
        None => gpunn::data::mnist::class_names(&data.name, meta.classes),
    };
    check_model_fits(&a.model, &params, &test)?;
    if test.classes > meta.classes && test.target_dim().is_none() {
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
    println!(
        "model {} on {} ({} samples, {})",
        a.model.display(),
        data.name,
        test.len(),
        engine.describe()
    );
    if let Some(m) = gpunn::metrics::value_metrics(&engine.outputs(&test)?, &test) {
        print!("loss {:.4}  MSE {:.5}  MAE {:.5}", e.loss, m.mse, m.mae);
        if data.task == Task::Regress {
            print!("  R² {:.4}", m.r2);
        }
        println!();
        return Ok(());
    }
    let cm = ConfusionMatrix::new(meta.classes, &test.labels, &e.predictions);
    println!("loss {:.4}  accuracy {:.2}%\n", e.loss, 100.0 * e.accuracy);
    println!(
        "confusion matrix (rows: true class, columns: predicted)\n{}",
        metrics::format_matrix(&cm, &names)
    );
    println!("{}", metrics::format_report(&cm.report(), &names));
    Ok(())
}

/// Checks that `params` fits `data`, naming the model rather than --layers (a flag `eval`
/// does not have) when it does not.
pub fn check_model_fits(model: &Path, params: &Params, data: &Dataset) -> Result<()> {
    gpunn::engine::check_fits(params, data).map_err(|e| {
        let msg = match e {
            gpunn::Error::Invalid { msg, .. } => msg,
            e => e.to_string(),
        };
        gpunn::Error::bad_file(
            model,
            format!(
                "does not fit the data: {msg} (pick the model's data with --dataset or --data)"
            ),
        )
        .into()
    })
}
