//! Losses, value and gradient side by side. Every loss is a mean over the batch.
//!
//! The gradient returned is with respect to the output layer's *pre-activation* `z`:
//! - `bce` (sigmoid output) and `ce` (softmax output) are computed from `z` directly, which
//!   is stable (log-sum-exp, softplus) and gives the familiar `(a − y) / count`;
//! - `mse` and `half-mse` take `∂L/∂a` and pass it through the output activation's backward.

use super::activation;
use super::Real;
use crate::model::{Activation, Loss};

/// Training targets for a batch.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets<T = f32> {
    /// `[batch][outputs]` values, for mse, half-mse and bce.
    Values(Vec<T>),
    /// `[batch]` class indices, for ce.
    Classes(Vec<u32>),
}

impl<T: Real> Targets<T> {
    /// Targets for class labels: class indices for ce, else the label itself with one output
    /// (binary tasks) or a one-hot row with several.
    pub fn from_labels(loss: Loss, labels: &[u32], outputs: usize) -> Self {
        if loss == Loss::Ce {
            return Targets::Classes(labels.to_vec());
        }
        let mut v = vec![T::zero(); labels.len() * outputs];
        for (b, &y) in labels.iter().enumerate() {
            if outputs == 1 {
                v[b] = T::c(y as f64);
            } else if (y as usize) < outputs {
                v[b * outputs + y as usize] = T::one();
            }
        }
        Targets::Values(v)
    }
}

impl Targets<f32> {
    /// The targets of samples `idx` of `data`: its values or inputs where it has them (and
    /// then any loss but ce), else its labels as [`Targets::from_labels`] makes them.
    pub fn for_samples(
        loss: Loss,
        data: &crate::data::Dataset,
        idx: &[u32],
        outputs: usize,
    ) -> Self {
        if data.target_dim().is_some() {
            let mut v = Vec::new();
            data.gather_targets(idx, &mut v);
            return Targets::Values(v);
        }
        let labels: Vec<u32> = idx.iter().map(|&i| data.labels[i as usize]).collect();
        Targets::from_labels(loss, &labels, outputs)
    }
}

/// The loss of a batch and `∂L/∂z` of the output layer.
///
/// `z` and `a` are the output layer's pre-activation and activation, both `[batch][outputs]`.
pub fn loss_and_grad<T: Real>(
    loss: Loss,
    act: Activation,
    z: &[T],
    a: &[T],
    targets: &Targets<T>,
    outputs: usize,
) -> (T, Vec<T>) {
    let batch = z.len() / outputs;
    let nb = T::c(batch as f64);
    let count = T::c((batch * outputs) as f64);
    match (loss, targets) {
        (Loss::Mse | Loss::HalfMse, Targets::Values(y)) => {
            // mse: L = Σ (a−y)² / (B·O), ∂L/∂a = 2(a−y)/(B·O)
            // half-mse: L = Σ ½(a−y)² / B, ∂L/∂a = (a−y)/B
            let (scale, div) = if loss == Loss::Mse {
                (T::one(), count)
            } else {
                (T::c(0.5), nb)
            };
            let l = a
                .iter()
                .zip(y)
                .map(|(&a, &y)| scale * (a - y) * (a - y))
                .sum::<T>()
                / div;
            let ga: Vec<T> = a
                .iter()
                .zip(y)
                .map(|(&a, &y)| T::c(2.0) * scale * (a - y) / div)
                .collect();
            (l, activation::backward_rows(act, a, &ga, outputs))
        }
        (Loss::Bce, Targets::Values(y)) => {
            // Per element: softplus form max(z,0) − z·y + ln(1 + e^−|z|); ∂/∂z = (σ(z) − y).
            let l = z
                .iter()
                .zip(y)
                .map(|(&z, &y)| z.max(T::zero()) - z * y + (-z.abs()).exp().ln_1p())
                .sum::<T>()
                / count;
            let g = a.iter().zip(y).map(|(&a, &y)| (a - y) / count).collect();
            (l, g)
        }
        (Loss::Ce, Targets::Classes(c)) => {
            // Per row: L = logsumexp(z) − z[y]; ∂/∂z = softmax(z) − onehot(y).
            let mut l = T::zero();
            let mut g = a.to_vec();
            for b in 0..batch {
                let row = &z[b * outputs..(b + 1) * outputs];
                let max = row.iter().copied().fold(T::neg_infinity(), T::max);
                let lse = max + row.iter().map(|&v| (v - max).exp()).sum::<T>().ln();
                let y = c[b] as usize;
                l = l + lse - row[y.min(outputs - 1)];
                if y < outputs {
                    g[b * outputs + y] = g[b * outputs + y] - T::one();
                }
            }
            (l / nb, g.into_iter().map(|v| v / nb).collect())
        }
        (loss, _) => panic!("loss {loss}: targets of the wrong kind"),
    }
}

/// Per-sample predicted class: argmax with several outputs, a threshold with one
/// (0 for a tanh output, 0.5 otherwise).
pub fn predict<T: Real>(act: Activation, a: &[T], outputs: usize) -> Vec<u32> {
    if outputs == 1 {
        let thr = if act == Activation::Tanh {
            T::zero()
        } else {
            T::c(0.5)
        };
        return a.iter().map(|&v| u32::from(v >= thr)).collect();
    }
    a.chunks(outputs)
        .map(|row| {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = j;
                }
            }
            best as u32
        })
        .collect()
}
