//! The metrics kernel (shaders/metrics.wgsl): ends a step, adding the batch's per-sample
//! losses and hits to the running totals in a fixed order, flagging a non-finite loss and
//! advancing the step counter. CPU twin: [`crate::engine::Stats::add_step`].

use super::Kernel;
use crate::gpu::context::{BindingKind, GpuContext};
use crate::Result;

pub(super) const WGSL: &str = include_str!("../../../shaders/metrics.wgsl");

/// metrics.wgsl's `Params`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MetricsParams {
    pub batch: u32,
    /// 1: advance the step counter `state[0]`; 0: leave it.
    pub advance: u32,
    pub _pad: [u32; 2],
}

/// The buffers of one metrics call site, in binding order.
pub struct MetricsBindings<'a> {
    /// [`MetricsParams`]
    pub params: &'a wgpu::Buffer,
    /// `[B][2]` per-sample loss and hit from the loss kernel.
    pub rows: &'a wgpu::Buffer,
    /// In and out: `[0]` step within the run, `[1]` n, `[2]` steps since the last read.
    pub state: &'a wgpu::Buffer,
    /// In and out: `[0]` loss sum (f32 bits), `[1]` its Kahan compensation, `[2]` hits,
    /// `[3]` samples, `[4]` first non-finite step (0 = none), `[5]` steps.
    pub totals: &'a wgpu::Buffer,
    /// In and out: `[0]` nonzero when the optimizer left a NaN or an infinity in this step
    /// (the step counts as non-finite); cleared.
    pub flags: &'a wgpu::Buffer,
}

/// The compiled metrics kernel.
pub struct MetricsKernel(Kernel);

impl MetricsKernel {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        use BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
        Kernel::build(ctx, "metrics", WGSL, &[U, R, W, W, W], 1).map(MetricsKernel)
    }

    pub fn bind(&self, ctx: &GpuContext, b: MetricsBindings<'_>) -> Result<wgpu::BindGroup> {
        self.0
            .bind(ctx, &[b.params, b.rows, b.state, b.totals, b.flags])
    }

    /// One dispatch: a single thread sums the batch in order.
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>, bind: &wgpu::BindGroup) {
        self.0.encode(pass, bind, 1);
    }
}
