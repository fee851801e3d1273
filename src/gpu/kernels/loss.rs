//! The loss kernel (shaders/loss.wgsl): the output activation, the loss, its gradient and the
//! prediction, fused, one thread per sample. CPU twin: [`crate::cpu::loss::loss_and_grad`] and
//! [`crate::cpu::loss::predict`].

use super::Kernel;
use crate::gpu::context::{BindingKind, GpuContext};
use crate::Result;

const WGSL: &str = include_str!("../../../shaders/loss.wgsl");

/// The kernel's source: the generated ids and common.wgsl, then shaders/loss.wgsl.
pub fn source() -> String {
    format!("{}\n{WGSL}", crate::gpu::ids::common())
}

/// loss.wgsl's `Params`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LossParams {
    pub batch: u32,
    pub outputs: u32,
    /// [`crate::model::Activation::gpu_id`] of the output layer.
    pub act: u32,
    /// [`crate::model::Loss::gpu_id`].
    pub loss: u32,
    /// 1: write `dz`; 0: evaluation only.
    pub train: u32,
    /// 1: the weighted mean loss, by the row weights in `cls[B..2B]`.
    pub weighted: u32,
    pub _pad: [u32; 2],
}

/// The buffers of one loss call site, in binding order.
pub struct LossBindings<'a> {
    /// [`LossParams`]
    pub params: &'a wgpu::Buffer,
    /// `[B][O]` pre-activations of the output layer.
    pub z: &'a wgpu::Buffer,
    /// `[B][O]` f32 targets (mse, half-mse, bce).
    pub y: &'a wgpu::Buffer,
    /// `[2B]` class ids (ce, and accuracy), then row weights as f32 bits.
    pub cls: &'a wgpu::Buffer,
    /// `[0]` step within the run, `[1]` n (rows past n are masked).
    pub state: &'a wgpu::Buffer,
    /// Out: `[B][O]` output activations.
    pub a: &'a wgpu::Buffer,
    /// Out: `[B][O]` ∂L/∂z for the batch mean over the valid rows.
    pub dz: &'a wgpu::Buffer,
    /// Out: `[B][2]` per-sample loss and hit.
    pub rows: &'a wgpu::Buffer,
    /// Out: `[n]` predicted class at the sample's position in the run.
    pub pred: &'a wgpu::Buffer,
}

/// The compiled loss kernel.
pub struct LossKernel(Kernel);

impl LossKernel {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        use BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
        let kinds = [U, R, R, R, R, W, W, W, W];
        Kernel::build(ctx, "loss", &source(), &kinds, 64).map(LossKernel)
    }

    pub fn bind(&self, ctx: &GpuContext, b: LossBindings<'_>) -> Result<wgpu::BindGroup> {
        let list = [
            b.params, b.z, b.y, b.cls, b.state, b.a, b.dz, b.rows, b.pred,
        ];
        self.0.bind(ctx, &list)
    }

    /// One dispatch: a thread per sample of the batch.
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>, bind: &wgpu::BindGroup, batch: u32) {
        self.0.encode(pass, bind, batch);
    }
}
