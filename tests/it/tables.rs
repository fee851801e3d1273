//! Your own data, in the library: the CSV and NumPy readers, scaling fitted on the training
//! part, stratified holdout and folds, regression metrics, and every engine (reference, fast
//! CPU, GPU) agreeing on a regression, an autoencoder and layers without bias.

use crate::common::{gpu_or_skip, Scratch};
use crate::cpu_fast::assert_params_close;
use gpunn::cpu::engine::CpuReference;
use gpunn::cpu::fast::FastCpu;
use gpunn::data::scale::{ScaleKind, Scaler};
use gpunn::data::table::{self, csv, npy, npz, Task};
use gpunn::data::{split, Dataset, Features, Target};
use gpunn::engine::Engine;
use gpunn::gpu::GpuEngine;
use gpunn::metrics::value_metrics;
use gpunn::model::{Activation, Init, Loss, MlpSpec, Params};
use gpunn::optim::{OptimizerConfig, OptimizerKind};
use gpunn::train::{self, TrainConfig};
use std::path::{Path, PathBuf};

fn tables(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tables")
        .join(name)
}

#[test]
fn csv_header_is_detected_and_values_read() {
    let (h, t) = csv::parse("x,y,label\n1,2.5,0\n\n-3e-1,4,1\n", None).unwrap();
    assert_eq!(
        h.names.as_deref(),
        Some(&["x", "y", "label"].map(String::from)[..])
    );
    assert_eq!((t.rows, h.cols), (2, 3), "the blank line is skipped");
    assert_eq!(t.features[3], -0.3);
    // One non-numeric cell makes a header, even beside numeric-looking names.
    for (text, names) in [
        ("x,2,label\n1,2.5,0\n3,4,1\n", ["x", "2", "label"]),
        ("1,y,3\n1,2.5,0\n3,4,1\n", ["1", "y", "3"]),
        ("\u{feff}\"1\",y,3\n1,2.5,0\n3,4,1\n", ["1", "y", "3"]),
    ] {
        let (h, t) = csv::parse(text, None).unwrap();
        assert_eq!(
            h.names.as_deref(),
            Some(&names.map(String::from)[..]),
            "{text}"
        );
        assert_eq!((t.rows, h.cols), (2, 3), "{text}");
    }
    let (h, t) = csv::parse("1,2\r\n3,4\r\n", None).unwrap();
    assert_eq!(h.names, None, "a first row of numbers is data");
    assert_eq!((t.rows, t.features.clone()), (2, vec![1.0, 2.0, 3.0, 4.0]));
    assert!(csv::parse("1,2\n3\n", None).unwrap_err().contains("line 2"));
    // Roles: labels and values are checked where they are read, naming line and column.
    let roles = [csv::Role::Feature, csv::Role::Label];
    let (_, t) = csv::parse("a,b\n1.5,2\n\n  \n3,0\n", Some(&roles)).unwrap();
    assert_eq!((t.features, t.targets), (vec![1.5, 3.0], vec![2.0, 0.0]));
    let e = csv::parse("a,b\n1,2\n\n3,0.5\n", Some(&roles)).unwrap_err();
    assert!(
        e.starts_with("line 4, column 2 ('b'): class label 0.5"),
        "{e}"
    );
    let e = csv::parse("1,2\nnan,0\n", Some(&roles)).unwrap_err();
    assert_eq!(e, "line 2, column 1: NaN is not a finite number");
}

/// A CSV file bigger than one block of the parallel reader reads as the same table, with line
/// numbers counted across blocks.
#[test]
fn csv_reads_across_blocks() {
    let dir = std::env::temp_dir().join(format!("gpunn-csv-blocks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.csv");
    let rows = 700_000;
    let mut text = String::from("a,b,label\n");
    for r in 0..rows {
        text.push_str(&format!("{},{}.25,{}\n", r, r % 7, r % 3));
    }
    std::fs::write(&path, &text).unwrap();
    let sets = table::read(&path, None, &[], Task::Classify).unwrap();
    let d = &sets.train;
    assert_eq!((d.len(), d.dim, d.classes), (rows, 2, 3));
    let Features::F32(x) = &d.features else {
        panic!("f32 features")
    };
    for r in [0, 1, 349_999, 500_001, rows - 1] {
        assert_eq!((x[2 * r], x[2 * r + 1]), (r as f32, (r % 7) as f32 + 0.25));
        assert_eq!(d.labels[r], (r % 3) as u32);
    }
    // An error far into the file names its line.
    text.push_str("1,2,x\n");
    std::fs::write(&path, &text).unwrap();
    let e = table::read(&path, None, &[], Task::Classify)
        .unwrap_err()
        .to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    let want = format!("line {}, column 3 ('label'): 'x' is not a number", rows + 2);
    assert!(e.contains(&want), "{e}");
}

#[test]
fn csv_targets_by_name_index_and_several_for_regression() {
    let dir = Scratch::new("tables-csv-targets");
    let path = dir.join("t.csv");
    std::fs::write(&path, "a,b,c,d\n1,2,3,4\n5,6,7,8\n9,10,11,12\n").unwrap();
    let by_name = table::read(&path, None, &["b".into()], Task::Regress).unwrap();
    let by_index = table::read(&path, None, &["1".into()], Task::Regress).unwrap();
    assert_eq!(by_name.train, by_index.train);
    assert_eq!(by_name.train.dim, 3);
    assert_eq!(by_name.train.value(1, 1), 7.0, "features are a, c, d");
    let two = table::read(&path, None, &["d".into(), "a".into()], Task::Regress).unwrap();
    let Target::Values { dim, values, .. } = &two.train.target else {
        panic!("regression targets")
    };
    assert_eq!((*dim, &values[..2]), (2, &[4.0, 1.0][..]));
    assert_eq!(two.target_names, vec!["d", "a"]);
    // Classification: the last column by default, integer labels.
    let cls = table::read(&path, None, &[], Task::Classify).unwrap();
    assert_eq!(cls.train.labels, vec![4, 8, 12]);
    assert_eq!(cls.train.classes, 13);
}

#[test]
fn npy_round_trip_and_npz_layouts() {
    let dir = Scratch::new("tables-npy");
    let x: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 1.0).collect();
    let img = npy::write_f32(&[3, 4], &x);
    let back = npy::parse(&img).unwrap();
    assert_eq!(back.shape, vec![3, 4]);
    assert_eq!(back.data, table::Numbers::F32(x.clone()));
    assert_eq!(
        npy::parse(&npy::write_i64(&[3], &[0, 2, 1])).unwrap().data,
        table::Numbers::I64(vec![0, 2, 1])
    );
    // Keras's mnist.npz layout, u8 images: pixels stay u8 (scaled by 1/255 in batches).
    let path = dir.join("mini_mnist.npz");
    let pixels: Vec<f32> = (0..5 * 4).map(|i| (i * 13 % 256) as f32).collect();
    npz::write(
        &path,
        &[
            npz::Entry::F32("x_train", vec![3, 2, 2], &pixels[..12]),
            npz::Entry::I64("y_train", vec![3], &[1, 0, 1]),
            npz::Entry::F32("x_test", vec![2, 2, 2], &pixels[12..]),
            npz::Entry::I64("y_test", vec![2], &[0, 1]),
        ],
    )
    .unwrap();
    let sets = table::read(&path, None, &[], Task::Classify).unwrap();
    assert_eq!((sets.train.dim, sets.train.len()), (4, 3));
    assert_eq!(sets.test.as_ref().map(|t| t.len()), Some(2));
    assert_eq!(sets.train.labels, vec![1, 0, 1]);
    assert_eq!(sets.train.value(2, 3), pixels[11]);
    // The wine table written by NumPy itself (tests/data/tables/make_tables.py).
    let wine = table::read(&tables("wine.npz"), None, &[], Task::Classify).unwrap();
    assert_eq!(
        (wine.train.len(), wine.train.dim, wine.train.classes),
        (178, 13, 3)
    );
}

/// A small regression set: y = 3·x0 − 2·x1 + 10 (and 0.5·x1 for a second target).
fn linear_set(n: usize, two: bool) -> Dataset {
    let mut r = 7u64;
    let mut next = || {
        r = r
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((r >> 33) as f32 / (1u64 << 31) as f32) * 4.0 - 2.0
    };
    let x: Vec<f32> = (0..n * 2).map(|_| next() * 10.0 + 50.0).collect();
    let k = if two { 2 } else { 1 };
    let mut values = Vec::new();
    for i in 0..n {
        values.push(3.0 * x[2 * i] - 2.0 * x[2 * i + 1] + 10.0);
        if two {
            values.push(0.5 * x[2 * i + 1]);
        }
    }
    Dataset {
        name: "linear".into(),
        dim: 2,
        features: Features::F32(x.into()),
        labels: vec![0; n],
        classes: 0,
        target: Target::Values {
            dim: k,
            values: values.into(),
            units: Vec::new(),
        },
        weights: None,
    }
}

#[test]
fn scaling_is_fitted_on_the_training_part_and_maps_back() {
    let data = linear_set(200, true);
    let (train, test) = split::holdout(data.clone(), 0.25, 3, "data.test_split").unwrap();
    let s = Scaler::fit(ScaleKind::Standard, &train);
    let scaled = s.apply(&train).unwrap();
    // Mean 0 and variance 1, to f32's precision.
    let standardised = |col: Vec<f64>, what: String| {
        let mean = col.iter().sum::<f64>() / col.len() as f64;
        let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / col.len() as f64;
        assert!(
            mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4,
            "{what}: {mean} {var}"
        );
    };
    for k in 0..2 {
        let col = (0..scaled.len()).map(|i| scaled.value(i, k) as f64);
        standardised(col.collect(), format!("feature {k}"));
    }
    // Each regression target of the training part is standardised on its own statistics.
    let Target::Values { dim, values, .. } = &scaled.target else {
        panic!("values")
    };
    assert_eq!(*dim, 2);
    for j in 0..2 {
        let col = values.iter().skip(j).step_by(2).map(|&v| v as f64);
        standardised(col.collect(), format!("target {j}"));
    }
    // The test set gets the training part's statistics, not its own.
    let t = s.apply(&test).unwrap();
    assert_eq!(t.value(0, 0), (test.value(0, 0) - s.shift[0]) / s.scale[0]);
    // Targets are standardised too, and value_metrics reports in the original units.
    let Target::Values { values, units, .. } = &t.target else {
        panic!("values")
    };
    assert_eq!(units.len(), 2);
    let mut outputs = values.to_vec();
    outputs[0] += 0.1; // one prediction off by 0.1 scaled units
    let m = value_metrics(&outputs, &t).unwrap();
    let err = 0.1 * units[0].0 as f64;
    let n = (t.len() * 2) as f64;
    assert!(((m.mse as f64) - err * err / n).abs() < 1e-3 * err * err / n + 1e-6);
    assert!(((m.mae as f64) - err / n).abs() < 1e-3 * err / n + 1e-6);
    assert!(m.r2 > 0.99 && m.r2 < 1.0);
    // Min-max: into [0, 1] on the training part; a constant column keeps scale 1.
    let mut c = train.clone();
    if let Features::F32(v) = &mut c.features {
        v.make_mut()
            .iter_mut()
            .skip(1)
            .step_by(2)
            .for_each(|x| *x = 4.0);
    }
    let mm = Scaler::fit(ScaleKind::MinMax, &c);
    assert_eq!(mm.scale[1], 1.0);
    let a = mm.apply(&c).unwrap();
    let col0: Vec<f32> = (0..a.len()).map(|i| a.value(i, 0)).collect();
    assert_eq!(col0.iter().cloned().fold(f32::INFINITY, f32::min), 0.0);
    assert!((col0.iter().cloned().fold(0.0, f32::max) - 1.0).abs() < 1e-6);
}

#[test]
fn value_metrics_by_hand() {
    // Targets 1, 2, 3, 4; predictions 1, 2, 4, 4: MSE 1/4, MAE 1/4, R² = 1 − 1/5.
    let mut d = linear_set(4, false);
    d.target = Target::Values {
        dim: 1,
        values: vec![1.0, 2.0, 3.0, 4.0].into(),
        units: Vec::new(),
    };
    let m = value_metrics(&[1.0, 2.0, 4.0, 4.0], &d).unwrap();
    assert_eq!((m.mse, m.mae), (0.25, 0.25));
    assert!((m.r2 - 0.8).abs() < 1e-6);
    // In units: values stored as (v − 10)/2 come back as v.
    d.target = Target::Values {
        dim: 1,
        values: vec![-4.5, -4.0, -3.5, -3.0].into(),
        units: vec![(2.0, 10.0)],
    };
    let m = value_metrics(&[-4.5, -4.0, -3.0, -3.0], &d).unwrap();
    assert_eq!((m.mse, m.mae), (0.25, 0.25));
}

#[test]
fn holdout_and_folds_are_stratified_disjoint_and_seeded() {
    // 3 classes of 30, 60 and 10 samples.
    let labels: Vec<u32> = (0..100)
        .map(|i| {
            if i < 30 {
                0
            } else if i < 90 {
                1
            } else {
                2
            }
        })
        .collect();
    let data = Dataset::classes(
        "s",
        1,
        Features::F32((0..100).map(|i| i as f32).collect()),
        labels,
        3,
    );
    let (rest, out) = split::holdout(data.clone(), 0.2, 9, "data.test_split").unwrap();
    let count = |d: &Dataset, c: u32| d.labels.iter().filter(|&&l| l == c).count();
    assert_eq!([count(&out, 0), count(&out, 1), count(&out, 2)], [6, 12, 2]);
    assert_eq!(rest.len() + out.len(), 100);
    let ids = |d: &Dataset| -> Vec<u32> { (0..d.len()).map(|i| d.value(i, 0) as u32).collect() };
    let mut all = ids(&rest);
    all.extend(ids(&out));
    all.sort_unstable();
    assert_eq!(all, (0..100).collect::<Vec<_>>(), "disjoint and covering");
    assert_eq!(
        split::holdout(data.clone(), 0.2, 9, "f").unwrap().1,
        out,
        "seeded"
    );
    assert_ne!(split::holdout(data.clone(), 0.2, 10, "f").unwrap().1, out);
    let folds = split::folds(&data, 3, 1).unwrap();
    let mut seen: Vec<u32> = folds.iter().flatten().copied().collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
    for f in &folds {
        let c1 = f.iter().filter(|&&i| data.labels[i as usize] == 1).count();
        assert!((19..=21).contains(&c1), "class 1 in a fold: {c1}");
        assert!((33..=34).contains(&f.len()));
    }
    // From 2 folds to one sample a fold (leave-one-out), nothing outside.
    assert!(split::folds(&data, 1, 0).is_err());
    assert_eq!(split::folds(&data, 2, 0).unwrap().len(), 2);
    let each = split::folds(&data, 100, 0).unwrap();
    assert!(each.iter().all(|f| f.len() == 1), "leave-one-out");
    assert!(split::folds(&data, 101, 0).is_err());
}

fn loop_config() -> TrainConfig {
    TrainConfig {
        steps_per_chunk: 4,
        ..TrainConfig::new(2, 16, 0.01, 4)
    }
}

/// Trains `params` on `data` with Adam on the reference, the fast CPU path and (where there is
/// one) the GPU; every engine's parameters must match the reference's.
fn engines_agree(test: &str, params: &Params, data: &Dataset) {
    let adam = OptimizerConfig::of(OptimizerKind::Adam);
    let run = |e: &mut dyn Engine| {
        e.set_optimizer(&adam, None).unwrap();
        train::train(e, data, None, &loop_config(), &mut train::Quiet).unwrap();
        e.params().unwrap()
    };
    let want = run(&mut CpuReference::new(params.clone()));
    assert_ne!(&want, params, "{test}: training changed nothing");
    let fast = run(&mut FastCpu::new(params.clone()));
    assert_params_close(&format!("{test}: fast CPU"), &fast, &want);
    if let Some(ctx) = gpu_or_skip(test) {
        let gpu = run(&mut GpuEngine::new(ctx, params, 16, false).unwrap());
        assert_params_close(&format!("{test}: GPU"), &gpu, &want);
    }
    if !params.bias {
        for (l, e) in [&want, &fast].iter().enumerate() {
            assert!(
                e.layers.iter().all(|x| x.bias.iter().all(|&b| b == 0.0)),
                "engine {l}: a bias moved"
            );
        }
    }
}

fn net(sizes: &[usize], acts: &[Activation], seed: u64) -> Params {
    let spec = MlpSpec::new(sizes.to_vec(), acts.to_vec(), Loss::Mse).unwrap();
    Params::init(&spec, Init::XavierUniform, seed).unwrap()
}

#[test]
fn engines_agree_on_a_regression_of_two_targets() {
    let data = linear_set(75, true);
    let data = Scaler::fit(ScaleKind::Standard, &data)
        .apply(&data)
        .unwrap();
    let p = net(&[2, 9, 2], &[Activation::Tanh, Activation::Identity], 1);
    engines_agree("engines_agree_on_a_regression_of_two_targets", &p, &data);
}

#[test]
fn engines_agree_on_an_autoencoder() {
    // 37 samples of 12 pixels (u8), reconstructed through a 5-wide bottleneck.
    let pixels: Vec<u8> = (0..37 * 12)
        .map(|i| ((i * 37 + i / 5) % 256) as u8)
        .collect();
    let mut data = Dataset::classes("ae", 12, Features::U8(pixels), vec![0; 37], 2);
    data.target = Target::Input;
    let p = net(&[12, 5, 12], &[Activation::Relu, Activation::Sigmoid], 2);
    engines_agree("engines_agree_on_an_autoencoder", &p, &data);
}

#[test]
fn engines_agree_without_bias() {
    let data = linear_set(40, false);
    let data = Scaler::fit(ScaleKind::Standard, &data)
        .apply(&data)
        .unwrap();
    let p = net(&[2, 6, 1], &[Activation::Sigmoid, Activation::Identity], 3).without_bias();
    engines_agree("engines_agree_without_bias", &p, &data);
}

/// `Run::prepare` fits the scaling on the training part of the split alone, not on the
/// validation samples beside it (which would leak them into the figures), and applies it to
/// all three sets.
#[test]
fn prepare_fits_the_scaling_on_the_training_part_only() {
    let dir = Scratch::new("tables-prepare-scaling");
    let path = dir.join("t.csv");
    let mut text = String::from("a,b,label\n");
    for i in 0..40 {
        text += &format!("{},{},{}\n", i * i, 100 - 3 * i, i % 2);
    }
    std::fs::write(&path, text).unwrap();
    let toml = format!(
        "[data]\nfile = '{}'\nval_split = 0.5\ntest_split = 0.25\nscale = 'standard'\n",
        path.display()
    );
    let spec = gpunn::run::RunSpec::from_toml_str(&toml).unwrap();
    let data = spec.load_data().unwrap();
    let run = spec.resolve(&data).unwrap();
    let prepared = run.prepare(&data).unwrap();
    let (train, val) = run.split(&data).unwrap();
    let val = val.unwrap();
    assert_eq!((train.len(), val.len()), (15, 15));
    assert_eq!(prepared.scaler, Scaler::fit(ScaleKind::Standard, &train));
    assert_ne!(
        prepared.scaler,
        Scaler::fit(ScaleKind::Standard, &data.train)
    );
    assert_eq!(prepared.train, prepared.scaler.apply(&train).unwrap());
    assert_eq!(prepared.val.unwrap(), prepared.scaler.apply(&val).unwrap());
    let test = data.test.as_ref().unwrap();
    assert_eq!(prepared.test.unwrap(), prepared.scaler.apply(test).unwrap());
}

/// A scaling fitted without regression targets (on a classification or an autoencoder set)
/// scales another set's features and leaves its targets as they are: no target statistics
/// to apply, and no panic.
#[test]
fn a_scaling_without_target_statistics_leaves_targets_alone() {
    let regression = linear_set(50, true);
    let features_only = Dataset {
        target: Target::Input,
        ..regression.clone()
    };
    let s = Scaler::fit(ScaleKind::Standard, &features_only);
    assert!(s.target_shift.is_empty());
    let scaled = s.apply(&regression).unwrap();
    assert_eq!(scaled.target, regression.target);
    assert_ne!(scaled.features, regression.features);
}
