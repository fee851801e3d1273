//! The CPU reference path: plain loops, forward and backward side by side. This is the
//! specification every GPU kernel is tested against.
//!
//! - [`ops`]: the three matrix products and column sums;
//! - [`activation`]: every activation, forward and backward;
//! - [`loss`]: every loss, value and gradient;
//! - [`dense`]: one dense layer, forward, backward and SGD;
//! - [`net`]: a whole network and one training step;
//! - [`engine`]: the CPU backend that the training loop drives;
//! - [`fast`]: the fast CPU backend, the same mathematics on GEMM kernels and threads.

pub mod activation;
pub mod dense;
pub mod engine;
pub mod fast;
pub mod loss;
pub mod net;
pub mod ops;

pub use crate::model::Real;
