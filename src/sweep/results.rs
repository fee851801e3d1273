//! A sweep's results: one outcome per configuration, saved as it finishes
//! (`DIR/runs/<id>.json`, the id a hash of its run description), ranked, and written as
//! `results.json` and `results.csv`; the outcomes of several shards merge into one ranking.

use super::grid::label_text;
use super::{Label, Metric};
use crate::run::{Run, RunSpec};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::path::Path;

/// How a configuration ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Ok,
    Diverged(String),
    Error(String),
}

impl Status {
    pub fn text(&self) -> String {
        match self {
            Status::Ok => "ok".into(),
            Status::Diverged(m) => format!("diverged: {m}"),
            Status::Error(m) => format!("error: {m}"),
        }
    }

    fn parse(s: &str) -> Status {
        if s == "ok" {
            Status::Ok
        } else if let Some(m) = s.strip_prefix("diverged: ") {
            Status::Diverged(m.into())
        } else {
            Status::Error(s.strip_prefix("error: ").unwrap_or(s).into())
        }
    }
}

/// One configuration's result.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Its place in the grid (0-based).
    pub index: usize,
    /// A hash of its run description: the name of its file under `runs/`.
    pub id: String,
    /// The keys and values that set it apart from the others.
    pub label: Vec<(String, toml::Value)>,
    pub spec: RunSpec,
    /// The resolved run (none when it could not be resolved).
    pub run: Option<Run>,
    /// The metric of each fold (of the validation split without folds).
    pub folds: Vec<f64>,
    /// The metric per epoch, per fold.
    pub curves: Vec<Vec<f32>>,
    pub mean: f64,
    pub std: f64,
    /// Wall time of its training, every fold; on a GPU, of its group's (trained together).
    pub seconds: f64,
    pub status: Status,
}

impl Outcome {
    /// A configuration not trained yet.
    pub fn new(index: usize, id: String, label: Label, spec: RunSpec) -> Self {
        Outcome {
            index,
            id,
            label,
            spec,
            run: None,
            folds: Vec::new(),
            curves: Vec::new(),
            mean: f64::NAN,
            std: f64::NAN,
            seconds: 0.0,
            status: Status::Ok,
        }
    }

    /// Ends the configuration: its status from `result` (a divergence or another error), the
    /// mean and std over its folds, and its training time.
    pub fn finish(&mut self, result: Result<()>, seconds: f64) {
        if let Err(e) = result {
            self.status = match e {
                Error::Diverged { .. } => Status::Diverged(e.to_string()),
                e => Status::Error(e.to_string()),
            };
        }
        (self.mean, self.std) = mean_std(&self.folds);
        self.seconds = seconds;
    }
}

/// What a `runs/<id>.json` file holds.
#[derive(Serialize, Deserialize)]
struct Saved {
    index: usize,
    id: String,
    label: String,
    spec: String,
    run: Option<Run>,
    folds: Vec<f64>,
    curves: Vec<Vec<Option<f32>>>,
    mean: Option<f64>,
    std: Option<f64>,
    seconds: f64,
    status: String,
}

/// The id of a configuration: the first 16 hex digits of the SHA-256 of its description.
pub fn config_id(spec: &RunSpec) -> String {
    let text = spec.to_toml();
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Mean and (population) standard deviation; NaN for none.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Writes `dir/runs/<id>.json` atomically.
pub fn save_outcome(dir: &Path, o: &Outcome) -> Result<()> {
    let runs = dir.join("runs");
    std::fs::create_dir_all(&runs).map_err(|e| Error::io(&runs, e))?;
    let saved = Saved {
        index: o.index,
        id: o.id.clone(),
        label: toml::to_string(&label_table(&o.label)).unwrap_or_default(),
        spec: o.spec.to_toml(),
        run: o.run.clone(),
        folds: o.folds.clone(),
        curves: o
            .curves
            .iter()
            .map(|c| c.iter().map(|&v| v.is_finite().then_some(v)).collect())
            .collect(),
        mean: finite(o.mean),
        std: finite(o.std),
        seconds: o.seconds,
        status: o.status.text(),
    };
    let text = serde_json::to_string_pretty(&saved).expect("an outcome serialises") + "\n";
    crate::io::write_atomic(&runs.join(format!("{}.json", o.id)), text.as_bytes())
}

/// Reads `dir/runs/<id>.json`; `None` when it is missing or unreadable (then the configuration
/// trains again).
pub fn load_outcome(dir: &Path, id: &str) -> Option<Outcome> {
    read_outcome(&dir.join("runs").join(format!("{id}.json"))).ok()
}

fn read_outcome(path: &Path) -> Result<Outcome> {
    let text = crate::io::read_text_capped(path, 64 << 20, "sweep result")?;
    let s: Saved = serde_json::from_str(&text).map_err(|e| Error::bad_file(path, e.to_string()))?;
    let spec = RunSpec::from_toml_str(&s.spec).map_err(|e| Error::bad_file(path, e.to_string()))?;
    let label: toml::Table = toml::from_str(&s.label).unwrap_or_default();
    Ok(Outcome {
        index: s.index,
        id: s.id,
        label: crate::run::table::leaves(&label),
        spec,
        run: s.run,
        folds: s.folds,
        curves: s
            .curves
            .into_iter()
            .map(|c| c.into_iter().map(|v| v.unwrap_or(f32::NAN)).collect())
            .collect(),
        mean: s.mean.unwrap_or(f64::NAN),
        std: s.std.unwrap_or(f64::NAN),
        seconds: s.seconds,
        status: Status::parse(&s.status),
    })
}

fn label_table(label: &[(String, toml::Value)]) -> toml::Table {
    let mut t = toml::Table::new();
    for (k, v) in label {
        crate::run::table::insert(&mut t, k, v.clone());
    }
    t
}

/// Every outcome under `dirs` (their `runs/` folders), each configuration once.
pub fn merge(dirs: &[&Path]) -> Result<Vec<Outcome>> {
    let mut all: Vec<Outcome> = Vec::new();
    for dir in dirs {
        let runs = dir.join("runs");
        let entries = std::fs::read_dir(&runs).map_err(|e| Error::io(&runs, e))?;
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
        {
            let o = read_outcome(p)?;
            if !all.iter().any(|a| a.id == o.id) {
                all.push(o);
            }
        }
    }
    all.sort_by_key(|o| o.index);
    Ok(all)
}

/// The outcomes best first by `metric` (failed ones last, in grid order).
pub fn rank(mut outcomes: Vec<Outcome>, metric: Metric) -> Vec<Outcome> {
    let key = |o: &Outcome| {
        let ok = o.status == Status::Ok && o.mean.is_finite();
        let v = if metric.higher_is_better() {
            -o.mean
        } else {
            o.mean
        };
        (!ok, if ok { v } else { 0.0 }, o.index)
    };
    outcomes.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0)
            .then(ka.1.total_cmp(&kb.1))
            .then(ka.2.cmp(&kb.2))
    });
    outcomes
}

/// `results.json`: `{"metric", "results": [{"run", "label", "folds", "mean", "std",
/// "seconds", "status"}, ...]}`, best first.
pub fn results_json(ranked: &[Outcome], metric: Metric) -> serde_json::Value {
    let results: Vec<serde_json::Value> = ranked
        .iter()
        .map(|o| {
            serde_json::json!({
                "run": crate::io::json_as_written(&o.run),
                "label": label_text(&o.label),
                "folds": o.folds,
                "mean": finite(o.mean),
                "std": finite(o.std),
                "seconds": o.seconds,
                "status": o.status.text(),
            })
        })
        .collect();
    serde_json::json!({ "metric": metric.name(), "results": results })
}

/// `results.csv`: rank, the label, mean, std, seconds, status; one row per configuration.
pub fn results_csv(ranked: &[Outcome], metric: Metric) -> String {
    let mut s = format!(
        "rank,configuration,{m}_mean,{m}_std,seconds,status\n",
        m = metric
    );
    for (r, o) in ranked.iter().enumerate() {
        let quote = |t: String| format!("\"{}\"", t.replace('"', "'"));
        s.push_str(&format!(
            "{},{},{},{},{:.2},{}\n",
            r + 1,
            quote(label_text(&o.label)),
            finite(o.mean).map_or(String::new(), |v| format!("{v:.6}")),
            finite(o.std).map_or(String::new(), |v| format!("{v:.6}")),
            o.seconds,
            quote(o.status.text())
        ));
    }
    s
}

/// Writes `results.json` and `results.csv` into `dir`.
pub fn write_results(dir: &Path, ranked: &[Outcome], metric: Metric) -> Result<()> {
    let json = serde_json::to_string_pretty(&results_json(ranked, metric)).expect("json") + "\n";
    crate::io::write_atomic(&dir.join("results.json"), json.as_bytes())?;
    crate::io::write_atomic(
        &dir.join("results.csv"),
        results_csv(ranked, metric).as_bytes(),
    )
}

/// The metric per epoch averaged over folds (epochs every fold reached).
pub fn mean_curve(o: &Outcome) -> Vec<f32> {
    let epochs = o.curves.iter().map(|c| c.len()).min().unwrap_or(0);
    (0..epochs)
        .map(|e| o.curves.iter().map(|c| c[e]).sum::<f32>() / o.curves.len() as f32)
        .collect()
}
