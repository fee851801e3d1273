//! Activations, forward and backward side by side.
//!
//! The backward of every elementwise activation is written in terms of its *output* `a`,
//! which is what the forward pass keeps (the GPU kernels do the same):
//! sigmoid a(1−a), tanh 1−a², relu 𝟙(a>0), leaky_relu 𝟙(a>0) + 0.01·𝟙(a≤0), identity 1.
//! Softmax is row-wise; its backward is the Jacobian-vector product `a ⊙ (g − Σ g·a)`.

use super::Real;
use crate::model::{Activation, LEAKY_SLOPE};

/// Elementwise forward `a = f(z)` for every activation but softmax.
pub fn apply<T: Real>(act: Activation, z: T) -> T {
    match act {
        Activation::Sigmoid => T::one() / (T::one() + (-z).exp()),
        Activation::Tanh => z.tanh(),
        Activation::Relu => z.max(T::zero()),
        Activation::LeakyRelu => {
            if z > T::zero() {
                z
            } else {
                z * T::from_f32(LEAKY_SLOPE)
            }
        }
        Activation::Identity => z,
        Activation::Softmax => panic!("softmax is row-wise: use forward_rows"),
    }
}

/// Elementwise derivative `f'(z)` expressed through the output `a = f(z)`.
pub fn derivative_from_output<T: Real>(act: Activation, a: T) -> T {
    match act {
        Activation::Sigmoid => a * (T::one() - a),
        Activation::Tanh => T::one() - a * a,
        Activation::Relu => {
            if a > T::zero() {
                T::one()
            } else {
                T::zero()
            }
        }
        Activation::LeakyRelu => {
            if a > T::zero() {
                T::one()
            } else {
                T::from_f32(LEAKY_SLOPE)
            }
        }
        Activation::Identity => T::one(),
        Activation::Softmax => panic!("softmax is row-wise: use backward_rows"),
    }
}

/// Forward over a `[rows][cols]` matrix of pre-activations `z`, in place.
pub fn forward_rows<T: Real>(act: Activation, z: &mut [T], cols: usize) {
    if act == Activation::Softmax {
        for row in z.chunks_mut(cols) {
            let max = row.iter().copied().fold(T::neg_infinity(), T::max);
            let mut sum = T::zero();
            for v in row.iter_mut() {
                *v = (*v - max).exp();
                sum = sum + *v;
            }
            for v in row.iter_mut() {
                *v = *v / sum;
            }
        }
    } else {
        for v in z.iter_mut() {
            *v = apply(act, *v);
        }
    }
}

/// Backward: given outputs `a` and the gradient `g = ∂L/∂a` (both `[rows][cols]`), returns
/// `∂L/∂z`.
pub fn backward_rows<T: Real>(act: Activation, a: &[T], g: &[T], cols: usize) -> Vec<T> {
    if act == Activation::Softmax {
        let mut dz = vec![T::zero(); a.len()];
        for ((ar, gr), dr) in a.chunks(cols).zip(g.chunks(cols)).zip(dz.chunks_mut(cols)) {
            let dot: T = ar.iter().zip(gr).map(|(&x, &y)| x * y).sum();
            for j in 0..cols {
                dr[j] = ar[j] * (gr[j] - dot);
            }
        }
        dz
    } else {
        a.iter()
            .zip(g)
            .map(|(&a, &g)| g * derivative_from_output(act, a))
            .collect()
    }
}
