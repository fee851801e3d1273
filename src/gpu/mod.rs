//! The GPU engine: the wgpu context and the WGSL kernels with their launchers.
//!
//! - [`context`]: adapter choice, device, limits, buffers, readback, error scopes.
//! - [`kernels`]: one module per kernel family, each owning its shader, its uniform struct and
//!   a typed bind function: [`kernels::matmul`] (forward, input gradient, fused SGD weight
//!   update), gather, loss, bias and metrics.
//! - [`template`]: the preprocessor that unrolls the subgroup matmul's WGSL.
//! - [`shaders`]: the ids shared with WGSL, generated from the Rust enums; every variant's
//!   expanded source.
//! - [`engine`]: the GPU backend that the training loop drives.

pub mod context;
pub mod engine;
pub mod ids;
pub mod kernels;
pub mod shaders;
pub mod template;

pub use kernels::matmul;

pub use context::{list_adapters, AdapterReport, BindingKind, DeviceKind, GpuContext};
pub use engine::gang::{train_together, GangRun};
pub use engine::GpuEngine;
pub use matmul::{
    Epilogue, MatmulCall, MatmulConfig, MatmulKernel, MatmulKernels, MatmulSpec, Trans,
};
