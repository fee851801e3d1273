//! Optimizers: what turns the gradients of a step into new parameters, as torch.optim does it.
//!
//! A step, in this order (the stages of [`rule`], each a small function):
//!
//! ```text
//! g = ∂L/∂p                          every weight and bias of every layer
//! clip_norm c:  ‖g‖ > c  ⇒  g ← g·c/(‖g‖ + 1e-6)     ‖g‖ over all tensors together
//! clip_value c: g ← clamp(g, −c, c)
//! weight decay λ (weights only):   sgd, adam: g ← g + λ·W        adamw: W ← W − lr·λ·W
//! sgd:   μ = 0: W ← W − lr·g
//!        v ← μ·v + g;  W ← W − lr·v          nesterov: W ← W − lr·(g + μ·v)
//! adam:  t ← t + 1; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²
//!        W ← W − (lr/(1−β1ᵗ))·m / (√v/√(1−β2ᵗ) + ε)
//! ```
//!
//! [`OptimizerConfig`] is the resolved `[optimizer]` section of a run; [`OptimizerState`] holds
//! the velocities or moments per parameter tensor and the step count, and is saved in
//! checkpoints so that a resumed run continues exactly.

pub mod rule;

pub use rule::{Moments, OptimizerState, TensorState};

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The optimizer rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OptimizerKind {
    /// Stochastic gradient descent, with optional momentum and Nesterov.
    #[default]
    Sgd,
    /// Adam (Kingma & Ba), weight decay as L2 on the gradient.
    Adam,
    /// Adam with decoupled weight decay (Loshchilov & Hutter).
    AdamW,
}

impl OptimizerKind {
    pub const ALL: [OptimizerKind; 3] = [
        OptimizerKind::Sgd,
        OptimizerKind::Adam,
        OptimizerKind::AdamW,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
        }
    }

    /// The id the GPU kernel uses (written into the shaders as `const OPT_<NAME>: u32`).
    pub fn gpu_id(self) -> u32 {
        match self {
            OptimizerKind::Sgd => 0,
            OptimizerKind::Adam => 1,
            OptimizerKind::AdamW => 2,
        }
    }

    /// The learning rate when none is given (`None`: the run's own default).
    pub fn default_lr(self) -> Option<f32> {
        match self {
            OptimizerKind::Sgd => None,
            OptimizerKind::Adam | OptimizerKind::AdamW => Some(0.001),
        }
    }
}

impl std::fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for OptimizerKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        OptimizerKind::ALL
            .into_iter()
            .find(|k| k.name() == t)
            .ok_or_else(|| format!("unknown optimizer '{s}' (expected sgd, adam or adamw)"))
    }
}

crate::model::serde_as_name!(OptimizerKind);

/// A resolved optimizer: every setting has its value (the defaults of torch.optim).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    pub kind: OptimizerKind,
    /// sgd: the momentum μ (0: plain SGD).
    pub momentum: f32,
    /// sgd: Nesterov momentum (needs μ > 0).
    pub nesterov: bool,
    /// adam, adamw: the moments' decay rates and the denominator's ε.
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// λ, on weights only: L2 on the gradient for sgd and adam, decoupled for adamw.
    pub weight_decay: f32,
    /// Scale all gradients together when their global L2 norm exceeds this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_norm: Option<f32>,
    /// Clamp each gradient to [−c, c].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_value: Option<f32>,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig::of(OptimizerKind::Sgd)
    }
}

impl OptimizerConfig {
    /// `kind` with torch.optim's defaults (AdamW's weight decay 0.01, the others' 0).
    pub fn of(kind: OptimizerKind) -> Self {
        OptimizerConfig {
            kind,
            momentum: 0.0,
            nesterov: false,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: if kind == OptimizerKind::AdamW {
                0.01
            } else {
                0.0
            },
            clip_norm: None,
            clip_value: None,
        }
    }

    /// Plain SGD with nothing else: the update every engine fuses into its backward pass.
    pub fn is_plain_sgd(&self) -> bool {
        self.kind == OptimizerKind::Sgd
            && self.momentum == 0.0
            && self.weight_decay == 0.0
            && self.clip_norm.is_none()
            && self.clip_value.is_none()
    }

    /// Checks every setting; errors name the field (`optimizer.beta1`).
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, msg: String| Err(Error::invalid(format!("optimizer.{field}"), msg));
        let finite_nonneg = |v: f32| v.is_finite() && v >= 0.0;
        if !finite_nonneg(self.momentum) || self.momentum >= 1.0 {
            return bad(
                "momentum",
                format!("must be in [0, 1), got {}", self.momentum),
            );
        }
        if self.nesterov && (self.kind != OptimizerKind::Sgd || self.momentum == 0.0) {
            return bad("nesterov", "needs sgd with a momentum above 0".into());
        }
        if self.kind != OptimizerKind::Sgd && self.momentum != 0.0 {
            return bad(
                "momentum",
                format!("is for sgd; {} has beta1 and beta2", self.kind),
            );
        }
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(finite_nonneg(b) && b < 1.0) {
                return bad(name, format!("must be in [0, 1), got {b}"));
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return bad(
                "eps",
                format!("must be a positive number, got {}", self.eps),
            );
        }
        if !finite_nonneg(self.weight_decay) {
            return bad(
                "weight_decay",
                format!("must be a number >= 0, got {}", self.weight_decay),
            );
        }
        for (name, c) in [
            ("clip_norm", self.clip_norm),
            ("clip_value", self.clip_value),
        ] {
            if let Some(c) = c {
                if !(c.is_finite() && c > 0.0) {
                    return bad(name, format!("must be a positive number, got {c}"));
                }
            }
        }
        Ok(())
    }

    /// The state the rule keeps for each parameter: `(m, v)`, m being the velocity of SGD with
    /// momentum or Adam's first moment, v Adam's second moment. The one place this is decided:
    /// the CPU engines' state, the GPU's buffers and its kernels' flags follow it.
    pub fn keeps(&self) -> (bool, bool) {
        match self.kind {
            OptimizerKind::Sgd => (self.momentum > 0.0, false),
            OptimizerKind::Adam | OptimizerKind::AdamW => (true, true),
        }
    }

    /// A short description for the epoch lines, e.g. `adam (β1 0.9, β2 0.999)`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match self.kind {
            OptimizerKind::Sgd if self.momentum > 0.0 => {
                parts.push(format!("momentum {}", self.momentum));
                if self.nesterov {
                    parts.push("nesterov".into());
                }
            }
            OptimizerKind::Sgd => {}
            _ => parts.push(format!("β1 {}, β2 {}", self.beta1, self.beta2)),
        }
        if self.weight_decay > 0.0 {
            parts.push(format!("weight decay {}", self.weight_decay));
        }
        if let Some(c) = self.clip_norm {
            parts.push(format!("clip norm {c}"));
        }
        if let Some(c) = self.clip_value {
            parts.push(format!("clip value {c}"));
        }
        if parts.is_empty() {
            self.kind.to_string()
        } else {
            format!("{} ({})", self.kind, parts.join(", "))
        }
    }
}
