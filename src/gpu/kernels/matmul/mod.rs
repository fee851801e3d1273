//! The tiled matmul kernel family (shaders/matmul.wgsl): the three products of a dense layer,
//! each with a fused epilogue.
//!
//! | `Trans` | operands | C | used for |
//! |---|---|---|---|
//! | `NT` | A `[M][K]`, B `[N][K]` | A·Bᵀ | forward, Z = X·Wᵀ (W `[out][in]`) |
//! | `NN` | A `[M][K]`, B `[K][N]` | A·B | input gradient, dX = dZ·W |
//! | `TN` | A `[K][M]`, B `[K][N]` | Aᵀ·B | weight gradient, dW = dZᵀ·X |
//!
//! Two kernels compute them ([`MatmulKernel`]), chosen from the adapter by
//! [`MatmulConfig::for_adapter`]:
//! - **tiled** (shaders/matmul.wgsl), for real GPUs: a workgroup stages tiles of A and B in
//!   shared memory, each thread keeps a register block of C;
//! - **subgroup** (shaders/matmul_subgroup.wgsl), for CPU-type adapters (lavapipe): one 8-lane
//!   subgroup per workgroup owns a block of C in registers, reads B as vec4 rows and shares A
//!   through `subgroupBroadcast`; without `Features::SUBGROUP` the same kernel reads A directly
//!   (**register**). On lavapipe the subgroup kernel is ~15× faster than the tiles (see
//!   [`MatmulConfig::SUBGROUP`] and the shader's header).
//!
//! Layout, epilogue, tile sizes and operand alignment are `const`s generated into the shader
//! source, so each pipeline is specialised and its branches fold away; the subgroup kernel's
//! source is also unrolled from its template ([`crate::gpu::template`]). Pipelines are compiled on
//! first use and cached; bind groups are built once per call site by [`MatmulKernels::prepare`],
//! and [`MatmulKernels::encode`] only records a dispatch.

mod call;
mod launch;
mod source;

pub use call::{MatmulCall, MatmulOptim, MatmulParams, MatmulSpec};
pub use launch::MatmulKernels;
pub use source::shader_source;

use crate::error::{Error, Result};
use crate::gpu::context::{BindingKind, GpuContext};

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
    pub fn name(self) -> &'static str {
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
    /// Any other optimizer fused in: `W[m][n]` updated in place by the optimizer rule
    /// (shaders/optim_rule.wgsl) with `C` as its gradient, the state at bindings 5 to 8 (see
    /// [`MatmulOptim`]). For weights, without global-norm clipping (which needs every gradient
    /// first). Prepared with [`MatmulKernels::prepare_optim`].
    Optim,
}

impl Epilogue {
    /// One of each kind (the SGD one without a stored gradient), for listing variants.
    pub const ALL: [Epilogue; 6] = [
        Epilogue::Store,
        Epilogue::BiasAct,
        Epilogue::ActGrad,
        Epilogue::Sgd { store_grad: false },
        Epilogue::Sgd { store_grad: true },
        Epilogue::Optim,
    ];

    /// The WGSL names (`EPILOGUE_<NAME>`) and ids, generated into every matmul shader.
    /// The id the kernel's `EPILOGUE` const takes ([`crate::gpu::ids::EPILOGUE_IDS`]).
    fn id(self) -> u32 {
        use crate::gpu::ids::*;
        match self {
            Epilogue::Store => EPILOGUE_STORE,
            Epilogue::BiasAct => EPILOGUE_BIAS_ACT,
            Epilogue::ActGrad => EPILOGUE_ACT_GRAD,
            Epilogue::Sgd { .. } => EPILOGUE_SGD,
            Epilogue::Optim => EPILOGUE_OPTIM,
        }
    }
    fn store_grad(self) -> bool {
        matches!(self, Epilogue::Sgd { store_grad: true })
    }
    pub fn name(self) -> &'static str {
        match self {
            Epilogue::Store => "store",
            Epilogue::BiasAct => "bias_act",
            Epilogue::ActGrad => "act_grad",
            Epilogue::Sgd { store_grad: false } => "sgd",
            Epilogue::Sgd { store_grad: true } => "sgd_grad",
            Epilogue::Optim => "optim",
        }
    }
    /// How binding 4 (`extra`) is accessed; `None` when the epilogue reads no extra operand.
    fn extra_kind(self) -> Option<BindingKind> {
        match self {
            Epilogue::Store | Epilogue::Sgd { store_grad: false } | Epilogue::Optim => None,
            Epilogue::BiasAct | Epilogue::ActGrad => Some(BindingKind::ReadOnly),
            Epilogue::Sgd { store_grad: true } => Some(BindingKind::ReadWrite),
        }
    }
}

/// Which kernel of the family runs the products.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulKernel {
    /// shaders/matmul.wgsl: tiles of A and B staged in shared memory, a register block of C per
    /// thread. For real GPUs.
    Tiled,
    /// shaders/matmul_subgroup.wgsl: one 8-lane subgroup per workgroup, no shared memory, A shared
    /// by `subgroupBroadcast`, B read as vec4. For CPU-type adapters with `Features::SUBGROUP`
    /// and subgroups of at least 8 lanes.
    Subgroup,
    /// The same kernel with every lane reading A itself: for CPU-type adapters without subgroups
    /// (lavapipe through GL).
    Register,
}

/// Tile sizes of the kernel. One workgroup computes a `tile_m × tile_n` block of C with
/// `(tile_m / reg_m) × (tile_n / reg_n)` threads, each holding a `reg_m × reg_n` block of C in
/// registers.
///
/// - [`MatmulKernel::Tiled`]: K advances `tile_k` at a time through shared memory.
/// - [`MatmulKernel::Subgroup`] and [`MatmulKernel::Register`]: 8 threads per workgroup
///   (`tile_n = 8 · reg_n`, `tile_m = reg_m`), `reg_n` a multiple of 4 (vec4 columns), and
///   `tile_k = 8`: K advances one k-step per lane, the block that one round of broadcasts covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatmulConfig {
    pub kernel: MatmulKernel,
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
        kernel: MatmulKernel::Tiled,
        tile_m: 64,
        tile_n: 64,
        tile_k: 16,
        reg_m: 4,
        reg_n: 4,
    };

    /// For CPU-type adapters with subgroups (lavapipe on Vulkan): a 32×32 block of C per 8-lane
    /// workgroup, each lane 32 rows × 4 columns (32 vec4 accumulators). Per 8 k-steps a lane does
    /// 32 vec4 FMAs per row, 1024 scalar FMAs in all, for 32 loads of A (8 vec4 where A is
    /// `[K][M]`) shared by broadcast and 8 vec4 loads of B.
    ///
    /// Measured on lavapipe (2 cores, `matmul_gflops_by_config`, best of 5): 34-38 GFLOP/s at
    /// 128×784×128 (NT, NN) and 128×128×784 (TN), 42 at 256×784×1024, against 2.2-2.4 for the
    /// tiled kernel; the 8 products of a 784-128-64-10 step at batch 128 take 2.1 ms instead of
    /// 27 ms. The small products (≤ 2 MFLOP) are bound by lavapipe's ~60-70 µs per dispatch.
    /// 32×64 blocks (`reg_n` 8) make that step 1.8 ms (46 GFLOP/s at 128×784×128) but double
    /// the shader compile (lavapipe's LLVM takes ~0.4 s per pipeline at 32×32, the first time;
    /// Mesa caches it on disk); 16×32 and 16×64 are slower, 64×32 about as fast as 32×64.
    pub const SUBGROUP: MatmulConfig = MatmulConfig {
        kernel: MatmulKernel::Subgroup,
        tile_m: 32,
        tile_n: 32,
        tile_k: 8,
        reg_m: 32,
        reg_n: 4,
    };

    /// For CPU-type adapters without subgroups: the subgroup kernel's shape, A read by every
    /// lane (vec4 along its rows where aligned). Each element of A then costs 8 loads instead
    /// of 1: 11-15 GFLOP/s on the big MNIST products on lavapipe, half the subgroup kernel and
    /// 5× the tiled one.
    pub const REGISTER: MatmulConfig = MatmulConfig {
        kernel: MatmulKernel::Register,
        tile_m: 32,
        tile_n: 32,
        tile_k: 8,
        reg_m: 32,
        reg_n: 4,
    };

    /// The tiled kernel shaped for CPU-type adapters: 8×8 registers (64 FMAs per 16 shared loads)
    /// with few threads (8×4 = 32). Measured on lavapipe it reaches ~2.4 GFLOP/s like
    /// [`MatmulConfig::GPU`]: the tiled kernel is bound by per-lane shared and global loads there,
    /// whatever the tile. Kept as a tested alternative with rectangular tiles and big registers,
    /// and as `GPUNN_MATMUL=tiled` on software adapters.
    pub const TILED_WIDE: MatmulConfig = MatmulConfig {
        kernel: MatmulKernel::Tiled,
        tile_m: 32,
        tile_n: 64,
        tile_k: 16,
        reg_m: 8,
        reg_n: 8,
    };

    /// The fallback that fits the WebGPU minimum limits with room to spare.
    pub const SMALL: MatmulConfig = MatmulConfig {
        kernel: MatmulKernel::Tiled,
        tile_m: 16,
        tile_n: 16,
        tile_k: 16,
        reg_m: 2,
        reg_n: 2,
    };

    /// Every preset, for tests and benchmarks.
    pub const PRESETS: [MatmulConfig; 5] = [
        MatmulConfig::GPU,
        MatmulConfig::SUBGROUP,
        MatmulConfig::REGISTER,
        MatmulConfig::TILED_WIDE,
        MatmulConfig::SMALL,
    ];

    /// A configuration that suits `ctx`'s adapter and that it supports: the subgroup kernel on
    /// CPU-type adapters (the register kernel where subgroups are missing), the tiled kernel on
    /// GPUs. `GPUNN_MATMUL=tiled|subgroup|register` puts that kernel's preset first (to compare
    /// kernels, or to step around a driver problem); one the adapter cannot run is skipped.
    pub fn for_adapter(ctx: &GpuContext) -> MatmulConfig {
        let forced = match std::env::var("GPUNN_MATMUL").ok().as_deref() {
            Some("tiled") => Some(if ctx.is_software() {
                MatmulConfig::TILED_WIDE
            } else {
                MatmulConfig::GPU
            }),
            Some("subgroup") => Some(MatmulConfig::SUBGROUP),
            Some("register") => Some(MatmulConfig::REGISTER),
            Some(other) => {
                log::warn!("GPUNN_MATMUL={other}: expected tiled, subgroup or register; ignored");
                None
            }
            None => None,
        };
        let preferred = if ctx.is_software() {
            [MatmulConfig::SUBGROUP, MatmulConfig::REGISTER]
        } else {
            [MatmulConfig::GPU, MatmulConfig::GPU]
        };
        forced
            .into_iter()
            .chain(preferred)
            .chain([MatmulConfig::GPU, MatmulConfig::SMALL])
            .find(|c| c.supported(ctx).is_ok())
            .unwrap_or(MatmulConfig::SMALL)
    }

    /// Threads per workgroup, (x, y) = (tile_n / reg_n, tile_m / reg_m).
    pub fn workgroup_size(&self) -> (u32, u32) {
        (self.tile_n / self.reg_n, self.tile_m / self.reg_m)
    }

    /// Bytes of workgroup (shared) memory the kernel declares.
    pub fn shared_bytes(&self) -> u32 {
        match self.kernel {
            MatmulKernel::Tiled => 4 * self.tile_k * ((self.tile_m + 1) + (self.tile_n + 1)),
            MatmulKernel::Subgroup | MatmulKernel::Register => 0,
        }
    }

    /// Checks the shape rules of the kernel and the adapter's workgroup limits.
    pub fn check(&self, limits: &wgpu::Limits) -> Result<()> {
        let bad = |msg: String| Err(Error::invalid("matmul config", format!("{self:?}: {msg}")));
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
        if self.kernel != MatmulKernel::Tiled {
            if self.workgroup_size() != (8, 1) || self.tile_k != 8 {
                return bad(
                    "this kernel needs tile_n = 8·reg_n, tile_m = reg_m and tile_k = 8".into(),
                );
            }
            if !self.reg_n.is_multiple_of(4) || !self.reg_m.is_multiple_of(4) {
                return bad("this kernel needs reg_m and reg_n to be multiples of 4".into());
            }
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

    /// [`MatmulConfig::check`] against `ctx`'s limits, and for [`MatmulKernel::Subgroup`] the
    /// device's subgroups: the feature, and at least 8 lanes so that the 8 invocations of a
    /// workgroup form one subgroup.
    pub fn supported(&self, ctx: &GpuContext) -> Result<()> {
        self.check(&ctx.limits)?;
        if self.kernel == MatmulKernel::Subgroup {
            if !ctx.has_subgroups() {
                return Err(Error::invalid(
                    "matmul config",
                    format!("{self:?}: the device has no subgroup operations"),
                ));
            }
            if ctx.info.subgroup_min_size < 8 {
                return Err(Error::invalid(
                    "matmul config",
                    format!(
                        "{self:?}: subgroups may have {} lanes, the kernel needs 8 in one",
                        ctx.info.subgroup_min_size
                    ),
                ));
            }
        }
        Ok(())
    }
}
