//! Where the WGSL that runs comes from: the files in `shaders/`, the ids that Rust and WGSL
//! share (generated here from the Rust enums, never kept in step by hand), and the list of
//! every kernel variant with its expanded source (`gpunn shaders --dump DIR`).

use super::kernels;
use super::matmul::{self, Epilogue, MatmulConfig, Trans};
use crate::model::{Activation, Loss, LEAKY_SLOPE};
use crate::optim::OptimizerKind;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// shaders/common.wgsl: the activation functions every kernel with an activation uses.
const COMMON_WGSL: &str = include_str!("../../shaders/common.wgsl");

/// `const` declarations of the ids shared with Rust: `ACT_<NAME>` from [`Activation::gpu_id`],
/// `LOSS_<NAME>` from [`Loss::gpu_id`], `OPT_<NAME>` from [`OptimizerKind::gpu_id`],
/// `EPILOGUE_<NAME>` from the matmul epilogues, and `LEAKY_SLOPE`.
pub fn ids() -> String {
    let upper = |s: &str| s.to_ascii_uppercase().replace('-', "_");
    let mut out = String::from("// ---- ids generated from the Rust enums by src/gpu/shaders.rs\n");
    for a in Activation::ALL {
        out += &format!("const ACT_{}: u32 = {}u;\n", upper(a.name()), a.gpu_id());
    }
    for l in Loss::ALL {
        out += &format!("const LOSS_{}: u32 = {}u;\n", upper(l.name()), l.gpu_id());
    }
    for k in OptimizerKind::ALL {
        out += &format!("const OPT_{}: u32 = {}u;\n", upper(k.name()), k.gpu_id());
    }
    for (name, id) in Epilogue::IDS {
        out += &format!("const EPILOGUE_{name}: u32 = {id}u;\n");
    }
    out += &format!("const LEAKY_SLOPE: f32 = {LEAKY_SLOPE:?};\n");
    out
}

/// The generated ids followed by shaders/common.wgsl: what kernels with activations start with.
pub fn common() -> String {
    format!("{}\n{COMMON_WGSL}", ids())
}

/// Every kernel variant the engines compile, as (file name, expanded WGSL): the step kernels,
/// and each matmul kernel configuration × operand layout × epilogue (for 16-byte-aligned
/// operands; the unaligned ones differ only in their loaders).
pub fn all_variants() -> Result<Vec<(String, String)>> {
    let mut out = kernels::sources();
    let configs = [
        ("tiled", MatmulConfig::GPU),
        ("subgroup", MatmulConfig::SUBGROUP),
        ("register", MatmulConfig::REGISTER),
    ];
    for (kernel, cfg) in configs {
        for trans in Trans::ALL {
            for epi in Epilogue::ALL {
                let name = format!("matmul_{kernel}_{}_{}.wgsl", trans.name(), epi.name());
                out.push((name, matmul::shader_source(&cfg, trans, epi)?));
            }
        }
    }
    Ok(out)
}

/// Writes [`all_variants`] into `dir` (created if missing); returns the files written.
pub fn dump(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut written = Vec::new();
    for (name, source) in all_variants()? {
        let path = dir.join(name);
        std::fs::write(&path, source).map_err(|e| Error::io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}
