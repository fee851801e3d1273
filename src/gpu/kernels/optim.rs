//! The optimizer kernels (shaders/optim.wgsl) for every rule but plain SGD: `tick` starts a
//! step, `norm` adds a tensor's Σ g² for clipping by the global norm, `update` runs clipping,
//! weight decay and the rule on one tensor. CPU twin: [`crate::optim::rule`].

use crate::gpu::context::{BindingKind, GpuContext};
use crate::optim::OptimizerConfig;
use crate::Result;

const WGSL: &str = include_str!("../../../shaders/optim.wgsl");
/// The per-element rule, shared with the matmul epilogue that fuses it.
pub(crate) const RULE_WGSL: &str = include_str!("../../../shaders/optim_rule.wgsl");

/// The generated ids, common.wgsl (for `expm1_small`), the generated [`OptimRule`] and
/// [`super::StepUniform`], and the rule (shaders/optim_rule.wgsl), for kernels that apply it.
pub fn rule_source() -> String {
    format!(
        "{}\n{}{}\n{RULE_WGSL}",
        crate::gpu::ids::common(),
        OptimRule::wgsl(),
        super::StepUniform::wgsl()
    )
}

/// The kernel's source: the generated ids, structs and the rule, then shaders/optim.wgsl.
pub fn source() -> String {
    format!("{}\n{}\n{WGSL}", rule_source(), OptimParams::wgsl())
}

crate::wgsl_struct! {
    /// The run's optimizer settings, part of the uniforms of every kernel that applies the rule
    /// (optim_rule.wgsl's `OptimRule`, generated from these fields).
    pub struct OptimRule {
        /// [`crate::optim::OptimizerKind::gpu_id`].
        pub kind: u32,
        /// [`crate::gpu::ids::RULE_FLAGS`]: the switches and the state kept.
        pub flags: u32,
        pub momentum: f32,
        pub beta1: f32,
        pub beta2: f32,
        pub eps: f32,
        pub weight_decay: f32,
        pub clip_value: f32,
        pub clip_norm: f32,
        /// ln β1 and ln β2, computed in f64 from the f32 betas: `tick` takes Adam's bias
        /// corrections 1 − βᵗ as −expm1(t·ln β), which keeps f32's precision where
        /// 1 − pow(β, t) cancels.
        pub log_beta1: f32,
        pub log_beta2: f32,
        pub _pad: u32,
    }
}

impl OptimRule {
    pub fn new(cfg: &OptimizerConfig) -> Self {
        use crate::gpu::ids::*;
        let bit = |on: bool, flag: u32| if on { flag } else { 0 };
        let (keeps_m, keeps_v) = cfg.keeps();
        let flags = bit(cfg.nesterov, RULE_NESTEROV)
            | bit(cfg.clip_norm.is_some(), RULE_CLIP_NORM)
            | bit(cfg.clip_value.is_some(), RULE_CLIP_VALUE)
            | bit(keeps_m, RULE_KEEPS_M)
            | bit(keeps_v, RULE_KEEPS_V);
        OptimRule {
            kind: cfg.kind.gpu_id(),
            flags,
            momentum: cfg.momentum,
            beta1: cfg.beta1,
            beta2: cfg.beta2,
            eps: cfg.eps,
            weight_decay: cfg.weight_decay,
            clip_value: cfg.clip_value.unwrap_or(0.0),
            clip_norm: cfg.clip_norm.unwrap_or(0.0),
            log_beta1: (cfg.beta1 as f64).ln() as f32,
            log_beta2: (cfg.beta2 as f64).ln() as f32,
            _pad: 0,
        }
    }
}

crate::wgsl_struct! {
    /// optim.wgsl's uniforms for one tensor (generated into its source).
    pub struct OptimParams {
        /// Elements of the tensor.
        pub n: u32,
        /// 1 for a weight tensor (decay applies), 0 for a bias.
        pub is_weight: u32,
        pub _pad0: u32,
        pub _pad1: u32,
        pub rule: OptimRule,
    }
}

impl OptimParams {
    /// The uniforms of an `n`-element tensor under `cfg`.
    pub fn new(cfg: &OptimizerConfig, n: usize, is_weight: bool) -> Self {
        OptimParams {
            n: n as u32,
            is_weight: u32::from(is_weight),
            rule: OptimRule::new(cfg),
            ..Default::default()
        }
    }
}

/// The buffers of one tensor's optimizer calls, in binding order.
pub struct OptimBindings<'a> {
    /// [`OptimParams`]
    pub params: &'a wgpu::Buffer,
    /// `[n]` the loss gradient (not changed: clipping is applied on the fly). This and the
    /// three below are padded with zeros to a multiple of 4 elements (read as vec4).
    pub g: &'a wgpu::Buffer,
    /// In and out: `[n]` the parameters.
    pub w: &'a wgpu::Buffer,
    /// In and out: `[n]` the velocity (sgd with momentum) or the first moment (adam).
    pub m: &'a wgpu::Buffer,
    /// In and out: `[n]` the second moment (adam).
    pub v: &'a wgpu::Buffer,
    /// In and out: `[0]` Σ g² of this step (f32 bits), `[1]` the step count, `[2]`, `[3]`
    /// Adam's bias corrections of the step (f32 bits).
    pub state: &'a wgpu::Buffer,
    /// Out: `[0]` set nonzero when an update leaves a NaN or an infinity.
    pub flags: &'a wgpu::Buffer,
    /// [`super::StepUniform`]: the learning rate.
    pub step: &'a wgpu::Buffer,
}

/// The three compiled entry points, sharing one bind-group layout.
pub struct OptimKernel {
    layout: wgpu::BindGroupLayout,
    tick: wgpu::ComputePipeline,
    norm: wgpu::ComputePipeline,
    update: wgpu::ComputePipeline,
}

/// Elements per `update` workgroup: 64 invocations of `UPDATE_VEC4S` (4) vec4s each.
const UPDATE_WORKGROUP: u32 = 64 * 4 * 4;

impl OptimKernel {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        use BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
        let layout = ctx.bind_group_layout("optim", &[U, R, W, W, W, W, W, U]);
        let module = ctx.load_shader("optim", &source())?;
        let pipeline =
            |entry: &str| ctx.compute_pipeline(&format!("optim {entry}"), &module, entry, &layout);
        Ok(OptimKernel {
            tick: pipeline("tick")?,
            norm: pipeline("norm")?,
            update: pipeline("update")?,
            layout,
        })
    }

    pub fn bind(&self, ctx: &GpuContext, b: OptimBindings<'_>) -> Result<wgpu::BindGroup> {
        let list = [b.params, b.g, b.w, b.m, b.v, b.state, b.flags, b.step];
        let entries: Vec<wgpu::BindGroupEntry> = list
            .iter()
            .enumerate()
            .map(|(i, buf)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: buf.as_entire_binding(),
            })
            .collect();
        ctx.scoped("binding buffers for 'optim'", || {
            ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("optim"),
                layout: &self.layout,
                entries: &entries,
            })
        })
    }

    /// Starts a step (the step count, Adam's bias corrections, the norm's sum back to 0),
    /// with any tensor's bind group (they share the state and the run's settings).
    pub fn encode_tick(&self, pass: &mut wgpu::ComputePass<'_>, any: &wgpu::BindGroup) {
        pass.set_pipeline(&self.tick);
        pass.set_bind_group(0, any, &[]);
        pass.dispatch_workgroups(1, 1, 1);
    }

    /// Adds each tensor's Σ g² to the step's sum (clipping by the global norm).
    pub fn encode_norms<'a>(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        tensors: impl Iterator<Item = &'a (wgpu::BindGroup, u32)>,
    ) {
        pass.set_pipeline(&self.norm);
        for (bind, _) in tensors {
            pass.set_bind_group(0, bind, &[]);
            pass.dispatch_workgroups(1, 1, 1);
        }
    }

    /// The rule on each tensor (bind group and element count).
    pub fn encode_updates<'a>(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        tensors: impl Iterator<Item = &'a (wgpu::BindGroup, u32)>,
    ) {
        pass.set_pipeline(&self.update);
        for (bind, n) in tensors {
            pass.set_bind_group(0, bind, &[]);
            pass.dispatch_workgroups(n.div_ceil(UPDATE_WORKGROUP).max(1), 1, 1);
        }
    }
}
