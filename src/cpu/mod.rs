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

/// The float types the reference runs in: f32 for training, f64 for gradient checks.
pub trait Real:
    num_traits::Float + std::fmt::Debug + std::iter::Sum + Send + Sync + 'static
{
    fn from_f32(v: f32) -> Self;
    fn to_f32(self) -> f32;
    fn c(v: f64) -> Self;
}

impl Real for f32 {
    fn from_f32(v: f32) -> Self {
        v
    }
    fn to_f32(self) -> f32 {
        self
    }
    fn c(v: f64) -> Self {
        v as f32
    }
}

impl Real for f64 {
    fn from_f32(v: f32) -> Self {
        v as f64
    }
    fn to_f32(self) -> f32 {
        self as f32
    }
    fn c(v: f64) -> Self {
        v
    }
}
