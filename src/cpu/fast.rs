//! The fast CPU path: the reference's mathematics on the `gemm` crate's kernels, with every
//! buffer allocated once, the elementwise work fused around the products, and the batch split
//! over worker threads.
//!
//! # One step on T threads
//! Thread `t` owns a contiguous block of the batch rows and a contiguous block of each layer's
//! neurons ([`sync::split`]). Row-wise work needs nobody else's rows; the weight update needs
//! every row of `dz` but only its own neurons' weights. So a step is:
//!
//! ```text
//! gather my rows of x                           (u8 → f32, fused scaling)
//! forward my rows through every layer            z = x·Wᵀ (gemm), then z ← act(z + b) in one pass
//! loss, ∂L/∂z_out and predictions of my rows     one pass over the output rows
//! for each layer l, top first:
//!     A  my rows of dz_{l−1} = (dz_l · W_l) ⊙ act'(a_{l−1})   (gemm, then one pass; W_l as it was)
//!     ── barrier ──  (dz_l complete; everyone is done reading W_l)
//!     B  my neurons: W_l ← W_l − lr·dz_lᵀ·x_l                 (gemm with alpha 1, beta −lr: the
//!                    b_l ← b_l − lr·Σ_rows dz_l                gradient never goes through memory)
//! ── barrier ──  (all weights updated before the next batch's forward)
//! ```
//!
//! Phase B of layer l overlaps phase A of layer l − 1, which touches other buffers (each layer
//! has its own `dz`). Each thread calls `gemm` single-threaded: at these sizes one split of
//! the whole step beats splitting each product, and the elementwise passes are split too.
//!
//! Evaluation splits the samples the same way and needs no barrier at all.

mod elementwise;
mod products;
mod sync;

use self::elementwise::{OutputRows, OutputStats};
use self::sync::{split, PoisonOnPanic, Shared, SpinBarrier};
use super::engine::check_fits;
use crate::data::Dataset;
use crate::engine::{Engine, Evaluation, Stats};
use crate::model::{Activation, Loss, Params};
use crate::{Error, Result};

/// Rows the workspace holds at least, so that evaluation runs the products on blocks of a
/// useful height even when training uses small batches.
const MIN_ROWS: usize = 512;

/// Trains with the fast path; the same mathematics as [`super::engine::CpuReference`].
pub struct FastCpu {
    params: Params,
    train: Option<Dataset>,
    stats: Stats,
    threads: usize,
    ws: Workspace,
}

impl FastCpu {
    /// On all the cores the machine reports.
    pub fn new(params: Params) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_threads(params, threads)
    }

    /// On `threads` worker threads (at least 1; the calling thread is one of them).
    pub fn with_threads(params: Params, threads: usize) -> Self {
        FastCpu {
            params,
            train: None,
            stats: Stats::default(),
            threads: threads.max(1),
            ws: Workspace::default(),
        }
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }
}

/// Every buffer a step needs, sized once for the largest batch seen and reused.
#[derive(Default)]
struct Workspace {
    /// Capacity in batch rows.
    rows: usize,
    /// Layer sizes (inputs first) the buffers were made for.
    sizes: Vec<usize>,
    /// The gathered batch, `[rows][inputs]`.
    x: Vec<f32>,
    /// Activation outputs per layer, `[rows][sizes[l + 1]]`; the last is the network output.
    acts: Vec<Vec<f32>>,
    /// The output layer's pre-activation, `[rows][outputs]`.
    z_out: Vec<f32>,
    /// `∂L/∂z` per layer, `[rows][sizes[l + 1]]`; one buffer per layer, so that a thread can
    /// write layer l − 1's while another still reads layer l's.
    dz: Vec<Vec<f32>>,
    /// One per thread.
    scratch: Vec<Scratch>,
}

#[derive(Default)]
struct Scratch {
    /// Bias-gradient sums, one per neuron of the widest layer.
    sums: Vec<f32>,
    /// The labels of the thread's rows.
    labels: Vec<u32>,
}

impl Workspace {
    fn ensure(&mut self, params: &Params, rows: usize, threads: usize) {
        let sizes = params.spec().sizes;
        let rows = rows.max(MIN_ROWS).max(threads);
        if self.sizes == sizes && self.rows >= rows && self.scratch.len() == threads {
            return;
        }
        let widest = sizes[1..].iter().copied().max().unwrap_or(0);
        let outputs = *sizes.last().expect("sizes");
        *self = Workspace {
            rows,
            x: vec![0.0; rows * sizes[0]],
            acts: sizes[1..].iter().map(|&n| vec![0.0; rows * n]).collect(),
            z_out: vec![0.0; rows * outputs],
            dz: sizes[1..].iter().map(|&n| vec![0.0; rows * n]).collect(),
            scratch: (0..threads)
                .map(|_| Scratch {
                    sums: vec![0.0; widest],
                    labels: vec![0; rows],
                })
                .collect(),
            sizes,
        };
    }
}

/// A layer as the worker threads see it.
struct LayerView {
    w: Shared<f32>,
    b: Shared<f32>,
    inputs: usize,
    outputs: usize,
    act: Activation,
}

/// The parameters and the workspace as the worker threads see them: see [`sync::Shared`] for
/// the rules, and the module docs for who touches what when.
struct Views {
    layers: Vec<LayerView>,
    loss: Loss,
    x: Shared<f32>,
    acts: Vec<Shared<f32>>,
    z_out: Shared<f32>,
    dz: Vec<Shared<f32>>,
    threads: usize,
}

impl Views {
    /// Views of `params` and of `ws` without its scratch (each thread gets its own of those).
    fn new(params: &mut Params, ws: &mut Workspace, threads: usize) -> Self {
        Views {
            layers: params
                .layers
                .iter_mut()
                .map(|l| LayerView {
                    w: Shared::new(&mut l.weights),
                    b: Shared::new(&mut l.bias),
                    inputs: l.inputs,
                    outputs: l.outputs,
                    act: l.activation,
                })
                .collect(),
            loss: params.loss,
            x: Shared::new(&mut ws.x),
            acts: ws.acts.iter_mut().map(|v| Shared::new(v)).collect(),
            z_out: Shared::new(&mut ws.z_out),
            dz: ws.dz.iter_mut().map(|v| Shared::new(v)).collect(),
            threads,
        }
    }

    fn top(&self) -> &LayerView {
        self.layers.last().expect("at least one layer")
    }

    /// Forward through every layer for the workspace rows `r0..r1`, whose input is already in
    /// `x`. Writes those rows of every activation and of `z_out`.
    ///
    /// # Safety
    /// The calling thread must own rows `r0..r1` of `x`, the activations and `z_out` (no other
    /// thread touches them meanwhile), and no thread may write any weight or bias.
    unsafe fn forward_rows(&self, r0: usize, r1: usize) {
        let rows = r1 - r0;
        let depth = self.layers.len();
        for (l, layer) in self.layers.iter().enumerate() {
            let (n_in, n_out) = (layer.inputs, layer.outputs);
            // SAFETY: our rows of the layer's input (written by this thread: gather or the
            // layer below) and the whole of W and b, which nobody writes (the contract).
            let (input, w, b) = unsafe {
                let input = if l == 0 { self.x } else { self.acts[l - 1] };
                (
                    input.slice(r0 * n_in, r1 * n_in),
                    layer.w.slice(0, layer.w.len()),
                    layer.b.slice(0, layer.b.len()),
                )
            };
            if l + 1 < depth {
                // SAFETY: our rows (the contract).
                let z = unsafe { self.acts[l].slice_mut(r0 * n_out, r1 * n_out) };
                products::forward(z, input, w, rows, n_in, n_out);
                elementwise::bias_activation(layer.act, z, b);
            } else {
                // SAFETY: our rows (the contract); z_out and the output activation are distinct.
                let (z, a) = unsafe {
                    (
                        self.z_out.slice_mut(r0 * n_out, r1 * n_out),
                        self.acts[l].slice_mut(r0 * n_out, r1 * n_out),
                    )
                };
                products::forward(z, input, w, rows, n_in, n_out);
                elementwise::bias_output(layer.act, z, a, b);
            }
        }
    }

    /// One SGD step on the samples `idx` of `data`, run by every thread `t` at once.
    fn train_batch(
        &self,
        t: usize,
        data: &Dataset,
        idx: &[u32],
        lr: f32,
        barrier: &SpinBarrier,
        scratch: &mut Scratch,
    ) -> OutputStats {
        let batch = idx.len();
        let (r0, r1) = split(batch, self.threads, t);
        let n_in = self.layers[0].inputs;
        let depth = self.layers.len();
        let top = self.top();
        let outputs = top.outputs;

        // Rows r0..r1 of every row-wise buffer are this thread's until the barrier of the
        // bottom layer; the previous batch ended with a barrier, so nobody reads them.
        // SAFETY: our rows of x.
        let x = unsafe { self.x.slice_mut(r0 * n_in, r1 * n_in) };
        elementwise::gather(data, &idx[r0..r1], x);
        let labels = &mut scratch.labels[..r1 - r0];
        for (l, &i) in labels.iter_mut().zip(&idx[r0..r1]) {
            *l = data.labels[i as usize];
        }
        // SAFETY: our rows; weights are written only after the barriers below.
        unsafe { self.forward_rows(r0, r1) };

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
            };
            out.run(
                Some(self.dz[depth - 1].slice_mut(r0 * outputs, r1 * outputs)),
                None,
            )
        };

        for l in (0..depth).rev() {
            let layer = &self.layers[l];
            let (n_in, n_out) = (layer.inputs, layer.outputs);
            if l > 0 {
                // Phase A: our rows of dz_{l−1} = (dz_l · W_l) ⊙ act'(a_{l−1}).
                let below = &self.layers[l - 1];
                // SAFETY: our rows of dz_l (written by us), of a_{l−1} (read-only now) and of
                // dz_{l−1} (ours); W_l is written only after the next barrier, and the other
                // threads, in phase B of layer l + 1, write W_{l+1} and read dz_{l+1}, a_l.
                unsafe {
                    let dz = self.dz[l].slice(r0 * n_out, r1 * n_out);
                    let w = layer.w.slice(0, layer.w.len());
                    let a_below = self.acts[l - 1].slice(r0 * n_in, r1 * n_in);
                    let dz_below = self.dz[l - 1].slice_mut(r0 * n_in, r1 * n_in);
                    products::input_grad(dz_below, dz, w, r1 - r0, n_out, n_in);
                    elementwise::activation_backward(below.act, dz_below, a_below);
                }
            }
            barrier.wait();
            // Phase B: our neurons of W_l and b_l, from every row of dz_l and x_l.
            let (j0, j1) = split(n_out, self.threads, t);
            // SAFETY: all rows of dz_l and x_l, which nobody writes until the batch's last
            // barrier (phase A of the layers below writes other dz buffers); our neurons' rows
            // of W_l and entries of b_l, which nobody else touches in this phase.
            unsafe {
                let dz = self.dz[l].slice(0, batch * n_out);
                let input = if l == 0 { self.x } else { self.acts[l - 1] };
                let x = input.slice(0, batch * n_in);
                let w = layer.w.slice_mut(j0 * n_in, j1 * n_in);
                let b = layer.b.slice_mut(j0, j1);
                products::sgd_weights(w, dz, x, (j0, j1), batch, n_out, n_in, lr);
                elementwise::sgd_bias(b, dz, j0, n_out, lr, &mut scratch.sums);
            }
        }
        barrier.wait();
        stats
    }

    /// Forward, loss and predictions for this thread's share of `data`.
    fn evaluate_part(
        &self,
        t: usize,
        data: &Dataset,
        predictions: Shared<u32>,
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
                elementwise::gather_range(data, s, self.x.slice_mut(r0 * n_in, r1 * n_in));
                self.forward_rows(r0, r1);
                let out = OutputRows {
                    loss: self.loss,
                    act: top.act,
                    outputs,
                    batch: n,
                    z: self.z_out.slice(r0 * outputs, r1 * outputs),
                    a: self.acts[self.layers.len() - 1].slice(r0 * outputs, r1 * outputs),
                    labels: &data.labels[s..s + n],
                };
                let st = out.run(None, Some(predictions.slice_mut(s, s + n)));
                total.loss_sum += st.loss_sum;
                total.correct += st.correct;
            }
            s += n;
        }
        total
    }
}

/// Runs `work(t, scratch_t)` on threads `0..scratch.len()`, thread 0 being the caller, and
/// returns the results in thread order. A panic in any thread reaches the caller.
fn on_threads<R: Send>(
    scratch: &mut [Scratch],
    work: impl Fn(usize, &mut Scratch) -> R + Sync,
) -> Vec<R> {
    let (first, rest) = scratch.split_first_mut().expect("at least one thread");
    std::thread::scope(|s| {
        let work = &work;
        let handles: Vec<_> = rest
            .iter_mut()
            .enumerate()
            .map(|(i, sc)| s.spawn(move || work(i + 1, sc)))
            .collect();
        let mut results = vec![work(0, first)];
        for h in handles {
            results.push(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        results
    })
}

impl Engine for FastCpu {
    fn describe(&self) -> String {
        format!("cpu (fast, {} threads)", self.threads)
    }

    fn load_train_set(&mut self, data: &Dataset) -> Result<()> {
        check_fits(&self.params, data)?;
        self.train = Some(data.clone());
        Ok(())
    }

    fn train_steps(&mut self, order: &[u32], batch: usize, lr: f32) -> Result<()> {
        let data = self
            .train
            .as_ref()
            .ok_or_else(|| Error::bad_arg("train_steps", "called before load_train_set"))?;
        if let Some(&bad) = order.iter().find(|&&i| i as usize >= data.len()) {
            return Err(Error::bad_arg(
                "train_steps",
                format!(
                    "sample {bad} is out of range: {} has {} samples",
                    data.name,
                    data.len()
                ),
            ));
        }
        if order.is_empty() {
            return Ok(());
        }
        let batch = batch.clamp(1, order.len());
        let threads = self.threads;
        self.ws.ensure(&self.params, batch, threads);
        let views = Views::new(&mut self.params, &mut self.ws, threads);
        let barrier = SpinBarrier::new(threads);
        let parts = on_threads(&mut self.ws.scratch, |t, scratch| {
            let _poison = PoisonOnPanic(&barrier);
            let mut total = OutputStats::default();
            for idx in order.chunks(batch) {
                let s = views.train_batch(t, data, idx, lr, &barrier, scratch);
                total.loss_sum += s.loss_sum;
                total.correct += s.correct;
            }
            total
        });
        for p in parts {
            self.stats.loss_sum += p.loss_sum;
            self.stats.correct += p.correct;
        }
        self.stats.samples += order.len() as u64;
        Ok(())
    }

    fn take_stats(&mut self) -> Result<Stats> {
        Ok(std::mem::take(&mut self.stats))
    }

    fn evaluate(&mut self, data: &Dataset) -> Result<Evaluation> {
        check_fits(&self.params, data)?;
        let threads = self.threads;
        self.ws.ensure(&self.params, MIN_ROWS, threads);
        let rows = self.ws.rows;
        let mut predictions = vec![0u32; data.len()];
        let preds = Shared::new(&mut predictions);
        let views = Views::new(&mut self.params, &mut self.ws, threads);
        let parts = on_threads(&mut self.ws.scratch, |t, _| {
            views.evaluate_part(t, data, preds, rows)
        });
        let n = data.len().max(1);
        let loss_sum: f64 = parts.iter().map(|p| p.loss_sum).sum();
        let correct: u64 = parts.iter().map(|p| p.correct).sum();
        Ok(Evaluation {
            loss: (loss_sum / n as f64) as f32,
            accuracy: correct as f32 / n as f32,
            predictions,
        })
    }

    fn params(&mut self) -> Result<Params> {
        Ok(self.params.clone())
    }

    fn set_params(&mut self, params: &Params) -> Result<()> {
        params.spec().validate()?;
        if let Some(data) = &self.train {
            check_fits(params, data)?;
        }
        self.params = params.clone();
        Ok(())
    }
}
