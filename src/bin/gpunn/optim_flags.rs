//! The optimizer flags shared by `train`, `step` and `bench`, mapped onto the run
//! description's `[optimizer]` section.

use crate::parse_flag;
use clap::Args;
use gpunn::run::OptimizerSpec;

#[derive(Args, Clone, Default)]
pub struct OptimizerFlags {
    /// sgd, adam or adamw [default: sgd; adam and adamw default to --lr 0.001].
    #[arg(long)]
    optimizer: Option<String>,
    /// sgd: momentum μ, v ← μ·v + g [default: 0].
    #[arg(long)]
    momentum: Option<f32>,
    /// sgd: Nesterov momentum.
    #[arg(long)]
    nesterov: bool,
    /// adam, adamw: first-moment decay [default: 0.9].
    #[arg(long)]
    beta1: Option<f32>,
    /// adam, adamw: second-moment decay [default: 0.999].
    #[arg(long)]
    beta2: Option<f32>,
    /// adam, adamw: the denominator's ε [default: 1e-8].
    #[arg(long)]
    eps: Option<f32>,
    /// Weight decay λ on weights (not biases): L2 for sgd and adam, decoupled for adamw
    /// [default: 0; adamw 0.01].
    #[arg(long)]
    weight_decay: Option<f32>,
    /// Scale all gradients together when their global L2 norm exceeds this.
    #[arg(long)]
    clip_norm: Option<f32>,
    /// Clamp each gradient to [-C, C].
    #[arg(long, value_name = "C")]
    clip_value: Option<f32>,
}

impl OptimizerFlags {
    /// The `[optimizer]` settings these flags give (only those given).
    pub fn spec(&self) -> anyhow::Result<OptimizerSpec> {
        Ok(OptimizerSpec {
            kind: self
                .optimizer
                .as_deref()
                .map(|k| parse_flag("--optimizer", k))
                .transpose()?,
            momentum: self.momentum,
            nesterov: self.nesterov.then_some(true),
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            clip_norm: self.clip_norm,
            clip_value: self.clip_value,
        })
    }
}
