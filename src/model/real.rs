//! [`Real`]: the float types parameters and the reference run in.

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
