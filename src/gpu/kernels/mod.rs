//! The kernel families, one module each, owning its shader file, its uniform struct and a typed
//! bind function whose named fields follow the shader's `@binding` order:
//!
//! | module | shader | CPU twin |
//! |---|---|---|
//! | [`matmul`] | shaders/matmul.wgsl, matmul_subgroup.wgsl | `cpu::ops`, `cpu::dense` |
//! | [`gather`] | shaders/gather.wgsl | `data::Dataset::gather`, `cpu::loss::Targets` |
//! | [`loss`] | shaders/loss.wgsl | `cpu::loss::loss_and_grad`, `cpu::loss::predict` |
//! | [`bias`] | shaders/bias.wgsl | `cpu::dense::backward` (the bias row sum) and SGD |
//! | [`metrics`] | shaders/metrics.wgsl | `engine::Stats::add_step` |
//! | [`optim`] | shaders/optim.wgsl | `optim::rule` |
//!
//! Each family's kernel-level test against its CPU twin is in `tests/it/gpu_kernels.rs`
//! (matmul: `tests/it/gpu_matmul.rs`; the optimizer: `tests/it/gpu_optim_kernels.rs`).

pub mod bias;
pub mod gather;
pub mod loss;
pub mod matmul;
pub mod metrics;
pub mod optim;

pub use bias::{BiasBindings, BiasKernel, BiasParams};
pub use gather::{GatherBindings, GatherKernel, GatherParams};
pub use loss::{LossBindings, LossKernel, LossParams};
pub use metrics::{MetricsBindings, MetricsKernel, MetricsParams};
pub use optim::{OptimBindings, OptimKernel, OptimParams};

use super::context::{BindingKind, GpuContext};
use crate::Result;
use std::sync::Arc;

crate::wgsl_struct! {
    /// The per-step uniform that every kernel updating parameters reads (the SGD and optimizer
    /// epilogues of the weight products, the bias kernel, the optimizer kernels): the step's
    /// learning rate. One buffer per engine, so that a new rate is one queue write. (The step
    /// count advances on the device between the steps of one submission, so it lives in the
    /// optimizer's state buffer, written by `tick`.)
    pub struct StepUniform {
        pub lr: f32,
        pub _pad0: u32,
        pub _pad1: u32,
        pub _pad2: u32,
    }
}

impl StepUniform {
    /// A uniform buffer holding `lr`.
    pub fn buffer(ctx: &GpuContext, lr: f32) -> Result<wgpu::Buffer> {
        let u = StepUniform {
            lr,
            ..Default::default()
        };
        ctx.uniform_buffer("step uniform", bytemuck::bytes_of(&u))
    }

    /// Sets the rate in `buf` (a queue write: the next submission's dispatches read it).
    pub fn set_lr(ctx: &GpuContext, buf: &wgpu::Buffer, lr: f32) {
        let offset = std::mem::offset_of!(StepUniform, lr) as u64;
        ctx.queue.write_buffer(buf, offset, bytemuck::bytes_of(&lr));
    }
}

/// A compute pipeline with its bind-group layout and workgroup size; the families wrap it with
/// their typed bindings.
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

    /// A bind group binding `buffers` at bindings 0, 1, ... (whole buffers). Private to the
    /// families: each passes its named fields in its shader's order.
    fn bind(&self, ctx: &GpuContext, buffers: &[&wgpu::Buffer]) -> Result<wgpu::BindGroup> {
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

/// Every small kernel of the training step, compiled once per context.
pub struct StepKernels {
    /// Batch gather from a u8 dataset and from an f32 dataset.
    pub gather_u8: GatherKernel,
    pub gather_f32: GatherKernel,
    pub loss: LossKernel,
    pub bias: BiasKernel,
    pub metrics: MetricsKernel,
    pub optim: OptimKernel,
}

impl StepKernels {
    pub fn new(ctx: &Arc<GpuContext>) -> Result<Self> {
        Ok(StepKernels {
            gather_u8: GatherKernel::new(ctx, true)?,
            gather_f32: GatherKernel::new(ctx, false)?,
            loss: LossKernel::new(ctx)?,
            bias: BiasKernel::new(ctx)?,
            metrics: MetricsKernel::new(ctx)?,
            optim: OptimKernel::new(ctx)?,
        })
    }

    /// The gather kernel for a dataset stored as u8 or as f32.
    pub fn gather(&self, u8: bool) -> &GatherKernel {
        if u8 {
            &self.gather_u8
        } else {
            &self.gather_f32
        }
    }
}

/// The step kernels' sources as (file name, WGSL), for `gpunn shaders --dump`.
pub fn sources() -> Vec<(String, String)> {
    vec![
        ("gather_u8.wgsl".into(), gather::source(true)),
        ("gather_f32.wgsl".into(), gather::source(false)),
        ("loss.wgsl".into(), loss::source()),
        ("bias_sgd.wgsl".into(), bias::source()),
        ("metrics.wgsl".into(), metrics::WGSL.into()),
        ("optim.wgsl".into(), optim::source()),
    ]
}
