//! The WGSL of one matmul variant: the config, layout, epilogue and operand alignment as
//! generated `const`s above shaders/matmul.wgsl, or the subgroup kernel unrolled from its
//! template.

use super::{Epilogue, MatmulConfig, MatmulKernel, Trans};
use crate::error::{Error, Result};
use crate::gpu::context::BindingKind;
use crate::gpu::kernels::optim;
use crate::gpu::template::expand_template;

const MATMUL_WGSL: &str = include_str!("../../../../shaders/matmul.wgsl");
const MATMUL_SUBGROUP_WGSL: &str = include_str!("../../../../shaders/matmul_subgroup.wgsl");

/// Bindings 5 to 8 and `optim_store` of the fused optimizer epilogue: `W[i]`, its state and
/// the rule (shaders/optim_rule.wgsl, above), with `g` = C[i] as the gradient.
const OPTIM_EPILOGUE: &str = "\
@group(0) @binding(5) var<storage, read_write> opt_m: array<f32>; // [M][N] velocity or first moment (or a dummy)
@group(0) @binding(6) var<storage, read_write> opt_v: array<f32>; // [M][N] second moment (or a dummy)
@group(0) @binding(7) var<storage, read> opt_state: array<u32>; // [2] step size, [3] sqrt(1 - beta2^t), f32 bits
@group(0) @binding(8) var<storage, read_write> opt_flags: array<atomic<u32>>; // [0] set on a NaN/inf in the state
fn optim_store(i: u32, g: f32) {
    let has_m = params.rule.kind != OPT_SGD || params.rule.momentum != 0.0;
    let has_v = params.rule.kind != OPT_SGD;
    var m = 0.0;
    var v = 0.0;
    if has_m {
        m = opt_m[i];
    }
    if has_v {
        v = opt_v[i];
    }
    let r = optim_rule(params.rule, params.lr, params.rule.weight_decay, vec4(g), vec4(out[i]),
                       vec4(m), vec4(v), bitcast<f32>(opt_state[2]), bitcast<f32>(opt_state[3]));
    out[i] = r.w.x;
    if has_m {
        opt_m[i] = r.m.x;
    }
    if has_v {
        opt_v[i] = r.v.x;
    }
    if !rule_finite(vec4(r.m.x), vec4(r.v.x)) {
        atomicOr(&opt_flags[0], 1u);
    }
}
";

/// One specialisation of a kernel: what is generated into its source besides the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Variant {
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
    pub(super) fn new(
        cfg: &MatmulConfig,
        trans: Trans,
        epilogue: Epilogue,
        m: u32,
        k: u32,
        n: u32,
    ) -> Self {
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

    pub(super) fn label(&self, cfg: &MatmulConfig) -> String {
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

pub(super) fn variant_source(cfg: &MatmulConfig, v: &Variant) -> Result<String> {
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
    // The fused optimizer's state (Epilogue::Optim), or a stub so that the kernel's not-taken
    // const branch compiles.
    let optim = if epilogue == Epilogue::Optim {
        OPTIM_EPILOGUE
    } else {
        "fn optim_store(i: u32, g: f32) {} // no optimizer in this specialisation\n"
    };
    let consts = format!(
        "// ---- generated by src/gpu/kernels/matmul/source.rs: {trans:?}, {epilogue:?}, {cfg:?}, A vec4 {a_vec4}, B vec4 {b_vec4}\n\
         const TILE_M: u32 = {}u;\n\
         const TILE_N: u32 = {}u;\n\
         const TILE_K: u32 = {}u;\n\
         const REG_M: u32 = {}u;\n\
         const REG_N: u32 = {}u;\n\
         const A_KM: bool = {};\n\
         const B_NK: bool = {};\n\
         const EPILOGUE: u32 = {}u;\n\
         const STORE_GRAD: bool = {};\n\
         {extra}{optim}",
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
            "{}\n{}\n{consts}// ---- end of generated part\n\n{MATMUL_WGSL}",
            crate::gpu::shaders::common(),
            optim::RULE_WGSL,
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
            "OPTIM" => Some(epilogue == Epilogue::Optim),
            "STORE_GRAD" => Some(epilogue.store_grad()),
            _ => None,
        },
    )
    .map_err(|e| Error::Gpu(format!("expanding shaders/matmul_subgroup.wgsl: {e}")))?;
    Ok(format!(
        "{}\n{}\n{consts}{}{}// ---- end of generated part\n\n{body}",
        crate::gpu::shaders::common(),
        optim::RULE_WGSL,
        operand("a", a_what, a_vec4),
        operand("b", b_what, b_vec4),
    ))
}
