//! A layer as the fast path's worker threads see it: how they share its work, and the order
//! its weights are stored in.

use super::products::MatRef;
use super::sync::{split, Shared};
use crate::model::{Activation, Params};
use crate::optim::OptimizerState;
use crate::{Error, Result};

/// How the threads share a layer's row-wise work. `Rows`: each thread takes its batch rows, and
/// needs nobody else's. `Columns`: each thread takes its own neurons (forward) or inputs
/// (input gradient) for every row, which reads only that part of the weights — better when
/// the weight matrix is too large to stay in one core's cache, at the cost of barriers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Split {
    Rows,
    Columns,
}

/// By default, weight matrices with at least this many elements (1 MiB of f32) are split by
/// columns.
pub(super) const COLUMN_SPLIT_MIN_WEIGHTS: usize = 1 << 18;

/// When each thread would get at most [`SMALL_BLOCK_ROWS`] rows of the batch, weight matrices
/// from this many elements (128 KiB of f32) are split by columns too: every thread then runs
/// its products on all the rows, and reads and updates only its own neurons' weights (and
/// optimizer state), which stay in its cache. Measured on 2 threads (AMD EPYC, 1 MiB L2 per
/// core), 784-128-64-10: +21% samples/s at batch 32, +4% at 128 (+11% with Adam); at batch
/// 512 rows win by 1–3%.
pub(super) const SMALL_BATCH_COLUMN_SPLIT_MIN_WEIGHTS: usize = 1 << 15;

/// See [`SMALL_BATCH_COLUMN_SPLIT_MIN_WEIGHTS`].
pub(super) const SMALL_BLOCK_ROWS: usize = 64;

/// The column-split threshold for training batches of `batch` rows on `threads` threads.
pub(super) fn default_column_split_min(batch: usize, threads: usize) -> usize {
    if batch.div_ceil(threads.max(1)) <= SMALL_BLOCK_ROWS {
        SMALL_BATCH_COLUMN_SPLIT_MIN_WEIGHTS
    } else {
        COLUMN_SPLIT_MIN_WEIGHTS
    }
}

/// A layer as the worker threads see it.
pub(super) struct LayerView {
    /// The weights, `[outputs][inputs]` as in [`Params`], or `[inputs][outputs]` when
    /// `input_major` (the first layer's may be: see [`first_input_major`]).
    pub(super) w: Shared<f32>,
    pub(super) b: Shared<f32>,
    pub(super) inputs: usize,
    pub(super) outputs: usize,
    pub(super) act: Activation,
    pub(super) input_major: bool,
    /// How the forward product and bias + activation are shared (never `Columns` on the
    /// output layer, whose loss needs whole rows).
    pub(super) forward: Split,
    /// How the input-gradient product and activation backward are shared.
    pub(super) input_grad: Split,
}

impl LayerView {
    /// The weights' stored shape: (rows, row width).
    pub(super) fn stored(&self) -> (usize, usize) {
        if self.input_major {
            (self.inputs, self.outputs)
        } else {
            (self.outputs, self.inputs)
        }
    }

    /// What thread `t` of `threads` updates of this layer.
    pub(super) fn own(&self, threads: usize, t: usize) -> Own {
        Own {
            rows: split(self.stored().0, threads, t),
            neurons: split(self.outputs, threads, t),
        }
    }

    /// `Wᵀ` for the neurons `cols`, `[inputs][cols]`: the right operand of `z = x·Wᵀ`.
    ///
    /// # Safety
    /// As [`Shared::mat`], for those neurons' weights.
    pub(super) unsafe fn forward_weights(&self, cols: (usize, usize)) -> MatRef {
        // SAFETY: the caller's contract.
        unsafe {
            if self.input_major {
                self.w.mat(self.outputs, (0, self.inputs), cols)
            } else {
                self.w.mat(self.inputs, cols, (0, self.inputs)).t()
            }
        }
    }

    /// `W` for the inputs `cols`, `[outputs][cols]`: the right operand of `dx = dz·W`.
    ///
    /// # Safety
    /// As [`Shared::mat`], for those inputs' weights.
    pub(super) unsafe fn input_grad_weights(&self, cols: (usize, usize)) -> MatRef {
        // SAFETY: the caller's contract.
        unsafe {
            if self.input_major {
                self.w.mat(self.outputs, cols, (0, self.outputs)).t()
            } else {
                self.w.mat(self.inputs, (0, self.outputs), cols)
            }
        }
    }
}

/// A thread's part of a layer's weight update: rows of the stored weights (neurons, or
/// inputs where input-major) and neurons (biases).
#[derive(Clone, Copy, Debug)]
pub(super) struct Own {
    pub(super) rows: (usize, usize),
    pub(super) neurons: (usize, usize),
}

/// Whether the first layer should keep its weights `[inputs][outputs]` on the fast path: when
/// its threads split it by batch rows (one thread, or large batches), not by neurons.
///
/// `gemm` packs the left operand of `z = x·Wᵀ` (it computes `zᵀ = W·xᵀ` for a row-major `z`)
/// into column panels; from `[outputs][inputs]` that is a strided copy, one element at a time,
/// from `[inputs][outputs]` a contiguous one. For `dx = dz·W` it is the other way round, but
/// the first layer has no input gradient, and its weight gradient (`xᵀ·dz` into `[inputs]
/// [outputs]`) is as fast or faster. Measured on one AMD EPYC core, 784×128: the forward product
/// runs at 107 against 87 GFLOP/s at batch 64, 110 against 97 at 128, 112 against 104 at 256;
/// the weight gradient at 110–114 against 105–107 (the reports' sweep: 4.86 s → 4.67 s). Above
/// the first layer either order wins one product and loses the other. Split by neurons, a
/// thread reads its neurons' columns in the forward pass, and should update those same
/// weights (and optimizer state), which then stay in its cache: that needs `[outputs][inputs]`.
pub(super) fn first_input_major(forward: Split) -> bool {
    forward == Split::Rows
}

/// How the threads share layer `l` of `depth` with `weights` weights: (forward, input
/// gradient).
pub(super) fn splits(
    l: usize,
    depth: usize,
    weights: usize,
    threads: usize,
    column_split_min: usize,
) -> (Split, Split) {
    let big = threads > 1 && weights >= column_split_min;
    let split = |columns: bool| if columns { Split::Columns } else { Split::Rows };
    (split(big && l + 1 < depth), split(big))
}

/// `[rows][cols]` → `[cols][rows]`.
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; m.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
    t
}

/// The first layer's weights, `[outputs][inputs]` → `[inputs][outputs]` (`to_input_major`) or
/// back.
pub(super) fn reorder_first(params: &mut Params, to_input_major: bool) {
    if let Some(layer) = params.layers.first_mut() {
        let (rows, cols) = order(layer.inputs, layer.outputs, to_input_major);
        layer.weights = transpose(&layer.weights, rows, cols);
    }
}

/// The optimizer state of the first layer's weights, reordered as [`reorder_first`] reorders
/// the weights of `params` (whose shapes it has).
pub(super) fn reorder_first_state(
    state: &mut OptimizerState,
    params: &Params,
    to_input_major: bool,
) {
    if let (Some(layer), Some(weights)) = (params.layers.first(), state.tensors.first_mut()) {
        let (rows, cols) = order(layer.inputs, layer.outputs, to_input_major);
        for buf in [&mut weights.velocity, &mut weights.m, &mut weights.v] {
            if !buf.is_empty() {
                *buf = transpose(buf, rows, cols);
            }
        }
    }
}

/// The stored shape before a reorder to (`to_input_major`) or from input-major.
fn order(inputs: usize, outputs: usize, to_input_major: bool) -> (usize, usize) {
    if to_input_major {
        (outputs, inputs)
    } else {
        (inputs, outputs)
    }
}

/// Checks what the products rely on: a valid spec, and weights and biases of the sizes the
/// layers state, each layer taking the one below's outputs.
pub(super) fn check_shapes(params: &Params) -> Result<()> {
    if params.layers.is_empty() {
        return Err(Error::invalid("model.layers", "a network with no layers"));
    }
    for (l, layer) in params.layers.iter().enumerate() {
        let (i, o) = (layer.inputs, layer.outputs);
        let below = if l == 0 {
            i
        } else {
            params.layers[l - 1].outputs
        };
        if below != i {
            let what = format!("layer {}'s inputs (the outputs of the layer below)", l + 1);
            return Err(Error::shape("fast cpu", what, [below], [i]));
        }
        if layer.weights.len() != i * o || layer.bias.len() != o {
            return Err(Error::shape(
                "fast cpu",
                format!("layer {}'s weight and bias counts", l + 1),
                [i * o, o],
                [layer.weights.len(), layer.bias.len()],
            ));
        }
    }
    params.spec().validate()
}
