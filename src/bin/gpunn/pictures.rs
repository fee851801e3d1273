//! The test-set pictures `gpunn train --plots` draws besides the learning curves: the
//! confusion matrix (classification), predicted against true values (regression), or test
//! images above their reconstructions (autoencoders of images).

use crate::train::TestRun;
use anyhow::Result;
use gpunn::data::table::Task;
use gpunn::plots;
use gpunn::run::{LoadedData, Prepared, Run};
use std::path::{Path, PathBuf};

/// Draws the pictures of the run's task into `dir`; returns the files written.
pub fn test_pictures(
    dir: &Path,
    run: &Run,
    data: &LoadedData,
    prepared: &Prepared,
    t: &TestRun,
) -> Result<Vec<PathBuf>> {
    let test = prepared
        .test
        .as_ref()
        .expect("test figures come from a test set");
    let mut written = Vec::new();
    match run.data.task {
        Task::Classify => {
            if let Some(m) = &t.figures.confusion {
                let path = dir.join("confusion_matrix.png");
                let title = format!("{} test set", data.name);
                plots::confusion_matrix(&path, &m.counts, &data.class_names, &title)?;
                written.push(path);
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
            let title = match t.figures.values {
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
                let title = match t.figures.values {
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
