//! `gpunn train`: flags → run description → resolved run → the library's loop; printing only.

use anyhow::Result;
use clap::Args;
use gpunn::data::table::Task;
use gpunn::plots;
use gpunn::run::{self, Resumed, RunSpec};
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
    /// Write a TensorBoard log into this directory as training goes: per epoch the train and
    /// validation loss, accuracy or R², the learning rate and samples/s, and histograms of each
    /// layer's weights and biases (view it with `tensorboard --logdir DIR`).
    #[arg(long, value_name = "DIR")]
    tensorboard: Option<PathBuf>,
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
    if a.dry_run {
        let data = spec.load_data()?;
        let run = spec.resolve(&data)?;
        eprintln!(
            "note: --dry-run: the resolved run on {}; nothing is trained",
            data.description
        );
        print!("{}", run.to_toml());
        return Ok(());
    }
    let save = a.save.clone().or(a.resume.clone());
    let options = run::TrainOptions {
        save: save.clone(),
        resume: resumed,
        tensorboard: a.tensorboard.clone(),
        ..Default::default()
    };
    let mut printer = crate::printer::Printer::default();
    let mut t = run::train_run(&spec, options, &mut printer)?;
    let (run, history) = (&t.run, &t.history);
    if history.stopped_early {
        println!(
            "early stopping: no better validation loss for {} epochs; restored epoch {}",
            run.train.early_stopping.unwrap_or(0),
            history.best_epoch.unwrap_or(0)
        );
    }
    if history.converged {
        println!(
            "stopped: the training loss did not improve by more than {} for more than {} epochs",
            run.train.tol,
            run.train.n_iter_no_change.unwrap_or(0)
        );
    }
    if let Some(path) = &save {
        println!("saved model to {}", path.display());
    }
    if let Some(dir) = &a.tensorboard {
        println!(
            "wrote a TensorBoard log to {} (tensorboard --logdir {0})",
            dir.display()
        );
    }
    if let (Some(figures), Some(test)) = (&t.test, &t.sets.test) {
        print_test(figures, test.len(), run.data.task);
    }
    if let Some(path) = &a.metrics {
        let device = t.engine.describe();
        let v = run::metrics_json(run, &t.data, &device, history, t.test.as_ref());
        let text = serde_json::to_string_pretty(&v)? + "\n";
        gpunn::io::write_atomic(path, text.as_bytes())?;
        println!("wrote metrics to {}", path.display());
    }
    if let Some(dir) = &a.plots {
        std::fs::create_dir_all(dir).map_err(|e| gpunn::Error::io(dir, e))?;
        let curves = dir.join("learning_curves.png");
        plots::learning_curves(&curves, &t.history.epochs)?;
        println!("wrote {}", curves.display());
        if let Some(figures) = &t.test {
            let sets = (&t.run, &t.data, &t.sets);
            for path in crate::pictures::test_pictures(dir, t.engine.as_mut(), sets, figures)? {
                println!("wrote {}", path.display());
            }
        }
    }
    Ok(())
}

/// The test set's figures, printed: loss and accuracy, or MSE, MAE (and R² for regression) in
/// the targets' units.
fn print_test(t: &run::TestFigures, n: usize, task: Task) {
    let e = &t.evaluation;
    match &t.values {
        Some(m) if task == Task::Regress => println!(
            "test: loss {:.4}  MSE {:.5}  MAE {:.5}  R² {:.4} ({n} samples)",
            e.loss, m.mse, m.mae, m.r2
        ),
        Some(m) => println!(
            "test: loss {:.4}  MSE {:.5}  MAE {:.5} ({n} samples)",
            e.loss, m.mse, m.mae
        ),
        None => println!(
            "test: loss {:.4}  accuracy {:.2}% ({n} samples)",
            e.loss,
            100.0 * e.accuracy
        ),
    }
}
