//! Losses, value and gradient side by side. Every loss is a mean over the batch, weighted by
//! per-sample weights where a dataset has them.
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

/// The loss of a batch and `∂L/∂z` of the output layer: [`weighted_loss_and_grad`] with every
/// sample weighing the same, the mean over the batch.
pub fn loss_and_grad<T: Real>(
    loss: Loss,
    act: Activation,
    z: &[T],
    a: &[T],
    targets: &Targets<T>,
    outputs: usize,
) -> (T, Vec<T>) {
    weighted_loss_and_grad(loss, act, z, a, targets, outputs, None)
}

/// The loss of a batch and `∂L/∂z` of the output layer, with per-sample `weights` (`[batch]`):
/// the weighted mean Σ w_r·L_r / Σ w_r of the rows' losses (the plain mean without weights, as
/// scikit-learn's `sample_weight`).
///
/// `z` and `a` are the output layer's pre-activation and activation, both `[batch][outputs]`.
/// Row r's loss L_r and its gradient, for O outputs:
/// - mse: Σ (a−y)²/O, ∂L_r/∂a = 2(a−y)/O, then through the output activation;
/// - half-mse: ½Σ (a−y)², ∂L_r/∂a = (a−y), then through the output activation;
/// - bce: Σ [max(z,0) − z·y + ln(1+e^−|z|)]/O (softplus form), ∂L_r/∂z = (σ(z) − y)/O;
/// - ce: logsumexp(z) − z\[y\], ∂L_r/∂z = softmax(z) − onehot(y).
///
/// Each row's gradient is scaled by its share of the batch, 1/B or w_r/Σw.
pub fn weighted_loss_and_grad<T: Real>(
    loss: Loss,
    act: Activation,
    z: &[T],
    a: &[T],
    targets: &Targets<T>,
    outputs: usize,
    weights: Option<&[T]>,
) -> (T, Vec<T>) {
    let batch = z.len() / outputs;
    let o = T::c(outputs as f64);
    let rows = 0..batch;
    // (numerator, denominator) of each row's share of the batch.
    let total = weights.map_or(T::c(batch as f64), |w| w.iter().copied().sum());
    // A batch whose weights are all 0 contributes nothing (rather than 0/0).
    let total = if total == T::zero() { T::one() } else { total };
    let share = |r: usize| (weights.map_or(T::one(), |w| w[r]), total);
    let mut l = T::zero();
    let mut g = vec![T::zero(); batch * outputs];
    match (loss, targets) {
        (Loss::Mse | Loss::HalfMse, Targets::Values(y)) => {
            let (scale, per) = if loss == Loss::Mse {
                (T::one(), o)
            } else {
                (T::c(0.5), T::one())
            };
            for r in rows {
                let (w, sum) = share(r);
                for j in r * outputs..(r + 1) * outputs {
                    let d = a[j] - y[j];
                    l = l + w * (scale * d * d / per) / sum;
                    g[j] = T::c(2.0) * scale * d / per * w / sum;
                }
            }
            (l, activation::backward_rows(act, a, &g, outputs))
        }
        (Loss::Bce, Targets::Values(y)) => {
            for r in rows {
                let (w, sum) = share(r);
                for j in r * outputs..(r + 1) * outputs {
                    let zj = z[j];
                    let lj = zj.max(T::zero()) - zj * y[j] + (-zj.abs()).exp().ln_1p();
                    l = l + w * (lj / o) / sum;
                    g[j] = (a[j] - y[j]) / o * w / sum;
                }
            }
            (l, g)
        }
        (Loss::Ce, Targets::Classes(c)) => {
            for r in rows {
                let (w, sum) = share(r);
                let row = &z[r * outputs..(r + 1) * outputs];
                let max = row.iter().copied().fold(T::neg_infinity(), T::max);
                let lse = max + row.iter().map(|&v| (v - max).exp()).sum::<T>().ln();
                let y = c[r] as usize;
                l = l + w * (lse - row[y.min(outputs - 1)]) / sum;
                for j in 0..outputs {
                    let onehot = if j == y { T::one() } else { T::zero() };
                    g[r * outputs + j] = (a[r * outputs + j] - onehot) * w / sum;
                }
            }
            (l, g)
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
