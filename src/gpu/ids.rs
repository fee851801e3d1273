//! The ids Rust and WGSL share, generated into every kernel's source from their one definition
//! here or in the Rust enums (never kept in step by hand), and shaders/common.wgsl after them.
//! The kernels use this module; the variant listing ([`super::shaders`]) uses the kernels.

use crate::model::{Activation, Loss, LEAKY_SLOPE};
use crate::optim::OptimizerKind;

/// shaders/common.wgsl: the activation functions every kernel with an activation uses.
const COMMON_WGSL: &str = include_str!("../../shaders/common.wgsl");

/// Declares `u32` constants and a list of them with their names, the list for [`ids`].
macro_rules! shared_ids {
    ($(#[$doc:meta])* $list:ident: $($name:ident = $value:expr,)*) => {
        $(pub const $name: u32 = $value;)*
        $(#[$doc])*
        pub const $list: &[(&str, u32)] = &[$((stringify!($name), $value)),*];
    };
}

shared_ids! {
    /// The matmul kernel's epilogues (`Epilogue::id`).
    EPILOGUE_IDS:
    EPILOGUE_STORE = 0,
    EPILOGUE_BIAS_ACT = 1,
    EPILOGUE_ACT_GRAD = 2,
    EPILOGUE_SGD = 3,
    EPILOGUE_OPTIM = 4,
}

shared_ids! {
    /// The bits of `OptimRule::flags`: the rule's switches, and which state it keeps (decided
    /// once, by [`crate::optim::OptimizerConfig::keeps`]).
    RULE_FLAGS:
    RULE_NESTEROV = 1 << 0,
    RULE_CLIP_NORM = 1 << 2,
    RULE_CLIP_VALUE = 1 << 3,
    RULE_KEEPS_M = 1 << 4,
    RULE_KEEPS_V = 1 << 5,
}

/// `const` declarations of the ids shared with Rust: `ACT_<NAME>` from [`Activation::gpu_id`],
/// `LOSS_<NAME>` from [`Loss::gpu_id`], `OPT_<NAME>` from [`OptimizerKind::gpu_id`],
/// [`EPILOGUE_IDS`], [`RULE_FLAGS`] and `LEAKY_SLOPE`.
pub fn ids() -> String {
    let upper = |s: &str| s.to_ascii_uppercase().replace('-', "_");
    let mut out = String::from("// ---- ids generated from the Rust enums by src/gpu/ids.rs\n");
    for a in Activation::ALL {
        out += &format!("const ACT_{}: u32 = {}u;\n", upper(a.name()), a.gpu_id());
    }
    for l in Loss::ALL {
        out += &format!("const LOSS_{}: u32 = {}u;\n", upper(l.name()), l.gpu_id());
    }
    for k in OptimizerKind::ALL {
        out += &format!("const OPT_{}: u32 = {}u;\n", upper(k.name()), k.gpu_id());
    }
    for (name, id) in EPILOGUE_IDS.iter().chain(RULE_FLAGS) {
        out += &format!("const {name}: u32 = {id}u;\n");
    }
    out += &format!("const LEAKY_SLOPE: f32 = {LEAKY_SLOPE:?};\n");
    out
}

/// The generated ids followed by shaders/common.wgsl: what every kernel's source starts with.
pub fn common() -> String {
    format!("{}\n{COMMON_WGSL}", ids())
}

/// Declares a `#[repr(C)]` uniform struct shared with WGSL: the Rust struct and
/// `Name::wgsl()`, its WGSL declaration generated from the same fields, so that the two cannot
/// drift apart. Fields are `u32`, `f32` or another such struct (named alike in both
/// languages); pad by hand to WGSL's uniform layout (a nested struct at a multiple of 16 bytes,
/// the whole a multiple of 16).
#[macro_export]
macro_rules! wgsl_struct {
    ($(#[$meta:meta])* pub struct $name:ident {
        $($(#[$fmeta:meta])* pub $field:ident: $ty:ident,)*
    }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $name {
            /// The WGSL declaration of this struct, generated from its Rust fields.
            pub fn wgsl() -> String {
                let mut s = format!("struct {} {{\n", stringify!($name));
                $(
                    s += &format!("    {}: {},\n", stringify!($field), stringify!($ty));
                )*
                s + "}\n"
            }
        }
    };
}
