//! The GPU engine: the wgpu context and the WGSL kernels with their launchers.
//!
//! - [`context`]: adapter choice, device, limits, buffers, readback, error scopes.
//! - [`matmul`]: the tiled matmul family (forward, input gradient, fused SGD weight update).
//! - [`kernels`]: the small kernels of a step (gather, loss, bias SGD, metrics).
//! - [`shaders`]: the ids shared with WGSL, generated from the Rust enums; every variant's
//!   expanded source.
//! - [`engine`]: the GPU backend that the training loop drives.

pub mod context;
pub mod engine;
pub mod kernels;
pub mod matmul;
pub mod shaders;

pub use context::{list_adapters, AdapterReport, BindingKind, DeviceKind, GpuContext};
pub use engine::GpuEngine;
pub use matmul::{
    Epilogue, MatmulCall, MatmulConfig, MatmulKernel, MatmulKernels, MatmulSpec, Trans,
};
