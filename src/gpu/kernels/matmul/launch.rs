//! Preparing and recording matmul dispatches: pipelines compiled once per variant, a bind
//! group and uniform buffer per call site, then only `encode` in the training loop.

use super::call::{MatmulCall, MatmulOptim, MatmulParams, MatmulSpec};
use super::source::{variant_source, Variant};
use super::{Epilogue, MatmulConfig, Trans};
use crate::error::{Dims, Error, Result};
use crate::gpu::context::{BindingKind, GpuContext};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The matmul pipelines of one context and configuration.
pub struct MatmulKernels {
    ctx: Arc<GpuContext>,
    cfg: MatmulConfig,
    /// Bind-group layouts with `extra` read-only and read-write.
    layout_ro: wgpu::BindGroupLayout,
    layout_rw: wgpu::BindGroupLayout,
    /// The fused optimizer's: `extra` unused (read-only), then m, v, state, flags.
    layout_optim: wgpu::BindGroupLayout,
    /// Bound as `extra` when the epilogue reads none (every binding must be bound).
    dummy: wgpu::Buffer,
    /// The step uniform of products given none: learning rate 0.
    zero_step: wgpu::Buffer,
    pipelines: Mutex<HashMap<Variant, wgpu::ComputePipeline>>,
}

impl std::fmt::Debug for MatmulKernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatmulKernels")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// Binds the first `size` bytes of `buffer` at `binding`.
fn bind(binding: u32, buffer: &wgpu::Buffer, size: u64) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer,
            offset: 0,
            size: wgpu::BufferSize::new(size),
        }),
    }
}

/// Elements → bytes, refusing what one binding or u32 indexing cannot hold.
fn binding_bytes(ctx: &GpuContext, what: &str, elems: u64) -> Result<u64> {
    if elems > u32::MAX as u64 {
        return Err(Error::unsupported(
            "matmul",
            format!("{what} has {elems} elements, more than the kernel's u32 indexing allows"),
        ));
    }
    let bytes = elems * 4;
    if bytes > ctx.limits.max_storage_buffer_binding_size {
        return Err(Error::unsupported(
            "matmul",
            format!(
                "{what} needs {bytes} bytes, more than one storage binding may hold on this adapter ({}); split the batch",
                ctx.limits.max_storage_buffer_binding_size
            ),
        ));
    }
    Ok(bytes)
}

impl MatmulKernels {
    /// Checks that the adapter supports `cfg` and builds the layouts. Pipelines compile on first
    /// use (see [`MatmulKernels::pipeline`] to compile ahead).
    pub fn new(ctx: &Arc<GpuContext>, cfg: MatmulConfig) -> Result<Self> {
        cfg.supported(ctx)?;
        use BindingKind::{ReadOnly, ReadWrite, Uniform};
        // params, A, B, C, extra, the step uniform; then the fused optimizer's operands.
        let layout_ro = ctx.bind_group_layout(
            "matmul (extra read-only)",
            &[Uniform, ReadOnly, ReadOnly, ReadWrite, ReadOnly, Uniform],
        );
        let layout_rw = ctx.bind_group_layout(
            "matmul (extra read-write)",
            &[Uniform, ReadOnly, ReadOnly, ReadWrite, ReadWrite, Uniform],
        );
        let layout_optim = ctx.bind_group_layout(
            "matmul (fused optimizer)",
            &[
                Uniform, ReadOnly, ReadOnly, ReadWrite, ReadOnly, Uniform, ReadWrite, ReadWrite,
                ReadOnly, ReadWrite,
            ],
        );
        let dummy = ctx.storage_buffer_zeroed("matmul unused extra", 16)?;
        let zero_step = crate::gpu::kernels::StepUniform::buffer(ctx, 0.0)?;
        Ok(MatmulKernels {
            ctx: ctx.clone(),
            cfg,
            layout_ro,
            layout_rw,
            layout_optim,
            dummy,
            zero_step,
            pipelines: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> MatmulConfig {
        self.cfg
    }

    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    fn layout(&self, epilogue: Epilogue) -> &wgpu::BindGroupLayout {
        if epilogue == Epilogue::Optim {
            return &self.layout_optim;
        }
        match epilogue.extra_kind() {
            Some(BindingKind::ReadWrite) => &self.layout_rw,
            _ => &self.layout_ro,
        }
    }

    /// The pipeline for one specialisation, for products whose M, K and N are multiples of 4
    /// (other shapes may need another variant; [`MatmulKernels::prepare`] picks it). Compiled
    /// and cached on first use.
    pub fn pipeline(&self, trans: Trans, epilogue: Epilogue) -> Result<wgpu::ComputePipeline> {
        self.pipeline_for(trans, epilogue, 4, 4, 4)
    }

    /// The pipeline that runs an `m×k×n` product, compiled and cached on first use.
    pub fn pipeline_for(
        &self,
        trans: Trans,
        epilogue: Epilogue,
        m: u32,
        k: u32,
        n: u32,
    ) -> Result<wgpu::ComputePipeline> {
        let variant = Variant::new(&self.cfg, trans, epilogue, m, k, n);
        let mut cache = self.pipelines.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cache.get(&variant) {
            return Ok(p.clone());
        }
        let label = variant.label(&self.cfg);
        let started = std::time::Instant::now();
        let module = self
            .ctx
            .load_shader(&label, &variant_source(&self.cfg, &variant)?)?;
        let pipeline = self
            .ctx
            .compute_pipeline(&label, &module, "main", self.layout(epilogue))?;
        log::debug!(
            "compiled {label} in {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        cache.insert(variant, pipeline.clone());
        Ok(pipeline)
    }

    /// Validates the buffers against `m`, `k`, `n` ([`Error::Shape`]) and builds the uniform
    /// buffer and bind group of one call site. Do this once, outside the training loop.
    pub fn prepare(&self, spec: MatmulSpec<'_>) -> Result<MatmulCall> {
        self.prepare_with(spec, None)
    }

    /// [`MatmulKernels::prepare`] for [`Epilogue::Optim`], with the optimizer's operands.
    pub fn prepare_optim(
        &self,
        spec: MatmulSpec<'_>,
        optim: MatmulOptim<'_>,
    ) -> Result<MatmulCall> {
        self.prepare_with(spec, Some(optim))
    }

    fn prepare_with(
        &self,
        spec: MatmulSpec<'_>,
        optim: Option<MatmulOptim<'_>>,
    ) -> Result<MatmulCall> {
        let MatmulSpec {
            trans,
            epilogue,
            act,
            m,
            k,
            n,
            step,
            a,
            b,
            out,
            extra,
        } = spec;
        let ctx = &*self.ctx;
        let unsupported = |msg: String| Error::unsupported("matmul", msg);
        let what = format!("{trans:?} {epilogue:?} m={m} k={k} n={n}");
        if m == 0 || k == 0 || n == 0 {
            return Err(unsupported(format!(
                "{what}: every dimension must be at least 1"
            )));
        }
        let (m64, k64, n64) = (m as u64, k as u64, n as u64);
        let (a_dims, b_dims) = match trans {
            Trans::NT => ("[M][K]", "[N][K]"),
            Trans::NN => ("[M][K]", "[K][N]"),
            Trans::TN => ("[K][M]", "[K][N]"),
        };
        let a_bytes = binding_bytes(ctx, "A", m64 * k64)?;
        let b_bytes = binding_bytes(ctx, "B", k64 * n64)?;
        let c_bytes = binding_bytes(ctx, "C", m64 * n64)?;
        let extra_bytes = match epilogue {
            Epilogue::BiasAct => Some(binding_bytes(ctx, "bias", n64)?),
            Epilogue::ActGrad | Epilogue::Sgd { store_grad: true } => Some(c_bytes),
            Epilogue::Store | Epilogue::Sgd { store_grad: false } | Epilogue::Optim => None,
        };
        if (epilogue == Epilogue::Optim) != optim.is_some() {
            return Err(unsupported(format!(
                "{what}: the optim epilogue, and only it, takes the optimizer's operands (prepare_optim)"
            )));
        }
        let check = |name: &str, dims: &str, buf: &wgpu::Buffer, need: u64| -> Result<()> {
            if buf.size() < need {
                return Err(Error::shape(
                    "matmul",
                    format!("{what}: {name} {dims}'s buffer (f32 values, at least)"),
                    Dims(vec![need / 4]),
                    Dims(vec![buf.size() / 4]),
                ));
            }
            if !buf.usage().contains(wgpu::BufferUsages::STORAGE) {
                return Err(unsupported(format!(
                    "{what}: {name} buffer lacks STORAGE usage"
                )));
            }
            Ok(())
        };
        check("A", a_dims, a, a_bytes)?;
        check("B", b_dims, b, b_bytes)?;
        check(
            if matches!(epilogue, Epilogue::Sgd { .. } | Epilogue::Optim) {
                "W"
            } else {
                "C"
            },
            "[M][N]",
            out,
            c_bytes,
        )?;
        let (extra_buf, extra_bytes) = match (extra_bytes, extra) {
            (Some(need), Some(buf)) => {
                let (name, dims) = match epilogue {
                    Epilogue::BiasAct => ("bias", "[N]"),
                    Epilogue::ActGrad => ("activations", "[M][N]"),
                    _ => ("gradient", "[M][N]"),
                };
                check(name, dims, buf, need)?;
                (buf, need)
            }
            (Some(_), None) => {
                return Err(unsupported(format!(
                    "{what}: this epilogue needs the extra operand"
                )));
            }
            (None, Some(_)) => {
                return Err(unsupported(format!(
                    "{what}: this epilogue takes no extra operand"
                )));
            }
            (None, None) => (&self.dummy, self.dummy.size()),
        };
        let (wg_x, wg_y) = (n.div_ceil(self.cfg.tile_n), m.div_ceil(self.cfg.tile_m));
        let max_wg = ctx.limits.max_compute_workgroups_per_dimension;
        if wg_x > max_wg || wg_y > max_wg {
            return Err(unsupported(format!(
                "{what}: needs {wg_x}×{wg_y} workgroups, the adapter dispatches at most {max_wg} per dimension"
            )));
        }

        let pipeline = self.pipeline_for(trans, epilogue, m, k, n)?;
        let params = MatmulParams {
            m,
            k,
            n,
            act: act.gpu_id(),
            rule: optim.map(|o| o.rule).unwrap_or_default(),
        };
        let params_buf = ctx.uniform_buffer("matmul params", bytemuck::bytes_of(&params))?;
        let mut entries = vec![
            wgpu::BindGroupEntry {
                binding: 0,
                resource: params_buf.as_entire_binding(),
            },
            bind(1, a, a_bytes),
            bind(2, b, b_bytes),
            bind(3, out, c_bytes),
            bind(4, extra_buf, extra_bytes),
            wgpu::BindGroupEntry {
                binding: 5,
                resource: step.unwrap_or(&self.zero_step).as_entire_binding(),
            },
        ];
        if let Some(o) = &optim {
            for (i, buf) in [o.m, o.v, o.state, o.flags].into_iter().enumerate() {
                entries.push(wgpu::BindGroupEntry {
                    binding: 6 + i as u32,
                    resource: buf.as_entire_binding(),
                });
            }
        }
        let bind_group = ctx.scoped(&format!("binding matmul {what}"), || {
            ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("matmul"),
                layout: self.layout(epilogue),
                entries: &entries,
            })
        })?;
        Ok(MatmulCall {
            pipeline,
            bind_group,
            _params: params_buf,
            workgroups: [wg_x, wg_y, 1],
            trans,
            epilogue,
            m,
            k,
            n,
        })
    }

    /// Records one dispatch of `call` into `pass`.
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>, call: &MatmulCall) {
        pass.set_pipeline(&call.pipeline);
        pass.set_bind_group(0, &call.bind_group, &[]);
        let [x, y, z] = call.workgroups;
        pass.dispatch_workgroups(x, y, z);
    }

    /// Prepares `spec` and runs it alone: one encoder, one pass, one submission (no wait; a
    /// following read waits). For tests and one-off products.
    pub fn run_once(&self, spec: MatmulSpec<'_>) -> Result<()> {
        let call = self.prepare(spec)?;
        let ctx = &self.ctx;
        ctx.check_alive()?;
        let what = format!("running matmul {:?} {:?}", call.trans, call.epilogue);
        ctx.submit_pass(&what, |pass| self.encode(pass, &call))?;
        Ok(())
    }
}
