//! `gpunn sweep`: grid expansion from TOML and from flags, a failing configuration among good
//! ones, resuming an interrupted sweep, shards that cover the grid once and merge into the
//! unsharded ranking, one configuration's metrics identical alone and inside a sweep, and
//! `validate_every` leaving the training and the final metric as they were.
//! (Folds, disjoint, covering and stratified: `tables::holdout_and_folds_...`.)

use crate::cli::{gpunn, stderr, stdout};
use crate::common::Scratch;
use gpunn::sweep::{results, Event, Grid, Metric, Status, Sweep};
use std::process::Command;

/// Small circles runs; `train` and `model` are more lines of those sections.
fn circles_grid(train: &str, model: &str) -> Grid {
    let text = format!(
        "device = \"cpu\"\n[data]\ndataset = \"circles\"\nsamples = 120\nval_split = 0.25\n\
         [model]\nactivations = [\"tanh\"]\n{model}\n[train]\nepochs = 3\n{train}\n"
    );
    Grid::from_toml_str(&text).unwrap()
}

fn sweep(grid: Grid, out: Option<&std::path::Path>) -> Sweep {
    Sweep {
        grid,
        folds: None,
        metric: Metric::ValLoss,
        jobs: Some(2),
        threads: Some(1),
        shard: None,
        out: out.map(|p| p.to_path_buf()),
        tensorboard: None,
    }
}

#[test]
fn grid_expands_lists_times_lists() {
    let g = Grid::from_toml_str(
        "[train]\nlr = [0.1, 0.01, 0.001]\nepochs = 2\n[model]\n\
         layers = [[2, 8, 1], [2, 4, 1]]\nactivations = [\"tanh\"]\n",
    )
    .unwrap();
    assert_eq!(g.len(), 6);
    let configs = g.configs().unwrap();
    // The first key varies slowest: layers (after lr in the file? keys are sorted by TOML).
    let pairs: Vec<(f32, Vec<usize>)> = configs
        .iter()
        .map(|(s, _)| (s.train.lr.unwrap(), s.model.layers.clone().unwrap()))
        .collect();
    let mut unique = pairs.clone();
    unique.dedup();
    assert_eq!(unique.len(), 6, "every pair once: {pairs:?}");
    for (s, label) in &configs {
        assert_eq!(s.train.epochs, Some(2), "fixed keys stay");
        assert_eq!(
            s.model.activations.as_ref().map(|a| a.len()),
            Some(1),
            "a plain list is a value"
        );
        assert_eq!(label.len(), 2, "the label names the two varied keys");
    }
    // Flags add axes the same way; a repeated key replaces the file's.
    let mut g2 = g.clone();
    g2.add("train.batch_size", vec![16.into(), 64.into()])
        .unwrap();
    g2.add("train.lr", vec![0.5.into()]).unwrap();
    assert_eq!(g2.len(), 4);
    // An empty list, or a value of the wrong kind, names its key.
    let e = Grid::from_toml_str("[train]\nlr = []\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("train.lr") && e.contains("empty"), "{e}");
    let e = Grid::from_toml_str("[train]\nlr = [0.1, \"fast\"]\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("train.lr"), "{e}");
    let e = Grid::from_toml_str("[model]\nlayers = [[2, 4, 1], [2, -4, 1]]\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("model.layers"), "{e}");
    let e = g
        .clone()
        .add("train.epochs", vec![])
        .unwrap_err()
        .to_string();
    assert!(e.contains("train.epochs"), "{e}");
}

#[test]
fn a_failing_configuration_is_reported_and_the_others_go_on() {
    // ce on one output cannot be: that configuration fails when resolved.
    let g = circles_grid("", "layers = [2, 8, 1]\nloss = [\"bce\", \"ce\", \"mse\"]");
    let out = sweep(g, None).run(|_| {}).unwrap();
    assert_eq!(out.len(), 3);
    let failed: Vec<_> = out.iter().filter(|o| o.status != Status::Ok).collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].status.text().starts_with("error: "),
        "{:?}",
        failed[0].status
    );
    assert!(out
        .iter()
        .filter(|o| o.status == Status::Ok)
        .all(|o| o.mean.is_finite()));
    let ranked = results::rank(out, Metric::ValLoss);
    assert!(
        ranked.last().unwrap().status != Status::Ok,
        "failures rank last"
    );
}

#[test]
fn an_interrupted_sweep_skips_what_finished() {
    let dir = Scratch::new("sweep-resume");
    let g = circles_grid("batch_size = 16\nlr = [0.5, 0.1, 0.05]", "");
    let first = sweep(g.clone(), Some(&dir)).run(|_| {}).unwrap();
    // As if killed before the second configuration was written.
    let gone = dir.join("runs").join(format!("{}.json", first[1].id));
    std::fs::remove_file(&gone).unwrap();
    let mut events = Vec::new();
    let again = sweep(g, Some(&dir))
        .run(|e| events.push(e.clone()))
        .unwrap();
    let trained: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            Event::Finished(o) => Some(o.index),
            _ => None,
        })
        .collect();
    assert_eq!(
        trained,
        vec![1],
        "only the missing configuration trains again"
    );
    assert!(matches!(
        events[0],
        Event::Planned {
            total: 3,
            skipped: 2
        }
    ));
    for (a, b) in first.iter().zip(&again) {
        assert_eq!(
            (a.id.as_str(), a.folds.clone()),
            (b.id.as_str(), b.folds.clone())
        );
    }
}

#[test]
fn shards_cover_the_grid_once_and_merge_into_the_same_ranking() {
    let dir = Scratch::new("sweep-shards");
    let g = circles_grid("lr = [0.5, 0.2]\nbatch_size = [8, 16, 32]", "");
    let whole = results::rank(sweep(g.clone(), None).run(|_| {}).unwrap(), Metric::ValLoss);
    let mut seen = Vec::new();
    let mut dirs = Vec::new();
    for k in 1..=4 {
        let d = dir.join(format!("slice{k}"));
        let mut s = sweep(g.clone(), Some(&d));
        s.shard = Some((k, 4));
        let planned: Vec<usize> = s.planned().unwrap().iter().map(|p| p.0).collect();
        seen.extend(planned);
        s.run(|_| {}).unwrap();
        dirs.push(d);
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..6).collect::<Vec<_>>(),
        "each configuration in exactly one slice"
    );
    let refs: Vec<&std::path::Path> = dirs.iter().map(|d| d.as_path()).collect();
    let merged = results::rank(results::merge(&refs).unwrap(), Metric::ValLoss);
    let key = |v: &[results::Outcome]| -> Vec<(String, Vec<f64>)> {
        v.iter().map(|o| (o.id.clone(), o.folds.clone())).collect()
    };
    assert_eq!(key(&merged), key(&whole));
}

#[test]
fn a_configuration_scores_the_same_alone_and_in_a_sweep() {
    let dir = Scratch::new("sweep-alone");
    let (out, metrics) = (dir.join("sweep"), dir.join("alone.json"));
    let common = [
        "--dataset",
        "circles",
        "--samples",
        "200",
        "--layers",
        "2,8,1",
        "--activation",
        "tanh",
        "--epochs",
        "4",
        "--device",
        "cpu",
        "--seed",
        "7",
    ];
    let mut args = vec!["sweep", "--lr", "0.5,0.3", "--threads", "1", "--jobs", "2"];
    args.extend(common);
    args.extend(["--out", out.to_str().unwrap(), "--no-retrain"]);
    let o = gpunn(&args);
    assert!(o.status.success(), "{}\n{}", stderr(&o), stdout(&o));
    let mut args = vec![
        "train",
        "--lr",
        "0.3",
        "--metrics",
        metrics.to_str().unwrap(),
    ];
    args.extend(common);
    let o = Command::new(env!("CARGO_BIN_EXE_gpunn"))
        .args(&args)
        .env("GPUNN_THREADS", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let alone: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&metrics).unwrap()).unwrap();
    let want = alone["history"].as_array().unwrap().last().unwrap()["val_loss"]
        .as_f64()
        .unwrap();
    let swept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let got = swept["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "lr=0.3")
        .expect("lr=0.3 in the results")["mean"]
        .as_f64()
        .unwrap();
    // Both are the same f32: the metrics JSON writes it in its shortest form, the sweep's mean
    // of one fold widened to f64.
    assert_eq!(
        (got as f32).to_bits(),
        (want as f32).to_bits(),
        "alone {want}, in the sweep {got}"
    );
    assert!(out.join("curves.png").exists() && out.join("results.csv").exists());
}

/// Validating less often changes no training step: every third epoch and the last, the metric
/// and the validated epochs' values are those of validating every epoch, to the bit; the
/// curves have no value elsewhere, and still draw.
#[test]
fn validating_every_third_epoch_keeps_the_metric_and_draws_the_gaps() {
    let g = Grid::from_toml_str(
        "device = \"cpu\"\n[data]\ndataset = \"circles\"\nsamples = 120\nval_split = 0.25\n\
         [model]\nlayers = [2, 8, 1]\nactivations = [\"tanh\"]\n\
         [train]\nepochs = 5\nvalidate_every = [1, 3]\n",
    )
    .unwrap();
    let mut out = sweep(g, None).run(|_| {}).unwrap();
    out.sort_by_key(|o| o.index);
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|o| o.status == Status::Ok));
    let (every, third) = (&out[0], &out[1]);
    assert_eq!(every.mean.to_bits(), third.mean.to_bits());
    let (e, t) = (&every.curves[0], &third.curves[0]);
    assert_eq!(t.len(), 5);
    for epoch in 0..5 {
        if epoch == 2 || epoch == 4 {
            assert_eq!(
                t[epoch].to_bits(),
                e[epoch].to_bits(),
                "epoch {}",
                epoch + 1
            );
        } else {
            assert!(
                t[epoch].is_nan() && e[epoch].is_finite(),
                "epoch {}",
                epoch + 1
            );
        }
    }
    let dir = Scratch::new("sweep-gaps");
    let png = dir.join("curves.png");
    let runs = vec![
        ("every".to_string(), results::mean_curve(every)),
        ("third".to_string(), results::mean_curve(third)),
    ];
    gpunn::plots::sweep_curves(&png, &runs, ("val_loss", false), "gaps").unwrap();
    assert!(std::fs::metadata(&png).unwrap().len() > 0);
}

/// With `--folds 3`, each fold trains on the other folds' samples and validates on its own:
/// the two sets are disjoint and together the whole training set, and the validation folds
/// cover every sample once.
#[test]
fn each_fold_trains_on_the_others_and_validates_on_its_own() {
    let spec = gpunn::run::RunSpec::from_toml_str(
        "device = \"cpu\"\n[data]\ndataset = \"circles\"\nsamples = 120\n",
    )
    .unwrap();
    let data = spec.load_data().unwrap();
    let run = spec.resolve(&data).unwrap();
    let mut s = sweep(circles_grid("", ""), None);
    s.folds = Some(3);
    let rows = |d: &gpunn::data::Dataset| -> Vec<Vec<u32>> {
        let mut x = Vec::new();
        let idx: Vec<u32> = (0..d.len() as u32).collect();
        d.gather(&idx, &mut x);
        x.chunks(d.dim)
            .map(|r| r.iter().map(|v| v.to_bits()).collect())
            .collect()
    };
    let mut all = rows(&data.train);
    all.sort();
    let mut seen_in_validation = Vec::new();
    let sets = s.fold_sets(&run, &data).unwrap();
    assert_eq!(sets.len(), 3);
    for (f, (train, val)) in sets.iter().enumerate() {
        let (t, v) = (rows(train), rows(val));
        assert!(
            t.iter().all(|r| !v.contains(r)),
            "fold {f}: a validation sample is also trained on"
        );
        let mut both = [t, v.clone()].concat();
        both.sort();
        assert_eq!(
            both, all,
            "fold {f}: training and validation are the training set"
        );
        seen_in_validation.extend(v);
    }
    seen_in_validation.sort();
    assert_eq!(
        seen_in_validation, all,
        "each sample validates in exactly one fold"
    );
}

/// Ranking by a metric where higher is better (accuracy, R²) puts the highest first, failed
/// configurations last.
#[test]
fn ranking_by_accuracy_puts_the_highest_first() {
    let spec = gpunn::run::RunSpec::default();
    let outcome = |index: usize, mean: f64, status: Status| {
        let mut o = results::Outcome::new(index, format!("c{index}"), Vec::new(), spec.clone());
        (o.mean, o.status) = (mean, status);
        o
    };
    let outcomes = vec![
        outcome(0, 0.80, Status::Ok),
        outcome(1, 0.95, Status::Ok),
        outcome(2, 0.99, Status::Error("boom".into())),
        outcome(3, 0.90, Status::Ok),
    ];
    for (metric, want) in [
        (Metric::ValAccuracy, [1, 3, 0, 2]),
        (Metric::ValR2, [1, 3, 0, 2]),
        (Metric::ValLoss, [0, 3, 1, 2]),
        (Metric::ValMse, [0, 3, 1, 2]),
    ] {
        let ranked: Vec<usize> = results::rank(outcomes.clone(), metric)
            .iter()
            .map(|o| o.index)
            .collect();
        assert_eq!(ranked, want, "{}", metric.name());
    }
}

/// The figures of a configuration over its folds: their mean and population standard
/// deviation (NumPy's default, as scikit-learn's `std_test_score`).
#[test]
fn fold_figures_are_mean_and_population_std() {
    let (mean, std) = results::mean_std(&[1.0, 2.0, 6.0]);
    assert!((mean - 3.0).abs() < 1e-15, "{mean}");
    // Deviations -2, -1, 3: variance 14/3.
    assert!((std - (14.0f64 / 3.0).sqrt()).abs() < 1e-15, "{std}");
    assert_eq!(results::mean_std(&[0.25]), (0.25, 0.0));
    let (m, s) = results::mean_std(&[]);
    assert!(m.is_nan() && s.is_nan());
}
