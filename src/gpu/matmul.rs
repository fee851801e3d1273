//! The tiled matmul kernel family (shaders/matmul.wgsl): the three products of a dense layer,
//! each with a fused epilogue.
//!
//! | `Trans` | operands | C | used for |
//! |---|---|---|---|
//! | `NT` | A `[M][K]`, B `[N][K]` | A·Bᵀ | forward, Z = X·Wᵀ (W `[out][in]`) |
//! | `NN` | A `[M][K]`, B `[K][N]` | A·B | input gradient, dX = dZ·W |
//! | `TN` | A `[K][M]`, B `[K][N]` | Aᵀ·B | weight gradient, dW = dZᵀ·X |
//!
//! Layout, epilogue and tile sizes are `const`s generated into the shader source, so each
//! pipeline is specialised and its branches fold away. Pipelines are compiled on first use and
//! cached; bind groups are built once per call site by [`MatmulKernels::prepare`], and
//! [`MatmulKernels::encode`] only records a dispatch.

use super::context::{BindingKind, GpuContext};
use crate::error::{Error, Result};
use crate::model::Activation;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const COMMON_WGSL: &str = include_str!("../../shaders/common.wgsl");
const MATMUL_WGSL: &str = include_str!("../../shaders/matmul.wgsl");

/// Which operands are transposed (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trans {
    /// C = A·Bᵀ, A `[M][K]`, B `[N][K]`.
    NT,
    /// C = A·B, A `[M][K]`, B `[K][N]`.
    NN,
    /// C = Aᵀ·B, A `[K][M]`, B `[K][N]`.
    TN,
}

impl Trans {
    pub const ALL: [Trans; 3] = [Trans::NT, Trans::NN, Trans::TN];

    fn a_km(self) -> bool {
        self == Trans::TN
    }
    fn b_nk(self) -> bool {
        self == Trans::NT
    }
    fn name(self) -> &'static str {
        match self {
            Trans::NT => "nt",
            Trans::NN => "nn",
            Trans::TN => "tn",
        }
    }
}

/// What the kernel does with each `C[m][n]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Epilogue {
    /// `out[m][n] = C`.
    Store,
    /// `out[m][n] = act(C + bias[n])`; `extra` = bias `[N]`. Softmax acts as the identity here
    /// (the loss kernel applies it).
    BiasAct,
    /// `out[m][n] = C · act'(aux[m][n])`, the derivative written through the activation output;
    /// `extra` = aux `[M][N]`, the activations of the layer below. Fuses the activation backward
    /// into the product that makes the input gradient.
    ActGrad,
    /// The fused SGD step `W[m][n] -= lr · C` with `out` = W `[M][N]`: the gradient never goes
    /// through memory unless `store_grad`, which also writes `extra[m][n] = C` (for reports).
    Sgd { store_grad: bool },
}

impl Epilogue {
    fn id(self) -> u32 {
        match self {
            Epilogue::Store => 0,
            Epilogue::BiasAct => 1,
            Epilogue::ActGrad => 2,
            Epilogue::Sgd { .. } => 3,
        }
    }
    fn store_grad(self) -> bool {
        matches!(self, Epilogue::Sgd { store_grad: true })
    }
    fn name(self) -> &'static str {
        match self {
            Epilogue::Store => "store",
            Epilogue::BiasAct => "bias_act",
            Epilogue::ActGrad => "act_grad",
            Epilogue::Sgd { store_grad: false } => "sgd",
            Epilogue::Sgd { store_grad: true } => "sgd_grad",
        }
    }
    /// How binding 4 (`extra`) is accessed; `None` when the epilogue reads no extra operand.
    fn extra_kind(self) -> Option<BindingKind> {
        match self {
            Epilogue::Store | Epilogue::Sgd { store_grad: false } => None,
            Epilogue::BiasAct | Epilogue::ActGrad => Some(BindingKind::ReadOnly),
            Epilogue::Sgd { store_grad: true } => Some(BindingKind::ReadWrite),
        }
    }
}

/// Tile sizes of the kernel. One workgroup computes a `tile_m × tile_n` block of C with
/// `(tile_m / reg_m) × (tile_n / reg_n)` threads, each holding a `reg_m × reg_n` block of C in
/// registers; K advances `tile_k` at a time through shared memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatmulConfig {
    pub tile_m: u32,
    pub tile_n: u32,
    pub tile_k: u32,
    pub reg_m: u32,
    pub reg_n: u32,
}

impl MatmulConfig {
    /// For real GPUs: 64×64 blocks of C, K steps of 16, 4×4 outputs per thread.
    /// 16×16 = 256 threads is the WebGPU default limit, so it fits every adapter. A 64×64 block
    /// does 64·64·16 FMAs per 2·64·16 global loads (32 FMAs per load); 4×4 registers give 16 FMAs
    /// per 8 shared loads. Shared memory is 16·(65+65)·4 B = 8.3 KiB, half the 16 KiB minimum,
    /// so several workgroups stay resident per SM/CU. Bigger blocks would leave MNIST-sized
    /// products (e.g. 128×784×128) with too few workgroups to fill a GPU.
    pub const GPU: MatmulConfig = MatmulConfig {
        tile_m: 64,
        tile_n: 64,
        tile_k: 16,
        reg_m: 4,
        reg_n: 4,
    };

    /// For CPU-type adapters (lavapipe): there each invocation is one SIMD lane and shared memory
    /// is ordinary cache, so what should pay is FMAs per load, i.e. a big register block (8×8: 64
    /// FMAs per 16 shared loads) with few threads (8×4 = 32, four 8-lane SIMD rows) so that a
    /// barrier costs little; 32-row blocks keep more workgroups for llvmpipe's worker threads at
    /// small batches. Measured on lavapipe (2 cores, `matmul_gflops_by_config`), this and
    /// [`MatmulConfig::GPU`] both reach ~2.6 GFLOP/s and 16×16×16 with 2×2 reaches 1.4: this
    /// kernel is bound by per-lane shared/global loads there, whatever the tile. A lavapipe-fast
    /// kernel needs another shape (vec4 loads, subgroup broadcast; see WGPU-NOTES.md).
    pub const SOFTWARE: MatmulConfig = MatmulConfig {
        tile_m: 32,
        tile_n: 64,
        tile_k: 16,
        reg_m: 8,
        reg_n: 8,
    };

    /// A configuration that suits `ctx`'s adapter and fits its limits.
    pub fn for_adapter(ctx: &GpuContext) -> MatmulConfig {
        let preferred = if ctx.is_software() {
            MatmulConfig::SOFTWARE
        } else {
            MatmulConfig::GPU
        };
        [
            preferred,
            MatmulConfig::GPU,
            MatmulConfig::SOFTWARE,
            MatmulConfig::SMALL,
        ]
        .into_iter()
        .find(|c| c.check(&ctx.limits).is_ok())
        .unwrap_or(MatmulConfig::SMALL)
    }

    /// The fallback that fits the WebGPU minimum limits with room to spare.
    pub const SMALL: MatmulConfig = MatmulConfig {
        tile_m: 16,
        tile_n: 16,
        tile_k: 16,
        reg_m: 2,
        reg_n: 2,
    };

    /// Threads per workgroup, (x, y) = (tile_n / reg_n, tile_m / reg_m).
    pub fn workgroup_size(&self) -> (u32, u32) {
        (self.tile_n / self.reg_n, self.tile_m / self.reg_m)
    }

    /// Bytes of workgroup (shared) memory the kernel declares.
    pub fn shared_bytes(&self) -> u32 {
        4 * self.tile_k * ((self.tile_m + 1) + (self.tile_n + 1))
    }

    /// Checks divisibility and the adapter's workgroup limits.
    pub fn check(&self, limits: &wgpu::Limits) -> Result<()> {
        let bad = |msg: String| Err(Error::bad_arg("matmul config", format!("{self:?}: {msg}")));
        if [
            self.tile_m,
            self.tile_n,
            self.tile_k,
            self.reg_m,
            self.reg_n,
        ]
        .contains(&0)
        {
            return bad("sizes must be positive".into());
        }
        if !self.tile_m.is_multiple_of(self.reg_m) || !self.tile_n.is_multiple_of(self.reg_n) {
            return bad("tile_m and tile_n must be multiples of reg_m and reg_n".into());
        }
        let (x, y) = self.workgroup_size();
        if x > limits.max_compute_workgroup_size_x
            || y > limits.max_compute_workgroup_size_y
            || x * y > limits.max_compute_invocations_per_workgroup
        {
            return bad(format!(
                "workgroup {x}×{y} exceeds the adapter's limits ({}×{}, {} invocations)",
                limits.max_compute_workgroup_size_x,
                limits.max_compute_workgroup_size_y,
                limits.max_compute_invocations_per_workgroup
            ));
        }
        if self.shared_bytes() > limits.max_compute_workgroup_storage_size {
            return bad(format!(
                "needs {} bytes of workgroup memory, the adapter has {}",
                self.shared_bytes(),
                limits.max_compute_workgroup_storage_size
            ));
        }
        Ok(())
    }
}

/// The WGSL source of one specialisation: common.wgsl + generated consts + matmul.wgsl.
pub fn shader_source(cfg: &MatmulConfig, trans: Trans, epilogue: Epilogue) -> String {
    let extra = match epilogue.extra_kind() {
        Some(BindingKind::ReadWrite) => {
            "@group(0) @binding(4) var<storage, read_write> extra: array<f32>; // gradient [M][N]\n\
             fn store_extra(i: u32, v: f32) { extra[i] = v; }\n"
        }
        _ => {
            "@group(0) @binding(4) var<storage, read> extra: array<f32>; // bias [N], activations [M][N], or unused\n\
             fn store_extra(i: u32, v: f32) {} // extra is read-only in this specialisation\n"
        }
    };
    format!(
        "{COMMON_WGSL}\n\
         // ---- generated by src/gpu/matmul.rs: {trans:?}, {epilogue:?}, {cfg:?}\n\
         const TILE_M: u32 = {}u;\n\
         const TILE_N: u32 = {}u;\n\
         const TILE_K: u32 = {}u;\n\
         const REG_M: u32 = {}u;\n\
         const REG_N: u32 = {}u;\n\
         const A_KM: bool = {};\n\
         const B_NK: bool = {};\n\
         const EPILOGUE: u32 = {}u;\n\
         const STORE_GRAD: bool = {};\n\
         {extra}\
         // ---- end of generated part\n\n\
         {MATMUL_WGSL}",
        cfg.tile_m,
        cfg.tile_n,
        cfg.tile_k,
        cfg.reg_m,
        cfg.reg_n,
        trans.a_km(),
        trans.b_nk(),
        epilogue.id(),
        epilogue.store_grad(),
    )
}

/// The uniform block of matmul.wgsl (`Params`).
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    k: u32,
    n: u32,
    act: u32,
    lr: f32,
    _pad: [u32; 3],
}

/// Byte offset of `lr` in [`Params`].
const LR_OFFSET: u64 = 16;

/// One product to prepare. `a`, `b`, `out` and `extra` may be larger than needed; the kernel
/// binds and touches only the leading elements.
#[derive(Clone, Copy, Debug)]
pub struct MatmulSpec<'a> {
    pub trans: Trans,
    pub epilogue: Epilogue,
    /// For `BiasAct` and `ActGrad`; ignored otherwise.
    pub act: Activation,
    pub m: u32,
    pub k: u32,
    pub n: u32,
    /// For `Sgd`; change it later with [`MatmulKernels::set_lr`].
    pub lr: f32,
    pub a: &'a wgpu::Buffer,
    pub b: &'a wgpu::Buffer,
    /// C `[M][N]`, or W `[M][N]` (read and written) for `Sgd`.
    pub out: &'a wgpu::Buffer,
    /// Bias `[N]` for `BiasAct`, activations `[M][N]` for `ActGrad`, gradient `[M][N]` for
    /// `Sgd { store_grad: true }`; `None` for the others.
    pub extra: Option<&'a wgpu::Buffer>,
}

/// A prepared product: pipeline, bind group and uniforms, ready to encode any number of times.
#[derive(Debug)]
pub struct MatmulCall {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    params: wgpu::Buffer,
    workgroups: [u32; 3],
    pub trans: Trans,
    pub epilogue: Epilogue,
    pub m: u32,
    pub k: u32,
    pub n: u32,
}

impl MatmulCall {
    /// Workgroups dispatched (x over N, y over M).
    pub fn workgroups(&self) -> [u32; 3] {
        self.workgroups
    }
    /// Floating-point operations of the product (2·M·K·N).
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.k as f64 * self.n as f64
    }
}

/// The matmul pipelines of one context and configuration.
pub struct MatmulKernels {
    ctx: Arc<GpuContext>,
    cfg: MatmulConfig,
    /// Bind-group layouts with `extra` read-only and read-write.
    layout_ro: wgpu::BindGroupLayout,
    layout_rw: wgpu::BindGroupLayout,
    /// Bound as `extra` when the epilogue reads none (every binding must be bound).
    dummy: wgpu::Buffer,
    pipelines: Mutex<HashMap<(Trans, Epilogue), wgpu::ComputePipeline>>,
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
        return Err(Error::Shape {
            op: "matmul",
            msg: format!("{what} has {elems} elements, more than the kernel's u32 indexing allows"),
        });
    }
    let bytes = elems * 4;
    if bytes > ctx.limits.max_storage_buffer_binding_size {
        return Err(Error::Shape {
            op: "matmul",
            msg: format!(
                "{what} needs {bytes} bytes, more than one storage binding may hold on this adapter ({}); split the batch",
                ctx.limits.max_storage_buffer_binding_size
            ),
        });
    }
    Ok(bytes)
}

impl MatmulKernels {
    /// Checks `cfg` against the adapter and builds the layouts. Pipelines compile on first use
    /// (see [`MatmulKernels::pipeline`] to compile ahead).
    pub fn new(ctx: &Arc<GpuContext>, cfg: MatmulConfig) -> Result<Self> {
        cfg.check(&ctx.limits)?;
        use BindingKind::{ReadOnly, ReadWrite, Uniform};
        let layout_ro = ctx.bind_group_layout(
            "matmul (extra read-only)",
            &[Uniform, ReadOnly, ReadOnly, ReadWrite, ReadOnly],
        );
        let layout_rw = ctx.bind_group_layout(
            "matmul (extra read-write)",
            &[Uniform, ReadOnly, ReadOnly, ReadWrite, ReadWrite],
        );
        let dummy = ctx.storage_buffer_zeroed("matmul unused extra", 16)?;
        Ok(MatmulKernels {
            ctx: ctx.clone(),
            cfg,
            layout_ro,
            layout_rw,
            dummy,
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
        match epilogue.extra_kind() {
            Some(BindingKind::ReadWrite) => &self.layout_rw,
            _ => &self.layout_ro,
        }
    }

    /// The pipeline for one specialisation, compiled and cached on first use.
    pub fn pipeline(&self, trans: Trans, epilogue: Epilogue) -> Result<wgpu::ComputePipeline> {
        let mut cache = self.pipelines.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cache.get(&(trans, epilogue)) {
            return Ok(p.clone());
        }
        let label = format!("matmul_{}_{}", trans.name(), epilogue.name());
        let started = std::time::Instant::now();
        let module = self
            .ctx
            .load_shader(&label, &shader_source(&self.cfg, trans, epilogue))?;
        let pipeline = self
            .ctx
            .compute_pipeline(&label, &module, "main", self.layout(epilogue))?;
        log::debug!(
            "compiled {label} in {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        cache.insert((trans, epilogue), pipeline.clone());
        Ok(pipeline)
    }

    /// Validates the buffers against `m`, `k`, `n` ([`Error::Shape`]) and builds the uniform
    /// buffer and bind group of one call site. Do this once, outside the training loop.
    pub fn prepare(&self, spec: MatmulSpec<'_>) -> Result<MatmulCall> {
        let MatmulSpec {
            trans,
            epilogue,
            act,
            m,
            k,
            n,
            lr,
            a,
            b,
            out,
            extra,
        } = spec;
        let ctx = &*self.ctx;
        let shape = |msg: String| Error::Shape { op: "matmul", msg };
        let what = format!("{trans:?} {epilogue:?} m={m} k={k} n={n}");
        if m == 0 || k == 0 || n == 0 {
            return Err(shape(format!("{what}: every dimension must be at least 1")));
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
            Epilogue::Store | Epilogue::Sgd { store_grad: false } => None,
        };
        let check = |name: &str, dims: &str, buf: &wgpu::Buffer, need: u64| -> Result<()> {
            if buf.size() < need {
                return Err(shape(format!(
                    "{what}: {name} {dims} needs {need} bytes ({} f32), the buffer has {}",
                    need / 4,
                    buf.size()
                )));
            }
            if !buf.usage().contains(wgpu::BufferUsages::STORAGE) {
                return Err(shape(format!("{what}: {name} buffer lacks STORAGE usage")));
            }
            Ok(())
        };
        check("A", a_dims, a, a_bytes)?;
        check("B", b_dims, b, b_bytes)?;
        check(
            if matches!(epilogue, Epilogue::Sgd { .. }) {
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
                return Err(shape(format!(
                    "{what}: this epilogue needs the extra operand"
                )));
            }
            (None, Some(_)) => {
                return Err(shape(format!(
                    "{what}: this epilogue takes no extra operand"
                )));
            }
            (None, None) => (&self.dummy, self.dummy.size()),
        };
        let (wg_x, wg_y) = (n.div_ceil(self.cfg.tile_n), m.div_ceil(self.cfg.tile_m));
        let max_wg = ctx.limits.max_compute_workgroups_per_dimension;
        if wg_x > max_wg || wg_y > max_wg {
            return Err(shape(format!(
                "{what}: needs {wg_x}×{wg_y} workgroups, the adapter dispatches at most {max_wg} per dimension"
            )));
        }

        let pipeline = self.pipeline(trans, epilogue)?;
        let params = Params {
            m,
            k,
            n,
            act: act.gpu_id(),
            lr,
            _pad: [0; 3],
        };
        let params_buf = ctx.uniform_buffer("matmul params", bytemuck::bytes_of(&params))?;
        let bind_group = ctx.scoped(&format!("binding matmul {what}"), || {
            ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("matmul"),
                layout: self.layout(epilogue),
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: params_buf.as_entire_binding(),
                    },
                    bind(1, a, a_bytes),
                    bind(2, b, b_bytes),
                    bind(3, out, c_bytes),
                    bind(4, extra_buf, extra_bytes),
                ],
            })
        })?;
        Ok(MatmulCall {
            pipeline,
            bind_group,
            params: params_buf,
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

    /// Sets the learning rate of `call` (a queue write: it takes effect for every dispatch of
    /// `call` in the next submission).
    pub fn set_lr(&self, call: &MatmulCall, lr: f32) {
        self.ctx
            .queue
            .write_buffer(&call.params, LR_OFFSET, bytemuck::bytes_of(&lr));
    }

    /// Prepares `spec` and runs it alone: one encoder, one pass, one submission (no wait; a
    /// following read waits). For tests and one-off products.
    pub fn run_once(&self, spec: MatmulSpec<'_>) -> Result<()> {
        let call = self.prepare(spec)?;
        let ctx = &self.ctx;
        ctx.check_alive()?;
        ctx.scoped(
            &format!("running matmul {:?} {:?}", call.trans, call.epilogue),
            || {
                let mut enc = ctx
                    .device
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                        label: Some("matmul once"),
                    });
                {
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some("matmul once"),
                        timestamp_writes: None,
                    });
                    self.encode(&mut pass, &call);
                }
                ctx.queue.submit([enc.finish()]);
            },
        )
    }
}
