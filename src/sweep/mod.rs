//! Grid searches with cross-validation, trained concurrently: [`Grid`] expands run
//! descriptions, [`Sweep::run`] trains every configuration (and every fold of it) on a pool of
//! workers, each with its own engine; the data is loaded once per distinct `[data]` section and
//! shared. Each finished configuration is written at once to `DIR/runs/<id>.json`, so an
//! interrupted sweep started again skips it; [`results`] ranks them, writes `results.json`,
//! `results.csv` and merges the results of shards.
//!
//! On the CPU, configurations run side by side, each on fewer threads (`jobs` at once, the
//! cores shared among them): small models and batches use cores better that way than one run
//! splitting every step. On a GPU a group of configurations, every fold of each, trains
//! together: each epoch's steps of all of them go into the same submissions ([`gpu`]).

pub mod best;
mod fold_engine;
pub mod gpu;
pub mod grid;
pub mod results;
pub mod together;

pub use grid::{Grid, Label};
pub use results::{Outcome, Status};

use crate::data::split;
use crate::data::Dataset;
use crate::gpu::DeviceKind;
use crate::run::{LoadedData, Run, RunSpec};
use crate::train::{EpochRecord, History, Observer, Quiet};
use crate::{Error, Result};
use fold_engine::open_engine;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

/// A configuration to train: its grid index, description, label, id and data.
type Job = (usize, RunSpec, Label, String, Result<Arc<LoadedData>>);

/// Each fold's training and validation sets.
type Parts = Arc<Vec<(Dataset, Dataset)>>;

/// The fold sets made so far, by data, seed, scaling and split.
#[derive(Default)]
struct FoldCache(Mutex<HashMap<String, Parts>>);

/// What ranks the configurations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    ValLoss,
    ValAccuracy,
    ValMse,
    ValR2,
}

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::ValLoss,
        Metric::ValAccuracy,
        Metric::ValMse,
        Metric::ValR2,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::ValLoss => "val_loss",
            Metric::ValAccuracy => "val_accuracy",
            Metric::ValMse => "val_mse",
            Metric::ValR2 => "val_r2",
        }
    }

    /// Higher is better (accuracy, R²) rather than lower (losses, errors).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::ValAccuracy | Metric::ValR2)
    }

    /// The metric of one epoch.
    pub fn of(self, r: &EpochRecord) -> Option<f32> {
        match self {
            Metric::ValLoss => r.val_loss,
            Metric::ValAccuracy => r.val_accuracy,
            Metric::ValMse => r.val_mse,
            Metric::ValR2 => r.val_r2,
        }
    }
}

impl FromStr for Metric {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == s.trim())
            .ok_or_else(|| {
                format!("unknown metric '{s}' (val_loss, val_accuracy, val_mse or val_r2)")
            })
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a sweep runs.
#[derive(Clone, Debug)]
pub struct Sweep {
    pub grid: Grid,
    /// K-fold cross-validation on the training set (stratified, seeded); `None`: the run's
    /// validation split.
    pub folds: Option<usize>,
    pub metric: Metric,
    /// Configurations trained at once: on the CPU each on its share of the cores (`None`: one
    /// per core); on a GPU together, all their folds' steps in the same submissions (`None`:
    /// [`gpu::GPU_JOBS`] on a hardware GPU, 1 on a software adapter).
    pub jobs: Option<usize>,
    /// CPU threads per configuration (`None`: the cores shared among the jobs).
    pub threads: Option<usize>,
    /// `Some((k, n))`: only the k-th (1-based) of n disjoint slices of the grid.
    pub shard: Option<(usize, usize)>,
    /// Where each finished configuration is written (`runs/<id>.json`) and read back from.
    pub out: Option<PathBuf>,
    /// A TensorBoard log per configuration and fold in this directory: `<settings>/fold<k>`
    /// (`<settings>` with the validation split), named by the grid's settings of it.
    pub tensorboard: Option<PathBuf>,
}

/// What a sweep reports while it runs.
#[derive(Clone, Debug)]
pub enum Event {
    /// Configurations to train in this run, and how many were done before (skipped).
    Planned {
        total: usize,
        skipped: usize,
    },
    Started {
        index: usize,
    },
    Finished(Box<Outcome>),
}

impl Sweep {
    /// The configurations of this sweep's shard: `(grid index, spec, label)`.
    pub fn planned(&self) -> Result<Vec<(usize, RunSpec, Label)>> {
        let all = self.grid.configs()?;
        Ok(all
            .into_iter()
            .enumerate()
            .filter(|(i, _)| self.shard.is_none_or(|(k, n)| i % n == k - 1))
            .map(|(i, (s, l))| (i, s, l))
            .collect())
    }

    /// Trains every planned configuration not finished before, `jobs` at a time, calling
    /// `events` from this thread as they start and finish; returns every outcome of the shard
    /// (finished before or now), in grid order. A configuration that fails or diverges is an
    /// outcome with its reason; the others go on.
    pub fn run(&self, mut events: impl FnMut(&Event)) -> Result<Vec<Outcome>> {
        if let Some((k, n)) = self.shard {
            if n == 0 || k == 0 || k > n {
                return Err(Error::invalid(
                    "shard",
                    format!("{k}/{n}: give K/N with 1 <= K <= N"),
                ));
            }
        }
        let planned = self.planned()?;
        let mut done: Vec<Outcome> = Vec::new();
        let mut todo = Vec::new();
        for (i, spec, label) in planned {
            let id = results::config_id(&spec);
            match self
                .out
                .as_ref()
                .and_then(|d| results::load_outcome(d, &id))
            {
                Some(o) => done.push(o),
                None => todo.push((i, spec, label, id)),
            }
        }
        events(&Event::Planned {
            total: todo.len() + done.len(),
            skipped: done.len(),
        });
        // The data, once per distinct [data] section and seed.
        let mut cache: HashMap<String, Arc<LoadedData>> = HashMap::new();
        let mut jobs = Vec::new();
        for (i, spec, label, id) in todo {
            let key = format!("{:?}{}", spec.data, spec.seed());
            let data = match cache.get(&key) {
                Some(d) => Ok(d.clone()),
                None => spec.load_data().map(|d| {
                    let d = Arc::new(d);
                    cache.insert(key, d.clone());
                    d
                }),
            };
            jobs.push((i, spec, label, id, data));
        }
        // `auto` without a hardware GPU is the CPU.
        let auto_is_cpu = crate::backend::context(DeviceKind::Auto).map_or(true, |c| c.0.is_none());
        let on_cpu = |s: &RunSpec| match s.device.unwrap_or(DeviceKind::Auto) {
            DeviceKind::Cpu => true,
            DeviceKind::Auto => auto_is_cpu,
            _ => false,
        };
        let all_cpu = jobs.iter().all(|j| on_cpu(&j.1));
        // Every configuration on one GPU: trained together, a group at a time.
        let device = |j: &Job| j.1.device.unwrap_or(DeviceKind::Auto);
        let gang = jobs
            .first()
            .map(device)
            .filter(|d| jobs.iter().all(|j| !on_cpu(&j.1) && device(j) == *d));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = if all_cpu {
            self.jobs.unwrap_or(cores).clamp(1, jobs.len().max(1))
        } else {
            1
        };
        let threads = self.threads.unwrap_or(cores / workers).max(1);
        let next = AtomicUsize::new(0);
        let jobs = Mutex::new(jobs.into_iter().map(Some).collect::<Vec<_>>());
        let count = jobs.lock().expect("jobs").len();
        let (tx, rx) = mpsc::channel::<Event>();
        let cache = FoldCache::default();
        let mut outcomes = done;
        let mut gang_jobs = match gang {
            Some(_) => std::mem::take(&mut *jobs.lock().expect("jobs")),
            None => Vec::new(),
        };
        std::thread::scope(|scope| -> Result<()> {
            if let Some(kind) = gang {
                let tx = tx.clone();
                let jobs: Vec<Job> = gang_jobs.drain(..).flatten().collect();
                let cache = &cache;
                scope.spawn(move || self.run_together(kind, jobs, &tx, cache));
            }
            for _ in 0..workers.min(if gang.is_some() { 0 } else { count }) {
                let tx = tx.clone();
                let (next, jobs, cache) = (&next, &jobs, &cache);
                scope.spawn(move || loop {
                    let j = next.fetch_add(1, Ordering::SeqCst);
                    if j >= count {
                        break;
                    }
                    let job = jobs.lock().expect("jobs")[j].take().expect("each job once");
                    let _ = tx.send(Event::Started { index: job.0 });
                    let threads = all_cpu.then_some(threads);
                    let outcome = self.train_one(job, threads, cache);
                    let _ = tx.send(Event::Finished(Box::new(outcome)));
                });
            }
            drop(tx);
            for ev in rx {
                if let Event::Finished(o) = &ev {
                    if let Some(dir) = &self.out {
                        results::save_outcome(dir, o)?;
                    }
                    outcomes.push((**o).clone());
                }
                events(&ev);
            }
            Ok(())
        })?;
        outcomes.sort_by_key(|o| o.index);
        Ok(outcomes)
    }

    /// One configuration, every fold; failures become the outcome's status.
    fn train_one(&self, job: Job, threads: Option<usize>, cache: &FoldCache) -> Outcome {
        let (index, spec, label, id, data) = job;
        let start = Instant::now();
        let mut outcome = Outcome::new(index, id, label, spec.clone());
        let result = data.and_then(|data| {
            let run = spec.resolve(&data)?;
            outcome.run = Some(run.clone());
            self.cross_validate(&run, &data, threads, &mut outcome, cache)
        });
        outcome.finish(result, start.elapsed().as_secs_f64());
        outcome
    }

    fn cross_validate(
        &self,
        run: &Run,
        data: &LoadedData,
        threads: Option<usize>,
        outcome: &mut Outcome,
        cache: &FoldCache,
    ) -> Result<()> {
        for (k, (train, val)) in self.fold_parts(run, data, cache)?.iter().enumerate() {
            let params = run.init_params()?;
            let mut engine = open_engine(run, &params, threads)?;
            let mut log = self.fold_log(&outcome.label, k, train)?;
            let observer: &mut dyn Observer = match &mut log {
                Some(log) => log,
                None => &mut Quiet,
            };
            let history = run.fit(engine.as_mut(), train, Some(val), &[], observer)?;
            self.add_fold(outcome, &history)?;
        }
        Ok(())
    }

    /// The training and validation sets of each fold (or the validation split), scaled as the
    /// run says (the scaling fitted on each fold's training part). Pixels stay bytes: a
    /// quarter of the memory, which for the CPU is also faster than f32 (the reports' grid:
    /// 5.5 s with f32, 5.15 s with bytes: two folds' images then stay in the L3 cache, and
    /// converting a row costs less than missing it); a GPU converts them in its gather kernel.
    /// Made once per data, seed, scaling and split, and shared by every configuration that
    /// agrees on those (their folds are the same samples).
    fn fold_parts(&self, run: &Run, data: &LoadedData, cache: &FoldCache) -> Result<Parts> {
        let key = format!("{data:p}|{}|{:?}", run.seed, run.data);
        let mut map = cache.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(parts) = map.get(&key) {
            return Ok(parts.clone());
        }
        let parts = Arc::new(self.fold_sets(run, data)?);
        map.insert(key, parts.clone());
        Ok(parts)
    }

    /// The training and validation sets of each fold with `folds` set (every other fold's
    /// samples, and this fold's), else of the run's validation split; scaled by the run, the
    /// scaling fitted on each training part.
    pub fn fold_sets(&self, run: &Run, data: &LoadedData) -> Result<Vec<(Dataset, Dataset)>> {
        let parts: Vec<(Dataset, Dataset)> = match self.folds {
            Some(k) => {
                let folds = split::folds(&data.train, k, run.seed)?;
                (0..k)
                    .map(|f| {
                        let mut rest: Vec<u32> = (0..k)
                            .filter(|&g| g != f)
                            .flat_map(|g| folds[g].iter().copied())
                            .collect();
                        rest.sort_unstable();
                        (data.train.subset(&rest), data.train.subset(&folds[f]))
                    })
                    .collect()
            }
            None => {
                let (train, val) = run.split(data)?;
                let val = val.ok_or_else(|| {
                    Error::invalid(
                        "data.val_split",
                        "a sweep ranks by validation: give --folds K or a validation split above 0",
                    )
                })?;
                vec![(train, val)]
            }
        };
        parts
            .into_iter()
            .map(|(train, val)| {
                let scaler = crate::data::scale::Scaler::fit(run.data.scale, &train);
                Ok((scaler.apply(&train)?, scaler.apply(&val)?))
            })
            .collect()
    }

    /// Adds one fold's figure (the metric at the best epoch, else the last) and curve.
    fn add_fold(&self, outcome: &mut Outcome, history: &History) -> Result<()> {
        let curve: Vec<f32> = history
            .epochs
            .iter()
            .map(|r| self.metric.of(r).unwrap_or(f32::NAN))
            .collect();
        let best = history
            .best_epoch
            .and_then(|b| history.epochs.iter().find(|r| r.epoch == b))
            .or(history.epochs.last());
        let value = best.and_then(|r| self.metric.of(r)).ok_or_else(|| {
            Error::invalid(
                "metric",
                format!("{} is not measured for this task", self.metric),
            )
        })?;
        outcome.folds.push(value as f64);
        outcome.curves.push(curve);
        Ok(())
    }
}
