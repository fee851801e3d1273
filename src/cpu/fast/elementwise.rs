//! The elementwise work around the products, each a single pass over its rows: bias +
//! activation after the forward product, the activation backward after the input-gradient
//! product, and the bias gradient fused with its SGD update (the loss rows: `output.rs`).
//!
//! The arithmetic is the reference's ([`crate::cpu::activation`], [`crate::cpu::loss`]),
//! called per element with the activation fixed outside the loop, so that the compiler can
//! specialise and vectorise each pass; the hot passes are compiled for AVX-512 and AVX2 as
//! well as the baseline, and the CPU picks (`simd_dispatch`).

use super::mathfn;
use crate::cpu::activation::{apply, derivative_from_output};
use crate::model::Activation;

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
