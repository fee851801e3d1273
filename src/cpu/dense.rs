//! A dense layer, forward and backward side by side.

use super::{activation, ops, Real};
use crate::model::Layer;

/// Forward. `x` is `[batch][in]`, weights `[out][in]`, bias `[out]`.
/// Returns `(z, a)`, both `[batch][out]`: `z = x·Wᵀ + b`, `a = act(z)`.
pub fn forward<T: Real>(layer: &Layer<T>, x: &[T], batch: usize) -> (Vec<T>, Vec<T>) {
    let mut z = ops::matmul_nt(x, &layer.weights, batch, layer.inputs, layer.outputs);
    for row in z.chunks_mut(layer.outputs) {
        for (v, &b) in row.iter_mut().zip(&layer.bias) {
            *v = *v + b;
        }
    }
    let mut a = z.clone();
    activation::forward_rows(layer.activation, &mut a, layer.outputs);
    (z, a)
}

pub use crate::model::DenseGrads;

/// Backward. `dz` is `∂L/∂z`, `[batch][out]`; `x` the layer's input `[batch][in]`.
/// Returns the parameter gradients (`dW = dzᵀ·x`, `db = Σ_batch dz`) and `∂L/∂x = dz·W`,
/// `[batch][in]`, computed with the weights as they are (before any update).
pub fn backward<T: Real>(
    layer: &Layer<T>,
    x: &[T],
    dz: &[T],
    batch: usize,
) -> (DenseGrads<T>, Vec<T>) {
    let weights = ops::matmul_tn(dz, x, layer.outputs, batch, layer.inputs);
    let bias = ops::column_sums(dz, batch, layer.outputs);
    let dx = ops::matmul_nn(dz, &layer.weights, batch, layer.outputs, layer.inputs);
    (DenseGrads { weights, bias }, dx)
}

/// Plain SGD: `p -= lr · g` for weights and bias.
pub fn sgd<T: Real>(layer: &mut Layer<T>, grads: &DenseGrads<T>, lr: T) {
    for (w, &g) in layer.weights.iter_mut().zip(&grads.weights) {
        *w = *w - lr * g;
    }
    for (b, &g) in layer.bias.iter_mut().zip(&grads.bias) {
        *b = *b - lr * g;
    }
}
