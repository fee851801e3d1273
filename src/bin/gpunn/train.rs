//! `gpunn train`: flags → run description → resolved run → the library's loop; printing only.

use crate::parse_flag;
use anyhow::Result;
use clap::Args;
use gpunn::data::table::Task;
use gpunn::data::Dataset;
use gpunn::engine::Engine;
use gpunn::model::parse_sizes;
use gpunn::plots;
use gpunn::run::{
    self, CheckpointSaver, DataSpec, LoadedData, ModelSpec, Resumed, RunSpec, TrainSpec,
};
use std::path::PathBuf;

#[derive(Args)]
pub struct TrainArgs {
    /// A run description (TOML) to start from; flags given here override it.
    #[arg(long, value_name = "RUN.toml")]
    config: Option<PathBuf>,
    /// Print the resolved run description as TOML and stop; nothing is trained.
    #[arg(long)]
    dry_run: bool,
    /// mnist, fashion-mnist, mnist-sample, xor, linear or circles [default: the full MNIST if
    /// found, else the bundled mnist-sample].
    #[arg(long)]
    dataset: Option<String>,
    #[command(flatten)]
    files: crate::data_flags::DataFlags,
    /// Keep two digits and relabel them 0/1 for a binary task, e.g. 3,6.
    #[arg(long)]
    digits: Option<String>,
    /// All layer sizes including input and output [default: 784,128,64,10 for images (one
    /// output with --digits), 2,8,1 for the synthetic sets, inputs,32,outputs for tables;
    /// autoencoders: 784,128,32,128,784 for images, inputs,inputs/2,inputs for tables].
    #[arg(long)]
    layers: Option<String>,
    /// Hidden-layer activation (one for all), or a comma list: one per hidden layer, or one per
    /// layer including the output [default: relu].
    #[arg(long)]
    activation: Option<String>,
    /// mse, half-mse, bce or ce [default: bce with one output, else ce].
    #[arg(long)]
    loss: Option<String>,
    /// zeros, constant[:V], uniform, xavier-normal, xavier-uniform, he-normal, normal[:STD]
    /// [default: he-normal for relu networks, else xavier-uniform].
    #[arg(long)]
    init: Option<String>,
    /// Layers without bias (every bias fixed at zero).
    #[arg(long)]
    no_bias: bool,
    /// Learning rate [default: 0.1 for images and classified tables, 0.5 for the synthetic
    /// sets, 0.01 for regressed and autoencoded tables; 0.001 with adam and adamw].
    #[arg(long)]
    lr: Option<f32>,
    /// Learning-rate schedule: constant, or cosine (decays to 0 over the epochs) [default:
    /// cosine for images, constant for the synthetic sets and tables].
    #[arg(long)]
    lr_schedule: Option<String>,
    /// Samples per SGD step [default: 32].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Passes over the training set [default: 10 for images, 100 for the synthetic sets and
    /// tables].
    #[arg(long)]
    epochs: Option<usize>,
    /// Seed for initialisation, shuffling, the validation split and synthetic data [default: 42].
    #[arg(long)]
    seed: Option<u64>,
    /// Hold out this fraction of the (shuffled) training set for validation [default: 0.1;
    /// 0 for sets of fewer than 50 samples, such as xor].
    #[arg(long)]
    val_split: Option<f32>,
    /// Stop when the validation loss has not improved for this many epochs; keep the best.
    #[arg(long, value_name = "PATIENCE")]
    early_stopping: Option<usize>,
    /// Validate after every N epochs and after the last, rather than after every epoch (which
    /// costs a forward pass over the validation set each time) [default: 1].
    #[arg(long, value_name = "N")]
    validate_every: Option<usize>,
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
    #[arg(long, value_name = "CKPT", conflicts_with_all = ["config", "dataset", "data", "labels", "test", "test_split", "target", "task", "scale", "digits", "layers", "activation", "loss", "init", "batch_size", "seed", "val_split", "samples", "factor", "noise"])]
    resume: Option<PathBuf>,
    /// Write PNG pictures into this directory: learning_curves.png, and by task
    /// confusion_matrix.png (classification), decision_boundary.png (2-feature data),
    /// predictions.png (images), predicted_vs_true.png (regression), reconstructions.png
    /// (autoencoders of images).
    #[arg(long, value_name = "DIR")]
    plots: Option<PathBuf>,
    /// Synthetic sets: number of samples [default: 1000].
    #[arg(long)]
    samples: Option<usize>,
    /// circles: radius of the inner circle relative to the outer one [default: 0.4].
    #[arg(long)]
    factor: Option<f32>,
    /// circles: std of the Gaussian noise added to each coordinate [default: 0.05].
    #[arg(long)]
    noise: Option<f32>,
    /// auto (a hardware GPU, else the CPU), vulkan, metal, dx12, gl, software or cpu
    /// [default: auto].
    #[arg(long)]
    device: Option<String>,
    #[command(flatten)]
    optimizer: crate::optim_flags::OptimizerFlags,
}

impl TrainArgs {
    /// The run description the flags give (only what was given).
    fn spec(&self) -> Result<RunSpec> {
        let digits = match &self.digits {
            Some(d) => Some(
                d.split(',')
                    .map(|t| {
                        t.trim().parse::<u32>().map_err(|_| {
                            gpunn::Error::invalid(
                                "data.digits",
                                format!("'{t}' is not a class label in '{d}'"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        let activations = match &self.activation {
            Some(a) => Some(
                a.split(',')
                    .map(|s| parse_flag("--activation", s))
                    .collect::<Result<Vec<_>>>()?,
            ),
            None => None,
        };
        let mut spec = RunSpec {
            seed: self.seed,
            device: self
                .device
                .as_deref()
                .map(|d| parse_flag("--device", d))
                .transpose()?,
            data: DataSpec {
                dataset: self.dataset.clone(),
                digits,
                val_split: self.val_split,
                samples: self.samples,
                factor: self.factor,
                noise: self.noise,
                ..Default::default()
            },
            model: ModelSpec {
                layers: self.layers.as_deref().map(parse_sizes).transpose()?,
                activations,
                loss: self
                    .loss
                    .as_deref()
                    .map(|l| parse_flag("--loss", l))
                    .transpose()?,
                init: self
                    .init
                    .as_deref()
                    .map(|i| parse_flag("--init", i))
                    .transpose()?,
                bias: self.no_bias.then_some(false),
            },
            train: TrainSpec {
                epochs: self.epochs,
                batch_size: self.batch_size,
                lr: self.lr,
                schedule: self
                    .lr_schedule
                    .as_deref()
                    .map(|s| parse_flag("--lr-schedule", s))
                    .transpose()?,
                early_stopping: self.early_stopping,
                validate_every: self.validate_every,
            },
            optimizer: self.optimizer.spec()?,
        };
        self.files.apply(&mut spec.data)?;
        Ok(spec)
    }
}

pub fn run(a: TrainArgs) -> Result<()> {
    let flags = a.spec()?;
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
