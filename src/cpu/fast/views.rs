//! The network as the worker threads see it: per-layer views of the shared buffers, and one
//! thread's part of a training step (evaluation: `evaluate.rs`).

use super::elementwise;
use super::gather;
use super::layer::{splits, LayerView, Split};
use super::optim::OptViews;
use super::output::{OutputRows, OutputStats};
use super::products;
use super::sync::{split, Shared, SpinBarrier};
use super::workspace::{Clock, Phase, Scratch, Workspace};
use crate::data::{Dataset, Target};
use crate::model::{Loss, Params};

/// The parameters and the workspace as the worker threads see them: see [`sync::Shared`] for
/// the rules, and the module docs for who touches what when.
pub(super) struct Views {
    pub(super) layers: Vec<LayerView>,
    pub(super) loss: Loss,
    /// `false`: layers without bias (no bias gradient, no bias update).
    pub(super) bias: bool,
    pub(super) x: Shared<f32>,
    pub(super) acts: Vec<Shared<f32>>,
    pub(super) z_out: Shared<f32>,
    pub(super) dz: Vec<Shared<f32>>,
    pub(super) threads: usize,
    /// Where the threads of a training step meet.
    pub(super) barrier: SpinBarrier,
    /// The gradients and state of an optimizer other than plain SGD (which is fused).
    pub(super) opt: Option<OptViews>,
}

impl Views {
    /// Views of `params` and of `ws` without its scratch (each thread gets its own of those).
    /// `first_input_major`: the first layer's weights are stored `[inputs][outputs]`.
    pub(super) fn new(
        params: &mut Params,
        ws: &mut Workspace,
        threads: usize,
        column_split_min: usize,
        first_input_major: bool,
    ) -> Self {
        let depth = params.layers.len();
        Views {
            layers: params
                .layers
                .iter_mut()
                .enumerate()
                .map(|(l, layer)| {
                    let weights = layer.inputs * layer.outputs;
                    let (forward, input_grad) =
                        splits(l, depth, weights, threads, column_split_min);
                    LayerView {
                        w: Shared::new(&mut layer.weights),
                        b: Shared::new(&mut layer.bias),
                        inputs: layer.inputs,
                        outputs: layer.outputs,
                        act: layer.activation,
                        input_major: l == 0 && first_input_major,
                        forward,
                        input_grad,
                    }
                })
                .collect(),
            loss: params.loss,
            bias: params.bias,
            x: Shared::new(&mut ws.x),
            acts: ws.acts.iter_mut().map(|v| Shared::new(v)).collect(),
            z_out: Shared::new(&mut ws.z_out),
            dz: ws.dz.iter_mut().map(|v| Shared::new(v)).collect(),
            threads,
            barrier: SpinBarrier::new(threads),
            opt: None,
        }
    }

    pub(super) fn top(&self) -> &LayerView {
        self.layers.last().expect("at least one layer")
    }

    /// The input of layer `l`: the batch or the layer below's output.
    pub(super) fn input(&self, l: usize) -> Shared<f32> {
        if l == 0 {
            self.x
        } else {
            self.acts[l - 1]
        }
    }

    /// Forward through layer `l` for the rows `rows` and the neurons `cols` of the workspace,
    /// whose input rows are ready.
    ///
    /// # Safety
    /// The calling thread must own that block of the layer's output (and of `z_out` for the
    /// output layer, which must be given whole rows); nobody may write the input rows or the
    /// layer's parameters meanwhile.
    pub(super) unsafe fn forward_block(
        &self,
        l: usize,
        rows: (usize, usize),
        cols: (usize, usize),
    ) {
        let layer = &self.layers[l];
        let (n_in, n_out) = (layer.inputs, layer.outputs);
        let last = l + 1 == self.layers.len();
        // SAFETY: the contract: our block of the output, the input rows and W, b read-only.
        unsafe {
            let input = self.input(l).mat(n_in, rows, (0, n_in));
            let w_t = layer.forward_weights(cols);
            let out = if last { self.z_out } else { self.acts[l] };
            products::product(out.mat_mut(n_out, rows, cols), input, w_t, None);
            let bias = layer.b.slice(cols.0, cols.1);
            for r in rows.0..rows.1 {
                let z = out.slice_mut(r * n_out + cols.0, r * n_out + cols.1);
                if last {
                    let a = self.acts[l].slice_mut(r * n_out, (r + 1) * n_out);
                    elementwise::bias_output(layer.act, z, a, bias);
                } else {
                    elementwise::bias_activation(layer.act, z, bias);
                }
            }
        }
    }

    /// Phase A of layer `l > 0`: `dz_{l−1} = (dz_l · W_l) ⊙ act'(a_{l−1})` for the rows `rows`
    /// and the inputs `cols` of layer `l`.
    ///
    /// # Safety
    /// The calling thread must own that block of `dz_{l−1}`; nobody may write the rows `rows`
    /// of `dz_l`, that block of `a_{l−1}`, or `W_l` meanwhile.
    unsafe fn input_grad_block(&self, l: usize, rows: (usize, usize), cols: (usize, usize)) {
        let layer = &self.layers[l];
        let (n_in, n_out) = (layer.inputs, layer.outputs);
        let act_below = self.layers[l - 1].act;
        // SAFETY: the contract.
        unsafe {
            let dz = self.dz[l].mat(n_out, rows, (0, n_out));
            let w = layer.input_grad_weights(cols);
            products::product(self.dz[l - 1].mat_mut(n_in, rows, cols), dz, w, None);
            for r in rows.0..rows.1 {
                let (s, e) = (r * n_in + cols.0, r * n_in + cols.1);
                elementwise::activation_backward(
                    act_below,
                    self.dz[l - 1].slice_mut(s, e),
                    self.acts[l - 1].slice(s, e),
                );
            }
        }
    }

    /// Phase B's product for the rows `rows` of layer `l`'s stored weights: into `dst`
    /// (the weights' shape and order), `dzᵀ·x` (`[outputs][inputs]`) or `xᵀ·dz` (input-major);
    /// with `accumulate = Some(scale)`, `dst += scale·` that. `batch` is the rows of the batch.
    ///
    /// # Safety
    /// The calling thread must own those rows of `dst`; nobody may write `dz_l` or the layer's
    /// input meanwhile.
    unsafe fn weight_grad_block(
        &self,
        l: usize,
        dst: Shared<f32>,
        batch: (usize, usize),
        rows: (usize, usize),
        accumulate: Option<f32>,
    ) {
        let layer = &self.layers[l];
        let (n_in, n_out) = (layer.inputs, layer.outputs);
        let width = layer.stored().1;
        // SAFETY: the contract.
        unsafe {
            let (dz, x) = (self.dz[l], self.input(l));
            let (lhs, rhs) = if layer.input_major {
                (
                    x.mat(n_in, batch, rows).t(),
                    dz.mat(n_out, batch, (0, n_out)),
                )
            } else {
                (
                    dz.mat(n_out, batch, rows).t(),
                    x.mat(n_in, batch, (0, n_in)),
                )
            };
            products::product(dst.mat_mut(width, rows, (0, width)), lhs, rhs, accumulate);
        }
    }

    /// One training step on the samples `idx` of `data` (step `step` of the run), run by every
    /// thread `t` at once. Also returns whether the optimizer left a NaN or an infinity in
    /// this thread's parameters or state.
    pub(super) fn train_batch(
        &self,
        t: usize,
        data: &Dataset,
        (idx, step): (&[u32], usize),
        lr: f32,
        scratch: &mut Scratch,
        clock: &mut Clock,
    ) -> (OutputStats, bool) {
        let barrier = &self.barrier;
        let batch = idx.len();
        let threads = self.threads;
        let mine = split(batch, threads, t);
        let (r0, r1) = mine;
        let all = (0, batch);
        let n_in = self.layers[0].inputs;
        let depth = self.layers.len();
        let top = self.top();
        let outputs = top.outputs;

        // The previous step ended with a barrier: every buffer is free.
        // SAFETY: our rows of x.
        gather::gather(data, &idx[r0..r1], unsafe {
            self.x.slice_mut(r0 * n_in, r1 * n_in)
        });
        let labels = &mut scratch.labels[..r1 - r0];
        for (l, &i) in labels.iter_mut().zip(&idx[r0..r1]) {
            *l = data.labels[i as usize];
        }
        let values = match &data.target {
            Target::Classes => None,
            // SAFETY: our rows of x, gathered above.
            Target::Input => Some(unsafe { self.x.slice(r0 * n_in, r1 * n_in) }),
            Target::Values { .. } => {
                data.gather_targets(&idx[r0..r1], &mut scratch.values);
                Some(&scratch.values[..])
            }
        };
        let weights = data.weights.as_ref().map(|w| {
            let sum: f32 = idx.iter().map(|&i| w[i as usize]).sum();
            // All weights 0: the batch contributes nothing (as the reference).
            let sum = if sum == 0.0 { 1.0 } else { sum };
            scratch.weights.clear();
            scratch
                .weights
                .extend(idx[r0..r1].iter().map(|&i| w[i as usize]));
            sum
        });
        clock.lap(Phase::Gather);

        // Forward. A row-split layer needs only our rows of its input; a column-split one needs
        // every row, so it waits for the layer below to be complete, and the layer above waits
        // for it.
        let mut input_complete = false;
        for (l, layer) in self.layers.iter().enumerate() {
            match layer.forward {
                Split::Rows => {
                    // SAFETY: our rows of the output; the input rows are ours or complete
                    // (after the barrier below a column-split layer); no weight is written
                    // before the backward pass.
                    unsafe { self.forward_block(l, mine, (0, layer.outputs)) };
                    clock.lap(Phase::Forward);
                    input_complete = false;
                }
                Split::Columns => {
                    if !input_complete {
                        clock.wait(Phase::Forward, barrier);
                    }
                    // SAFETY: our neurons of the output for all rows; the input is complete.
                    unsafe { self.forward_block(l, all, split(layer.outputs, threads, t)) };
                    clock.wait(Phase::Forward, barrier);
                    input_complete = true;
                }
            }
        }

        // SAFETY: our rows of z_out, the output and the top dz.
        let stats = unsafe {
            let out = OutputRows {
                loss: self.loss,
                act: top.act,
                outputs,
                batch,
                z: self.z_out.slice(r0 * outputs, r1 * outputs),
                a: self.acts[depth - 1].slice(r0 * outputs, r1 * outputs),
                labels,
                values,
                weights: weights.map(|sum| (&scratch.weights[..], sum)),
            };
            out.run(
                Some(self.dz[depth - 1].slice_mut(r0 * outputs, r1 * outputs)),
                None,
            )
        };
        clock.lap(Phase::Loss);

        // Backward, top layer first. `dz_complete`: every row of dz_l is written.
        let mut dz_complete = false;
        let mut nonfinite = false;
        for l in (0..depth).rev() {
            let layer = &self.layers[l];
            let (n_in, n_out) = (layer.inputs, layer.outputs);
            if l > 0 {
                // Phase A. W_l is written only after the next barrier; the other threads, in
                // phase B of layer l + 1, write W_{l+1} and read dz_{l+1} and a_l.
                match layer.input_grad {
                    // SAFETY: our rows of dz_{l−1}; our rows of dz_l are ours or complete.
                    Split::Rows => unsafe { self.input_grad_block(l, mine, (0, n_in)) },
                    Split::Columns => {
                        if !dz_complete {
                            clock.wait(Phase::InputGrad, barrier);
                        }
                        // SAFETY: our inputs' columns of dz_{l−1}; dz_l is complete.
                        unsafe { self.input_grad_block(l, all, split(n_in, threads, t)) }
                    }
                }
            }
            clock.wait(Phase::InputGrad, barrier);
            dz_complete = true;
            // Phase B: our rows of W_l (neurons, or inputs where input-major) and our neurons
            // of b_l, from every row of dz_l and x_l.
            let own = layer.own(threads, t);
            let (j0, j1) = own.neurons;
            // SAFETY: all rows of dz_l and x_l, which nobody writes until the step's last
            // barrier (phase A of the layers below writes other dz buffers); our rows of W_l
            // and entries of b_l, which nobody else touches in this phase.
            unsafe {
                match &self.opt {
                    // Plain SGD, fused: W ← W − lr·dzᵀ·x.
                    None => self.weight_grad_block(l, layer.w, all, own.rows, Some(-lr)),
                    // Our rows of dW; the update waits for every gradient.
                    Some(o) => self.weight_grad_block(l, o.gw[l], all, own.rows, None),
                }
                clock.lap(Phase::WeightSgd);
                let dz = self.dz[l].slice(0, batch * n_out);
                match &self.opt {
                    // Layers without bias: the bias gradient stays zero, the bias too.
                    _ if !self.bias => {}
                    None => {
                        let b = layer.b.slice_mut(j0, j1);
                        elementwise::sgd_bias(b, dz, j0, n_out, lr, &mut scratch.sums);
                    }
                    Some(o) => elementwise::bias_grad(o.gb[l].slice_mut(j0, j1), dz, j0, n_out),
                }
                clock.lap(Phase::Bias);
                // The rule on our neurons of layer l now, unless it needs the global norm of
                // every gradient first: nobody reads W_l in this step any more (phase A of
                // layer l read it before the last barrier).
                if let Some(o) = self.opt.as_ref().filter(|o| o.cfg.clip_norm.is_none()) {
                    nonfinite |= o.update_own(l, layer, own, None, lr, step);
                    clock.lap(Phase::Optimizer);
                }
            }
        }
        clock.wait(Phase::Bias, barrier);
        if let Some(o) = self.opt.as_ref().filter(|o| o.cfg.clip_norm.is_some()) {
            // SAFETY: every thread is here, after the barrier that ends the backward pass.
            nonfinite = unsafe { o.apply(t, threads, &self.layers, barrier, lr, step) };
            clock.wait(Phase::Optimizer, barrier);
        }
        (stats, nonfinite)
    }
}
