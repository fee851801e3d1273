//! gpunn trains multilayer perceptrons on the GPU with WGSL compute shaders run through wgpu,
//! and proves its numbers right against a plain-Rust CPU reference.
//!
//! - [`model`]: the network spec (sizes, activations, loss, init) and its parameters.
//! - [`cpu`]: the reference mathematics, plain loops; the specification of every GPU kernel.
//! - [`gpu`]: the wgpu context, kernels and launchers.
//! - [`data`]: IDX datasets and synthetic toy sets.
//! - [`engine`]: the interface a backend implements; [`train`]: the loop that drives it.
//! - [`metrics`]: confusion matrix, precision/recall/F1; [`digit`]: images to MNIST-style input.
//! - [`checkpoint`]: safetensors save/load; [`plots`]: learning curves and confusion matrices.
//! - [`step`] and [`netfile`]: the single worked step of `gpunn step`.

pub mod backend;
pub mod bench;
pub mod checkpoint;
pub mod cpu;
pub mod data;
pub mod digit;
pub mod engine;
pub mod error;
pub mod gpu;
pub mod io;
pub mod metrics;
pub mod model;
pub mod netfile;
pub mod plots;
pub mod run;
pub mod step;
pub mod train;

pub use error::{Error, Result};
