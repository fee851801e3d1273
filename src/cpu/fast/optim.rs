//! The fast path's optimizers other than plain SGD. Plain SGD stays fused into the weight
//! product (`W ← W − lr·dzᵀ·x`); every other rule needs the gradients first, so the backward
//! pass writes them (each thread its own neurons' rows), and each thread runs the reference's
//! per-tensor rule ([`crate::optim::rule::update_tensor`]) on its own neurons:
//!
//! ```text
//! backward, phase B   my neurons: dW_l = dz_lᵀ·x_l, db_l = Σ_rows dz_l
//!                     then at once (no clip_norm): the rule on my neurons of layer l, while
//!                     dW_l is in cache (W_l is no longer read in this step)
//! ── barrier ──
//! clip_norm only:     my Σ g² → parts[t]   ── barrier ──   ‖g‖ = √Σ_t parts[t]
//!                     the rule on my neurons of every layer   ── barrier ──
//! ```

use super::elementwise::simd_dispatch;
use super::layer::{LayerView, Own};
use super::sync::{Shared, SpinBarrier};
use crate::model::DenseGrads;
use crate::model::Params;
use crate::optim::rule::{self, AdamStep, Moments};
use crate::optim::{OptimizerConfig, OptimizerKind, OptimizerState};

/// The gradients and optimizer state as the worker threads see them.
pub(super) struct OptViews {
    pub(super) cfg: OptimizerConfig,
    /// Per layer, `[out][in]` and `[out]`.
    pub(super) gw: Vec<Shared<f32>>,
    pub(super) gb: Vec<Shared<f32>>,
    /// Per tensor (layer 0 weight, layer 0 bias, ...): velocity, m and v, empty where unused.
    pub(super) state: Vec<[Shared<f32>; 3]>,
    /// One partial Σ g² per thread, for clipping by the global norm.
    pub(super) parts: Shared<f32>,
    /// The optimizer's step count before this run of steps.
    pub(super) step0: u64,
}

impl OptViews {
    pub(super) fn new(
        cfg: OptimizerConfig,
        grads: &mut [DenseGrads<f32>],
        state: &mut OptimizerState,
        parts: &mut [f32],
    ) -> Self {
        OptViews {
            cfg,
            gw: grads
                .iter_mut()
                .map(|g| Shared::new(&mut g.weights))
                .collect(),
            gb: grads.iter_mut().map(|g| Shared::new(&mut g.bias)).collect(),
            state: state
                .tensors
                .iter_mut()
                .map(|t| {
                    [
                        Shared::new(&mut t.velocity),
                        Shared::new(&mut t.m),
                        Shared::new(&mut t.v),
                    ]
                })
                .collect(),
            parts: Shared::new(parts),
            step0: state.step,
        }
    }

    /// Runs the rule on thread `t`'s neurons of every layer for step `step` (0-based within
    /// this run). Every gradient must be complete; returns whether this thread's parameters or
    /// state hold a NaN or an infinity afterwards.
    ///
    /// # Safety
    /// Every thread calls this together after a barrier that follows the backward pass; no
    /// other code touches the parameters, gradients or state until the barrier that ends it.
    pub(super) unsafe fn apply(
        &self,
        t: usize,
        threads: usize,
        layers: &[LayerView],
        barrier: &SpinBarrier,
        lr: f32,
        step: usize,
    ) -> bool {
        let mut scale = None;
        if let Some(c) = self.cfg.clip_norm {
            let mut sq = 0.0f32;
            for (l, layer) in layers.iter().enumerate() {
                let own = layer.own(threads, t);
                let ((r0, r1), (j0, j1), width) = (own.rows, own.neurons, layer.stored().1);
                // SAFETY: our rows of the gradients, written by us in phase B.
                let (gw, gb) = unsafe {
                    (
                        self.gw[l].slice(r0 * width, r1 * width),
                        self.gb[l].slice(j0, j1),
                    )
                };
                sq += gw.iter().chain(gb).map(|&g| g * g).sum::<f32>();
            }
            // SAFETY: our entry of `parts`; the others are read after the barrier.
            unsafe { self.parts.slice_mut(t, t + 1)[0] = sq };
            barrier.wait();
            // SAFETY: every entry is written and nobody writes until the next step.
            let total: f32 = unsafe { self.parts.slice(0, threads) }.iter().sum();
            scale = rule::clip_scale(total.sqrt(), c);
            // Nobody may overwrite `parts` (next step) before every thread has read it: the
            // barrier that ends this step comes after.
        }
        let mut nonfinite = false;
        for (l, layer) in layers.iter().enumerate() {
            let own = layer.own(threads, t);
            // SAFETY: our part, after every gradient is complete (the contract).
            nonfinite |= unsafe { self.update_own(l, layer, own, scale, lr, step) };
        }
        nonfinite
    }

    /// The rule on the part `own` of layer `l` (rows of its stored weights, and biases) with
    /// the gradients scaled by `scale` (global-norm clipping); returns whether a NaN or an
    /// infinity came out in the state. Without global-norm clipping, backward's phase B calls
    /// this on each thread's part right after its gradients, while they are still in cache.
    ///
    /// # Safety
    /// The calling thread must own that part of the parameters, gradients and state, whose
    /// gradients must be complete.
    pub(super) unsafe fn update_own(
        &self,
        l: usize,
        layer: &LayerView,
        own: Own,
        scale: Option<f32>,
        lr: f32,
        step: usize,
    ) -> bool {
        let mut nonfinite = false;
        let tensors = [
            (layer.w, self.gw[l], layer.stored().1, own.rows, true),
            (layer.b, self.gb[l], 1, own.neurons, false),
        ];
        for (k, (param, grad, width, (r0, r1), is_weight)) in tensors.into_iter().enumerate() {
            let (s, e) = (r0 * width, r1 * width);
            let [vel, m, v] = self.state[2 * l + k];
            let part = |buf: Shared<f32>| {
                // SAFETY: our part of a state buffer (or an unused, empty one).
                if buf.is_empty() {
                    &mut [][..]
                } else {
                    unsafe { buf.slice_mut(s, e) }
                }
            };
            // SAFETY: our part of the parameter and its gradient.
            let (param, grad) = unsafe { (param.slice_mut(s, e), grad.slice_mut(s, e)) };
            if let Some(scale) = scale {
                grad.iter_mut().for_each(|g| *g *= scale);
            }
            let step_no = self.step0 + step as u64 + 1;
            let (vel, m, v) = (part(vel), part(m), part(v));
            update(
                &self.cfg,
                (vel, m, v),
                (param, grad),
                (is_weight, lr, step_no),
                &mut nonfinite,
            );
        }
        nonfinite
    }
}

simd_dispatch! {
    /// The reference rule on one slice ([`rule::update_tensor`], inlined here so that it is
    /// compiled for the CPU's vector width too; elementwise, so the bits are the reference's),
    /// then `*bad` set when the state (as the reference checks it) holds a NaN or an infinity:
    /// for Adam in the same pass as the moments, which are then still in registers.
    fn update(
        cfg: &OptimizerConfig,
        state: (&mut [f32], &mut [f32], &mut [f32]),
        tensor: (&mut [f32], &mut [f32]),
        how: (bool, f32, u64),
        bad: &mut bool,
    ) {
        let (is_weight, lr, step) = how;
        let (velocity, m, v) = state;
        let (w, g) = tensor;
        if cfg.kind == OptimizerKind::Sgd {
            let moments = Moments { velocity, m, v };
            rule::update_tensor(cfg, moments, w, g, is_weight, lr, step);
            // A parameter that turns non-finite makes the next step's loss so.
            finite_check(velocity, bad);
            return;
        }
        rule::clip_and_decay(cfg, w, g, is_weight, lr);
        let adam = AdamStep::new(cfg, lr, step);
        let mut out_of_range = false;
        for (((w, &g), m), v) in w.iter_mut().zip(&*g).zip(m.iter_mut()).zip(v.iter_mut()) {
            adam.apply(w, g, m, v);
            out_of_range |= !m.is_finite() | !v.is_finite();
        }
        *bad |= out_of_range;
    }
}

simd_dispatch! {
    /// Sets `*bad` when `x` holds a NaN or an infinity (`x·0` is NaN exactly for those),
    /// summing in 16 independent lanes so that the pass vectorises.
    fn finite_check(x: &[f32], bad: &mut bool) {
        let mut acc = [0.0f32; 16];
        let chunks = x.chunks_exact(16);
        let rest = chunks.remainder();
        for c in chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a += v * 0.0;
            }
        }
        let tail: f32 = rest.iter().map(|&v| v * 0.0).sum();
        *bad |= acc.iter().sum::<f32>().is_nan() || tail.is_nan();
    }
}

/// Zero gradients of `params`' shapes.
pub(super) fn zero_grads(params: &Params) -> Vec<DenseGrads<f32>> {
    params
        .layers
        .iter()
        .map(|l| DenseGrads {
            weights: vec![0.0; l.weights.len()],
            bias: vec![0.0; l.bias.len()],
        })
        .collect()
}
