//! The output layer's rows of a batch: the loss (weighted by sample weights where there are
//! some), its gradient `∂L/∂z` and the prediction, in one pass per row, with the reference's
//! arithmetic ([`crate::cpu::loss`]).

use super::elementwise::activation_backward;
use crate::model::{Activation, Loss};

/// What the output rows of a batch (or part of one) give.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutputStats {
    /// Σ over these rows of the per-sample loss (the batch mean is this summed over all rows,
    /// divided by the batch size).
    pub loss_sum: f64,
    /// Rows whose predicted class equals the label.
    pub correct: u64,
}

/// The loss, its gradient and the predictions for some rows of the output layer.
pub struct OutputRows<'a> {
    pub loss: Loss,
    pub act: Activation,
    pub outputs: usize,
    /// The whole batch's size, which the loss is a mean over (not just these rows).
    pub batch: usize,
    /// Pre-activation and activation, `[rows][outputs]`.
    pub z: &'a [f32],
    pub a: &'a [f32],
    /// `[rows]`
    pub labels: &'a [u32],
    /// `[rows][outputs]` target values (regression, autoencoders); `None`: from the labels.
    pub values: Option<&'a [f32]>,
    /// Sample weights: these rows' (`[rows]`) and their sum over the whole batch. The loss is
    /// then the weighted mean, as `cpu::loss::weighted_loss_and_grad`.
    pub weights: Option<(&'a [f32], f32)>,
}

impl OutputRows<'_> {
    /// Target `j` of row `r` with label `y`: its value where the rows have values, else as
    /// [`crate::cpu::loss::Targets::from_labels`] makes it: the label itself with one output,
    /// else one-hot (all zeros for a label out of range).
    #[inline]
    fn target(&self, r: usize, y: u32, j: usize) -> f32 {
        if let Some(v) = self.values {
            v[r * self.outputs + j]
        } else if self.outputs == 1 {
            y as f32
        } else {
            f32::from(u8::from(y as usize == j))
        }
    }

    /// Per-sample losses summed, correct predictions counted, and, with `dz` (`[rows][outputs]`),
    /// `∂L/∂z` of the batch-mean loss written for these rows. With `predictions` (`[rows]`), the
    /// predicted classes are written too.
    pub fn run(
        &self,
        mut dz: Option<&mut [f32]>,
        mut predictions: Option<&mut [u32]>,
    ) -> OutputStats {
        let o = self.outputs;
        let rows = self.labels.len();
        assert_eq!(
            self.z.len(),
            rows * o,
            "output rows: z is not [{rows}][{o}]"
        );
        assert_eq!(
            self.a.len(),
            rows * o,
            "output rows: a is not [{rows}][{o}]"
        );
        let mut stats = OutputStats::default();
        for r in 0..rows {
            let z = &self.z[r * o..(r + 1) * o];
            let a = &self.a[r * o..(r + 1) * o];
            let y = self.labels[r];
            let dzr = dz.as_deref_mut().map(|d| &mut d[r * o..(r + 1) * o]);
            let loss = match self.weights {
                None => self.row(r, z, a, y, dzr),
                Some((w, sum)) => self.weighted_row(r, z, a, y, dzr, w[r], sum),
            };
            stats.loss_sum += loss as f64;
            let pred = predict(self.act, a);
            stats.correct += u64::from(pred == y);
            if let Some(p) = predictions.as_deref_mut() {
                p[r] = pred;
            }
        }
        stats
    }

    /// One row of a weighted batch (weight `w` of the batch's `sum`): returns its loss times
    /// its share w·B/Σw, so that the rows' mean is the weighted mean, and writes its gradient
    /// into `dz` if given, in `cpu::loss::weighted_loss_and_grad`'s order of operations.
    #[allow(clippy::too_many_arguments)]
    fn weighted_row(
        &self,
        r: usize,
        z: &[f32],
        a: &[f32],
        y: u32,
        dz: Option<&mut [f32]>,
        w: f32,
        sum: f32,
    ) -> f32 {
        let o = self.outputs as f32;
        let loss = match self.loss {
            Loss::Mse | Loss::HalfMse => {
                let (scale, per) = if self.loss == Loss::Mse {
                    (1.0f32, o)
                } else {
                    (0.5f32, 1.0)
                };
                let mut l = 0.0f32;
                for (j, &aj) in a.iter().enumerate() {
                    let d = aj - self.target(r, y, j);
                    l += scale * d * d / per;
                }
                if let Some(dz) = dz {
                    for (j, (g, &aj)) in dz.iter_mut().zip(a).enumerate() {
                        let d = aj - self.target(r, y, j);
                        *g = 2.0 * scale * d / per * w / sum;
                    }
                    if self.act == Activation::Softmax {
                        let dot: f32 = a.iter().zip(dz.iter()).map(|(&x, &g)| x * g).sum();
                        for (g, &aj) in dz.iter_mut().zip(a) {
                            *g = aj * (*g - dot);
                        }
                    } else {
                        activation_backward(self.act, dz, a);
                    }
                }
                l
            }
            Loss::Bce => {
                let mut l = 0.0f32;
                for (j, &zj) in z.iter().enumerate() {
                    let t = self.target(r, y, j);
                    l += (zj.max(0.0) - zj * t + (-zj.abs()).exp().ln_1p()) / o;
                }
                if let Some(dz) = dz {
                    for (j, (g, &aj)) in dz.iter_mut().zip(a).enumerate() {
                        *g = (aj - self.target(r, y, j)) / o * w / sum;
                    }
                }
                l
            }
            Loss::Ce => {
                let lse = log_sum_exp(z);
                let y = y as usize;
                if let Some(dz) = dz {
                    for (j, (g, &aj)) in dz.iter_mut().zip(a).enumerate() {
                        let onehot = if j == y { 1.0 } else { 0.0 };
                        *g = (aj - onehot) * w / sum;
                    }
                }
                lse - z[y.min(self.outputs - 1)]
            }
        };
        loss * (w * self.batch as f32 / sum)
    }

    /// One row: returns its per-sample loss and writes its gradient into `dz` if given.
    fn row(&self, r: usize, z: &[f32], a: &[f32], y: u32, dz: Option<&mut [f32]>) -> f32 {
        let o = self.outputs;
        let nb = self.batch as f32;
        let count = (self.batch * o) as f32;
        match self.loss {
            Loss::Mse | Loss::HalfMse => {
                // mse: L = Σ (a−y)² / (B·O), ∂L/∂a = 2(a−y)/(B·O)
                // half-mse: L = Σ ½(a−y)² / B, ∂L/∂a = (a−y)/B
                let (scale, div, per_sample) = if self.loss == Loss::Mse {
                    (1.0f32, count, o as f32)
                } else {
                    (0.5f32, nb, 1.0)
                };
                let mut l = 0.0f32;
                for (j, &aj) in a.iter().enumerate() {
                    let d = aj - self.target(r, y, j);
                    l += scale * d * d;
                }
                if let Some(dz) = dz {
                    for (j, (g, &aj)) in dz.iter_mut().zip(a).enumerate() {
                        *g = 2.0 * scale * (aj - self.target(r, y, j)) / div;
                    }
                    if self.act == Activation::Softmax {
                        let dot: f32 = a.iter().zip(dz.iter()).map(|(&x, &g)| x * g).sum();
                        for (g, &aj) in dz.iter_mut().zip(a) {
                            *g = aj * (*g - dot);
                        }
                    } else {
                        activation_backward(self.act, dz, a);
                    }
                }
                l / per_sample
            }
            Loss::Bce => {
                // Per element: max(z,0) − z·y + ln(1 + e^−|z|); ∂/∂z = (σ(z) − y) / (B·O).
                let mut l = 0.0f32;
                for (j, &zj) in z.iter().enumerate() {
                    let t = self.target(r, y, j);
                    l += zj.max(0.0) - zj * t + (-zj.abs()).exp().ln_1p();
                }
                if let Some(dz) = dz {
                    for (j, (g, &aj)) in dz.iter_mut().zip(a).enumerate() {
                        *g = (aj - self.target(r, y, j)) / count;
                    }
                }
                l / o as f32
            }
            Loss::Ce => {
                // L = logsumexp(z) − z[y]; ∂/∂z = (softmax(z) − onehot(y)) / B.
                let lse = log_sum_exp(z);
                let y = y as usize;
                if let Some(dz) = dz {
                    for (j, (g, &aj)) in dz.iter_mut().zip(a).enumerate() {
                        let v = if j == y { aj - 1.0 } else { aj };
                        *g = v / nb;
                    }
                }
                lse - z[y.min(o - 1)]
            }
        }
    }
}

/// ln Σ e^z of one row, stably: max + ln Σ e^(z − max), as the reference.
fn log_sum_exp(z: &[f32]) -> f32 {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    max + z.iter().map(|&v| (v - max).exp()).sum::<f32>().ln()
}

/// The predicted class of one output row, as [`crate::cpu::loss::predict`]: the first argmax
/// with several outputs, a threshold with one (0 for tanh, 0.5 otherwise).
#[inline]
pub fn predict(act: Activation, a: &[f32]) -> u32 {
    if a.len() == 1 {
        let thr = if act == Activation::Tanh { 0.0 } else { 0.5 };
        return u32::from(a[0] >= thr);
    }
    let mut best = 0;
    for (j, &v) in a.iter().enumerate() {
        if v > a[best] {
            best = j;
        }
    }
    best as u32
}
