//! The reference optimizer, in plain loops and generic over f32/f64 like the rest of the
//! reference: one small function per stage (clipping, weight decay, the per-tensor rule). The
//! fast CPU path calls the per-tensor functions on its threads' slices; the GPU kernel
//! (shaders/optim.wgsl) is tested against them.

use super::{OptimizerConfig, OptimizerKind};
use crate::model::{DenseGrads, Params, Real};

/// The state of one parameter tensor. Which vectors are used depends on the rule; the others
/// are empty: `velocity` for sgd with momentum (torch's `momentum_buffer`), `m` and `v` for
/// adam and adamw (`exp_avg`, `exp_avg_sq`).
#[derive(Clone, Debug, PartialEq)]
pub struct TensorState<T = f32> {
    pub velocity: Vec<T>,
    pub m: Vec<T>,
    pub v: Vec<T>,
}

impl<T> Default for TensorState<T> {
    fn default() -> Self {
        TensorState {
            velocity: Vec::new(),
            m: Vec::new(),
            v: Vec::new(),
        }
    }
}

/// The optimizer state of a whole network: one [`TensorState`] per parameter tensor, in the
/// order `layer 0 weight, layer 0 bias, layer 1 weight, ...`, and the number of steps taken.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState<T = f32> {
    pub step: u64,
    pub tensors: Vec<TensorState<T>>,
}

impl<T: Real> OptimizerState<T> {
    /// Zero state of the right shapes for `cfg` and `params` (step 0).
    pub fn new(cfg: &OptimizerConfig, params: &Params<T>) -> Self {
        let sizes = params
            .layers
            .iter()
            .flat_map(|l| [l.weights.len(), l.bias.len()]);
        let tensors = sizes
            .map(|n| {
                let zeros = |keep: bool| if keep { vec![T::zero(); n] } else { Vec::new() };
                // SGD's m is its velocity.
                match (cfg.kind, cfg.keeps()) {
                    (OptimizerKind::Sgd, (m, _)) => TensorState {
                        velocity: zeros(m),
                        ..Default::default()
                    },
                    (_, (m, v)) => TensorState {
                        m: zeros(m),
                        v: zeros(v),
                        ..Default::default()
                    },
                }
            })
            .collect();
        OptimizerState { step: 0, tensors }
    }

    /// Whether any value of the state is NaN or infinite.
    pub fn has_nonfinite(&self) -> bool {
        self.tensors.iter().any(|t| {
            t.velocity
                .iter()
                .chain(&t.m)
                .chain(&t.v)
                .any(|x| !x.is_finite())
        })
    }

    /// The same state in another float type.
    pub fn cast<U: Real>(&self) -> OptimizerState<U> {
        let conv = |v: &[T]| {
            v.iter()
                .map(|&x| U::c(x.to_f64().unwrap_or(f64::NAN)))
                .collect()
        };
        OptimizerState {
            step: self.step,
            tensors: self
                .tensors
                .iter()
                .map(|t| TensorState {
                    velocity: conv(&t.velocity),
                    m: conv(&t.m),
                    v: conv(&t.v),
                })
                .collect(),
        }
    }
}

/// One optimizer step on every layer, in place: `grads` (the loss gradients, changed by
/// clipping and L2 decay) are turned into new `params`, `state` advanced.
pub fn step<T: Real>(
    cfg: &OptimizerConfig,
    state: &mut OptimizerState<T>,
    params: &mut Params<T>,
    grads: &mut [DenseGrads<T>],
    lr: T,
) {
    state.step += 1;
    if let Some(c) = cfg.clip_norm {
        let norm = global_norm(grads);
        if let Some(scale) = clip_scale(norm, T::c(c as f64)) {
            for g in grads.iter_mut() {
                g.weights
                    .iter_mut()
                    .chain(&mut g.bias)
                    .for_each(|x| *x = *x * scale);
            }
        }
    }
    for (l, (layer, g)) in params.layers.iter_mut().zip(grads.iter_mut()).enumerate() {
        let tensors = [
            (&mut layer.weights, &mut g.weights, true),
            (&mut layer.bias, &mut g.bias, false),
        ];
        for (k, (w, g, is_weight)) in tensors.into_iter().enumerate() {
            let s = &mut state.tensors[2 * l + k];
            let moments = Moments {
                velocity: &mut s.velocity,
                m: &mut s.m,
                v: &mut s.v,
            };
            update_tensor(cfg, moments, w, g, is_weight, lr, state.step);
        }
    }
}

/// The state of (a slice of) one tensor, as [`TensorState`] holds it: empty slices where the
/// rule keeps none. The fast CPU path passes each thread's part of a tensor.
pub struct Moments<'a, T> {
    pub velocity: &'a mut [T],
    pub m: &'a mut [T],
    pub v: &'a mut [T],
}

/// Clipping by value, weight decay and the rule, for one tensor `w` with gradient `g` (after
/// any global-norm clipping). `step` is the step count including this one (from 1).
#[inline]
pub fn update_tensor<T: Real>(
    cfg: &OptimizerConfig,
    s: Moments<'_, T>,
    w: &mut [T],
    g: &mut [T],
    is_weight: bool,
    lr: T,
    step: u64,
) {
    clip_and_decay(cfg, w, g, is_weight, lr);
    match cfg.kind {
        OptimizerKind::Sgd => sgd(
            w,
            g,
            s.velocity,
            T::c(cfg.momentum as f64),
            cfg.nesterov,
            lr,
        ),
        OptimizerKind::Adam | OptimizerKind::AdamW => adam(cfg, w, g, s.m, s.v, lr, step),
    }
}

/// What comes before the rule: clipping by value, then weight decay (weights only): L2 on
/// the gradient for `sgd` and `adam`, decoupled on `w` for `adamw`.
#[inline]
pub fn clip_and_decay<T: Real>(
    cfg: &OptimizerConfig,
    w: &mut [T],
    g: &mut [T],
    is_weight: bool,
    lr: T,
) {
    if let Some(c) = cfg.clip_value {
        clip_by_value(g, T::c(c as f64));
    }
    let wd = T::c(if is_weight {
        cfg.weight_decay as f64
    } else {
        0.0
    });
    match cfg.kind {
        OptimizerKind::Sgd | OptimizerKind::Adam => l2_decay(g, w, wd),
        OptimizerKind::AdamW => decoupled_decay(w, lr, wd),
    }
}

/// ‖g‖: the L2 norm of every weight and bias gradient of every layer together.
pub fn global_norm<T: Real>(grads: &[DenseGrads<T>]) -> T {
    grads
        .iter()
        .flat_map(|g| g.weights.iter().chain(&g.bias))
        .map(|&x| x * x)
        .sum::<T>()
        .sqrt()
}

/// The factor `c / (‖g‖ + 1e-6)` when `‖g‖ > c` (torch.nn.utils.clip_grad_norm_), else none.
pub fn clip_scale<T: Real>(norm: T, c: T) -> Option<T> {
    (norm > c).then(|| c / (norm + T::c(1e-6)))
}

/// `g ← clamp(g, −c, c)`.
#[inline]
pub fn clip_by_value<T: Real>(g: &mut [T], c: T) {
    for x in g {
        *x = x.max(-c).min(c);
    }
}

/// L2 weight decay on the gradient: `g ← g + λ·W`.
#[inline]
pub fn l2_decay<T: Real>(g: &mut [T], w: &[T], wd: T) {
    if wd != T::zero() {
        for (g, &w) in g.iter_mut().zip(w) {
            *g = *g + wd * w;
        }
    }
}

/// Decoupled weight decay (AdamW): `W ← W·(1 − lr·λ)`, torch's form of `W − lr·λ·W`.
#[inline]
pub fn decoupled_decay<T: Real>(w: &mut [T], lr: T, wd: T) {
    if wd != T::zero() {
        let keep = T::one() - lr * wd;
        for w in w {
            *w = *w * keep;
        }
    }
}

/// SGD: `W ← W − lr·g` without momentum; with it `v ← μ·v + g` and `W ← W − lr·v`, or
/// `W ← W − lr·(g + μ·v)` with Nesterov. `velocity` is empty without momentum.
#[inline]
pub fn sgd<T: Real>(w: &mut [T], g: &[T], velocity: &mut [T], mu: T, nesterov: bool, lr: T) {
    if mu == T::zero() {
        for (w, &g) in w.iter_mut().zip(g) {
            *w = *w - lr * g;
        }
        return;
    }
    for ((w, &g), v) in w.iter_mut().zip(g).zip(velocity.iter_mut()) {
        *v = mu * *v + g;
        let d = if nesterov { g + mu * *v } else { *v };
        *w = *w - lr * d;
    }
}

/// Adam: `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`, then
/// `W ← W − (lr/(1−β1ᵗ))·m / (√v/√(1−β2ᵗ) + ε)` (torch's arrangement of
/// `lr·m̂/(√v̂ + ε)`), `t` = `step`.
#[inline]
pub fn adam<T: Real>(
    cfg: &OptimizerConfig,
    w: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    lr: T,
    step: u64,
) {
    let rule = AdamStep::new(cfg, lr, step);
    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        rule.apply(w, g, m, v);
    }
}

/// Adam's bias corrections `(1 − β1ᵗ, 1 − β2ᵗ)` of step `t`, in f64 from the settings' f32
/// betas.
pub fn bias_corrections(cfg: &OptimizerConfig, t: u64) -> (f64, f64) {
    let t = t.min(i32::MAX as u64) as i32;
    let one_minus = |beta: f32| 1.0 - (beta as f64).powi(t);
    (one_minus(cfg.beta1), one_minus(cfg.beta2))
}

/// One Adam step's constants: the betas, ε, `lr/(1−β1ᵗ)` and `√(1−β2ᵗ)`.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep<T> {
    b1: T,
    b2: T,
    eps: T,
    step_size: T,
    bc2_sqrt: T,
}

impl<T: Real> AdamStep<T> {
    pub fn new(cfg: &OptimizerConfig, lr: T, step: u64) -> Self {
        let (b1, b2) = (T::c(cfg.beta1 as f64), T::c(cfg.beta2 as f64));
        // The bias corrections in f64, then rounded once, as torch.optim computes them (in
        // Python floats): 1 − β2ᵗ in f32 would lose about 1/(1 − β2) ulp to cancellation
        // (β2² alone is rounded by 1 ulp of 1, a 3e-5 error in 1 − 0.999²).
        let (bc1, bc2) = bias_corrections(cfg, step);
        AdamStep {
            b1,
            b2,
            eps: T::c(cfg.eps as f64),
            step_size: T::c(num_traits::ToPrimitive::to_f64(&lr).unwrap_or(f64::NAN) / bc1),
            bc2_sqrt: T::c(bc2.sqrt()),
        }
    }

    /// The rule on one element, as [`adam`] applies it to each.
    #[inline(always)]
    pub fn apply(&self, w: &mut T, g: T, m: &mut T, v: &mut T) {
        *m = self.b1 * *m + (T::one() - self.b1) * g;
        *v = self.b2 * *v + (T::one() - self.b2) * g * g;
        *w = *w - self.step_size * *m / (v.sqrt() / self.bc2_sqrt + self.eps);
    }
}
