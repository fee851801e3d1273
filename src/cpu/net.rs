//! A whole network: forward through every layer, the loss, backward by the chain rule, SGD.

use super::dense::{self, DenseGrads};
use super::loss::{self, Targets};
use super::{activation, Real};
use crate::model::Params;

/// What the forward pass keeps for the backward pass.
#[derive(Clone, Debug)]
pub struct Trace<T> {
    pub batch: usize,
    /// The input batch `[batch][in]`.
    pub input: Vec<T>,
    /// Activation outputs per layer, `acts[l]` is `[batch][sizes[l+1]]`.
    pub acts: Vec<Vec<T>>,
    /// Pre-activation of the output layer, `[batch][outputs]` (the stable losses need it).
    pub z_out: Vec<T>,
}

impl<T> Trace<T> {
    /// The network output `[batch][outputs]`.
    pub fn output(&self) -> &[T] {
        self.acts.last().expect("at least one layer")
    }
}

/// Forward through every layer. `x` is `[batch][in]`.
pub fn forward<T: Real>(params: &Params<T>, x: &[T], batch: usize) -> Trace<T> {
    let mut acts: Vec<Vec<T>> = Vec::with_capacity(params.layers.len());
    let mut z_out = Vec::new();
    for (l, layer) in params.layers.iter().enumerate() {
        let input: &[T] = if l == 0 { x } else { &acts[l - 1] };
        let (z, a) = dense::forward(layer, input, batch);
        if l + 1 == params.layers.len() {
            z_out = z;
        }
        acts.push(a);
    }
    Trace {
        batch,
        input: x.to_vec(),
        acts,
        z_out,
    }
}

/// Gradients of a whole network.
#[derive(Clone, Debug)]
pub struct Grads<T> {
    pub loss: T,
    pub layers: Vec<DenseGrads<T>>,
    /// `∂L/∂x`, `[batch][in]`.
    pub input: Vec<T>,
}

/// The loss and the backward pass by the chain rule, top layer first.
pub fn backward<T: Real>(params: &Params<T>, trace: &Trace<T>, targets: &Targets<T>) -> Grads<T> {
    weighted_backward(params, trace, targets, None)
}

/// [`backward`] of the weighted mean loss, with per-sample `weights` (`[batch]`).
pub fn weighted_backward<T: Real>(
    params: &Params<T>,
    trace: &Trace<T>,
    targets: &Targets<T>,
    weights: Option<&[T]>,
) -> Grads<T> {
    let top = params.layers.last().expect("at least one layer");
    let (loss, mut dz) = loss::weighted_loss_and_grad(
        params.loss,
        top.activation,
        &trace.z_out,
        trace.output(),
        targets,
        top.outputs,
        weights,
    );
    let mut layers = Vec::with_capacity(params.layers.len());
    for l in (0..params.layers.len()).rev() {
        let layer = &params.layers[l];
        let x = if l == 0 {
            &trace.input
        } else {
            &trace.acts[l - 1]
        };
        let (mut g, dx) = dense::backward(layer, x, &dz, trace.batch);
        if !params.bias {
            // Layers without bias: there is no bias to move.
            g.bias.fill(T::zero());
        }
        layers.push(g);
        dz = if l == 0 {
            dx
        } else {
            // ∂L/∂z of the layer below: the activation backward through its output.
            let below = &params.layers[l - 1];
            activation::backward_rows(below.activation, &trace.acts[l - 1], &dx, below.outputs)
        };
    }
    layers.reverse();
    Grads {
        loss,
        layers,
        input: dz,
    }
}

/// SGD on every layer.
pub fn sgd<T: Real>(params: &mut Params<T>, grads: &Grads<T>, lr: T) {
    for (layer, g) in params.layers.iter_mut().zip(&grads.layers) {
        dense::sgd(layer, g, lr);
    }
}

/// Everything one training step shows: the output and loss before the update, the gradients,
/// and (in `params`) the parameters after it.
#[derive(Clone, Debug)]
pub struct StepReport<T> {
    pub output: Vec<T>,
    pub grads: Grads<T>,
}

/// One SGD step on a batch, in place; returns what a worked exercise shows.
pub fn step<T: Real>(
    params: &mut Params<T>,
    x: &[T],
    batch: usize,
    targets: &Targets<T>,
    lr: T,
) -> StepReport<T> {
    let trace = forward(params, x, batch);
    let grads = backward(params, &trace, targets);
    sgd(params, &grads, lr);
    StepReport {
        output: trace.output().to_vec(),
        grads,
    }
}
