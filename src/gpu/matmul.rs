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
//! source is also unrolled from its template ([`expand_template`]). Pipelines are compiled on
//! first use and cached; bind groups are built once per call site by [`MatmulKernels::prepare`],
//! and [`MatmulKernels::encode`] only records a dispatch.

use super::context::{BindingKind, GpuContext};
use crate::error::{Error, Result};
use crate::model::Activation;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const MATMUL_WGSL: &str = include_str!("../../shaders/matmul.wgsl");
const MATMUL_SUBGROUP_WGSL: &str = include_str!("../../shaders/matmul_subgroup.wgsl");

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
}

impl Epilogue {
    /// One of each kind (the SGD one without a stored gradient), for listing variants.
    pub const ALL: [Epilogue; 5] = [
        Epilogue::Store,
        Epilogue::BiasAct,
        Epilogue::ActGrad,
        Epilogue::Sgd { store_grad: false },
        Epilogue::Sgd { store_grad: true },
    ];

    /// The WGSL names (`EPILOGUE_<NAME>`) and ids, generated into every matmul shader.
    pub const IDS: [(&'static str, u32); 4] =
        [("STORE", 0), ("BIAS_ACT", 1), ("ACT_GRAD", 2), ("SGD", 3)];

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
    pub fn name(self) -> &'static str {
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
    /// [K][M]) shared by broadcast and 8 vec4 loads of B.
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

/// One specialisation of a kernel: what is generated into its source besides the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Variant {
    trans: Trans,
    epilogue: Epilogue,
    /// A is bound as `array<vec4<f32>>` (its rows are whole vec4s).
    a_vec4: bool,
    /// B is bound as `array<vec4<f32>>`.
    b_vec4: bool,
}

impl Variant {
    /// The variant `cfg` runs for an `m×k×n` product: vec4 operands where the kernel reads them
    /// as vec4 and their rows are 16-byte aligned (the bindings start at offset 0).
    fn new(cfg: &MatmulConfig, trans: Trans, epilogue: Epilogue, m: u32, k: u32, n: u32) -> Self {
        let (a_vec4, b_vec4) = match cfg.kernel {
            MatmulKernel::Tiled => (false, false),
            // A [K][M] is read along M (4 rows per vec4); A [M][K] along K, which only the
            // register kernel does (the subgroup kernel spreads k over the lanes).
            kernel => (
                if trans.a_km() {
                    m.is_multiple_of(4)
                } else {
                    kernel == MatmulKernel::Register && k.is_multiple_of(4)
                },
                if trans.b_nk() {
                    k.is_multiple_of(4)
                } else {
                    n.is_multiple_of(4)
                },
            ),
        };
        Variant {
            trans,
            epilogue,
            a_vec4,
            b_vec4,
        }
    }

    fn label(&self, cfg: &MatmulConfig) -> String {
        let kernel = match cfg.kernel {
            MatmulKernel::Tiled => "",
            MatmulKernel::Subgroup => "_subgroup",
            MatmulKernel::Register => "_register",
        };
        let vec = |v: bool| if v { "4" } else { "1" };
        format!(
            "matmul{kernel}_{}_{}_a{}b{}",
            self.trans.name(),
            self.epilogue.name(),
            vec(self.a_vec4),
            vec(self.b_vec4)
        )
    }
}

/// The WGSL source of one specialisation for operands whose rows are 16-byte aligned (M, K and
/// N multiples of 4): common.wgsl + generated consts + the kernel's file (unrolled for the
/// subgroup and register kernels).
pub fn shader_source(cfg: &MatmulConfig, trans: Trans, epilogue: Epilogue) -> Result<String> {
    variant_source(cfg, &Variant::new(cfg, trans, epilogue, 4, 4, 4))
}

fn variant_source(cfg: &MatmulConfig, v: &Variant) -> Result<String> {
    let Variant {
        trans,
        epilogue,
        a_vec4,
        b_vec4,
    } = *v;
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
    let consts = format!(
        "// ---- generated by src/gpu/matmul.rs: {trans:?}, {epilogue:?}, {cfg:?}, A vec4 {a_vec4}, B vec4 {b_vec4}\n\
         const TILE_M: u32 = {}u;\n\
         const TILE_N: u32 = {}u;\n\
         const TILE_K: u32 = {}u;\n\
         const REG_M: u32 = {}u;\n\
         const REG_N: u32 = {}u;\n\
         const A_KM: bool = {};\n\
         const B_NK: bool = {};\n\
         const EPILOGUE: u32 = {}u;\n\
         const STORE_GRAD: bool = {};\n\
         {extra}",
        cfg.tile_m,
        cfg.tile_n,
        cfg.tile_k,
        cfg.reg_m,
        cfg.reg_n,
        trans.a_km(),
        trans.b_nk(),
        epilogue.id(),
        epilogue.store_grad(),
    );
    if cfg.kernel == MatmulKernel::Tiled {
        return Ok(format!(
            "{}\n{consts}// ---- end of generated part\n\n{MATMUL_WGSL}",
            super::shaders::common()
        ));
    }
    // An operand bound as vec4 still gets a scalar loader (and the reverse) so that the
    // kernel's not-taken const branches compile; they are never called.
    let operand = |name: &str, what: &str, vec4: bool| {
        if vec4 {
            format!(
                "@group(0) @binding({}) var<storage, read> {name}: array<vec4<f32>>; // {what}, as vec4\n\
                 const {}_VEC4: bool = true;\n\
                 fn load_{name}4(i: u32) -> vec4<f32> {{ return {name}[i]; }}\n\
                 fn load_{name}(i: u32) -> f32 {{ return {name}[i / 4u][i % 4u]; }}\n",
                if name == "a" { 1 } else { 2 },
                name.to_uppercase(),
            )
        } else {
            format!(
                "@group(0) @binding({}) var<storage, read> {name}: array<f32>; // {what}\n\
                 const {}_VEC4: bool = false;\n\
                 fn load_{name}(i: u32) -> f32 {{ return {name}[i]; }}\n\
                 fn load_{name}4(i: u32) -> vec4<f32> {{ return vec4({name}[4u * i], {name}[4u * i + 1u], {name}[4u * i + 2u], {name}[4u * i + 3u]); }}\n",
                if name == "a" { 1 } else { 2 },
                name.to_uppercase(),
            )
        }
    };
    let a_what = if trans.a_km() { "[K][M]" } else { "[M][K]" };
    let b_what = if trans.b_nk() { "[N][K]" } else { "[K][N]" };
    let subgroup = cfg.kernel == MatmulKernel::Subgroup;
    let body = expand_template(
        MATMUL_SUBGROUP_WGSL,
        |name| match name {
            "TILE_M" => Some(cfg.tile_m),
            "REG_N" => Some(cfg.reg_n),
            "COLS" => Some(cfg.reg_n / 4),
            "QUADS" => Some(cfg.tile_m / 4),
            _ => None,
        },
        |flag| match flag {
            "SUBGROUP" => Some(subgroup),
            "A_KM" => Some(trans.a_km()),
            "B_NK" => Some(trans.b_nk()),
            "A_VEC4" => Some(a_vec4),
            "B_VEC4" => Some(b_vec4),
            "STORE" => Some(epilogue == Epilogue::Store),
            "BIAS_ACT" => Some(epilogue == Epilogue::BiasAct),
            "ACT_GRAD" => Some(epilogue == Epilogue::ActGrad),
            "SGD" => Some(matches!(epilogue, Epilogue::Sgd { .. })),
            "STORE_GRAD" => Some(epilogue.store_grad()),
            _ => None,
        },
    )
    .map_err(|e| Error::Gpu(format!("expanding shaders/matmul_subgroup.wgsl: {e}")))?;
    Ok(format!(
        "{}\n{consts}{}{}// ---- end of generated part\n\n{body}",
        super::shaders::common(),
        operand("a", a_what, a_vec4),
        operand("b", b_what, b_vec4),
    ))
}

/// Expands the template directives of a WGSL file (see shaders/matmul_subgroup.wgsl):
/// `// @for v in 0..N` … `// @end` repeats its lines for v = 0..N-1, where N is a number or a
/// name that `consts` knows; `// @if COND` … [`// @else` …] `// @end` keeps one branch, COND
/// being names that `flags` knows joined by `&&` and `||`, each maybe negated by `!`; `${expr}`
/// becomes the value of an integer expression over the loop variables in
/// scope (`+ - * / %`, parentheses), except in comment lines. Directives must be alone on their
/// line.
pub fn expand_template(
    src: &str,
    consts: impl Fn(&str) -> Option<u32>,
    flags: impl Fn(&str) -> Option<bool>,
) -> std::result::Result<String, String> {
    let lines: Vec<&str> = src.lines().collect();
    let mut out = String::with_capacity(src.len() * 8);
    let mut vars = Vec::new();
    let end = expand_lines(&lines, 0, &consts, &flags, &mut vars, &mut out)?;
    match end {
        (i, None) if i == lines.len() => Ok(out),
        (i, _) => Err(format!("line {}: unmatched {}", i + 1, lines[i].trim())),
    }
}

/// The value of an `@if` condition: flags joined by `&&` (binding tighter) and `||`, each
/// maybe negated by `!`.
fn condition(
    cond: &str,
    flags: &impl Fn(&str) -> Option<bool>,
) -> std::result::Result<bool, String> {
    let mut any = false;
    for term in cond.split("||") {
        let mut all = true;
        for factor in term.split("&&") {
            let factor = factor.trim();
            let (negated, name) = match factor.strip_prefix('!') {
                Some(name) => (true, name.trim()),
                None => (false, factor),
            };
            let value = flags(name).ok_or_else(|| format!("unknown flag {name}"))?;
            all &= value != negated;
        }
        any |= all;
    }
    Ok(any)
}

/// A directive on `line`: (keyword, argument).
fn directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim().strip_prefix("// @")?;
    let (word, arg) = rest.split_once(' ').unwrap_or((rest, ""));
    matches!(word, "for" | "if" | "else" | "end").then_some((word, arg.trim()))
}

/// Expands `lines[start..]` into `out` until an `@else` or `@end` that closes the caller's block
/// (or the end of input); returns its index and keyword.
fn expand_lines<'a>(
    lines: &[&'a str],
    start: usize,
    consts: &impl Fn(&str) -> Option<u32>,
    flags: &impl Fn(&str) -> Option<bool>,
    vars: &mut Vec<(&'a str, i64)>,
    out: &mut String,
) -> std::result::Result<(usize, Option<&'static str>), String> {
    let mut i = start;
    while i < lines.len() {
        let line = lines[i];
        let err = |msg: String| format!("line {}: {msg}: {}", i + 1, line.trim());
        match directive(line) {
            Some(("end", _)) => return Ok((i, Some("end"))),
            Some(("else", _)) => return Ok((i, Some("else"))),
            Some(("for", arg)) => {
                let (var, range) = arg
                    .split_once(" in 0..")
                    .ok_or_else(|| err("expected `@for v in 0..N`".into()))?;
                let n = match range.trim().parse::<u32>() {
                    Ok(n) => n,
                    Err(_) => {
                        consts(range.trim()).ok_or_else(|| err(format!("unknown bound {range}")))?
                    }
                };
                // Expand the body once per value; an empty range still has to find its end.
                let mut close = None;
                for v in 0..n.max(1) {
                    vars.push((var.trim(), v as i64));
                    let mut body = String::new();
                    let (j, kw) = expand_lines(lines, i + 1, consts, flags, vars, &mut body)?;
                    vars.pop();
                    if kw != Some("end") {
                        return Err(err("@for without @end".into()));
                    }
                    if v < n {
                        out.push_str(&body);
                    }
                    close = Some(j);
                }
                i = close.expect("at least one pass") + 1;
            }
            Some(("if", cond)) => {
                let on = condition(cond, flags).map_err(err)?;
                let mut then_part = String::new();
                let (j, kw) = expand_lines(lines, i + 1, consts, flags, vars, &mut then_part)?;
                let (close, else_part) = match kw {
                    Some("else") => {
                        let mut else_part = String::new();
                        let (k, kw) =
                            expand_lines(lines, j + 1, consts, flags, vars, &mut else_part)?;
                        if kw != Some("end") {
                            return Err(err("@if without @end".into()));
                        }
                        (k, else_part)
                    }
                    Some("end") => (j, String::new()),
                    _ => return Err(err("@if without @end".into())),
                };
                out.push_str(if on { &then_part } else { &else_part });
                i = close + 1;
            }
            // Comment lines are copied as they are (they may describe the syntax).
            _ if line.trim_start().starts_with("//") => {
                out.push_str(line);
                out.push('\n');
                i += 1;
            }
            _ => {
                substitute(line, vars, out).map_err(err)?;
                out.push('\n');
                i += 1;
            }
        }
    }
    Ok((i, None))
}

/// Copies `line` to `out` with every `${expr}` replaced by its value.
fn substitute(
    line: &str,
    vars: &[(&str, i64)],
    out: &mut String,
) -> std::result::Result<(), String> {
    let mut rest = line;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let close = rest[at..]
            .find('}')
            .ok_or_else(|| "unclosed ${".to_string())?;
        let expr = &rest[at + 2..at + close];
        out.push_str(&Expr::new(expr, vars).eval()?.to_string());
        rest = &rest[at + close + 1..];
    }
    out.push_str(rest);
    Ok(())
}

/// A tiny recursive-descent evaluator for `${...}`: integers, variables, `+ - * / %`, `( )`.
struct Expr<'a, 'v> {
    src: &'a str,
    pos: usize,
    vars: &'v [(&'v str, i64)],
}

impl<'a, 'v> Expr<'a, 'v> {
    fn new(src: &'a str, vars: &'v [(&'v str, i64)]) -> Self {
        Expr { src, pos: 0, vars }
    }
    fn eval(mut self) -> std::result::Result<i64, String> {
        let v = self.sum()?;
        self.skip_ws();
        if self.pos != self.src.len() {
            return Err(format!(
                "unexpected `{}` in ${{{}}}",
                &self.src[self.pos..],
                self.src
            ));
        }
        Ok(v)
    }
    fn skip_ws(&mut self) {
        while self.src[self.pos..].starts_with(' ') {
            self.pos += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.src.as_bytes().get(self.pos).copied()
    }
    fn sum(&mut self) -> std::result::Result<i64, String> {
        let mut v = self.product()?;
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.pos += 1;
            let r = self.product()?;
            v = if op == b'+' { v + r } else { v - r };
        }
        Ok(v)
    }
    fn product(&mut self) -> std::result::Result<i64, String> {
        let mut v = self.atom()?;
        while let Some(op @ (b'*' | b'/' | b'%')) = self.peek() {
            self.pos += 1;
            let r = self.atom()?;
            v = match op {
                b'*' => v * r,
                _ if r == 0 => return Err(format!("division by zero in ${{{}}}", self.src)),
                b'/' => v / r,
                _ => v % r,
            };
        }
        Ok(v)
    }
    fn atom(&mut self) -> std::result::Result<i64, String> {
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let v = self.sum()?;
                if self.peek() != Some(b')') {
                    return Err(format!("missing `)` in ${{{}}}", self.src));
                }
                self.pos += 1;
                Ok(v)
            }
            Some(c) if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = self.pos;
                while self
                    .src
                    .as_bytes()
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    self.pos += 1;
                }
                let word = &self.src[start..self.pos];
                if let Ok(n) = word.parse::<i64>() {
                    return Ok(n);
                }
                self.vars
                    .iter()
                    .rev()
                    .find(|(name, _)| *name == word)
                    .map(|&(_, v)| v)
                    .ok_or_else(|| format!("unknown variable `{word}` in ${{{}}}", self.src))
            }
            _ => Err(format!(
                "expected a number or variable in ${{{}}}",
                self.src
            )),
        }
    }
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
    /// Checks that the adapter supports `cfg` and builds the layouts. Pipelines compile on first
    /// use (see [`MatmulKernels::pipeline`] to compile ahead).
    pub fn new(ctx: &Arc<GpuContext>, cfg: MatmulConfig) -> Result<Self> {
        cfg.supported(ctx)?;
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

        let pipeline = self.pipeline_for(trans, epilogue, m, k, n)?;
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
