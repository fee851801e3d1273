//! `gpunn sweep`: a grid of training runs with cross-validation, trained concurrently. Flags are
//! `gpunn train`'s with alternatives: a scalar flag takes a comma list (`--lr 1e-4,2e-5`), a
//! list-valued flag (`--layers`, `--activation`, `--digits`, `--target`) takes one alternative
//! per occurrence; or `--config grid.toml`. The library does the work (`gpunn::sweep`); this
//! maps flags onto a grid, shows progress and prints the ranking.

use anyhow::Result;
use clap::{ArgAction, Args};
use gpunn::plots;
use gpunn::sweep::{self, best, grid::label_text, results, Event, Grid, Metric, Outcome, Sweep};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct SweepArgs {
    /// A grid as TOML: a run description where a list of values is the grid
    /// (`lr = [1e-4, 2e-5]`, `layers = [[784, 128, 10], [784, 64, 10]]`); flags add to it.
    #[arg(long, value_name = "GRID.toml")]
    config: Option<PathBuf>,
    /// K-fold cross-validation on the training set (stratified for classification, seeded)
    /// [default: the validation split].
    #[arg(long)]
    folds: Option<usize>,
    /// What ranks the configurations: val_loss, val_accuracy, val_mse or val_r2.
    #[arg(long, default_value = "val_loss")]
    metric: String,
    /// Write runs/<id>.json per configuration as it finishes (a sweep started again with the
    /// same --out skips those), results.json, results.csv, curves.png, and the best
    /// configuration retrained on the whole training set as best.safetensors and best.toml.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Train only the K-th of N disjoint, deterministic slices of the grid (a Slurm job
    /// array, a Kubernetes indexed Job); combine them with --merge.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Combine the results of SLICE_DIRs (each a --shard's --out) into --out: ranking,
    /// curves and the best model.
    #[arg(long, requires = "out")]
    merge: bool,
    /// With --merge: the slices' --out directories.
    #[arg(value_name = "SLICE_DIR")]
    slices: Vec<PathBuf>,
    /// Configurations trained at once on the CPU, the cores shared among them [default: one
    /// per core].
    #[arg(long)]
    jobs: Option<usize>,
    /// CPU threads per configuration [default: the cores shared among the jobs].
    #[arg(long)]
    threads: Option<usize>,
    /// Skip retraining the best configuration on the whole training set.
    #[arg(long)]
    no_retrain: bool,
    #[command(flatten)]
    grid: GridFlags,
}

/// `gpunn train`'s flags, each with alternatives.
#[derive(Args)]
struct GridFlags {
    #[arg(long, action = ArgAction::Append)]
    dataset: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    data: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    labels: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    test: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    test_split: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    target: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    task: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    scale: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    digits: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    val_split: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    samples: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    factor: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    noise: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    layers: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    activation: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    loss: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    init: Vec<String>,
    /// Layers without bias (`--no-bias true,false` sweeps both).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Append)]
    no_bias: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    lr: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    lr_schedule: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    batch_size: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    epochs: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    seed: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    early_stopping: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    device: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    optimizer: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    momentum: Vec<String>,
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Append)]
    nesterov: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    beta1: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    beta2: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    eps: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    weight_decay: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    clip_norm: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    clip_value: Vec<String>,
}

/// How a flag's text becomes TOML values.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Float,
    Bool,
    /// Flips a boolean: `--no-bias` sets `bias = false`.
    NotBool,
    IntList,
    StrList,
}

impl GridFlags {
    /// `(flag, key, kind, values given)` for every flag.
    fn table(&self) -> Vec<(&'static str, &'static str, Kind, &Vec<String>)> {
        use Kind::*;
        vec![
            ("--dataset", "data.dataset", Str, &self.dataset),
            ("--data", "data.file", Str, &self.data),
            ("--labels", "data.labels", Str, &self.labels),
            ("--test", "data.test", Str, &self.test),
            ("--test-split", "data.test_split", Float, &self.test_split),
            ("--target", "data.target", StrList, &self.target),
            ("--task", "data.task", Str, &self.task),
            ("--scale", "data.scale", Str, &self.scale),
            ("--digits", "data.digits", IntList, &self.digits),
            ("--val-split", "data.val_split", Float, &self.val_split),
            ("--samples", "data.samples", Int, &self.samples),
            ("--factor", "data.factor", Float, &self.factor),
            ("--noise", "data.noise", Float, &self.noise),
            ("--layers", "model.layers", IntList, &self.layers),
            (
                "--activation",
                "model.activations",
                StrList,
                &self.activation,
            ),
            ("--loss", "model.loss", Str, &self.loss),
            ("--init", "model.init", Str, &self.init),
            ("--no-bias", "model.bias", NotBool, &self.no_bias),
            ("--lr", "train.lr", Float, &self.lr),
            ("--lr-schedule", "train.schedule", Str, &self.lr_schedule),
            ("--batch-size", "train.batch_size", Int, &self.batch_size),
            ("--epochs", "train.epochs", Int, &self.epochs),
            ("--seed", "seed", Int, &self.seed),
            (
                "--early-stopping",
                "train.early_stopping",
                Int,
                &self.early_stopping,
            ),
            ("--device", "device", Str, &self.device),
            ("--optimizer", "optimizer.kind", Str, &self.optimizer),
            ("--momentum", "optimizer.momentum", Float, &self.momentum),
            ("--nesterov", "optimizer.nesterov", Bool, &self.nesterov),
            ("--beta1", "optimizer.beta1", Float, &self.beta1),
            ("--beta2", "optimizer.beta2", Float, &self.beta2),
            ("--eps", "optimizer.eps", Float, &self.eps),
            (
                "--weight-decay",
                "optimizer.weight_decay",
                Float,
                &self.weight_decay,
            ),
            ("--clip-norm", "optimizer.clip_norm", Float, &self.clip_norm),
            (
                "--clip-value",
                "optimizer.clip_value",
                Float,
                &self.clip_value,
            ),
        ]
    }

    /// Adds every given flag to `grid` as an axis (or a fixed value).
    fn add_to(&self, grid: &mut Grid) -> Result<()> {
        for (flag, key, kind, given) in self.table() {
            if given.is_empty() {
                continue;
            }
            let mut values = Vec::new();
            let list = matches!(kind, Kind::IntList | Kind::StrList);
            for g in given {
                if list {
                    values.push(value(flag, kind, g)?);
                } else {
                    for part in g.split(',') {
                        values.push(value(flag, kind, part.trim())?);
                    }
                }
            }
            // A directory of IDX files is `dir`, a file `file`.
            let key = if key == "data.file" && Path::new(&given[0]).is_dir() {
                "data.dir"
            } else {
                key
            };
            grid.add(key, values)
                .map_err(|e| gpunn::Error::invalid(flag, e.to_string()))?;
        }
        Ok(())
    }
}

fn value(flag: &str, kind: Kind, text: &str) -> Result<toml::Value> {
    let bad = |what: &str| gpunn::Error::invalid(flag, format!("'{text}' is not {what}"));
    Ok(match kind {
        Kind::Str => toml::Value::String(text.to_string()),
        Kind::Int => toml::Value::Integer(text.parse().map_err(|_| bad("an integer"))?),
        Kind::Float => toml::Value::Float(text.parse().map_err(|_| bad("a number"))?),
        Kind::Bool | Kind::NotBool => {
            let b: bool = text.parse().map_err(|_| bad("true or false"))?;
            toml::Value::Boolean(if matches!(kind, Kind::NotBool) { !b } else { b })
        }
        Kind::IntList => toml::Value::Array(
            text.split(',')
                .map(|p| p.trim().parse::<i64>().map(toml::Value::Integer))
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| bad("a comma list of integers"))?,
        ),
        Kind::StrList => toml::Value::Array(
            text.split(',')
                .map(|p| toml::Value::String(p.trim().to_string()))
                .collect(),
        ),
    })
}

pub fn run(a: SweepArgs) -> Result<()> {
    let metric: Metric = crate::parse_flag("--metric", &a.metric)?;
    if a.merge {
        let out = a.out.as_ref().expect("clap requires --out");
        if a.slices.is_empty() {
            anyhow::bail!(gpunn::Error::invalid(
                "--merge",
                "name the slices' directories"
            ));
        }
        let dirs: Vec<&Path> = a.slices.iter().map(|p| p.as_path()).collect();
        let outcomes = results::merge(&dirs)?;
        println!(
            "merged {} configurations from {} slices",
            outcomes.len(),
            dirs.len()
        );
        return report(outcomes, metric, Some(out), a.no_retrain);
    }
    let mut grid = match &a.config {
        Some(p) => Grid::from_toml_file(p)?,
        None => Grid::default(),
    };
    a.grid.add_to(&mut grid)?;
    let shard = a.shard.as_deref().map(parse_shard).transpose()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let sweep = Sweep {
        grid,
        folds: a.folds,
        metric,
        jobs: a.jobs.unwrap_or(cores),
        threads: a.threads,
        shard,
        out: a.out.clone(),
    };
    let planned = sweep.planned()?.len();
    println!(
        "sweep: {} configurations in the grid{}{}, ranked by {}",
        sweep.grid.len(),
        shard.map_or(String::new(), |(k, n)| format!(
            ", slice {k}/{n}: {planned}"
        )),
        a.folds
            .map_or(String::new(), |k| format!(", {k}-fold cross-validation")),
        metric
    );
    let mut progress = Progress::default();
    let outcomes = sweep.run(|e| progress.event(e))?;
    progress.finish();
    report(
        outcomes,
        metric,
        a.out.as_deref(),
        a.no_retrain || shard.is_some(),
    )
}

fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let bad = || gpunn::Error::invalid("--shard", format!("'{s}' is not K/N (e.g. 3/8)"));
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || n == 0 || k > n {
        anyhow::bail!(bad());
    }
    Ok((k, n))
}

/// A progress bar: configurations done, running and failed, and the time left.
#[derive(Default)]
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    running: usize,
    failed: usize,
}

impl Progress {
    fn event(&mut self, e: &Event) {
        match e {
            Event::Planned { total, skipped } => {
                if *skipped > 0 {
                    println!("{skipped} configurations finished earlier (in --out): skipped");
                }
                let bar = indicatif::ProgressBar::new(*total as u64);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "[{bar:30}] {pos}/{len} configurations done {msg} (eta {eta})",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_position(*skipped as u64);
                self.bar = Some(bar);
            }
            Event::Started { .. } => self.running += 1,
            Event::Finished(o) => {
                self.running = self.running.saturating_sub(1);
                if o.status != sweep::Status::Ok {
                    self.failed += 1;
                }
                if let Some(b) = &self.bar {
                    b.inc(1);
                }
            }
        }
        let msg = format!("· {} running · {} failed", self.running, self.failed);
        if let Some(b) = &self.bar {
            b.set_message(msg);
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// Prints the ranking; with `out`, writes results, curves and the retrained best model.
fn report(
    outcomes: Vec<Outcome>,
    metric: Metric,
    out: Option<&Path>,
    no_retrain: bool,
) -> Result<()> {
    let ranked = results::rank(outcomes, metric);
    println!(
        "{:>4}  {:>22}  {:>8}  configuration",
        "rank",
        metric.name(),
        "seconds"
    );
    for (r, o) in ranked.iter().enumerate() {
        let figure = if o.status == sweep::Status::Ok {
            format!("{:.4} ± {:.4}", o.mean, o.std)
        } else {
            o.status.text().chars().take(60).collect()
        };
        println!(
            "{:>4}  {:>22}  {:>8.1}  {}",
            r + 1,
            figure,
            o.seconds,
            label_text(&o.label)
        );
    }
    let Some(dir) = out else {
        return Ok(());
    };
    std::fs::create_dir_all(dir).map_err(|e| gpunn::Error::io(dir, e))?;
    results::write_results(dir, &ranked, metric)?;
    let curves: Vec<(String, Vec<f32>)> = ranked
        .iter()
        .filter(|o| o.status == sweep::Status::Ok)
        .map(|o| (label_text(&o.label), results::mean_curve(o)))
        .collect();
    if !curves.is_empty() {
        let title = format!(
            "{} configurations: {} per epoch, best first",
            curves.len(),
            metric.name().replace("val_", "validation ")
        );
        let path = dir.join("curves.png");
        plots::sweep_curves(
            &path,
            &curves,
            (metric.name(), metric.higher_is_better()),
            &title,
        )?;
    }
    println!(
        "wrote {}/results.json, results.csv and curves.png",
        dir.display()
    );
    if no_retrain {
        return Ok(());
    }
    if let Some(top) = ranked.first().filter(|o| o.status == sweep::Status::Ok) {
        println!(
            "retraining the best ({}) on the whole training set",
            label_text(&top.label)
        );
        let (_, test) = best::retrain(top, dir)?;
        match test.as_ref().and_then(|t| t.values) {
            Some(v) => println!(
                "best: test MSE {:.5}  MAE {:.5}  R² {:.4}",
                v.mse, v.mae, v.r2
            ),
            None => {
                if let Some(t) = &test {
                    println!(
                        "best: test loss {:.4}  accuracy {:.2}%",
                        t.evaluation.loss,
                        100.0 * t.evaluation.accuracy
                    );
                }
            }
        }
        println!("wrote {}/best.safetensors and best.toml", dir.display());
    }
    Ok(())
}
