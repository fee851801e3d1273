//! The GPU backend: parameters, activations and the dataset stay on the device for the whole
//! run. A run of steps is encoded into one compute pass and one submission; nothing is read
//! back inside a step. Loss and accuracy are summed on the GPU and read back by `take_stats`.
//!
//! One step, for layers `l = 0..L`:
//! ```text
//! gather      x [B][in]        ← dataset[order[step·B + r]]            (+ targets, classes)
//! forward     a_l [B][n_l+1]   ← act(a_{l−1}·W_lᵀ + b_l)                matmul NT, bias+act epilogue
//!             z_L              ← a_{L−1}·W_Lᵀ + b_L                     (the loss applies the output act)
//! loss        a_L, dz_L, loss and hit per sample
//! backward    dz_{l−1}         ← (dz_l·W_l) ⊙ act'(a_{l−1})             matmul NN, act-grad epilogue,
//!                                                                        with W_l before its update
//!             W_l             −= lr · dz_lᵀ·a_{l−1}                     matmul TN, fused SGD epilogue
//!             b_l             −= lr · Σ_rows dz_l                        bias kernel
//! metrics     totals += Σ losses, hits; step += 1
//! ```

mod build;
pub mod gang;
mod layer;
mod optim;
mod run;
mod stream;

use super::context::GpuContext;
use super::kernels::StepKernels;
use super::matmul::{MatmulConfig, MatmulKernels};
use crate::data::Dataset;
use crate::engine::check_fits;
use crate::engine::{Engine, Evaluation, FamilyTime, Stats};
use crate::model::Params;
use crate::optim::{OptimizerConfig, OptimizerState};
use crate::{Error, Result};
use bytemuck::Pod;
use std::sync::Arc;

/// The kernel families of a step, as `gpunn bench` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Gather,
    Forward,
    Loss,
    InputGrad,
    WeightSgd,
    Bias,
    Optimizer,
    Metrics,
}

impl Family {
    const ALL: [Family; 8] = [
        Family::Gather,
        Family::Forward,
        Family::Loss,
        Family::InputGrad,
        Family::WeightSgd,
        Family::Bias,
        Family::Optimizer,
        Family::Metrics,
    ];

    fn name(self) -> &'static str {
        match self {
            Family::Gather => "gather",
            Family::Forward => "matmul forward (bias+act)",
            Family::Loss => "softmax/loss",
            Family::InputGrad => "matmul input grad (act')",
            Family::WeightSgd => "matmul weight grad + SGD",
            Family::Bias => "bias grad + SGD",
            Family::Optimizer => "optimizer",
            Family::Metrics => "metrics",
        }
    }
}

/// A dataset resident on the GPU, with the bind groups that read it.
struct GpuData {
    /// Identifies the host dataset (address and length of its labels).
    key: (usize, usize),
    n: usize,
    /// Features are packed u8 (else f32).
    u8: bool,
    order: wgpu::Buffer,
    preds: wgpu::Buffer,
    gather: wgpu::BindGroup,
    loss: wgpu::BindGroup,
    // Kept alive for the bind groups.
    _data: wgpu::Buffer,
    _labels: wgpu::Buffer,
    _values: wgpu::Buffer,
    _gather_params: wgpu::Buffer,
    /// The weighted loss's params, when the set has sample weights (kept alive with the binding).
    _loss_params: Option<wgpu::Buffer>,
}

/// The parameters, activations and prepared kernel calls of one network at one batch size.
pub struct GpuEngine {
    ctx: Arc<GpuContext>,
    mm: Arc<MatmulKernels>,
    /// The step kernels (gather, loss, bias, metrics, optimizer).
    kernels: Arc<StepKernels>,
    params_host: Params,
    batch: usize,
    report: bool,
    /// Input to output: each layer's parameters, activations, gradients and calls.
    layers: Vec<layer::GpuLayer>,
    /// x `[B][in]`, the gathered batch.
    x: wgpu::Buffer,
    /// `[B][out]` the output layer's activation, from the loss kernel.
    out: wgpu::Buffer,
    y: wgpu::Buffer,
    cls: wgpu::Buffer,
    rows: wgpu::Buffer,
    state: wgpu::Buffer,
    totals: wgpu::Buffer,
    /// dx `[B][in]`, in report mode.
    grad_in: wgpu::Buffer,
    loss_train_params: wgpu::Buffer,
    loss_eval_params: wgpu::Buffer,
    metrics_bind: wgpu::BindGroup,
    /// In report mode, the loss bind group of a step given directly (no dataset).
    report_loss: Option<wgpu::BindGroup>,
    _report_preds: Option<wgpu::Buffer>,
    /// The learning rate in `step`, the per-step uniform every updating kernel reads.
    lr: f32,
    step: wgpu::Buffer,
    /// The optimizer; plain SGD is fused into the weight product and the bias kernel, every
    /// other rule runs `kernels::optim` on materialised gradients.
    optimizer: OptimizerConfig,
    /// `[0]` Σ g² of the step (f32 bits), `[1]` the optimizer's step count.
    opt_state: wgpu::Buffer,
    /// `[0]` nonzero when an update left a NaN or an infinity (read by the metrics kernel).
    opt_flags: wgpu::Buffer,
    /// Bound where a rule keeps no state.
    opt_dummy: wgpu::Buffer,
    /// Whether to fuse the optimizer into the weight products (`None`: by adapter).
    fuse: Option<bool>,
    train_set: Option<GpuData>,
    /// A training set too large for one storage binding, kept on the host ([`stream`]).
    streamed: Option<Dataset>,
    eval_set: Option<GpuData>,
    /// Totals read back early (before an evaluation) and not yet taken.
    pending: Stats,
    last_submission: Option<wgpu::SubmissionIndex>,
}

/// The pipelines of a context, compiled once per context and process and shared by every
/// engine made on it (an LLVM compile on lavapipe takes milliseconds to tens of milliseconds
/// per kernel; `gpunn step` or an evaluation should not pay them again).
fn kernels_for(ctx: &Arc<GpuContext>) -> Result<(Arc<MatmulKernels>, Arc<StepKernels>)> {
    type Cache = Vec<(
        std::sync::Weak<GpuContext>,
        Arc<MatmulKernels>,
        Arc<StepKernels>,
    )>;
    static CACHE: std::sync::Mutex<Cache> = std::sync::Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    // MatmulKernels holds one reference to its context: an entry whose context has no other
    // holder is dropped, so the cache does not keep a context alive on its own.
    cache.retain(|(w, _, _)| w.strong_count() > 1);
    if let Some((_, mm, k)) = cache
        .iter()
        .find(|(w, _, _)| w.as_ptr() == Arc::as_ptr(ctx))
    {
        return Ok((mm.clone(), k.clone()));
    }
    let mm = Arc::new(MatmulKernels::new(ctx, MatmulConfig::for_adapter(ctx))?);
    let k = Arc::new(StepKernels::new(ctx)?);
    cache.push((Arc::downgrade(ctx), mm.clone(), k.clone()));
    Ok((mm, k))
}

fn bytes<T: Pod>(v: &T) -> &[u8] {
    bytemuck::bytes_of(v)
}

impl Engine for GpuEngine {
    fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.ctx.info.name, self.ctx.info.backend, self.ctx.info.device_type
        )
    }

    fn load_train_set(&mut self, data: &Dataset) -> Result<()> {
        check_fits(&self.params_host, data)?;
        self.train_set = None;
        self.streamed = None;
        if self.fits_one_binding(data) {
            self.train_set = Some(self.upload(data, true)?);
        } else {
            self.streamed = Some(data.clone());
        }
        Ok(())
    }

    fn train_steps(&mut self, order: &[u32], batch: usize, lr: f32) -> Result<()> {
        if batch != self.batch {
            return Err(Error::invalid(
                "train.batch_size",
                format!(
                    "the GPU engine was built for batches of {}, not {batch}",
                    self.batch
                ),
            ));
        }
        if let Some(host) = self.streamed.take() {
            self.set_lr(lr);
            let result = match order.iter().all(|&i| (i as usize) < host.len()) {
                true => self.train_streamed(&host, order),
                false => Err(Error::shape(
                    "train_steps",
                    "sample ids below the training set's size",
                    [host.len()],
                    [order.iter().max().map_or(0, |&m| m as usize + 1)],
                )),
            };
            self.streamed = Some(host);
            return result;
        }
        let set = self
            .train_set
            .take()
            .ok_or_else(|| Error::Gpu("train_steps before load_train_set".into()))?;
        if order.len() > set.n {
            self.train_set = Some(set);
            return Err(Error::shape(
                "train_steps",
                "the sample order (at most the training set's size)",
                [self.train_set.as_ref().map_or(0, |s| s.n)],
                [order.len()],
            ));
        }
        self.set_lr(lr);
        self.ctx
            .queue
            .write_buffer(&set.order, 0, bytemuck::cast_slice(order));
        self.reset_state(order.len());
        let result = self.submit_steps(&set, order.len().div_ceil(batch), true);
        self.train_set = Some(set);
        result
    }

    fn take_stats(&mut self) -> Result<Stats> {
        let s = self.read_totals()?;
        let p = std::mem::take(&mut self.pending);
        Ok(p.merge(s))
    }

    fn evaluate(&mut self, data: &Dataset) -> Result<Evaluation> {
        check_fits(&self.params_host, data)?;
        // Keep the training totals apart from the evaluation's.
        let pending = self.read_totals()?;
        self.pending = std::mem::take(&mut self.pending).merge(pending);
        if !self.fits_one_binding(data) {
            return self.evaluate_streamed(data);
        }
        let key = (data.labels.as_ptr() as usize, data.len());
        let set = match self.eval_set.take() {
            Some(s) if s.key == key => s,
            _ => self.upload(data, false)?,
        };
        self.reset_state(set.n);
        let result = self.submit_steps(&set, set.n.div_ceil(self.batch), false);
        let out = result.and_then(|_| {
            let stats = self.read_totals()?;
            let predictions = self.ctx.read_u32(&set.preds, 0, set.n as u64)?;
            Ok(Evaluation {
                loss: stats.mean_loss(),
                accuracy: stats.accuracy(),
                predictions,
            })
        });
        self.eval_set = Some(set);
        out
    }

    fn outputs(&mut self, data: &Dataset) -> Result<Vec<f32>> {
        self.loss_and_outputs(data).map(|(_, o)| o)
    }

    fn loss_and_outputs(&mut self, data: &Dataset) -> Result<(f32, Vec<f32>)> {
        if data.dim != self.params_host.inputs() {
            return check_fits(&self.params_host, data).map(|_| (0.0, Vec::new()));
        }
        // Keep the training totals apart from these forward passes'.
        let pending = self.read_totals()?;
        self.pending = std::mem::take(&mut self.pending).merge(pending);
        if !self.fits_one_binding(data) {
            let (stats, out) = self.outputs_streamed(data)?;
            return Ok((stats.mean_loss(), out));
        }
        let set = self.upload(data, false)?;
        let (b, outputs) = (self.batch, self.params_host.outputs());
        self.reset_state(set.n);
        let mut out = Vec::with_capacity(set.n * outputs);
        // One forward pass per batch, reading the output layer's activations after each: the
        // `out` buffer holds one batch. The passes sum their losses as an evaluation does.
        for start in (0..set.n).step_by(b) {
            self.submit_steps(&set, 1, false)?;
            let rows = b.min(set.n - start);
            out.extend(self.ctx.read_f32(&self.out, 0, (rows * outputs) as u64)?);
        }
        let stats = self.read_totals()?;
        Ok((stats.mean_loss(), out))
    }

    fn set_optimizer(
        &mut self,
        cfg: &OptimizerConfig,
        state: Option<&OptimizerState>,
    ) -> Result<()> {
        self.set_optimizer_state(cfg, state)
    }

    fn optimizer_state(&mut self) -> Result<OptimizerState> {
        self.read_optimizer_state()
    }

    fn params(&mut self) -> Result<Params> {
        let mut p = self.params_host.clone();
        for (l, layer) in p.layers.iter_mut().enumerate() {
            let gpu = &self.layers[l];
            layer.weights = self.ctx.read_f32(&gpu.w, 0, layer.weights.len() as u64)?;
            layer.bias = self.ctx.read_f32(&gpu.b, 0, layer.bias.len() as u64)?;
        }
        Ok(p)
    }

    fn profile(&mut self, steps: usize) -> Result<Vec<FamilyTime>> {
        let set = self
            .train_set
            .take()
            .ok_or_else(|| Error::Gpu("profile before load_train_set".into()))?;
        let saved = self.params();
        let ctx = self.ctx.clone();
        let mut out = Vec::new();
        let mut run = || -> Result<()> {
            ctx.wait_idle()?;
            for family in Family::ALL {
                self.reset_state(set.n);
                let start = std::time::Instant::now();
                let (flops, _) = ctx.submit_pass("profiling kernels", |pass| {
                    (0..steps)
                        .map(|_| self.encode_family(pass, &set, family))
                        .sum::<f64>()
                })?;
                ctx.wait_idle()?;
                out.push(FamilyTime {
                    name: family.name().to_string(),
                    seconds: start.elapsed().as_secs_f64(),
                    flops,
                });
            }
            Ok(())
        };
        let result = run();
        self.train_set = Some(set);
        // The families ran out of order (SGD alone, metrics alone): restore what they changed.
        self.read_totals()?;
        self.set_params(&saved?)?;
        result.map(|_| out)
    }

    fn set_params(&mut self, params: &Params) -> Result<()> {
        if params.spec() != self.params_host.spec() {
            return Err(Error::shape(
                "set_params",
                "the parameters' layer sizes",
                self.params_host.spec().sizes.as_slice(),
                params.spec().sizes.as_slice(),
            ));
        }
        let q = &self.ctx.queue;
        for (gpu, layer) in self.layers.iter().zip(&params.layers) {
            q.write_buffer(&gpu.w, 0, bytemuck::cast_slice(&layer.weights));
            q.write_buffer(&gpu.b, 0, bytemuck::cast_slice(&layer.bias));
        }
        Ok(())
    }
}
