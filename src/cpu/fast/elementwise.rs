//! The elementwise work around the products, each a single pass over its rows: bias +
//! activation after the forward product, the activation backward after the input-gradient
//! product, the loss with its gradient and the prediction, and the bias gradient fused with
//! its SGD update.
//!
//! The arithmetic is the reference's ([`crate::cpu::activation`], [`crate::cpu::loss`]),
//! called per element with the activation fixed outside the loop, so that the compiler can
//! specialise and vectorise each pass; the hot passes are compiled for AVX-512 and AVX2 as
//! well as the baseline, and the CPU picks (`simd_dispatch`).

use super::mathfn;
use crate::cpu::activation::{apply, derivative_from_output};
use crate::model::{Activation, Loss};

/// Defines `fn $name` with its body compiled three times — for AVX-512 (F, BW, DQ, VL), for
/// AVX2 + FMA and for the baseline x86-64 (SSE2) — and calls the widest the CPU has. The
/// results are the same bits in all: Rust never contracts `a·b + c` into an FMA on its own, so
/// only the vector width changes. (AVX-512 over AVX2: the reports' sweep 2% faster on an AMD
/// EPYC, whose units are 256 bits wide; more where they are 512.)
macro_rules! simd_dispatch {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn imp($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
                fn avx512($($arg: $ty),*) {
                    imp($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) {
                    imp($($arg),*)
                }
                use std::arch::is_x86_feature_detected as has;
                if has!("avx512f") && has!("avx512bw") && has!("avx512dq") && has!("avx512vl") {
                    // SAFETY: the CPU has every feature `avx512` was compiled for.
                    return unsafe { avx512($($arg),*) };
                }
                if has!("avx2") && has!("fma") {
                    // SAFETY: the CPU has every feature `avx2` was compiled for.
                    return unsafe { avx2($($arg),*) };
                }
            }
            imp($($arg),*)
        }
    };
}

pub(super) use simd_dispatch;

/// Runs `$body` with `$f` bound to the elementwise function `$fun(act, ·)` for a fixed `act`,
/// one monomorphised copy per activation. Softmax has no elementwise form.
macro_rules! per_activation {
    ($act:expr, $fun:ident, |$f:ident| $body:expr) => {
        match $act {
            Activation::Sigmoid => {
                let $f = |v: f32| $fun(Activation::Sigmoid, v);
                $body
            }
            Activation::Tanh => {
                let $f = |v: f32| $fun(Activation::Tanh, v);
                $body
            }
            Activation::Relu => {
                let $f = |v: f32| $fun(Activation::Relu, v);
                $body
            }
            Activation::LeakyRelu => {
                let $f = |v: f32| $fun(Activation::LeakyRelu, v);
                $body
            }
            Activation::Identity => {
                let $f = |v: f32| $fun(Activation::Identity, v);
                $body
            }
            Activation::Softmax => unreachable!("softmax is row-wise"),
        }
    };
}

/// The forward of an elementwise activation: the reference's, but with vectorisable sigmoid and
/// tanh ([`super::mathfn`]).
#[inline(always)]
fn fast_apply(act: Activation, v: f32) -> f32 {
    match act {
        Activation::Sigmoid => mathfn::sigmoid(v),
        Activation::Tanh => mathfn::tanh(v),
        act => apply(act, v),
    }
}

#[inline(always)]
fn bias_map(z: &mut [f32], bias: &[f32], f: impl Fn(f32) -> f32) {
    if bias.is_empty() {
        return;
    }
    for row in z.chunks_exact_mut(bias.len()) {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v = f(*v + b);
        }
    }
}

simd_dispatch! {
    /// Hidden layers: `z ← act(z + b)` in place, `z` being `[rows][bias.len()]`.
    pub fn bias_activation(act: Activation, z: &mut [f32], bias: &[f32]) {
        per_activation!(act, fast_apply, |f| bias_map(z, bias, f));
    }
}

/// The output layer keeps both: `z ← z + b`, then `a = act(z)` (row-wise for softmax, with
/// the reference's order of operations).
pub fn bias_output(act: Activation, z: &mut [f32], a: &mut [f32], bias: &[f32]) {
    let n = bias.len();
    assert_eq!(z.len(), a.len(), "bias_output: z and a differ in size");
    bias_map(z, bias, |v| v);
    if act == Activation::Softmax {
        for (zr, ar) in z.chunks_exact(n).zip(a.chunks_exact_mut(n)) {
            let max = zr.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0f32;
            for (o, &v) in ar.iter_mut().zip(zr) {
                *o = (v - max).exp();
                sum += *o;
            }
            for o in ar.iter_mut() {
                *o /= sum;
            }
        }
    } else {
        per_activation!(act, fast_apply, |f| {
            for (o, &v) in a.iter_mut().zip(z.iter()) {
                *o = f(v);
            }
        });
    }
}

simd_dispatch! {
    /// The activation backward of a hidden layer, in place: `g ← g ⊙ act'(a)` with the derivative
    /// taken through the output `a`. `g` holds `∂L/∂a` (the input gradient of the layer above) and
    /// leaves holding `∂L/∂z`.
    pub fn activation_backward(act: Activation, g: &mut [f32], a: &[f32]) {
        assert_eq!(
            g.len(),
            a.len(),
            "activation_backward: g and a differ in size"
        );
        per_activation!(act, derivative_from_output, |d| {
            for (g, &a) in g.iter_mut().zip(a) {
                *g *= d(a);
            }
        });
    }
}

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
                let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let lse = max + z.iter().map(|&v| (v - max).exp()).sum::<f32>().ln();
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
                let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let lse = max + z.iter().map(|&v| (v - max).exp()).sum::<f32>().ln();
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

simd_dispatch! {
    /// The bias gradient fused with its SGD update, for the neurons `j0..j1`:
    /// `b[j] −= lr · Σ_rows dz[row][j]`, summing in row order as the reference does.
    /// `bias` is `b[j0..j1]`, `dz` is `[batch][outputs]`, `acc` a scratch of at least `j1 − j0`.
    pub fn sgd_bias(
        bias: &mut [f32],
        dz: &[f32],
        j0: usize,
        outputs: usize,
        lr: f32,
        acc: &mut [f32],
    ) {
        let n = bias.len();
        let acc = &mut acc[..n];
        acc.fill(0.0);
        for row in dz.chunks_exact(outputs) {
            for (s, &g) in acc.iter_mut().zip(&row[j0..j0 + n]) {
                *s += g;
            }
        }
        for (b, &g) in bias.iter_mut().zip(acc.iter()) {
            *b -= lr * g;
        }
    }
}

simd_dispatch! {
    /// The bias gradient of the neurons `j0..j0 + out.len()`: `out[j] = Σ_rows dz[row][j0 + j]`,
    /// summed in row order as the reference does. `dz` is `[batch][outputs]`.
    pub fn bias_grad(out: &mut [f32], dz: &[f32], j0: usize, outputs: usize) {
        let n = out.len();
        out.fill(0.0);
        for row in dz.chunks_exact(outputs) {
            for (s, &g) in out.iter_mut().zip(&row[j0..j0 + n]) {
                *s += g;
            }
        }
    }
}
