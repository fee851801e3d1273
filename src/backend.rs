//! Choosing a backend for `--device`: a GPU adapter, or the CPU engine.

use crate::cpu::fast::FastCpu;
use crate::engine::Engine;
use crate::gpu::{DeviceKind, GpuContext, GpuEngine};
use crate::model::Params;
use crate::{Error, Result};
use std::sync::Arc;

/// An engine and, when `auto` fell back to the CPU, the reason (for the user to see).
pub struct Opened {
    pub engine: Box<dyn Engine>,
    pub fallback: Option<String>,
}

/// Parses `--device`.
pub fn parse_device(s: &str) -> Result<DeviceKind> {
    s.parse().map_err(|e| Error::invalid("device", e))
}

/// The GPU context for `kind`, or `None` for the CPU; `auto` without a hardware GPU gives
/// `None` and the reason. An explicit GPU kind without an adapter is an error with a hint.
pub fn context(kind: DeviceKind) -> Result<(Option<Arc<GpuContext>>, Option<String>)> {
    match kind {
        DeviceKind::Cpu => Ok((None, None)),
        DeviceKind::Auto => match GpuContext::new(DeviceKind::Auto) {
            Ok(ctx) => {
                log::info!("--device auto: using {}", ctx.info.name);
                Ok((Some(Arc::new(ctx)), None))
            }
            Err(e) => {
                // The full adapter list is for RUST_LOG=info; the user gets one line.
                log::info!("--device auto: {e}");
                Ok((
                    None,
                    Some(
                        "--device auto: no hardware GPU, running on the CPU engine (--device software \
                         forces the slower software adapter; `gpunn devices` lists adapters)"
                            .into(),
                    ),
                ))
            }
        },
        other => Ok((Some(Arc::new(GpuContext::new(other)?)), None)),
    }
}

/// Opens the engine for `kind` with `params`, for batches of `batch` samples.
pub fn open(kind: DeviceKind, params: &Params, batch: usize) -> Result<Opened> {
    let (ctx, fallback) = context(kind)?;
    let engine: Box<dyn Engine> = match ctx {
        Some(ctx) => Box::new(GpuEngine::new(ctx, params, batch, false)?),
        // The fast CPU path; the plain-loop reference is what the tests check it against.
        None => Box::new(FastCpu::new(params.clone())),
    };
    Ok(Opened { engine, fallback })
}
