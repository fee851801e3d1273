//! `gpunn train`: flags → run description → resolved run → the library's loop; printing only.

use anyhow::Result;
use clap::Args;
use gpunn::data::table::Task;
use gpunn::data::Dataset;
use gpunn::engine::Engine;
use gpunn::plots;
use gpunn::run::{self, CheckpointSaver, LoadedData, Resumed, RunSpec};
use std::path::PathBuf;

#[derive(Args)]
pub struct TrainArgs {
    /// A run description (TOML) to start from; flags given here override it.
    #[arg(long, value_name = "RUN.toml")]
    config: Option<PathBuf>,
    /// Print the resolved run description as TOML and stop; nothing is trained.
    #[arg(long)]
    dry_run: bool,
    /// Write the run, history, test figures and confusion matrix as JSON.
    #[arg(long, value_name = "FILE.json")]
    metrics: Option<PathBuf>,
    /// Save the model (weights, run description and history) as safetensors after every epoch
    /// and at the end, each time atomically: an interrupted or diverged run keeps its last good
    /// epoch.
    #[arg(long, value_name = "MODEL.safetensors")]
    save: Option<PathBuf>,
    /// Continue the run saved in this checkpoint from its last epoch, with its data, seed and
    /// batch size; --epochs is the total to reach. Saves back to it unless --save names another
    /// file.
    #[arg(long, value_name = "CKPT", conflicts_with_all = crate::setting_flags::resume_conflicts())]
    resume: Option<PathBuf>,
    /// Write PNG pictures into this directory: learning_curves.png, and by task
    /// confusion_matrix.png (classification), decision_boundary.png (2-feature data),
    /// predictions.png (images), predicted_vs_true.png (regression), reconstructions.png
    /// (autoencoders of images).
    #[arg(long, value_name = "DIR")]
    plots: Option<PathBuf>,
    #[command(flatten)]
    settings: crate::setting_flags::SettingFlags<crate::setting_flags::Train>,
}

pub fn run(a: TrainArgs) -> Result<()> {
    let flags = a.settings.spec()?;
    let resumed = a.resume.as_deref().map(Resumed::load).transpose()?;
    let base = match (&resumed, &a.config) {
        (Some(r), _) => r.spec.clone(),
        (None, Some(path)) => RunSpec::from_toml_file(path)?,
        (None, None) => RunSpec::default(),
    };
    let spec = base.overlay(flags);
    let data = spec.load_data()?;
    let run = spec.resolve(&data)?;
    if a.dry_run {
        eprintln!(
            "note: --dry-run: the resolved run on {}; nothing is trained",
            data.description
        );
        print!("{}", run.to_toml());
        return Ok(());
    }
    let prepared = run.prepare(&data)?;
    let (train, val) = (&prepared.train, prepared.val.as_ref());
    let (params, state, earlier, start) = match resumed {
        Some(r) => {
            let start = r.next_epoch();
            println!("resuming after epoch {} of {}", start - 1, r.path.display());
            (r.params, r.state, r.history, start)
        }
        None => (run.init_params()?, None, Vec::new(), 1),
    };
    let save = a.save.clone().or(a.resume.clone());
    let opened = run.open_engine(&params, state.as_ref())?;
    if let Some(note) = &opened.fallback {
        eprintln!("note: {note}");
    }
    let mut engine = opened.engine;
    let m = &run.model;
    println!(
        "training {} ({}, {}, {}) on {}: {} train, {} validation; {}, lr {}, batch {}, {} epochs; {}",
        m.layers
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("-"),
        m.activations
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(","),
        m.loss,
        m.init,
        data.description,
        train.len(),
        val.map_or(0, |v| v.len()),
        run.optimizer.describe(),
        run.train.lr,
        run.train.batch_size,
        run.train.epochs,
        engine.describe()
    );
    let mut printer =
        crate::printer::Printer::new(run.train.epochs, run.optimizer.kind.name(), run.data.task);
    let mut history = match &save {
        Some(path) => {
            let mut saver = CheckpointSaver {
                path: path.clone(),
                run: &run,
                data: &data,
                scaler: &prepared.scaler,
                earlier: earlier.clone(),
                inner: &mut printer,
            };
            let h = run.fit(engine.as_mut(), train, val, start, &mut saver)?;
            // Once more at the end: with early stopping the engine now holds the best epoch.
            saver.save(engine.as_mut(), &h.epochs)?;
            h
        }
        None => run.fit(engine.as_mut(), train, val, start, &mut printer)?,
    };
    if history.stopped_early {
        println!(
            "early stopping: no better validation loss for {} epochs; restored epoch {}",
            run.train.early_stopping.unwrap_or(0),
            history.best_epoch.unwrap_or(0)
        );
    }
    if let Some(path) = &save {
        println!("saved model to {}", path.display());
    }
    history.epochs = earlier.into_iter().chain(history.epochs).collect();
    let test = match &prepared.test {
        Some(test) if !test.is_empty() => {
            Some(test_figures(engine.as_mut(), test, &data, run.data.task)?)
        }
        _ => None,
    };
    if let Some(path) = &a.metrics {
        let v = run::metrics_json(&run, &data, &engine.describe(), &history, test.as_ref());
        let text = serde_json::to_string_pretty(&v)? + "\n";
        gpunn::io::write_atomic(path, text.as_bytes())?;
        println!("wrote metrics to {}", path.display());
    }
    if let Some(dir) = &a.plots {
        std::fs::create_dir_all(dir).map_err(|e| gpunn::Error::io(dir, e))?;
        let curves = dir.join("learning_curves.png");
        plots::learning_curves(&curves, &history.epochs)?;
        println!("wrote {}", curves.display());
        if let Some(t) = &test {
            let sets = (&run, &data, &prepared);
            for path in crate::pictures::test_pictures(dir, engine.as_mut(), sets, t)? {
                println!("wrote {}", path.display());
            }
        }
    }
    Ok(())
}

/// The test set's figures (from the library), printed: loss and accuracy, or MSE, MAE (and R²
/// for regression) in the targets' units.
fn test_figures(
    engine: &mut dyn Engine,
    test: &Dataset,
    data: &LoadedData,
    task: Task,
) -> Result<run::TestFigures> {
    let t = run::TestFigures::of(engine, test, data.train.classes)?;
    let e = &t.evaluation;
    match &t.values {
        Some(m) if task == Task::Regress => println!(
            "test: loss {:.4}  MSE {:.5}  MAE {:.5}  R² {:.4} ({} samples)",
            e.loss,
            m.mse,
            m.mae,
            m.r2,
            test.len()
        ),
        Some(m) => println!(
            "test: loss {:.4}  MSE {:.5}  MAE {:.5} ({} samples)",
            e.loss,
            m.mse,
            m.mae,
            test.len()
        ),
        None => println!(
            "test: loss {:.4}  accuracy {:.2}% ({} samples)",
            e.loss,
            100.0 * e.accuracy,
            test.len()
        ),
    }
    Ok(t)
}
