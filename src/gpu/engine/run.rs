//! Running the GPU engine: encoding steps into one pass and one submission, the running
//! totals, and the single reported step of `gpunn step`.

use super::{Family, GpuData, GpuEngine};

/// One dispatch (or a group of them) of a step, as [`GpuEngine::step_ops`] lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StepOp {
    Gather,
    Forward(usize),
    Loss,
    /// The optimizer's step count and bias corrections, before fused weight updates.
    Tick,
    InputGrad(usize),
    WeightGrad(usize),
    Bias(usize),
    /// The biases' optimizer updates, when the weights' are fused into their products.
    BiasUpdates,
    /// The optimizer on every stored gradient.
    Optimizer,
    Metrics,
}
use crate::cpu::loss::Targets;
use crate::engine::{Engine, Stats, StepResult};
use crate::gpu::context::GpuContext;
use crate::gpu::kernels::StepUniform;
use crate::{Error, Result};
use std::sync::Arc;

impl GpuEngine {
    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    /// The batch size the buffers were made for.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Sets the learning rate of the next submission's steps: one write of the step uniform.
    pub(super) fn set_lr(&mut self, lr: f32) {
        if lr != self.lr {
            self.lr = lr;
            StepUniform::set_lr(&self.ctx, &self.step, lr);
        }
    }

    /// Encodes one step. `set` is `None` in report mode, where x, targets and classes were
    /// written directly and the report's own loss bind group is used.
    pub(super) fn encode_step(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        set: Option<&GpuData>,
        ops: &[StepOp],
    ) {
        for &op in ops {
            self.encode_op(pass, set, op);
        }
    }

    /// The dispatches of one step, in order; [`super::gang`] interleaves several engines'.
    pub(super) fn step_ops(&self, train: bool) -> Vec<StepOp> {
        let layers = self.layers.len();
        let mut ops = vec![StepOp::Gather];
        ops.extend((0..layers).map(StepOp::Forward));
        ops.push(StepOp::Loss);
        if train {
            let fused = self.fused_optimizer();
            if fused {
                // The step count and bias corrections the fused weight updates read.
                ops.push(StepOp::Tick);
            }
            for l in (0..layers).rev() {
                // The input gradient reads W_l before the SGD product below updates it.
                if self.layers[l].input_grad.is_some() {
                    ops.push(StepOp::InputGrad(l));
                }
                ops.push(StepOp::WeightGrad(l));
                // Layers without bias: the bias and its (zero) gradient are never written.
                if self.params_host.bias {
                    ops.push(StepOp::Bias(l));
                }
            }
            ops.push(if fused {
                StepOp::BiasUpdates
            } else {
                StepOp::Optimizer
            });
        }
        ops.push(StepOp::Metrics);
        ops
    }

    /// Encodes one dispatch (or group of dispatches) of a step.
    pub(super) fn encode_op(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        set: Option<&GpuData>,
        op: StepOp,
    ) {
        let b = self.batch as u32;
        match op {
            StepOp::Gather => {
                if let Some(set) = set {
                    let elems = b * self.params_host.inputs() as u32;
                    self.kernels.gather(set.u8).encode(pass, &set.gather, elems);
                }
            }
            StepOp::Forward(l) => self.mm.encode(pass, &self.layers[l].forward),
            StepOp::Loss => {
                let loss_bind = match set {
                    Some(set) => &set.loss,
                    None => self
                        .report_loss
                        .as_ref()
                        .expect("report mode has its loss bind group"),
                };
                self.kernels.loss.encode(pass, loss_bind, b);
            }
            StepOp::Tick => self.encode_tick(pass),
            StepOp::InputGrad(l) => {
                if let Some(dx) = &self.layers[l].input_grad {
                    self.mm.encode(pass, dx);
                }
            }
            StepOp::WeightGrad(l) => self.mm.encode(pass, self.layers[l].weight_grad()),
            StepOp::Bias(l) => {
                let outputs = self.params_host.layers[l].outputs as u32;
                self.kernels
                    .bias
                    .encode(pass, self.layers[l].bias_grad(), outputs);
            }
            StepOp::BiasUpdates => self.encode_bias_updates(pass),
            StepOp::Optimizer => self.encode_optimizer(pass),
            StepOp::Metrics => self.kernels.metrics.encode(pass, &self.metrics_bind),
        }
    }

    /// The optimizer's kernels after the backward pass on every stored gradient (nothing for
    /// plain SGD): tick, the norms when clipping by the global norm, the updates.
    fn encode_optimizer(&self, pass: &mut wgpu::ComputePass<'_>) {
        if self.opt_tensors().next().is_none() {
            return;
        }
        let o = &self.kernels.optim;
        self.encode_tick(pass);
        if self.optimizer.clip_norm.is_some() {
            o.encode_norms(pass, self.opt_tensors().map(|t| &t.bind));
        }
        o.encode_updates(pass, self.opt_tensors().map(|t| &t.bind));
    }

    /// The optimizer's `tick` (any tensor's bind group: they share the state and the rule).
    fn encode_tick(&self, pass: &mut wgpu::ComputePass<'_>) {
        if let Some(first) = self.opt_tensors().next() {
            self.kernels.optim.encode_tick(pass, &first.bind.0);
        }
    }

    /// The biases' optimizer updates, when the weights' run inside their products.
    fn encode_bias_updates(&self, pass: &mut wgpu::ComputePass<'_>) {
        let biases = self
            .layers
            .iter()
            .flat_map(|l| l.opt.as_ref().map(|[_, b]| &b.bind));
        self.kernels.optim.encode_updates(pass, biases);
    }

    /// Encodes one kernel family of a step, alone (for profiling); returns its FLOPs.
    pub(super) fn encode_family(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        set: &GpuData,
        family: Family,
    ) -> f64 {
        let b = self.batch as u32;
        let mut flops = 0.0;
        match family {
            Family::Gather => {
                let elems = b * self.params_host.inputs() as u32;
                self.kernels.gather(set.u8).encode(pass, &set.gather, elems);
            }
            Family::Forward => {
                for call in self.layers.iter().map(|l| &l.forward) {
                    self.mm.encode(pass, call);
                    flops += call.flops();
                }
            }
            Family::Loss => self.kernels.loss.encode(pass, &set.loss, b),
            Family::InputGrad => {
                for call in self.layers.iter().filter_map(|l| l.input_grad.as_ref()) {
                    self.mm.encode(pass, call);
                    flops += call.flops();
                }
            }
            Family::WeightSgd => {
                for call in self.layers.iter().map(|l| l.weight_grad()) {
                    self.mm.encode(pass, call);
                    flops += call.flops();
                }
            }
            Family::Bias => {
                // Layers without bias never run the bias kernel.
                let used = if self.params_host.bias {
                    self.layers.len()
                } else {
                    0
                };
                for (layer, host) in self.layers.iter().zip(&self.params_host.layers).take(used) {
                    let cols = host.outputs as u32;
                    self.kernels.bias.encode(pass, layer.bias_grad(), cols);
                }
            }
            Family::Optimizer if self.fused_optimizer() => {
                // The weights' updates run inside their products (WeightSgd).
                self.encode_tick(pass);
                self.encode_bias_updates(pass);
            }
            Family::Optimizer => self.encode_optimizer(pass),
            Family::Metrics => self.kernels.metrics.encode(pass, &self.metrics_bind),
        }
        flops
    }

    /// Encodes `steps` steps over `set` in one pass and submits them, keeping at most two
    /// submissions in flight so the host never runs far ahead of the GPU.
    pub(super) fn submit_steps(&mut self, set: &GpuData, steps: usize, train: bool) -> Result<()> {
        let ctx = self.ctx.clone();
        let ops = self.step_ops(train);
        let ((), submission) = ctx.submit_pass("encoding training steps", |pass| {
            for _ in 0..steps {
                self.encode_step(pass, Some(set), &ops);
            }
        })?;
        if let Some(prev) = self.last_submission.replace(submission) {
            ctx.wait_for(prev, "running training steps")?;
        }
        Ok(())
    }

    /// Starts a run over the first `n` entries of a set's order buffer.
    pub(super) fn reset_state(&self, n: usize) {
        self.ctx
            .queue
            .write_buffer(&self.state, 0, bytemuck::cast_slice(&[0u32, n as u32]));
    }

    /// Reads and clears the GPU's running totals (and the step count they cover).
    pub(super) fn read_totals(&mut self) -> Result<Stats> {
        let t = self.ctx.read_u32(&self.totals, 0, 6)?;
        self.ctx.queue.write_buffer(&self.totals, 0, &[0u8; 32]);
        self.ctx.queue.write_buffer(&self.state, 8, &[0u8; 4]);
        self.last_submission = None;
        let loss = f32::from_bits(t[0]);
        let nonfinite_step = (t[4] != 0).then_some(t[4] as u64);
        Ok(Stats {
            loss_sum: if nonfinite_step.is_some() {
                f64::NAN
            } else {
                loss as f64
            },
            correct: t[2] as u64,
            samples: t[3] as u64,
            steps: t[5] as u64,
            nonfinite_step,
        })
    }

    /// One step on a batch given directly (report mode): every gradient is kept and read back.
    pub fn step_report(&mut self, x: &[f32], targets: &Targets, lr: f32) -> Result<StepResult> {
        if !self.report {
            return Err(Error::Gpu(
                "step_report needs an engine made with report = true".into(),
            ));
        }
        let b = self.batch;
        let (inputs, outputs) = (self.params_host.inputs(), self.params_host.outputs());
        if x.len() != b * inputs {
            return Err(Error::shape(
                "step",
                "the input's values",
                [b, inputs],
                [x.len()],
            ));
        }
        let (y, cls): (Vec<f32>, Vec<u32>) = match targets {
            Targets::Values(v) => (v.clone(), vec![0; b]),
            Targets::Classes(c) => (vec![0.0; b * outputs], c.clone()),
        };
        if y.len() != b * outputs {
            return Err(Error::shape("step", "the targets", [b, outputs], [y.len()]));
        }
        if cls.len() != b {
            return Err(Error::shape("step", "the class labels", [b], [cls.len()]));
        }
        self.set_lr(lr);
        let q = &self.ctx.queue;
        q.write_buffer(&self.x, 0, bytemuck::cast_slice(x));
        q.write_buffer(&self.y, 0, bytemuck::cast_slice(&y));
        q.write_buffer(&self.cls, 0, bytemuck::cast_slice(&cls));
        self.reset_state(b);
        let ctx = self.ctx.clone();
        ctx.submit_pass("encoding the step", |pass| {
            self.encode_step(pass, None, &self.step_ops(true));
        })?;
        let stats = self.read_totals()?;
        let read = |buf: &wgpu::Buffer, n: usize| ctx.read_f32(buf, 0, n as u64);
        let output = read(&self.out, b * outputs)?;
        let grad_input = read(&self.grad_in, b * inputs)?;
        let mut grads = Vec::new();
        for (gpu, layer) in self.layers.iter().zip(&self.params_host.layers) {
            grads.push((
                read(&gpu.grad_w, layer.weights.len())?,
                read(&gpu.grad_b, layer.outputs)?,
            ));
        }
        let after = self.params()?;
        Ok(StepResult {
            batch: b,
            loss: (stats.loss_sum / b as f64) as f32,
            output,
            grad_input,
            grads,
            after,
        })
    }
}
