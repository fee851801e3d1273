//! `gpunn sweep`: a grid of training runs with cross-validation, trained concurrently. Flags are
//! `gpunn train`'s with alternatives: a scalar flag takes a comma list (`--lr 1e-4,2e-5`), a
//! list-valued flag (`--layers`, `--activation`, `--digits`, `--target`) takes one alternative
//! per occurrence; or `--config grid.toml`. The library does the work (`gpunn::sweep`); this
//! maps flags onto a grid, shows progress and prints the ranking.

use anyhow::Result;
use clap::Args;
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
    /// Configurations trained at once: on the CPU the cores shared among them [default: one
    /// per core]; on a GPU all their folds' steps in the same submissions [default: 16; 1 on a
    /// software adapter].
    #[arg(long)]
    jobs: Option<usize>,
    /// CPU threads per configuration [default: the cores shared among the jobs].
    #[arg(long)]
    threads: Option<usize>,
    /// Write a TensorBoard log per configuration and fold into this directory as they train:
    /// DIR/<settings>/fold<k> (view them with `tensorboard --logdir DIR`).
    #[arg(long, value_name = "DIR")]
    tensorboard: Option<PathBuf>,
    /// Skip retraining the best configuration on the whole training set.
    #[arg(long)]
    no_retrain: bool,
    #[command(flatten)]
    grid: crate::setting_flags::SettingFlags<crate::setting_flags::Sweep>,
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
    let sweep = Sweep {
        grid,
        folds: a.folds,
        metric,
        jobs: a.jobs,
        threads: a.threads,
        shard,
        out: a.out.clone(),
        tensorboard: a.tensorboard.clone(),
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
