//! The bias kernel (shaders/bias.wgsl): `db[j] = Σ_r dz[r][j]` in row order and the SGD update
//! `b −= lr·db`, fused. CPU twin: the bias gradient of [`crate::cpu::dense::backward`].

use super::Kernel;
use crate::gpu::context::{BindingKind, GpuContext};
use crate::Result;

const WGSL: &str = include_str!("../../../shaders/bias.wgsl");

crate::wgsl_struct! {
    /// bias.wgsl's uniforms (its WGSL declaration is generated from these fields).
    pub struct BiasParams {
        pub rows: u32,
        pub cols: u32,
        /// 1: also write the gradient to `grad` (for `gpunn step` and the optimizers).
        pub store_grad: u32,
        /// 1: apply plain SGD, `b −= lr·db` (the step uniform's lr).
        pub update: u32,
    }
}

/// The kernel's source: the generated structs, then shaders/bias.wgsl.
pub fn source() -> String {
    format!(
        "{}{}\n{WGSL}",
        BiasParams::wgsl(),
        super::StepUniform::wgsl()
    )
}

/// The buffers of one bias call site, in binding order.
pub struct BiasBindings<'a> {
    /// [`BiasParams`]
    pub params: &'a wgpu::Buffer,
    /// `[rows][cols]` ∂L/∂z of the layer.
    pub dz: &'a wgpu::Buffer,
    /// In and out: `[cols]`.
    pub bias: &'a wgpu::Buffer,
    /// Out: `[cols]` the gradient, when `store_grad`.
    pub grad: &'a wgpu::Buffer,
    /// [`super::StepUniform`]: the learning rate.
    pub step: &'a wgpu::Buffer,
}

/// The compiled bias kernel.
pub struct BiasKernel(Kernel);

impl BiasKernel {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        use BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
        Kernel::build(ctx, "bias_sgd", &source(), &[U, R, W, W, U], 64).map(BiasKernel)
    }

    pub fn bind(&self, ctx: &GpuContext, b: BiasBindings<'_>) -> Result<wgpu::BindGroup> {
        self.0.bind(ctx, &[b.params, b.dz, b.bias, b.grad, b.step])
    }

    /// One dispatch: a thread per column.
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>, bind: &wgpu::BindGroup, cols: u32) {
        self.0.encode(pass, bind, cols);
    }
}
