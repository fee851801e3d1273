//! The pictures `gpunn train --plots` draws besides the learning curves: the confusion matrix
//! and, on images, test images titled with their predictions (classification); the decision
//! boundary over the input plane (2 features); predicted against true values (regression);
//! test images above their reconstructions (autoencoders of images).

use anyhow::Result;
use gpunn::data::table::Task;
use gpunn::data::Dataset;
use gpunn::engine::Engine;
use gpunn::explain;
use gpunn::plots;
use gpunn::run::TestFigures;
use gpunn::run::{LoadedData, Prepared, Run};
use std::path::{Path, PathBuf};

/// Draws the pictures of the run's task into `dir`; returns the files written.
pub fn test_pictures(
    dir: &Path,
    engine: &mut dyn Engine,
    (run, data, prepared): (&Run, &LoadedData, &Prepared),
    t: &TestFigures,
) -> Result<Vec<PathBuf>> {
    let test = prepared
        .test
        .as_ref()
        .expect("test figures come from a test set");
    let mut written = Vec::new();
    match run.data.task {
        Task::Classify => {
            if let Some(m) = &t.confusion {
                let path = dir.join("confusion_matrix.png");
                let title = format!("{} test set", data.name);
                plots::confusion_matrix(&path, &m.counts, &data.class_names, &title)?;
                written.push(path);
            }
            if data.train.dim == 2 {
                written.push(boundary(dir, engine, data, prepared)?);
            }
            let side = (test.dim as f64).sqrt() as usize;
            if data.images && side * side == test.dim {
                written.push(predictions(dir, data, test, t, side)?);
            }
        }
        Task::Regress => {
            let k = test.target_dim().unwrap_or(1);
            let all: Vec<u32> = (0..test.len() as u32).collect();
            let mut truth = Vec::new();
            test.gather_targets(&all, &mut truth);
            let mut pred = t.outputs.clone();
            prepared.scaler.unscale_targets(&mut truth);
            prepared.scaler.unscale_targets(&mut pred);
            let names: Vec<String> = if data.target_names.len() == k {
                data.target_names.clone()
            } else {
                (0..k).map(|j| format!("target {j}")).collect()
            };
            let path = dir.join("predicted_vs_true.png");
            let title = match t.values {
                Some(m) => format!(
                    "{}: predicted against true on the test set (R² {:.3}, MAE {:.4})",
                    data.name, m.r2, m.mae
                ),
                None => format!("{}: predicted against true on the test set", data.name),
            };
            plots::predicted_vs_true(&path, &truth, &pred, &names, &title)?;
            written.push(path);
        }
        Task::Autoencode => {
            let side = (test.dim as f64).sqrt() as usize;
            if data.images && side * side == test.dim {
                let n = test.len().min(20);
                let idx: Vec<u32> = (0..n as u32).collect();
                let mut originals = Vec::new();
                test.gather(&idx, &mut originals);
                let mut recon = t.outputs[..n * test.dim].to_vec();
                // Back to pixels in [0, 1] where the features were scaled.
                let s = &prepared.scaler;
                if !s.shift.is_empty() {
                    for (i, (o, r)) in originals.iter_mut().zip(&mut recon).enumerate() {
                        let k = i % test.dim;
                        *o = *o * s.scale[k] + s.shift[k];
                        *r = *r * s.scale[k] + s.shift[k];
                    }
                }
                let labels: Vec<String> = test.labels[..n]
                    .iter()
                    .map(|&l| {
                        data.class_names
                            .get(l as usize)
                            .cloned()
                            .unwrap_or_default()
                    })
                    .collect();
                let path = dir.join("reconstructions.png");
                let title = match t.values {
                    Some(m) => format!(
                        "{}: test images and their reconstructions (test MSE {:.4})",
                        data.name, m.mse
                    ),
                    None => format!("{}: test images and their reconstructions", data.name),
                };
                plots::reconstructions(&path, &originals, &recon, (side, side), &labels, &title)?;
                written.push(path);
            }
        }
    }
    Ok(written)
}

/// `decision_boundary.png`: the model over its input plane, with the training points.
fn boundary(
    dir: &Path,
    engine: &mut dyn Engine,
    data: &LoadedData,
    prepared: &Prepared,
) -> Result<PathBuf> {
    // The training part in the data's own units (the prepared one is scaled).
    let train = &prepared.scaler.unapply(&prepared.train);
    let field = explain::boundary_field(engine, &prepared.scaler, train, 200)?;
    // At most 1,500 points, a stratified sample, so that the field shows between them.
    let idx = explain::stratified_sample(train, 1500, 0);
    let points: Vec<(f32, f32, u32)> = idx
        .iter()
        .map(|&i| {
            let i = i as usize;
            (train.value(i, 0), train.value(i, 1), train.labels[i])
        })
        .collect();
    let path = dir.join("decision_boundary.png");
    let title = format!("{}: decision boundary and training points", data.name);
    let axes = ["feature 1".to_string(), "feature 2".to_string()];
    plots::decision_boundary(&path, &field, &points, &data.class_names, &axes, &title)?;
    Ok(path)
}

/// `predictions.png`: 20 test images, the misclassified first, each titled with its true and
/// predicted class and the probability of the prediction.
fn predictions(
    dir: &Path,
    data: &LoadedData,
    test: &Dataset,
    t: &TestFigures,
    side: usize,
) -> Result<PathBuf> {
    let preds = &t.evaluation.predictions;
    let k = t.outputs.len() / test.len().max(1);
    let wrong = (0..test.len()).filter(|&i| preds[i] != test.labels[i]);
    let right = (0..test.len()).filter(|&i| preds[i] == test.labels[i]);
    let chosen: Vec<usize> = wrong.take(10).chain(right).take(20).collect();
    let name = |c: u32| {
        data.class_names
            .get(c as usize)
            .cloned()
            .unwrap_or_else(|| c.to_string())
    };
    let mut images = Vec::new();
    let mut captions = Vec::new();
    for &i in &chosen {
        let mut row = Vec::new();
        test.gather(&[i as u32], &mut row);
        images.extend(row);
        let out = &t.outputs[i * k..(i + 1) * k];
        let p = if k == 1 {
            if preds[i] == 1 {
                out[0]
            } else {
                1.0 - out[0]
            }
        } else {
            out[preds[i] as usize]
        };
        let caption = format!(
            "true {}\npredicted {} ({:.0}%)",
            name(test.labels[i]),
            name(preds[i]),
            100.0 * p
        );
        captions.push((caption, preds[i] != test.labels[i]));
    }
    let path = dir.join("predictions.png");
    let misses = captions.iter().filter(|c| c.1).count();
    let title = format!(
        "{}: test images with their predictions ({} misclassified shown first, in red)",
        data.name, misses
    );
    plots::predictions_grid(&path, &images, (side, side), &captions, &title)?;
    Ok(path)
}
