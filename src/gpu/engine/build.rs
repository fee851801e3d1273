//! Building the GPU engine: buffers for the parameters and a batch's activations, every
//! matmul call site prepared and every bind group made once; uploading a dataset.

use super::layer::GpuLayer;
use super::{bytes, kernels_for, GpuData, GpuEngine};
use crate::data::{Dataset, Features, Target};
use crate::engine::Stats;
use crate::gpu::context::GpuContext;
use crate::gpu::kernels::{
    gather, GatherBindings, GatherParams, LossBindings, LossParams, MetricsBindings, MetricsParams,
    StepUniform,
};
use crate::gpu::matmul::{Epilogue, MatmulSpec, Trans};
use crate::model::{Activation, Params};
use crate::optim::OptimizerConfig;
use crate::{Error, Result};
use std::sync::Arc;

impl GpuEngine {
    /// Uploads `params` and prepares every call for batches of `batch` samples. With `report`,
    /// the step also keeps every gradient (for `gpunn step`).
    pub fn new(ctx: Arc<GpuContext>, params: &Params, batch: usize, report: bool) -> Result<Self> {
        params.spec().validate()?;
        if batch == 0 {
            return Err(Error::invalid("train.batch_size", "must be at least 1"));
        }
        let (mm, kernels) = kernels_for(&ctx)?;
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
            // Parameters and gradients are padded with zeros to whole vec4s, which the
            // optimizer kernel reads; every other kernel touches only the leading elements.
            weights.push(ctx.storage_buffer_f32(&format!("W{}", l + 1), &padded(&layer.weights))?);
            biases.push(ctx.storage_buffer_f32(&format!("b{}", l + 1), &padded(&layer.bias))?);
            acts.push(f32s(&format!("a{}", l + 1), b * layer.outputs)?);
            dz.push(f32s(&format!("dz{}", l + 1), b * layer.outputs)?);
            // Written by the reported step and by every optimizer but plain SGD.
            grad_w.push(f32s(
                &format!("dW{}", l + 1),
                layer.weights.len().next_multiple_of(4),
            )?);
            grad_b.push(f32s(
                &format!("db{}", l + 1),
                layer.outputs.next_multiple_of(4),
            )?);
        }
        let inputs = params.inputs();
        let outputs = params.outputs();
        let x = f32s("x", b * inputs)?;
        let out = f32s("output", b * outputs)?;
        let y = f32s("targets", b * outputs)?;
        // Class ids, then the rows' sample weights (gather.wgsl).
        let cls = f32s("classes and weights", 2 * b)?;
        let rows = f32s("per-sample loss", 2 * b)?;
        let state = f32s("step state", 4)?;
        let totals = f32s("totals", 8)?;
        let grad_in = f32s("dx", if report { b * inputs } else { 1 })?;

        let mut forward = Vec::new();
        let mut back_dx = Vec::new();
        let lr = 0.0f32;
        let step = StepUniform::buffer(&ctx, lr)?;
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
                step: None,
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
                    step: None,
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
                    step: None,
                    a: &dz[0],
                    b: &weights[0],
                    out: &grad_in,
                    extra: None,
                })?)
            } else {
                None
            });
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
                    weighted: 0,
                    _pad: [0; 2],
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
        let opt_state = f32s("optimizer state", 4)?;
        let opt_flags = f32s("optimizer flags", 4)?;
        let metrics_bind = kernels.metrics.bind(
            &ctx,
            MetricsBindings {
                params: &metrics_params,
                rows: &rows,
                state: &state,
                totals: &totals,
                flags: &opt_flags,
            },
        )?;
        let (report_loss, report_preds) = if report {
            let preds = f32s("step predictions", b)?;
            let bind = kernels.loss.bind(
                &ctx,
                LossBindings {
                    params: &loss_train_params,
                    z: &acts[depth - 1],
                    y: &y,
                    cls: &cls,
                    state: &state,
                    a: &out,
                    dz: &dz[depth - 1],
                    rows: &rows,
                    pred: &preds,
                },
            )?;
            (Some(bind), Some(preds))
        } else {
            (None, None)
        };
        let layers = weights
            .into_iter()
            .zip(biases)
            .zip(acts.into_iter().zip(dz))
            .zip(grad_w.into_iter().zip(grad_b))
            .zip(forward.into_iter().zip(back_dx))
            .map(
                |((((w, b), (a, dz)), (grad_w, grad_b)), (forward, input_grad))| GpuLayer {
                    w,
                    b,
                    a,
                    dz,
                    grad_w,
                    grad_b,
                    forward,
                    input_grad,
                    weight_grad: None,
                    bias_grad: None,
                    opt: None,
                },
            )
            .collect();
        let mut engine = GpuEngine {
            optimizer: OptimizerConfig::default(),
            opt_state,
            opt_flags,
            opt_dummy: f32s("optimizer unused state", 4)?,
            fuse: None,
            report_loss,
            _report_preds: report_preds,
            ctx,
            mm,
            kernels,
            params_host: params.clone(),
            batch,
            report,
            layers,
            x,
            out,
            y,
            cls,
            rows,
            state,
            totals,
            grad_in,
            loss_train_params,
            loss_eval_params,
            metrics_bind,
            lr,
            step,
            train_set: None,
            streamed: None,
            eval_set: None,
            pending: Stats::default(),
            last_submission: None,
        };
        engine.prepare_updates()?;
        Ok(engine)
    }

    /// Uploads a dataset: features as packed u8 (or f32), labels, an order buffer of its size
    /// (identity for evaluation) and a prediction buffer; binds them for gather and loss.
    pub(super) fn upload(&self, data: &Dataset, train: bool) -> Result<GpuData> {
        let ctx = &self.ctx;
        let n = data.len();
        let what = format!("dataset {}", data.name);
        // Uploaded straight from the dataset's memory (f32), or packed four pixels a word.
        let (data_buf, u8s) = match &data.features {
            Features::U8(v) => {
                let mut w = vec![0u32; v.len().div_ceil(4)];
                bytemuck::cast_slice_mut::<u32, u8>(&mut w)[..v.len()].copy_from_slice(v);
                (ctx.storage_buffer_of(&what, &w)?, true)
            }
            Features::F32(v) => (ctx.storage_buffer_f32(&what, v)?, false),
        };
        let as_f32 = |w: &[u32]| -> Vec<f32> { w.iter().map(|&u| f32::from_bits(u)).collect() };
        // Training on weighted samples: their weights follow the labels (gather.wgsl).
        let weights = data.weights.as_ref().filter(|_| train);
        let mut label_words = as_f32(&data.labels);
        if let Some(w) = weights {
            label_words.extend_from_slice(w);
        }
        let labels = ctx.storage_buffer_f32(&format!("{what} labels"), &label_words)?;
        let identity: Vec<u32> = (0..n as u32).collect();
        let order = ctx.storage_buffer_f32(&format!("{what} order"), &as_f32(&identity))?;
        let preds =
            ctx.storage_buffer_zeroed(&format!("{what} predictions"), (n.max(1) * 4) as u64)?;
        let values = match &data.target {
            Target::Values { values, .. } => {
                ctx.storage_buffer_f32(&format!("{what} target values"), values)?
            }
            _ => ctx.storage_buffer_zeroed(&format!("{what} no target values"), 4)?,
        };
        let gather_params = ctx.uniform_buffer(
            "gather params",
            bytes(&GatherParams {
                dim: self.params_host.inputs() as u32,
                batch: self.batch as u32,
                outputs: self.params_host.outputs() as u32,
                target: gather::target_id(&data.target),
                weighted: weights.is_some() as u32,
                n_total: n as u32,
                _pad: [0; 2],
            }),
        )?;
        let gather = self.kernels.gather(u8s).bind(
            ctx,
            GatherBindings {
                params: &gather_params,
                data: &data_buf,
                labels: &labels,
                order: &order,
                state: &self.state,
                x: &self.x,
                y: &self.y,
                cls: &self.cls,
                values: &values,
            },
        )?;
        let weighted_params = match weights {
            Some(_) => {
                let last = self.params_host.layers.last().expect("layers");
                Some(ctx.uniform_buffer(
                    "loss params (weighted)",
                    bytes(&LossParams {
                        batch: self.batch as u32,
                        outputs: self.params_host.outputs() as u32,
                        act: last.activation.gpu_id(),
                        loss: self.params_host.loss.gpu_id(),
                        train: 1,
                        weighted: 1,
                        _pad: [0; 2],
                    }),
                )?)
            }
            None => None,
        };
        let loss_params = match (&weighted_params, train) {
            (Some(w), _) => w,
            (None, true) => &self.loss_train_params,
            (None, false) => &self.loss_eval_params,
        };
        let last = self.layers.last().expect("layers");
        let loss = self.kernels.loss.bind(
            ctx,
            LossBindings {
                params: loss_params,
                z: &last.a,
                y: &self.y,
                cls: &self.cls,
                state: &self.state,
                a: &self.out,
                dz: &last.dz,
                rows: &self.rows,
                pred: &preds,
            },
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
            _values: values,
            _gather_params: gather_params,
            _loss_params: weighted_params,
        })
    }
}

/// `v` followed by zeros up to a multiple of 4 elements (whole vec4s).
pub(super) fn padded(v: &[f32]) -> Vec<f32> {
    let mut out = v.to_vec();
    out.resize(v.len().next_multiple_of(4), 0.0);
    out
}
