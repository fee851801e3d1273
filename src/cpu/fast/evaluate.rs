//! Evaluation on every thread, and one thread's part of it: forward, loss and predictions (or the outputs) for a
//! block of the samples, without barriers.

use super::gather;
use super::layer::COLUMN_SPLIT_MIN_WEIGHTS;
use super::output::{OutputRows, OutputStats};
use super::sync::{on_threads, split, Shared};
use super::views::Views;
use super::{FastCpu, MIN_ROWS};
use crate::data::{Dataset, Target};

impl FastCpu {
    /// One forward pass over `data` on every thread, each on its own block of samples,
    /// writing the predictions or the outputs into `into`: the loss summed and the correct
    /// predictions counted over all of them. The shapes must have been checked.
    pub(super) fn evaluate_into(&mut self, data: &Dataset, into: Into) -> OutputStats {
        let threads = self.threads;
        self.ws.ensure(&self.params, MIN_ROWS, threads);
        let rows = self.ws.rows;
        let views = Views::new(
            &mut self.params,
            &mut self.ws,
            threads,
            self.column_split_min.unwrap_or(COLUMN_SPLIT_MIN_WEIGHTS),
            self.first_input_major,
        );
        let parts = on_threads(&mut self.ws.scratch, |t, _| {
            views.evaluate_part(t, data, into, rows)
        });
        let mut total = OutputStats::default();
        for p in parts {
            total.loss_sum += p.loss_sum;
            total.correct += p.correct;
        }
        total
    }
}

impl Views {
    /// Forward through every layer for the workspace rows `r0..r1`, all by this thread (the
    /// evaluation path: no barriers).
    ///
    /// # Safety
    /// The calling thread must own rows `r0..r1` of every buffer, whose input is in `x`, and
    /// nobody may write the parameters.
    unsafe fn forward_rows(&self, r0: usize, r1: usize) {
        for (l, layer) in self.layers.iter().enumerate() {
            // SAFETY: the contract.
            unsafe { self.forward_block(l, (r0, r1), (0, layer.outputs)) };
        }
    }

    /// Forward, loss and predictions for this thread's share of `data`.
    pub(super) fn evaluate_part(
        &self,
        t: usize,
        data: &Dataset,
        into: Into,
        rows: usize,
    ) -> OutputStats {
        let (s0, s1) = split(data.len(), self.threads, t);
        // A fixed block of workspace rows per thread: the threads never wait for each other.
        let (r0, r1) = split(rows, self.threads, t);
        let block = (r1 - r0).max(1);
        let n_in = self.layers[0].inputs;
        let top = self.top();
        let outputs = top.outputs;
        let mut total = OutputStats::default();
        let mut s = s0;
        while s < s1 {
            let n = block.min(s1 - s);
            let r1 = r0 + n;
            // SAFETY: rows r0..r1 of every buffer and predictions s..s + n are this thread's
            // alone; nobody writes the parameters while evaluating.
            unsafe {
                gather::gather_range(data, s, self.x.slice_mut(r0 * n_in, r1 * n_in));
                self.forward_rows(r0, r1);
                let a = self.acts[self.layers.len() - 1].slice(r0 * outputs, r1 * outputs);
                let predictions = match into {
                    Into::Outputs(o) => {
                        o.slice_mut(s * outputs, (s + n) * outputs)
                            .copy_from_slice(a);
                        None
                    }
                    Into::Predictions(p) => Some(p.slice_mut(s, s + n)),
                };
                let out = OutputRows {
                    loss: self.loss,
                    act: top.act,
                    outputs,
                    batch: n,
                    z: self.z_out.slice(r0 * outputs, r1 * outputs),
                    a,
                    labels: &data.labels[s..s + n],
                    values: match &data.target {
                        Target::Classes => None,
                        Target::Input => Some(self.x.slice(r0 * n_in, r1 * n_in)),
                        Target::Values { dim, values, .. } => Some(&values[s * dim..(s + n) * dim]),
                    },
                    // Evaluation reports the plain mean loss.
                    weights: None,
                };
                let st = out.run(None, predictions);
                total.loss_sum += st.loss_sum;
                total.correct += st.correct;
            }
            s += n;
        }
        total
    }
}

/// Where [`Views::evaluate_part`] writes, besides summing the loss and counting the correct
/// predictions: the predicted classes, or the network's outputs, `[n][outputs]`.
#[derive(Clone, Copy)]
pub(super) enum Into {
    Predictions(Shared<u32>),
    Outputs(Shared<f32>),
}
