//! What a matmul call is made of: its uniforms (generated into the WGSL), the operands a caller
//! gives ([`MatmulSpec`], and [`MatmulOptim`] for the fused optimizer), and the prepared call
//! ([`MatmulCall`]) that [`super::MatmulKernels`] encodes.

use super::{Epilogue, Trans};
use crate::gpu::kernels::optim::OptimRule;
use crate::model::Activation;

crate::wgsl_struct! {
    /// The uniforms of matmul.wgsl and matmul_subgroup.wgsl (generated into their sources).
    pub struct MatmulParams {
        pub m: u32,
        pub k: u32,
        pub n: u32,
        /// The activation of `BiasAct` and `ActGrad` ([`Activation::gpu_id`]).
        pub act: u32,
        /// The optimizer of [`Epilogue::Optim`] (zeros otherwise).
        pub rule: OptimRule,
    }
}

/// The optimizer operands of an [`Epilogue::Optim`] product (bindings 5 to 8).
#[derive(Clone, Copy, Debug)]
pub struct MatmulOptim<'a> {
    pub rule: OptimRule,
    /// `[M][N]` the velocity or first moment, `[M][N]` the second moment: each a small dummy
    /// where the rule keeps none.
    pub m: &'a wgpu::Buffer,
    pub v: &'a wgpu::Buffer,
    /// `[2]` Adam's step size and `[3]` √(1 − β2ᵗ) of the current step (f32 bits), written by
    /// the optimizer kernel's `tick` before the product runs.
    pub state: &'a wgpu::Buffer,
    /// `[0]` set nonzero when an update leaves a NaN or an infinity in the state.
    pub flags: &'a wgpu::Buffer,
}

/// One product to prepare. `a`, `b`, `out` and `extra` may be larger than needed; the kernel
/// binds and touches only the leading elements.
#[derive(Clone, Copy, Debug)]
pub struct MatmulSpec<'a> {
    pub trans: Trans,
    pub epilogue: Epilogue,
    /// For `BiasAct` and `ActGrad`; ignored otherwise.
    pub act: Activation,
    pub m: u32,
    pub k: u32,
    pub n: u32,
    /// For `Sgd` and `Optim`: the [`crate::gpu::kernels::StepUniform`] whose learning rate they
    /// read (change it with [`crate::gpu::kernels::StepUniform::set_lr`]); `None`: rate 0.
    pub step: Option<&'a wgpu::Buffer>,
    pub a: &'a wgpu::Buffer,
    pub b: &'a wgpu::Buffer,
    /// C `[M][N]`, or W `[M][N]` (read and written) for `Sgd`.
    pub out: &'a wgpu::Buffer,
    /// Bias `[N]` for `BiasAct`, activations `[M][N]` for `ActGrad`, gradient `[M][N]` for
    /// `Sgd { store_grad: true }`; `None` for the others.
    pub extra: Option<&'a wgpu::Buffer>,
}

/// A prepared product: pipeline, bind group and uniforms, ready to encode any number of times.
#[derive(Debug)]
pub struct MatmulCall {
    pub(super) pipeline: wgpu::ComputePipeline,
    pub(super) bind_group: wgpu::BindGroup,
    /// Its uniforms, kept alive with the bind group.
    pub(super) _params: wgpu::Buffer,
    pub(super) workgroups: [u32; 3],
    pub trans: Trans,
    pub epilogue: Epilogue,
    pub m: u32,
    pub k: u32,
    pub n: u32,
}

impl MatmulCall {
    /// Workgroups dispatched (x over N, y over M).
    pub fn workgroups(&self) -> [u32; 3] {
        self.workgroups
    }
    /// Floating-point operations of the product (2·M·K·N).
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.k as f64 * self.n as f64
    }
}
