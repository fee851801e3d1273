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

use super::context::GpuContext;
use super::kernels::StepKernels;
use super::matmul::{Epilogue, MatmulCall, MatmulConfig, MatmulKernels, MatmulSpec, Trans};
use crate::cpu::engine::check_fits;
use crate::cpu::loss::Targets;
use crate::data::{Dataset, Features};
use crate::engine::{Engine, Evaluation, FamilyTime, Stats};
use crate::model::{Activation, Params};
use crate::step::StepResult;
use crate::{Error, Result};
use bytemuck::{Pod, Zeroable};
use std::sync::Arc;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct GatherParams {
    dim: u32,
    batch: u32,
    outputs: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct LossParams {
    batch: u32,
    outputs: u32,
    act: u32,
    loss: u32,
    train: u32,
    _pad: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct BiasParams {
    rows: u32,
    cols: u32,
    store_grad: u32,
    _pad: u32,
    lr: f32,
    _pad1: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct MetricsParams {
    batch: u32,
    advance: u32,
    _pad: [u32; 2],
}

/// The kernel families of a step, as `gpunn bench` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Gather,
    Forward,
    Loss,
    InputGrad,
    WeightSgd,
    Bias,
    Metrics,
}

impl Family {
    const ALL: [Family; 7] = [
        Family::Gather,
        Family::Forward,
        Family::Loss,
        Family::InputGrad,
        Family::WeightSgd,
        Family::Bias,
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
}

/// The parameters, activations and prepared kernel calls of one network at one batch size.
pub struct GpuEngine {
    ctx: Arc<GpuContext>,
    mm: Arc<MatmulKernels>,
    k: Arc<StepKernels>,
    params_host: Params,
    batch: usize,
    report: bool,
    weights: Vec<wgpu::Buffer>,
    biases: Vec<wgpu::Buffer>,
    x: wgpu::Buffer,
    /// `acts[l]`: output of layer l; the last one holds the output layer's z.
    acts: Vec<wgpu::Buffer>,
    out: wgpu::Buffer,
    y: wgpu::Buffer,
    cls: wgpu::Buffer,
    dz: Vec<wgpu::Buffer>,
    rows: wgpu::Buffer,
    state: wgpu::Buffer,
    totals: wgpu::Buffer,
    grad_w: Vec<wgpu::Buffer>,
    grad_b: Vec<wgpu::Buffer>,
    grad_in: wgpu::Buffer,
    forward: Vec<MatmulCall>,
    /// Per layer: the input-gradient product (layer 0 only in report mode).
    back_dx: Vec<Option<MatmulCall>>,
    back_dw: Vec<MatmulCall>,
    bias_bind: Vec<(wgpu::BindGroup, wgpu::Buffer)>,
    loss_train_params: wgpu::Buffer,
    loss_eval_params: wgpu::Buffer,
    metrics_bind: wgpu::BindGroup,
    gather_params: wgpu::Buffer,
    /// In report mode, the loss bind group of a step given directly (no dataset).
    report_loss: Option<wgpu::BindGroup>,
    _report_preds: Option<wgpu::Buffer>,
    lr: f32,
    train_set: Option<GpuData>,
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

impl GpuEngine {
    /// Uploads `params` and prepares every call for batches of `batch` samples. With `report`,
    /// the step also keeps every gradient (for `gpunn step`).
    pub fn new(ctx: Arc<GpuContext>, params: &Params, batch: usize, report: bool) -> Result<Self> {
        params.spec().validate()?;
        if batch == 0 {
            return Err(Error::invalid("train.batch_size", "must be at least 1"));
        }
        let (mm, k) = kernels_for(&ctx)?;
        let depth = params.layers.len();
        let b = batch;
        let f32s = |label: &str, n: usize| ctx.storage_buffer_zeroed(label, (n.max(1) * 4) as u64);
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        let mut acts = Vec::new();
        let mut dz = Vec::new();
        let mut grad_w = Vec::new();
        let mut grad_b = Vec::new();
        for (l, layer) in params.layers.iter().enumerate() {
            weights.push(ctx.storage_buffer_f32(&format!("W{}", l + 1), &layer.weights)?);
            biases.push(ctx.storage_buffer_f32(&format!("b{}", l + 1), &layer.bias)?);
            acts.push(f32s(&format!("a{}", l + 1), b * layer.outputs)?);
            dz.push(f32s(&format!("dz{}", l + 1), b * layer.outputs)?);
            let gn = if report { layer.weights.len() } else { 1 };
            grad_w.push(f32s(&format!("dW{}", l + 1), gn)?);
            grad_b.push(f32s(
                &format!("db{}", l + 1),
                if report { layer.outputs } else { 1 },
            )?);
        }
        let inputs = params.inputs();
        let outputs = params.outputs();
        let x = f32s("x", b * inputs)?;
        let out = f32s("output", b * outputs)?;
        let y = f32s("targets", b * outputs)?;
        let cls = f32s("classes", b)?;
        let rows = f32s("per-sample loss", 2 * b)?;
        let state = f32s("step state", 4)?;
        let totals = f32s("totals", 8)?;
        let grad_in = f32s("dx", if report { b * inputs } else { 1 })?;

        let mut forward = Vec::new();
        let mut back_dx = Vec::new();
        let mut back_dw = Vec::new();
        let mut bias_bind = Vec::new();
        let lr = 0.0f32;
        for (l, layer) in params.layers.iter().enumerate() {
            let input = if l == 0 { &x } else { &acts[l - 1] };
            let last = l + 1 == depth;
            // forward: a_l [B][out] = act(input [B][in] · W [out][in]ᵀ + b)
            forward.push(mm.prepare(MatmulSpec {
                trans: Trans::NT,
                epilogue: Epilogue::BiasAct,
                act: if last {
                    Activation::Identity
                } else {
                    layer.activation
                },
                m: b as u32,
                k: layer.inputs as u32,
                n: layer.outputs as u32,
                lr,
                a: input,
                b: &weights[l],
                out: &acts[l],
                extra: Some(&biases[l]),
            })?);
            // input gradient: dz_{l-1} [B][in] = (dz_l [B][out] · W [out][in]) ⊙ act'(a_{l-1})
            back_dx.push(if l > 0 {
                Some(mm.prepare(MatmulSpec {
                    trans: Trans::NN,
                    epilogue: Epilogue::ActGrad,
                    act: params.layers[l - 1].activation,
                    m: b as u32,
                    k: layer.outputs as u32,
                    n: layer.inputs as u32,
                    lr,
                    a: &dz[l],
                    b: &weights[l],
                    out: &dz[l - 1],
                    extra: Some(&acts[l - 1]),
                })?)
            } else if report {
                Some(mm.prepare(MatmulSpec {
                    trans: Trans::NN,
                    epilogue: Epilogue::Store,
                    act: Activation::Identity,
                    m: b as u32,
                    k: layer.outputs as u32,
                    n: layer.inputs as u32,
                    lr,
                    a: &dz[0],
                    b: &weights[0],
                    out: &grad_in,
                    extra: None,
                })?)
            } else {
                None
            });
            // weights: W [out][in] -= lr · dz_l [B][out]ᵀ · input [B][in]
            back_dw.push(mm.prepare(MatmulSpec {
                trans: Trans::TN,
                epilogue: Epilogue::Sgd { store_grad: report },
                act: Activation::Identity,
                m: layer.outputs as u32,
                k: b as u32,
                n: layer.inputs as u32,
                lr,
                a: &dz[l],
                b: input,
                out: &weights[l],
                extra: if report { Some(&grad_w[l]) } else { None },
            })?);
            let bp = ctx.uniform_buffer(
                "bias params",
                bytes(&BiasParams {
                    rows: b as u32,
                    cols: layer.outputs as u32,
                    store_grad: report as u32,
                    _pad: 0,
                    lr,
                    _pad1: [0; 3],
                }),
            )?;
            let bg = k.bias.bind(&ctx, &[&bp, &dz[l], &biases[l], &grad_b[l]])?;
            bias_bind.push((bg, bp));
        }
        let loss_params = |train: bool| {
            ctx.uniform_buffer(
                "loss params",
                bytes(&LossParams {
                    batch: b as u32,
                    outputs: outputs as u32,
                    act: params.layers[depth - 1].activation.gpu_id(),
                    loss: params.loss.gpu_id(),
                    train: train as u32,
                    _pad: [0; 3],
                }),
            )
        };
        let loss_train_params = loss_params(true)?;
        let loss_eval_params = loss_params(false)?;
        let metrics_params = ctx.uniform_buffer(
            "metrics params",
            bytes(&MetricsParams {
                batch: b as u32,
                advance: 1,
                _pad: [0; 2],
            }),
        )?;
        let metrics_bind = k
            .metrics
            .bind(&ctx, &[&metrics_params, &rows, &state, &totals])?;
        let gather_params = ctx.uniform_buffer(
            "gather params",
            bytes(&GatherParams {
                dim: inputs as u32,
                batch: b as u32,
                outputs: outputs as u32,
                _pad: 0,
            }),
        )?;
        let (report_loss, report_preds) = if report {
            let preds = f32s("step predictions", b)?;
            let bind = k.loss.bind(
                &ctx,
                &[
                    &loss_train_params,
                    &acts[depth - 1],
                    &y,
                    &cls,
                    &state,
                    &out,
                    &dz[depth - 1],
                    &rows,
                    &preds,
                ],
            )?;
            (Some(bind), Some(preds))
        } else {
            (None, None)
        };
        Ok(GpuEngine {
            report_loss,
            _report_preds: report_preds,
            ctx,
            mm,
            k,
            params_host: params.clone(),
            batch,
            report,
            weights,
            biases,
            x,
            acts,
            out,
            y,
            cls,
            dz,
            rows,
            state,
            totals,
            grad_w,
            grad_b,
            grad_in,
            forward,
            back_dx,
            back_dw,
            bias_bind,
            loss_train_params,
            loss_eval_params,
            metrics_bind,
            gather_params,
            lr,
            train_set: None,
            eval_set: None,
            pending: Stats::default(),
            last_submission: None,
        })
    }

    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    /// The batch size the buffers were made for.
    pub fn batch(&self) -> usize {
        self.batch
    }

    fn set_lr(&mut self, lr: f32) {
        if lr == self.lr {
            return;
        }
        self.lr = lr;
        for call in &self.back_dw {
            self.mm.set_lr(call, lr);
        }
        for (_, p) in &self.bias_bind {
            self.ctx.queue.write_buffer(p, 16, bytemuck::bytes_of(&lr));
        }
    }

    /// Uploads a dataset: features as packed u8 (or f32), labels, an order buffer of its size
    /// (identity for evaluation) and a prediction buffer; binds them for gather and loss.
    fn upload(&self, data: &Dataset, train: bool) -> Result<GpuData> {
        let ctx = &self.ctx;
        let n = data.len();
        let (words, u8s): (Vec<u32>, bool) = match &data.features {
            Features::U8(v) => {
                let mut w = vec![0u32; v.len().div_ceil(4)];
                bytemuck::cast_slice_mut::<u32, u8>(&mut w)[..v.len()].copy_from_slice(v);
                (w, true)
            }
            Features::F32(v) => (v.iter().map(|f| f.to_bits()).collect(), false),
        };
        let what = format!("dataset {}", data.name);
        let as_f32 = |w: &[u32]| -> Vec<f32> { w.iter().map(|&u| f32::from_bits(u)).collect() };
        let data_buf = ctx.storage_buffer_f32(&what, &as_f32(&words))?;
        let labels = ctx.storage_buffer_f32(&format!("{what} labels"), &as_f32(&data.labels))?;
        let identity: Vec<u32> = (0..n as u32).collect();
        let order = ctx.storage_buffer_f32(&format!("{what} order"), &as_f32(&identity))?;
        let preds =
            ctx.storage_buffer_zeroed(&format!("{what} predictions"), (n.max(1) * 4) as u64)?;
        let gather_kernel = if u8s {
            &self.k.gather_u8
        } else {
            &self.k.gather_f32
        };
        let gather = gather_kernel.bind(
            ctx,
            &[
                &self.gather_params,
                &data_buf,
                &labels,
                &order,
                &self.state,
                &self.x,
                &self.y,
                &self.cls,
            ],
        )?;
        let loss_params = if train {
            &self.loss_train_params
        } else {
            &self.loss_eval_params
        };
        let last = self.acts.last().expect("layers");
        let loss = self.k.loss.bind(
            ctx,
            &[
                loss_params,
                last,
                &self.y,
                &self.cls,
                &self.state,
                &self.out,
                self.dz.last().expect("layers"),
                &self.rows,
                &preds,
            ],
        )?;
        Ok(GpuData {
            key: (data.labels.as_ptr() as usize, n),
            n,
            u8: u8s,
            order,
            preds,
            gather,
            loss,
            _data: data_buf,
            _labels: labels,
        })
    }

    /// Encodes one step. `set` is `None` in report mode, where x, targets and classes were
    /// written directly and the report's own loss bind group is used.
    fn encode_step(&self, pass: &mut wgpu::ComputePass<'_>, set: Option<&GpuData>, train: bool) {
        let b = self.batch as u32;
        let loss_bind = match set {
            Some(set) => {
                let gather = if set.u8 {
                    &self.k.gather_u8
                } else {
                    &self.k.gather_f32
                };
                gather.encode(pass, &set.gather, b * self.params_host.inputs() as u32);
                &set.loss
            }
            None => self
                .report_loss
                .as_ref()
                .expect("report mode has its loss bind group"),
        };
        for call in &self.forward {
            self.mm.encode(pass, call);
        }
        self.k.loss.encode(pass, loss_bind, b);
        if train {
            for l in (0..self.forward.len()).rev() {
                // The input gradient reads W_l before the SGD product below updates it.
                if let Some(dx) = &self.back_dx[l] {
                    self.mm.encode(pass, dx);
                }
                self.mm.encode(pass, &self.back_dw[l]);
                let outputs = self.params_host.layers[l].outputs as u32;
                self.k.bias.encode(pass, &self.bias_bind[l].0, outputs);
            }
        }
        self.k.metrics.encode(pass, &self.metrics_bind, 1);
    }

    /// Encodes one kernel family of a step, alone (for profiling); returns its FLOPs.
    fn encode_family(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        set: &GpuData,
        family: Family,
    ) -> f64 {
        let b = self.batch as u32;
        let mut flops = 0.0;
        match family {
            Family::Gather => {
                let gather = if set.u8 {
                    &self.k.gather_u8
                } else {
                    &self.k.gather_f32
                };
                gather.encode(pass, &set.gather, b * self.params_host.inputs() as u32);
            }
            Family::Forward => {
                for call in &self.forward {
                    self.mm.encode(pass, call);
                    flops += call.flops();
                }
            }
            Family::Loss => self.k.loss.encode(pass, &set.loss, b),
            Family::InputGrad => {
                for call in self.back_dx.iter().flatten() {
                    self.mm.encode(pass, call);
                    flops += call.flops();
                }
            }
            Family::WeightSgd => {
                for call in &self.back_dw {
                    self.mm.encode(pass, call);
                    flops += call.flops();
                }
            }
            Family::Bias => {
                for (l, (bind, _)) in self.bias_bind.iter().enumerate() {
                    self.k
                        .bias
                        .encode(pass, bind, self.params_host.layers[l].outputs as u32);
                }
            }
            Family::Metrics => self.k.metrics.encode(pass, &self.metrics_bind, 1),
        }
        flops
    }

    /// Encodes `steps` steps over `set` in one pass and submits them, keeping at most two
    /// submissions in flight so the host never runs far ahead of the GPU.
    fn submit_steps(&mut self, set: &GpuData, steps: usize, train: bool) -> Result<()> {
        let ctx = self.ctx.clone();
        let submission = ctx.scoped("encoding training steps", || {
            let mut enc = ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("gpunn steps"),
                });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("gpunn steps"),
                    timestamp_writes: None,
                });
                for _ in 0..steps {
                    self.encode_step(&mut pass, Some(set), train);
                }
            }
            ctx.queue.submit([enc.finish()])
        })?;
        if let Some(prev) = self.last_submission.replace(submission) {
            ctx.wait_for(prev, "running training steps")?;
        }
        Ok(())
    }

    /// Starts a run over the first `n` entries of a set's order buffer.
    fn reset_state(&self, n: usize) {
        self.ctx
            .queue
            .write_buffer(&self.state, 0, bytemuck::cast_slice(&[0u32, n as u32]));
    }

    /// Reads and clears the GPU's running totals (and the step count they cover).
    fn read_totals(&mut self) -> Result<Stats> {
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
            return Err(Error::Shape {
                op: "step",
                msg: format!("input has {} values, expected {b}×{inputs}", x.len()),
            });
        }
        let (y, cls): (Vec<f32>, Vec<u32>) = match targets {
            Targets::Values(v) => (v.clone(), vec![0; b]),
            Targets::Classes(c) => (vec![0.0; b * outputs], c.clone()),
        };
        if y.len() != b * outputs || cls.len() != b {
            return Err(Error::Shape {
                op: "step",
                msg: format!("targets do not match a batch of {b}"),
            });
        }
        self.set_lr(lr);
        let q = &self.ctx.queue;
        q.write_buffer(&self.x, 0, bytemuck::cast_slice(x));
        q.write_buffer(&self.y, 0, bytemuck::cast_slice(&y));
        q.write_buffer(&self.cls, 0, bytemuck::cast_slice(&cls));
        self.reset_state(b);
        let ctx = self.ctx.clone();
        ctx.scoped("encoding the step", || {
            let mut enc = ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("gpunn step"),
                });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("gpunn step"),
                    timestamp_writes: None,
                });
                self.encode_step(&mut pass, None, true);
            }
            ctx.queue.submit([enc.finish()]);
        })?;
        let stats = self.read_totals()?;
        let read = |buf: &wgpu::Buffer, n: usize| ctx.read_f32(buf, 0, n as u64);
        let output = read(&self.out, b * outputs)?;
        let grad_input = read(&self.grad_in, b * inputs)?;
        let mut grads = Vec::new();
        for (l, layer) in self.params_host.layers.iter().enumerate() {
            grads.push((
                read(&self.grad_w[l], layer.weights.len())?,
                read(&self.grad_b[l], layer.outputs)?,
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

impl Engine for GpuEngine {
    fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.ctx.info.name, self.ctx.info.backend, self.ctx.info.device_type
        )
    }

    fn load_train_set(&mut self, data: &Dataset) -> Result<()> {
        check_fits(&self.params_host, data)?;
        self.train_set = Some(self.upload(data, true)?);
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
        let set = self
            .train_set
            .take()
            .ok_or_else(|| Error::Gpu("train_steps before load_train_set".into()))?;
        if order.len() > set.n {
            self.train_set = Some(set);
            return Err(Error::Shape {
                op: "train_steps",
                msg: format!(
                    "{} indices for a set of {}",
                    order.len(),
                    self.train_set.as_ref().map_or(0, |s| s.n)
                ),
            });
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
        if data.dim != self.params_host.inputs() {
            return check_fits(&self.params_host, data).map(|_| Vec::new());
        }
        // Keep the training totals apart from these forward passes'.
        let pending = self.read_totals()?;
        self.pending = std::mem::take(&mut self.pending).merge(pending);
        let set = self.upload(data, false)?;
        let (b, outputs) = (self.batch, self.params_host.outputs());
        self.reset_state(set.n);
        let mut out = Vec::with_capacity(set.n * outputs);
        // One forward pass per batch, reading the output layer's activations after each: the
        // `out` buffer holds one batch.
        for start in (0..set.n).step_by(b) {
            self.submit_steps(&set, 1, false)?;
            let rows = b.min(set.n - start);
            out.extend(self.ctx.read_f32(&self.out, 0, (rows * outputs) as u64)?);
        }
        self.read_totals()?;
        Ok(out)
    }

    fn params(&mut self) -> Result<Params> {
        let mut p = self.params_host.clone();
        for (l, layer) in p.layers.iter_mut().enumerate() {
            layer.weights = self
                .ctx
                .read_f32(&self.weights[l], 0, layer.weights.len() as u64)?;
            layer.bias = self
                .ctx
                .read_f32(&self.biases[l], 0, layer.bias.len() as u64)?;
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
                let flops = ctx.scoped("profiling kernels", || {
                    let mut enc = ctx.device.create_command_encoder(&Default::default());
                    let mut flops = 0.0;
                    {
                        let mut pass = enc.begin_compute_pass(&Default::default());
                        for _ in 0..steps {
                            flops += self.encode_family(&mut pass, &set, family);
                        }
                    }
                    ctx.queue.submit([enc.finish()]);
                    flops
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
            return Err(Error::Shape {
                op: "set_params",
                msg: "the parameters are for another network".into(),
            });
        }
        for (l, layer) in params.layers.iter().enumerate() {
            self.ctx
                .queue
                .write_buffer(&self.weights[l], 0, bytemuck::cast_slice(&layer.weights));
            self.ctx
                .queue
                .write_buffer(&self.biases[l], 0, bytemuck::cast_slice(&layer.bias));
        }
        Ok(())
    }
}
