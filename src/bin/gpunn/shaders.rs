//! `gpunn shaders --dump DIR`: the expanded WGSL of every kernel variant, as compiled.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ShadersArgs {
    /// Write one .wgsl file per variant into this directory.
    #[arg(long, value_name = "DIR")]
    dump: PathBuf,
}

pub fn run(a: ShadersArgs) -> Result<()> {
    let files = gpunn::gpu::shaders::dump(&a.dump)?;
    println!(
        "wrote {} shader variants to {}",
        files.len(),
        a.dump.display()
    );
    Ok(())
}
