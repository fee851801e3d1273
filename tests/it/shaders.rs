//! The WGSL that runs: ids generated from the Rust enums, every variant dumped by
//! `gpunn shaders --dump` and compiled by the adapter.

use crate::cli::{gpunn, stderr, stdout};
use crate::common::{gpu_or_skip, Scratch};
use gpunn::model::{Activation, Loss};

#[test]
fn generated_ids_match_the_rust_enums() {
    let ids = gpunn::gpu::ids::ids();
    for a in Activation::ALL {
        let name = a.name().to_ascii_uppercase();
        assert!(
            ids.contains(&format!("const ACT_{name}: u32 = {}u;", a.gpu_id())),
            "{ids}"
        );
    }
    for l in Loss::ALL {
        let name = l.name().to_ascii_uppercase().replace('-', "_");
        assert!(
            ids.contains(&format!("const LOSS_{name}: u32 = {}u;", l.gpu_id())),
            "{ids}"
        );
    }
    for (name, bit) in gpunn::gpu::ids::RULE_FLAGS {
        assert!(
            ids.contains(&format!("const {name}: u32 = {bit}u;")),
            "{ids}"
        );
    }
    // No shader file keeps its own copy of an id.
    let dir = format!("{}/shaders", env!("CARGO_MANIFEST_DIR"));
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let l = line.trim_start();
            let ids = [
                "const ACT_",
                "const LOSS_",
                "const EPILOGUE_",
                "const OPT_",
                "const RULE_",
            ];
            assert!(
                !ids.iter().any(|id| l.starts_with(id)),
                "{} defines an id by hand: {line}",
                path.display()
            );
        }
        files += 1;
    }
    assert!(files >= 10, "{files} shader files");
}

#[test]
fn dumped_variants_compile_on_the_adapter() {
    let dir = Scratch::new("shaders_dump");
    let out = gpunn(&["shaders", "--dump", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let files: Vec<_> = std::fs::read_dir(&*dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(stdout(&out).contains(&format!("wrote {} shader variants", files.len())));
    assert!(files.len() >= 50, "{} files", files.len());
    let Some(ctx) = gpu_or_skip("dumped_variants_compile_on_the_adapter") else {
        return;
    };
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if name.contains("subgroup") && !ctx.device.features().contains(wgpu::Features::SUBGROUP) {
            continue;
        }
        ctx.load_shader("dumped", &src)
            .unwrap_or_else(|e| panic!("{name} does not compile: {e}"));
    }
}
