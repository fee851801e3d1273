//! Regression and reconstruction metrics: mean squared error, mean absolute error and R²
//! (averaged over targets, as scikit-learn's `r2_score` with `multioutput="uniform_average"`),
//! in the targets' original units.

use crate::data::{Dataset, Target};

/// MSE, MAE and R² of a set.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct ValueMetrics {
    pub mse: f32,
    pub mae: f32,
    pub r2: f32,
}

/// The metrics of `outputs` (`[n][k]`, the network's outputs for every sample of `data`)
/// against `data`'s targets: its values, mapped back to their original units, or its inputs
/// (autoencoders). `None` for classification sets and empty ones.
pub fn value_metrics(outputs: &[f32], data: &Dataset) -> Option<ValueMetrics> {
    let n = data.len();
    let k = data.target_dim()?;
    if n == 0 || outputs.len() != n * k {
        return None;
    }
    let mut targets = Vec::new();
    let all: Vec<u32> = (0..n as u32).collect();
    data.gather_targets(&all, &mut targets);
    let units = match &data.target {
        Target::Values { units, .. } if units.len() == k => units.clone(),
        _ => vec![(1.0, 0.0); k],
    };
    let orig = |v: f32, j: usize| (v * units[j].0 + units[j].1) as f64;
    let (mut se, mut ae) = (0.0f64, 0.0f64);
    let mut mean = vec![0.0f64; k];
    for i in 0..n * k {
        let (p, t) = (orig(outputs[i], i % k), orig(targets[i], i % k));
        se += (p - t) * (p - t);
        ae += (p - t).abs();
        mean[i % k] += t / n as f64;
    }
    let mut r2 = 0.0;
    for (j, &m) in mean.iter().enumerate() {
        let (mut sse, mut sst) = (0.0f64, 0.0f64);
        for i in 0..n {
            let (p, t) = (orig(outputs[i * k + j], j), orig(targets[i * k + j], j));
            sse += (p - t) * (p - t);
            sst += (t - m) * (t - m);
        }
        // scikit-learn's convention for a constant target: 1 when predicted exactly, else 0.
        r2 += if sst > 0.0 {
            1.0 - sse / sst
        } else if sse == 0.0 {
            1.0
        } else {
            0.0
        };
    }
    let count = (n * k) as f64;
    Some(ValueMetrics {
        mse: (se / count) as f32,
        mae: (ae / count) as f32,
        r2: (r2 / k as f64) as f32,
    })
}

/// The fraction of samples of a multi-label set (`classes` with value targets: one 0/1 per
/// label) whose every label the outputs (probabilities) get right at the 0.5 threshold, as
/// scikit-learn's `accuracy_score` on indicator matrices. `None` for other sets.
pub fn subset_accuracy(outputs: &[f32], data: &Dataset) -> Option<f32> {
    let (n, k) = (data.len(), data.target_dim()?);
    if n == 0 || outputs.len() != n * k {
        return None;
    }
    let mut targets = Vec::new();
    data.gather_targets(&(0..n as u32).collect::<Vec<_>>(), &mut targets);
    let exact = (0..n)
        .filter(|&i| (0..k).all(|j| (outputs[i * k + j] > 0.5) == (targets[i * k + j] > 0.5)))
        .count();
    Some(exact as f32 / n as f32)
}
