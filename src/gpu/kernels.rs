//! The small kernels of a training step, one struct per shader: pipeline plus explicit
//! bind-group layout, built once per context. The matmul family lives in [`super::matmul`].

use super::context::{BindingKind, GpuContext};
use crate::Result;
use std::sync::Arc;

const GATHER_WGSL: &str = include_str!("../../shaders/gather.wgsl");
const LOSS_WGSL: &str = include_str!("../../shaders/loss.wgsl");
const BIAS_WGSL: &str = include_str!("../../shaders/bias.wgsl");
const METRICS_WGSL: &str = include_str!("../../shaders/metrics.wgsl");

/// A compute pipeline with its bind-group layout and workgroup size.
pub struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    /// Invocations per workgroup along x.
    pub workgroup: u32,
    pub label: &'static str,
}

impl Kernel {
    fn build(
        ctx: &GpuContext,
        label: &'static str,
        source: &str,
        kinds: &[BindingKind],
        workgroup: u32,
    ) -> Result<Kernel> {
        let module = ctx.load_shader(label, source)?;
        let layout = ctx.bind_group_layout(label, kinds);
        let pipeline = ctx.compute_pipeline(label, &module, "main", &layout)?;
        Ok(Kernel {
            pipeline,
            layout,
            workgroup,
            label,
        })
    }

    /// A bind group binding `buffers` in order (whole buffers).
    pub fn bind(&self, ctx: &GpuContext, buffers: &[&wgpu::Buffer]) -> Result<wgpu::BindGroup> {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        ctx.scoped(&format!("binding buffers for '{}'", self.label), || {
            ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(self.label),
                layout: &self.layout,
                entries: &entries,
            })
        })
    }

    /// Encodes one dispatch covering `threads` invocations along x.
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>, bind: &wgpu::BindGroup, threads: u32) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, bind, &[]);
        pass.dispatch_workgroups(threads.div_ceil(self.workgroup).max(1), 1, 1);
    }
}

/// Every small kernel of the training step.
pub struct StepKernels {
    /// Batch gather from a u8 dataset and from an f32 dataset.
    pub gather_u8: Kernel,
    pub gather_f32: Kernel,
    pub loss: Kernel,
    pub bias: Kernel,
    pub metrics: Kernel,
}

impl StepKernels {
    pub fn new(ctx: &Arc<GpuContext>) -> Result<Self> {
        use BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
        let gather = |u8: bool| {
            let label = if u8 { "gather_u8" } else { "gather_f32" };
            Kernel::build(
                ctx,
                label,
                &gather_source(u8),
                &[U, R, R, R, R, W, W, W],
                256,
            )
        };
        Ok(StepKernels {
            gather_u8: gather(true)?,
            gather_f32: gather(false)?,
            loss: Kernel::build(
                ctx,
                "loss",
                &loss_source(),
                &[U, R, R, R, R, W, W, W, W],
                64,
            )?,
            bias: Kernel::build(ctx, "bias_sgd", BIAS_WGSL, &[U, R, W, W], 64)?,
            metrics: Kernel::build(ctx, "metrics", METRICS_WGSL, &[U, R, W, W], 1)?,
        })
    }
}

/// The gather kernel for a u8 or an f32 dataset.
fn gather_source(u8: bool) -> String {
    format!("const DATA_U8: bool = {u8};\n{GATHER_WGSL}")
}

/// The loss kernel: the generated ids and common.wgsl, then shaders/loss.wgsl.
fn loss_source() -> String {
    format!("{}\n{LOSS_WGSL}", super::shaders::common())
}

/// The step kernels' sources as (file name, WGSL), for `gpunn shaders --dump`.
pub fn sources() -> Vec<(String, String)> {
    vec![
        ("gather_u8.wgsl".into(), gather_source(true)),
        ("gather_f32.wgsl".into(), gather_source(false)),
        ("loss.wgsl".into(), loss_source()),
        ("bias_sgd.wgsl".into(), BIAS_WGSL.into()),
        ("metrics.wgsl".into(), METRICS_WGSL.into()),
    ]
}
