//! The GPU engine's optimizer, its state in GPU buffers that are read back only for
//! checkpoints:
//! - plain SGD: fused into the weight product's epilogue and the bias kernel;
//! - every other rule: fused into the weight product's `optim` epilogue (the gradient never
//!   goes through memory), the bias gradients stored by the bias kernel and updated by
//!   `kernels::optim`;
//! - with clipping by the global norm (which needs every gradient first), or in a reported
//!   step: every gradient stored, then `kernels::optim`'s norm and update on each tensor.

use super::build::padded;
use super::GpuEngine;
use crate::engine::optimizer_state_for;
use crate::gpu::kernels::optim::{OptimBindings, OptimParams, OptimRule};
use crate::gpu::kernels::{BiasBindings, BiasParams};
use crate::gpu::matmul::{Epilogue, MatmulOptim, MatmulSpec, Trans};
use crate::model::Activation;
use crate::optim::{OptimizerConfig, OptimizerState, TensorState};
use crate::Result;

/// One parameter tensor's optimizer call: its uniforms, state buffers and bind group.
pub(super) struct OptTensor {
    /// Its uniforms, kept alive with the bind group.
    pub(super) _params: wgpu::Buffer,
    /// The velocity or first moment, and the second moment, where the rule keeps them.
    pub(super) m: Option<wgpu::Buffer>,
    pub(super) v: Option<wgpu::Buffer>,
    pub(super) bind: (wgpu::BindGroup, u32),
}

impl GpuEngine {
    /// Whether the optimizer's weight updates are fused into the weight-gradient products:
    /// every rule but plain SGD (fused in its own epilogue), unless it clips by the global norm
    /// (which needs every gradient first) or the step is reported (which shows the gradients);
    /// on hardware GPUs only, unless [`GpuEngine::fuse_optimizer`] says otherwise. On CPU-type
    /// adapters (lavapipe) the fused epilogue's scalar loads of the state at lane-varying
    /// addresses cost more than the separate vec4 pass (1.45x an SGD step against 1.1x).
    pub(super) fn fused_optimizer(&self) -> bool {
        let fusable =
            !self.optimizer.is_plain_sgd() && self.optimizer.clip_norm.is_none() && !self.report;
        fusable && self.fuse.unwrap_or(!self.ctx.is_software())
    }

    /// Fuses the optimizer into the weight-gradient products (`true`), runs it as a separate
    /// pass (`false`), or chooses by adapter (`None`, the default). Takes effect with the next
    /// [`crate::engine::Engine::set_optimizer`].
    pub fn fuse_optimizer(&mut self, fuse: Option<bool>) {
        self.fuse = fuse;
    }

    /// (Re)builds the weight-gradient products and bias calls for the current optimizer: fused
    /// SGD updates, the fused optimizer epilogue, or stores of the gradients for the optimizer
    /// kernel. The optimizer's tensors (`opt_tensors`) must be made first.
    pub(super) fn prepare_updates(&mut self) -> Result<()> {
        let plain = self.optimizer.is_plain_sgd();
        let fused = self.fused_optimizer();
        let (b, report) = (self.batch, self.report);
        let rule = OptimRule::new(&self.optimizer);
        let mut updates = Vec::new();
        for (l, (layer, host)) in self.layers.iter().zip(&self.params_host.layers).enumerate() {
            let input = if l == 0 {
                &self.x
            } else {
                &self.layers[l - 1].a
            };
            // plain SGD: W [out][in] −= lr · dz_l [B][out]ᵀ · input [B][in]
            // fused:     W [out][in] ← rule(W, dz_l [B][out]ᵀ · input [B][in], state)
            // otherwise: dW [out][in] = dz_l [B][out]ᵀ · input [B][in]
            let spec = MatmulSpec {
                trans: Trans::TN,
                epilogue: if plain {
                    Epilogue::Sgd { store_grad: report }
                } else if fused {
                    Epilogue::Optim
                } else {
                    Epilogue::Store
                },
                act: Activation::Identity,
                m: host.outputs as u32,
                k: b as u32,
                n: host.inputs as u32,
                step: Some(&self.step),
                a: &layer.dz,
                b: input,
                out: if plain || fused {
                    &layer.w
                } else {
                    &layer.grad_w
                },
                extra: (plain && report).then_some(&layer.grad_w),
            };
            let weight_grad = match &layer.opt {
                Some([w, _]) if fused => {
                    let operands = MatmulOptim {
                        rule,
                        m: w.m.as_ref().unwrap_or(&self.opt_dummy),
                        v: w.v.as_ref().unwrap_or(&self.opt_dummy),
                        state: &self.opt_state,
                        flags: &self.opt_flags,
                    };
                    self.mm.prepare_optim(spec, operands)?
                }
                _ => self.mm.prepare(spec)?,
            };
            // db = Σ_rows dz_l, with the SGD update b −= lr·db when plain (else stored for the
            // rule).
            let bp = self.ctx.uniform_buffer(
                "bias params",
                bytemuck::bytes_of(&BiasParams {
                    rows: b as u32,
                    cols: host.outputs as u32,
                    store_grad: u32::from(report || !plain),
                    update: u32::from(plain),
                }),
            )?;
            let bg = self.kernels.bias.bind(
                &self.ctx,
                BiasBindings {
                    params: &bp,
                    dz: &layer.dz,
                    bias: &layer.b,
                    grad: &layer.grad_b,
                    step: &self.step,
                },
            )?;
            updates.push((weight_grad, (bg, bp)));
        }
        for (layer, (weight_grad, bias_grad)) in self.layers.iter_mut().zip(updates) {
            (layer.weight_grad, layer.bias_grad) = (Some(weight_grad), Some(bias_grad));
        }
        Ok(())
    }

    /// Sets the optimizer and uploads its state (`None`: zeros, step 0).
    pub(super) fn set_optimizer_state(
        &mut self,
        cfg: &OptimizerConfig,
        state: Option<&OptimizerState>,
    ) -> Result<()> {
        let state = &optimizer_state_for(cfg, &self.params_host, state)?;
        self.optimizer = *cfg;
        for layer in &mut self.layers {
            layer.opt = None;
        }
        if cfg.is_plain_sgd() {
            return self.prepare_updates();
        }
        let (keeps_m, keeps_v) = cfg.keeps();
        let ctx = self.ctx.clone();
        let mut made = Vec::new();
        for (l, (layer, host)) in self.layers.iter().zip(&self.params_host.layers).enumerate() {
            let pairs = [
                (&layer.w, &layer.grad_w, host.weights.len(), true),
                (&layer.b, &layer.grad_b, host.outputs, false),
            ];
            let mut tensors = Vec::new();
            for (k, (w, g, n, is_weight)) in pairs.into_iter().enumerate() {
                let s = &state.tensors[2 * l + k];
                // SGD's m is its velocity.
                let first = if cfg.kind == crate::optim::OptimizerKind::Sgd {
                    &s.velocity
                } else {
                    &s.m
                };
                let label = format!("optimizer state {}", 2 * l + k);
                let m = keeps_m
                    .then(|| ctx.storage_buffer_f32(&label, &padded(first)))
                    .transpose()?;
                let v = keeps_v
                    .then(|| ctx.storage_buffer_f32(&label, &padded(&s.v)))
                    .transpose()?;
                let params = OptimParams::new(cfg, n, is_weight);
                let params = ctx.uniform_buffer("optim params", bytemuck::bytes_of(&params))?;
                let bind = self.kernels.optim.bind(
                    &ctx,
                    OptimBindings {
                        params: &params,
                        g,
                        w,
                        m: m.as_ref().unwrap_or(&self.opt_dummy),
                        v: v.as_ref().unwrap_or(&self.opt_dummy),
                        state: &self.opt_state,
                        flags: &self.opt_flags,
                        step: &self.step,
                    },
                )?;
                tensors.push(OptTensor {
                    _params: params,
                    m,
                    v,
                    bind: (bind, n as u32),
                });
            }
            let [w, b]: [OptTensor; 2] = tensors.try_into().ok().expect("a weight and a bias");
            made.push([w, b]);
        }
        for (layer, opt) in self.layers.iter_mut().zip(made) {
            layer.opt = Some(opt);
        }
        let step = u32::try_from(state.step).unwrap_or(u32::MAX);
        ctx.queue
            .write_buffer(&self.opt_state, 0, bytemuck::cast_slice(&[0u32, step]));
        self.prepare_updates()
    }

    /// Every parameter tensor's optimizer call, in the order of [`OptimizerState::tensors`]
    /// (layer 0's weight, its bias, layer 1's weight, ...); none for plain SGD.
    pub(super) fn opt_tensors(&self) -> impl Iterator<Item = &OptTensor> {
        self.layers.iter().flat_map(|l| l.opt.iter().flatten())
    }

    /// The state as the CPU engines hold it, read back from the GPU.
    pub(super) fn read_optimizer_state(&mut self) -> Result<OptimizerState> {
        let cfg = self.optimizer;
        let mut state = OptimizerState::new(&cfg, &self.params_host);
        if cfg.is_plain_sgd() {
            return Ok(state);
        }
        state.step = u64::from(self.ctx.read_u32(&self.opt_state, 1, 1)?[0]);
        for (t, s) in self.opt_tensors().zip(state.tensors.iter_mut()) {
            let n = t.bind.1 as u64;
            let read = |b: &Option<wgpu::Buffer>| match b {
                Some(b) => self.ctx.read_f32(b, 0, n),
                None => Ok(Vec::new()),
            };
            let (m, v) = (read(&t.m)?, read(&t.v)?);
            *s = if cfg.kind == crate::optim::OptimizerKind::Sgd {
                TensorState {
                    velocity: m,
                    ..Default::default()
                }
            } else {
                TensorState {
                    m,
                    v,
                    ..Default::default()
                }
            };
        }
        Ok(state)
    }
}
