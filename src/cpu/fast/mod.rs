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
//! A layer whose weights do not fit one core's cache (784×1024 and up), or from 784×42 when
//! each thread would get at most 64 rows of the batch, is split by columns instead
//! (`Split::Columns`): in the forward pass each thread computes its own neurons for
//! every row, reading only its half of W, and in phase A its own inputs of `dz_{l−1}` — at the
//! cost of a barrier on each side of the forward product.
//!
//! The first layer, when it is split by rows, keeps its weights `[inputs][outputs]`, the order
//! in which `gemm` packs them fastest (`layer::first_input_major`); its phase B then gives each
//! thread a block of its inputs' weights rather than of its neurons'.
//!
//! Evaluation splits the samples by rows only and needs no barrier at all.

mod elementwise;
mod evaluate;
mod gather;
mod layer;
pub mod mathfn;
mod optim;
mod output;
mod products;
mod sync;
mod views;
mod workspace;

use self::layer::check_shapes;
use self::layer::{reorder_first, reorder_first_state};
use self::optim::OptViews;
use self::output::OutputStats;
use self::sync::{on_threads, PoisonOnPanic, Shared};
use self::views::Views;
use self::workspace::{Clock, Phase, Workspace, PHASES};
use super::engine::check_fits;
use crate::data::Dataset;
use crate::engine::{optimizer_state_for, Engine, Evaluation, FamilyTime, Stats};
use crate::model::DenseGrads;
use crate::model::Params;
use crate::optim::{OptimizerConfig, OptimizerState};
use crate::{Error, Result};

/// The threads [`FastCpu::new`] runs on: `GPUNN_THREADS` when set (as `RAYON_NUM_THREADS`
/// elsewhere), else `OMP_NUM_THREADS` when set, else one per core up to
/// [`DEFAULT_MAX_THREADS`]. joblib's worker processes (scikit-learn's `n_jobs`) set
/// `OMP_NUM_THREADS` to their share of the cores; following it keeps `GridSearchCV(...,
/// n_jobs=2)` from running two threads per process on two cores (3.4× slower here).
pub fn default_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&t| t > 0)
    };
    var("GPUNN_THREADS")
        .or_else(|| var("OMP_NUM_THREADS"))
        .unwrap_or(cores.min(DEFAULT_MAX_THREADS))
}

/// The most threads [`FastCpu::new`] takes: a batch of 128 split further leaves each thread
/// too few rows for the products to run well, and more threads wait longer at each barrier.
pub const DEFAULT_MAX_THREADS: usize = 8;

/// Rows the workspace holds at least, so that evaluation runs the products on blocks of a
/// useful height even when training uses small batches.
const MIN_ROWS: usize = 512;

/// Trains with the fast path; the same mathematics as [`super::engine::CpuReference`].
pub struct FastCpu {
    /// With `first_input_major`, the first layer's weights stored `[inputs][outputs]`, and
    /// its optimizer state and gradients likewise; turned back when they leave the engine.
    params: Params,
    /// Set by `run_steps` from how the threads split the first layer
    /// (`layer::first_input_major`).
    first_input_major: bool,
    optimizer: OptimizerConfig,
    state: OptimizerState,
    /// The gradients, for every optimizer but plain SGD (which never materialises them).
    grads: Vec<DenseGrads<f32>>,
    /// One partial squared gradient norm per thread (clipping by the global norm).
    norm_parts: Vec<f32>,
    train: Option<Dataset>,
    stats: Stats,
    threads: usize,
    /// Set by [`FastCpu::with_column_split_min`]; `None`: by batch size.
    column_split_min: Option<usize>,
    ws: Workspace,
    /// The batch size and learning rate of the last `train_steps`, for `profile`.
    last_batch: usize,
    last_lr: f32,
}

impl FastCpu {
    /// On all the cores the machine reports, up to [`DEFAULT_MAX_THREADS`].
    pub fn new(params: Params) -> Self {
        Self::with_threads(params, default_threads())
    }

    /// On `threads` worker threads (at least 1; the calling thread is one of them).
    pub fn with_threads(params: Params, threads: usize) -> Self {
        let optimizer = OptimizerConfig::default();
        FastCpu {
            state: OptimizerState::new(&optimizer, &params),
            optimizer,
            grads: Vec::new(),
            norm_parts: vec![0.0; threads.max(1)],
            params,
            first_input_major: false,
            train: None,
            stats: Stats::default(),
            threads: threads.max(1),
            column_split_min: None,
            ws: Workspace::default(),
            last_batch: 128,
            last_lr: 0.01,
        }
    }

    /// Splits the work of layers with at least `weights` weights between the threads by
    /// neurons and inputs rather than by batch rows (see the module docs); 0 splits every layer
    /// so (the tests do, to cover that path on small networks). By default it depends on the
    /// batch: 2^15 weights when each thread would get at most 64 of its rows, else 2^18
    /// (1 MiB of f32); see `layer::default_column_split_min`.
    pub fn with_column_split_min(mut self, weights: usize) -> Self {
        self.column_split_min = Some(weights);
        self
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The parameters in [`Params`]' order.
    fn params_out(&self) -> Params {
        let mut params = self.params.clone();
        if self.first_input_major {
            reorder_first(&mut params, false);
        }
        params
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
        let split_min = self
            .column_split_min
            .unwrap_or_else(|| layer::default_column_split_min(batch, threads));
        let first = &self.params.layers[0];
        let depth = self.params.layers.len();
        let (forward, _) = layer::splits(0, depth, first.weights.len(), threads, split_min);
        // The first layer's weights (and their optimizer state) in the order that suits the
        // split: reordered at most once a run, as the batch and threads stay the same.
        let input_major = layer::first_input_major(forward);
        if self.first_input_major != input_major {
            reorder_first(&mut self.params, input_major);
            reorder_first_state(&mut self.state, &self.params, input_major);
            self.first_input_major = input_major;
        }
        let mut views = Views::new(
            &mut self.params,
            &mut self.ws,
            threads,
            split_min,
            self.first_input_major,
        );
        if !self.optimizer.is_plain_sgd() {
            views.opt = Some(OptViews::new(
                self.optimizer,
                &mut self.grads,
                &mut self.state,
                &mut self.norm_parts,
            ));
        }
        let parts = on_threads(&mut self.ws.scratch, |t, scratch| {
            let _poison = PoisonOnPanic(&views.barrier);
            let mut total = OutputStats::default();
            // The first step (from 1) whose loss this thread's rows made NaN or infinite, or
            // whose update left a NaN or infinity in this thread's parameters or state.
            let mut nonfinite = None;
            let mut clock = Clock::new(profile && t == 0);
            for (step, idx) in order.chunks(batch).enumerate() {
                let (s, bad) = views.train_batch(t, data, (idx, step), lr, scratch, &mut clock);
                if (bad || !s.loss_sum.is_finite()) && nonfinite.is_none() {
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
        let steps = order.len().div_ceil(batch) as u64;
        stats.steps += steps;
        stats.samples += order.len() as u64;
        if !self.optimizer.is_plain_sgd() {
            self.state.step += steps;
        }
        Ok(parts[0].2)
    }
}

impl Engine for FastCpu {
    fn set_optimizer(
        &mut self,
        cfg: &OptimizerConfig,
        state: Option<&OptimizerState>,
    ) -> Result<()> {
        let mut state = optimizer_state_for(cfg, &self.params, state)?;
        if self.first_input_major {
            reorder_first_state(&mut state, &self.params, true);
        }
        self.grads = if cfg.is_plain_sgd() {
            Vec::new()
        } else {
            optim::zero_grads(&self.params)
        };
        (self.optimizer, self.state) = (*cfg, state);
        Ok(())
    }

    fn optimizer_state(&mut self) -> Result<OptimizerState> {
        let mut state = self.state.clone();
        if self.first_input_major {
            reorder_first_state(&mut state, &self.params, false);
        }
        Ok(state)
    }

    fn outputs(&mut self, data: &Dataset) -> Result<Vec<f32>> {
        self.loss_and_outputs(data).map(|(_, o)| o)
    }

    fn loss_and_outputs(&mut self, data: &Dataset) -> Result<(f32, Vec<f32>)> {
        check_shapes(&self.params)?;
        if data.dim != self.params.inputs() {
            return check_fits(&self.params, data).map(|_| (0.0, Vec::new()));
        }
        let mut outputs = vec![0.0f32; data.len() * self.params.outputs()];
        let total = self.evaluate_into(data, evaluate::Into::Outputs(Shared::new(&mut outputs)));
        Ok(((total.loss_sum / data.len().max(1) as f64) as f32, outputs))
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
        let mut predictions = vec![0u32; data.len()];
        let into = evaluate::Into::Predictions(Shared::new(&mut predictions));
        let total = self.evaluate_into(data, into);
        let n = data.len().max(1);
        Ok(Evaluation {
            loss: (total.loss_sum / n as f64) as f32,
            accuracy: total.correct as f32 / n as f32,
            predictions,
        })
    }

    /// Times the phases of `steps` steps (at the last `train_steps` batch size and learning
    /// rate, 128 and 0.01 before any) as thread 0 sees them, while the steps run as usual; the
    /// parameters, optimizer state and stats are restored afterwards.
    fn profile(&mut self, steps: usize) -> Result<Vec<FamilyTime>> {
        let data = self
            .train
            .as_ref()
            .ok_or_else(|| Error::invalid("profile", "called before load_train_set"))?;
        let n = data.len().max(1);
        let batch = self.last_batch.clamp(1, n);
        let order: Vec<u32> = (0..steps * batch).map(|i| (i % n) as u32).collect();
        // Everything the steps change, the stored order of the first layer included (the first
        // steps after construction may reorder it).
        let saved = (
            self.params.clone(),
            self.state.clone(),
            self.stats,
            self.first_input_major,
        );
        let seconds = self.run_steps(&order, batch, self.last_lr, true);
        (self.params, self.state, self.stats, self.first_input_major) = saved;
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
        Ok(self.params_out())
    }

    fn set_params(&mut self, params: &Params) -> Result<()> {
        check_shapes(params)?;
        if let Some(data) = &self.train {
            check_fits(params, data)?;
        }
        self.params = params.clone();
        if self.first_input_major {
            reorder_first(&mut self.params, true);
        }
        Ok(())
    }
}
