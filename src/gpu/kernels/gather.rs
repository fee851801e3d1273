//! The gather kernel (shaders/gather.wgsl): one batch `x [B][dim]`, its targets `y [B][O]` and
//! classes `cls [B]`, built on the GPU from the resident dataset and the run's sample order.
//! CPU twin: [`crate::data::Dataset::gather`] and [`crate::cpu::loss::Targets::from_labels`].

use super::Kernel;
use crate::gpu::context::{BindingKind, GpuContext};
use crate::Result;

const WGSL: &str = include_str!("../../../shaders/gather.wgsl");

/// `GatherParams::target`: the class (one-hot, or the label with one output), a row of values,
/// or the input itself.
pub const TARGET_CLASSES: u32 = 0;
pub const TARGET_VALUES: u32 = 1;
pub const TARGET_INPUT: u32 = 2;

/// The kernel's source: `DATA_U8` (pixels packed 4 per u32) or f32 bits, and the target ids.
pub fn source(u8: bool) -> String {
    format!(
        "const DATA_U8: bool = {u8};\n\
         const TARGET_CLASSES: u32 = {TARGET_CLASSES}u;\n\
         const TARGET_VALUES: u32 = {TARGET_VALUES}u;\n\
         const TARGET_INPUT: u32 = {TARGET_INPUT}u;\n{WGSL}"
    )
}

/// The `target` id of a dataset's targets.
pub fn target_id(t: &crate::data::Target) -> u32 {
    match t {
        crate::data::Target::Classes => TARGET_CLASSES,
        crate::data::Target::Values { .. } => TARGET_VALUES,
        crate::data::Target::Input => TARGET_INPUT,
    }
}

/// gather.wgsl's `Params`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GatherParams {
    pub dim: u32,
    pub batch: u32,
    pub outputs: u32,
    /// `TARGET_CLASSES`, `TARGET_VALUES` or `TARGET_INPUT`.
    pub target: u32,
    /// 1: `labels` holds the samples' weights after their labels (f32 bits).
    pub weighted: u32,
    /// Samples in the dataset (where the weights start in `labels`).
    pub n_total: u32,
    pub _pad: [u32; 2],
}

/// The buffers of one gather call site, in binding order.
pub struct GatherBindings<'a> {
    /// [`GatherParams`]
    pub params: &'a wgpu::Buffer,
    /// `[n_total][dim]`, u8 packed 4 per word or f32 bits.
    pub data: &'a wgpu::Buffer,
    /// `[n_total]` class ids, then (weighted) `[n_total]` sample weights as f32 bits.
    pub labels: &'a wgpu::Buffer,
    /// `[n]` sample ids of this run of steps.
    pub order: &'a wgpu::Buffer,
    /// `[0]` step within the run, `[1]` n.
    pub state: &'a wgpu::Buffer,
    /// Out: `[B][dim]`.
    pub x: &'a wgpu::Buffer,
    /// Out: `[B][O]` targets.
    pub y: &'a wgpu::Buffer,
    /// Out: `[2B]`: class ids, then each row's weight as f32 bits (1.0 unweighted, 0.0 past
    /// the end of the run).
    pub cls: &'a wgpu::Buffer,
    /// `[n_total][O]` target values (or a dummy).
    pub values: &'a wgpu::Buffer,
}

/// The compiled gather kernel, for one storage type.
pub struct GatherKernel(Kernel);

impl GatherKernel {
    pub fn new(ctx: &GpuContext, u8: bool) -> Result<Self> {
        use BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
        let label = if u8 { "gather_u8" } else { "gather_f32" };
        let kinds = [U, R, R, R, R, W, W, W, R];
        Kernel::build(ctx, label, &source(u8), &kinds, 256).map(GatherKernel)
    }

    pub fn bind(&self, ctx: &GpuContext, b: GatherBindings<'_>) -> Result<wgpu::BindGroup> {
        let list = [
            b.params, b.data, b.labels, b.order, b.state, b.x, b.y, b.cls, b.values,
        ];
        self.0.bind(ctx, &list)
    }

    /// One dispatch: a thread per element of `x` (`B·dim`).
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>, bind: &wgpu::BindGroup, elems: u32) {
        self.0.encode(pass, bind, elems);
    }
}
