//! The fast CPU path: the reference's mathematics on the `gemm` crate's kernels, with every
//! buffer allocated once, the elementwise work fused around the products, and each step split
//! over worker threads.
//!
//! # One step on T threads
//! Thread `t` owns a contiguous block of the batch rows and a contiguous block of each layer's
//! neurons (`sync::split`). Row-wise work needs nobody else's rows; the weight update needs
//! every row of `dz` but only its own neurons' weights. So a step is:
//!
//! ```text
//! gather my rows of x                       u8 → f32 and the 1/255 scaling in one pass
//! forward my rows through every layer       z = x·Wᵀ (gemm), then z ← act(z + b) in one pass
//! loss, ∂L/∂z_out, predictions of my rows   one pass over the output rows
//! for each layer l, top first:
//!   A  my rows of dz_{l−1} = (dz_l·W_l) ⊙ act'(a_{l−1})    gemm, then one pass; W_l unchanged
//!   ── barrier ──                           dz_l complete; everyone is done reading W_l
//!   B  my neurons: W_l ← W_l − lr·dz_lᵀ·x_l                gemm with alpha 1, beta −lr: the
//!                  b_l ← b_l − lr·Σ_rows dz_l              gradient never goes through memory
//! ── barrier ──                             every weight updated before the next forward
//! ```
//!
//! Phase B of layer l overlaps phase A of layer l − 1, which touches other buffers (each layer
//! has its own `dz`). Each thread calls `gemm` single-threaded on its block: one split of the
//! whole step beats letting gemm split each product (which it does with rayon, per call), and
//! it splits the elementwise passes too.
//!
//! A layer whose weights do not fit one core's cache (784×1024 and up) is split by columns
//! instead (`Split::Columns`): in the forward pass each thread computes its own neurons for
//! every row, reading only its half of W, and in phase A its own inputs of `dz_{l−1}` — at the
//! cost of a barrier on each side of the forward product.
//!
//! Evaluation splits the samples by rows only and needs no barrier at all.

mod elementwise;
mod products;
mod sync;

use self::elementwise::{OutputRows, OutputStats};
use self::sync::{split, PoisonOnPanic, Shared, SpinBarrier};
use super::engine::check_fits;
use crate::data::Dataset;
use crate::engine::{Engine, Evaluation, FamilyTime, Stats};
use crate::model::{Activation, Loss, Params};
use crate::{Error, Result};
use std::time::Instant;

/// The most threads [`FastCpu::new`] takes: a batch of 128 split further leaves each thread
/// too few rows for the products to run well, and more threads wait longer at each barrier.
pub const DEFAULT_MAX_THREADS: usize = 8;

/// Rows the workspace holds at least, so that evaluation runs the products on blocks of a
/// useful height even when training uses small batches.
const MIN_ROWS: usize = 512;

/// Trains with the fast path; the same mathematics as [`super::engine::CpuReference`].
pub struct FastCpu {
    params: Params,
    train: Option<Dataset>,
    stats: Stats,
    threads: usize,
    column_split_min: usize,
    ws: Workspace,
    /// The batch size and learning rate of the last `train_steps`, for `profile`.
    last_batch: usize,
    last_lr: f32,
}

impl FastCpu {
    /// On all the cores the machine reports, up to [`DEFAULT_MAX_THREADS`].
    pub fn new(params: Params) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_threads(params, threads.min(DEFAULT_MAX_THREADS))
    }

    /// On `threads` worker threads (at least 1; the calling thread is one of them).
    pub fn with_threads(params: Params, threads: usize) -> Self {
        FastCpu {
            params,
            train: None,
            stats: Stats::default(),
            threads: threads.max(1),
            column_split_min: COLUMN_SPLIT_MIN_WEIGHTS,
            ws: Workspace::default(),
            last_batch: 128,
            last_lr: 0.01,
        }
    }

    /// Splits the work of layers with at least `weights` weights between the threads by
    /// neurons and inputs rather than by batch rows (see the module docs); 0 splits every layer
    /// so (the tests do, to cover that path on small networks). The default, 2^18 weights
    /// (1 MiB), suits a core with about 2 MiB of L2 cache.
    pub fn with_column_split_min(mut self, weights: usize) -> Self {
        self.column_split_min = weights;
        self
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// SGD steps as `Engine::train_steps` describes; with `profile`, also the time per phase.
    fn run_steps(
        &mut self,
        order: &[u32],
        batch: usize,
        lr: f32,
        profile: bool,
    ) -> Result<[f64; PHASES.len()]> {
        let data = self
            .train
            .as_ref()
            .ok_or_else(|| Error::invalid("train_steps", "called before load_train_set"))?;
        if let Some(&bad) = order.iter().find(|&&i| i as usize >= data.len()) {
            return Err(Error::invalid(
                "train_steps",
                format!(
                    "sample {bad} is out of range: {} has {} samples",
                    data.name,
                    data.len()
                ),
            ));
        }
        if order.is_empty() {
            return Ok([0.0; PHASES.len()]);
        }
        (self.last_batch, self.last_lr) = (batch.max(1), lr);
        let batch = batch.clamp(1, order.len());
        let threads = self.threads;
        self.ws.ensure(&self.params, batch, threads);
        let views = Views::new(
            &mut self.params,
            &mut self.ws,
            threads,
            self.column_split_min,
        );
        let parts = on_threads(&mut self.ws.scratch, |t, scratch| {
            let _poison = PoisonOnPanic(&views.barrier);
            let mut total = OutputStats::default();
            // The first step (from 1) whose loss this thread's rows made NaN or infinite.
            let mut nonfinite = None;
            let mut clock = Clock::new(profile && t == 0);
            for (step, idx) in order.chunks(batch).enumerate() {
                let s = views.train_batch(t, data, idx, lr, scratch, &mut clock);
                if !s.loss_sum.is_finite() && nonfinite.is_none() {
                    nonfinite = Some(step as u64 + 1);
                }
                total.loss_sum += s.loss_sum;
                total.correct += s.correct;
            }
            (total, nonfinite, clock.seconds)
        });
        // As `Stats::add_step` once per step: a step's loss is non-finite if any thread's
        // part of it is.
        let stats = &mut self.stats;
        if stats.nonfinite_step.is_none() {
            stats.nonfinite_step = parts
                .iter()
                .filter_map(|p| p.1)
                .min()
                .map(|s| s + stats.steps);
        }
        for (p, _, _) in &parts {
            stats.loss_sum += p.loss_sum;
            stats.correct += p.correct;
        }
        stats.steps += order.len().div_ceil(batch) as u64;
        stats.samples += order.len() as u64;
        Ok(parts[0].2)
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

/// The phases of a step, timed by [`Engine::profile`], with the names the GPU engine gives
/// its kernel families.
#[derive(Clone, Copy)]
enum Phase {
    Gather,
    Forward,
    Loss,
    InputGrad,
    WeightSgd,
    Bias,
    Sync,
}

const PHASES: [(Phase, &str); 7] = [
    (Phase::Gather, "gather"),
    (Phase::Forward, "matmul forward (bias+act)"),
    (Phase::Loss, "softmax/loss"),
    (Phase::InputGrad, "matmul input grad (act')"),
    (Phase::WeightSgd, "matmul weight grad + SGD"),
    (Phase::Bias, "bias grad + SGD"),
    (Phase::Sync, "barriers (waiting for the other threads)"),
];

/// Wall time per phase as thread 0 sees it (the threads work in step, so that is the step's
/// time), when profiling; a no-op otherwise.
struct Clock {
    last: Option<Instant>,
    seconds: [f64; PHASES.len()],
}

impl Clock {
    fn new(on: bool) -> Self {
        Clock {
            last: on.then(Instant::now),
            seconds: [0.0; PHASES.len()],
        }
    }

    /// Charges the time since the last lap to `phase`.
    #[inline]
    fn lap(&mut self, phase: Phase) {
        if let Some(last) = &mut self.last {
            let now = Instant::now();
            self.seconds[phase as usize] += (now - *last).as_secs_f64();
            *last = now;
        }
    }

    /// Charges the time so far to `phase`, waits at the barrier and charges that to `Sync`.
    #[inline]
    fn wait(&mut self, phase: Phase, barrier: &SpinBarrier) {
        self.lap(phase);
        barrier.wait();
        self.lap(Phase::Sync);
    }
}

/// How the threads share a layer's row-wise work. `Rows`: each thread takes its batch rows, and
/// needs nobody else's. `Columns`: each thread takes its own neurons (forward) or inputs
/// (input gradient) for every row, which reads only that part of the weights — better when
/// the weight matrix is too large to stay in one core's cache, at the cost of barriers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Split {
    Rows,
    Columns,
}

/// By default, weight matrices with at least this many elements (1 MiB of f32) are split by
/// columns.
const COLUMN_SPLIT_MIN_WEIGHTS: usize = 1 << 18;

/// A layer as the worker threads see it.
struct LayerView {
    w: Shared<f32>,
    b: Shared<f32>,
    inputs: usize,
    outputs: usize,
    act: Activation,
    /// How the forward product and bias + activation are shared (never `Columns` on the
    /// output layer, whose loss needs whole rows).
    forward: Split,
    /// How the input-gradient product and activation backward are shared.
    input_grad: Split,
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
    /// Where the threads of a training step meet.
    barrier: SpinBarrier,
}

impl Views {
    /// Views of `params` and of `ws` without its scratch (each thread gets its own of those).
    fn new(
        params: &mut Params,
        ws: &mut Workspace,
        threads: usize,
        column_split_min: usize,
    ) -> Self {
        let depth = params.layers.len();
        Views {
            layers: params
                .layers
                .iter_mut()
                .enumerate()
                .map(|(l, layer)| {
                    let big = threads > 1 && layer.inputs * layer.outputs >= column_split_min;
                    let split = |columns: bool| if columns { Split::Columns } else { Split::Rows };
                    LayerView {
                        w: Shared::new(&mut layer.weights),
                        b: Shared::new(&mut layer.bias),
                        inputs: layer.inputs,
                        outputs: layer.outputs,
                        act: layer.activation,
                        forward: split(big && l + 1 < depth),
                        input_grad: split(big),
                    }
                })
                .collect(),
            loss: params.loss,
            x: Shared::new(&mut ws.x),
            acts: ws.acts.iter_mut().map(|v| Shared::new(v)).collect(),
            z_out: Shared::new(&mut ws.z_out),
            dz: ws.dz.iter_mut().map(|v| Shared::new(v)).collect(),
            threads,
            barrier: SpinBarrier::new(threads),
        }
    }

    fn top(&self) -> &LayerView {
        self.layers.last().expect("at least one layer")
    }

    /// The input of layer `l`: the batch or the layer below's output.
    fn input(&self, l: usize) -> Shared<f32> {
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
    unsafe fn forward_block(&self, l: usize, rows: (usize, usize), cols: (usize, usize)) {
        let layer = &self.layers[l];
        let (n_in, n_out) = (layer.inputs, layer.outputs);
        let last = l + 1 == self.layers.len();
        // SAFETY: the contract: our block of the output, the input rows and W, b read-only.
        unsafe {
            let input = self.input(l).mat(n_in, rows, (0, n_in));
            let w = layer.w.mat(n_in, cols, (0, n_in));
            let out = if last { self.z_out } else { self.acts[l] };
            products::product(out.mat_mut(n_out, rows, cols), input, w.t(), None);
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
            let w = layer.w.mat(n_in, (0, n_out), cols);
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

    /// One SGD step on the samples `idx` of `data`, run by every thread `t` at once.
    fn train_batch(
        &self,
        t: usize,
        data: &Dataset,
        idx: &[u32],
        lr: f32,
        scratch: &mut Scratch,
        clock: &mut Clock,
    ) -> OutputStats {
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
        elementwise::gather(data, &idx[r0..r1], unsafe {
            self.x.slice_mut(r0 * n_in, r1 * n_in)
        });
        let labels = &mut scratch.labels[..r1 - r0];
        for (l, &i) in labels.iter_mut().zip(&idx[r0..r1]) {
            *l = data.labels[i as usize];
        }
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
            };
            out.run(
                Some(self.dz[depth - 1].slice_mut(r0 * outputs, r1 * outputs)),
                None,
            )
        };
        clock.lap(Phase::Loss);

        // Backward, top layer first. `dz_complete`: every row of dz_l is written.
        let mut dz_complete = false;
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
            // Phase B: our neurons of W_l and b_l, from every row of dz_l and x_l.
            let (j0, j1) = split(n_out, threads, t);
            // SAFETY: all rows of dz_l and x_l, which nobody writes until the step's last
            // barrier (phase A of the layers below writes other dz buffers); our neurons' rows
            // of W_l and entries of b_l, which nobody else touches in this phase.
            unsafe {
                let dz = self.dz[l].mat(n_out, all, (j0, j1));
                let x = self.input(l).mat(n_in, all, (0, n_in));
                let w = layer.w.mat_mut(n_in, (j0, j1), (0, n_in));
                products::product(w, dz.t(), x, Some(-lr));
                clock.lap(Phase::WeightSgd);
                let dz = self.dz[l].slice(0, batch * n_out);
                let b = layer.b.slice_mut(j0, j1);
                elementwise::sgd_bias(b, dz, j0, n_out, lr, &mut scratch.sums);
                clock.lap(Phase::Bias);
            }
        }
        clock.wait(Phase::Bias, barrier);
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

/// Checks what the products rely on: a valid spec, and weights and biases of the sizes the
/// layers state, each layer taking the one below's outputs.
fn check_shapes(params: &Params) -> Result<()> {
    if params.layers.is_empty() {
        return Err(Error::Shape {
            op: "fast cpu",
            msg: "a network with no layers".into(),
        });
    }
    for (l, layer) in params.layers.iter().enumerate() {
        let (i, o) = (layer.inputs, layer.outputs);
        let below = if l == 0 {
            i
        } else {
            params.layers[l - 1].outputs
        };
        if layer.weights.len() != i * o || layer.bias.len() != o || below != i {
            return Err(Error::Shape {
                op: "fast cpu",
                msg: format!(
                    "layer {}: {i} inputs (the layer below gives {below}), {o} outputs, but {} \
                     weights and {} biases",
                    l + 1,
                    layer.weights.len(),
                    layer.bias.len()
                ),
            });
        }
    }
    params.spec().validate()
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
    fn outputs(&mut self, data: &Dataset) -> Result<Vec<f32>> {
        // Inference on a handful of samples (`gpunn predict`): the reference loops suffice.
        crate::cpu::engine::outputs_with(&self.params, data)
    }

    fn describe(&self) -> String {
        format!("cpu (fast, {} threads)", self.threads)
    }

    fn load_train_set(&mut self, data: &Dataset) -> Result<()> {
        check_shapes(&self.params)?;
        check_fits(&self.params, data)?;
        self.train = Some(data.clone());
        Ok(())
    }

    fn train_steps(&mut self, order: &[u32], batch: usize, lr: f32) -> Result<()> {
        self.run_steps(order, batch, lr, false).map(|_| ())
    }

    fn take_stats(&mut self) -> Result<Stats> {
        Ok(std::mem::take(&mut self.stats))
    }

    fn evaluate(&mut self, data: &Dataset) -> Result<Evaluation> {
        check_shapes(&self.params)?;
        check_fits(&self.params, data)?;
        let threads = self.threads;
        self.ws.ensure(&self.params, MIN_ROWS, threads);
        let rows = self.ws.rows;
        let mut predictions = vec![0u32; data.len()];
        let preds = Shared::new(&mut predictions);
        let views = Views::new(
            &mut self.params,
            &mut self.ws,
            threads,
            self.column_split_min,
        );
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

    /// Times the phases of `steps` steps (at the last `train_steps` batch size and learning
    /// rate, 128 and 0.01 before any) as thread 0 sees them, while the steps run as usual; the
    /// parameters and stats are restored afterwards.
    fn profile(&mut self, steps: usize) -> Result<Vec<FamilyTime>> {
        let data = self
            .train
            .as_ref()
            .ok_or_else(|| Error::invalid("profile", "called before load_train_set"))?;
        let n = data.len().max(1);
        let batch = self.last_batch.clamp(1, n);
        let order: Vec<u32> = (0..steps * batch).map(|i| (i % n) as u32).collect();
        let (saved_params, saved_stats) = (self.params.clone(), self.stats);
        let seconds = self.run_steps(&order, batch, self.last_lr, true);
        (self.params, self.stats) = (saved_params, saved_stats);
        let seconds = seconds?;
        // Multiply-adds of the three products over all the steps.
        let macs = |layers: &mut dyn Iterator<Item = &crate::model::Layer>| {
            layers.map(|l| (l.inputs * l.outputs) as f64).sum::<f64>() * order.len() as f64
        };
        let forward = macs(&mut self.params.layers.iter());
        let input_grad = macs(&mut self.params.layers.iter().skip(1));
        Ok(PHASES
            .iter()
            .map(|&(phase, name)| FamilyTime {
                name: name.to_string(),
                seconds: seconds[phase as usize],
                flops: match phase {
                    Phase::Forward | Phase::WeightSgd => 2.0 * forward,
                    Phase::InputGrad => 2.0 * input_grad,
                    _ => 0.0,
                },
            })
            .collect())
    }

    fn params(&mut self) -> Result<Params> {
        Ok(self.params.clone())
    }

    fn set_params(&mut self, params: &Params) -> Result<()> {
        check_shapes(params)?;
        if let Some(data) = &self.train {
            check_fits(params, data)?;
        }
        self.params = params.clone();
        Ok(())
    }
}
