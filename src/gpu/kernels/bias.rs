//! The bias kernel (shaders/bias.wgsl): `db[j] = Σ_r dz[r][j]` in row order and the SGD update
//! `b −= lr·db`, fused. CPU twin: the bias gradient of [`crate::cpu::dense::backward`].

use super::Kernel;
use crate::gpu::context::{BindingKind, GpuContext};
use crate::Result;

pub(super) const WGSL: &str = include_str!("../../../shaders/bias.wgsl");

/// bias.wgsl's `Params`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BiasParams {
    pub rows: u32,
    pub cols: u32,
    /// 1: also write the gradient to `grad` (for `gpunn step`).
    pub store_grad: u32,
    pub _pad: u32,
    pub lr: f32,
    pub _pad1: [u32; 3],
}

/// Byte offset of `lr` in [`BiasParams`], for changing the rate with a queue write.
pub const LR_OFFSET: u64 = std::mem::offset_of!(BiasParams, lr) as u64;

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
}

/// The compiled bias kernel.
pub struct BiasKernel(Kernel);

impl BiasKernel {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        use BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
        Kernel::build(ctx, "bias_sgd", WGSL, &[U, R, W, W], 64).map(BiasKernel)
    }

    pub fn bind(&self, ctx: &GpuContext, b: BiasBindings<'_>) -> Result<wgpu::BindGroup> {
        self.0.bind(ctx, &[b.params, b.dz, b.bias, b.grad])
    }

    /// One dispatch: a thread per column.
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>, bind: &wgpu::BindGroup, cols: u32) {
        self.0.encode(pass, bind, cols);
    }
}
