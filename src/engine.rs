//! The one small interface the training loop drives: a backend owns the parameters and the
//! step; the loop owns epochs, shuffling, validation and checkpoints.

use crate::data::Dataset;
use crate::model::{Loss, Params};
use crate::optim::{OptimizerConfig, OptimizerState};
use crate::{Error, Result};

/// Steps handed to an engine at a time. The GPU encodes them into one submission (and a gang
/// of runs, as many steps of each), so the CPU waits on the device once per this many steps;
/// the loop's progress bar moves between them. At 32 steps of batch 32 a bar moves every 1,024
/// samples, and each submission's fixed cost is spread over 32 steps.
pub const STEPS_PER_SUBMISSION: usize = 32;

/// Loss and accuracy summed over the steps since the last call to `take_stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Σ over samples of the per-sample loss (the batch mean times the batch size).
    pub loss_sum: f64,
    pub correct: u64,
    pub samples: u64,
    /// Steps taken.
    pub steps: u64,
    /// The first of those steps (from 1) whose loss was NaN or infinite.
    pub nonfinite_step: Option<u64>,
}

impl Stats {
    /// Adds one step's batch-mean `loss` over `samples` samples with `correct` hits.
    pub fn add_step(&mut self, loss: f32, samples: usize, correct: usize) {
        self.steps += 1;
        if !loss.is_finite() && self.nonfinite_step.is_none() {
            self.nonfinite_step = Some(self.steps);
        }
        self.loss_sum += loss as f64 * samples as f64;
        self.correct += correct as u64;
        self.samples += samples as u64;
    }

    /// Marks the last step as non-finite (its optimizer state or parameters hold a NaN or an
    /// infinity), unless an earlier one is.
    pub fn flag_nonfinite(&mut self) {
        self.nonfinite_step.get_or_insert(self.steps);
    }

    /// These stats followed by `later`'s.
    pub fn merge(self, later: Stats) -> Stats {
        Stats {
            loss_sum: self.loss_sum + later.loss_sum,
            correct: self.correct + later.correct,
            samples: self.samples + later.samples,
            steps: self.steps + later.steps,
            nonfinite_step: self
                .nonfinite_step
                .or(later.nonfinite_step.map(|s| s + self.steps)),
        }
    }

    pub fn mean_loss(&self) -> f32 {
        (self.loss_sum / self.samples.max(1) as f64) as f32
    }

    pub fn accuracy(&self) -> f32 {
        self.correct as f32 / self.samples.max(1) as f32
    }
}

/// The result of evaluating a whole dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub loss: f32,
    pub accuracy: f32,
    /// Predicted class per sample.
    pub predictions: Vec<u32>,
}

/// Time spent by one family of kernels (or CPU phases) over a number of training steps.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FamilyTime {
    pub name: String,
    pub seconds: f64,
    /// Floating-point operations the family performed in that time (0 where not counted).
    pub flops: f64,
}

/// A training backend: the CPU reference, the fast CPU path or the GPU.
pub trait Engine {
    /// What runs, e.g. `cpu (reference)` or `vulkan: llvmpipe (LLVM 15.0.6, 256 bits)`.
    fn describe(&self) -> String;

    /// Makes `data` the training set; the GPU uploads it once and keeps it.
    fn load_train_set(&mut self, data: &Dataset) -> Result<()>;

    /// SGD steps over the training set in the given sample order, `batch` samples a step (the
    /// last step takes what is left). Need not wait for the work to finish.
    fn train_steps(&mut self, order: &[u32], batch: usize, lr: f32) -> Result<()>;

    /// Loss and accuracy of the steps since the last call, measured on each batch's forward
    /// pass before its update. Waits for the work in flight.
    fn take_stats(&mut self) -> Result<Stats>;

    /// Loss, accuracy and predictions on `data`, without training.
    fn evaluate(&mut self, data: &Dataset) -> Result<Evaluation>;

    /// The network's outputs for every sample of `data`, `[n][outputs]`, after the output
    /// activation (softmax probabilities with `ce`, sigmoid outputs with `bce`), without
    /// training.
    fn outputs(&mut self, data: &Dataset) -> Result<Vec<f32>>;

    /// The mean loss on `data` and the network's outputs `[n][outputs]` from one forward pass:
    /// what validating a regression or an autoencoder needs (the loss, then MSE, MAE and R²
    /// from the outputs). The default runs [`Engine::evaluate`] and [`Engine::outputs`].
    fn loss_and_outputs(&mut self, data: &Dataset) -> Result<(f32, Vec<f32>)> {
        let loss = self.evaluate(data)?.loss;
        Ok((loss, self.outputs(data)?))
    }

    /// Sets the optimizer, with `state` to continue from (`None`: a fresh one). Engines start
    /// with plain SGD.
    fn set_optimizer(
        &mut self,
        cfg: &OptimizerConfig,
        state: Option<&OptimizerState>,
    ) -> Result<()>;

    /// The optimizer's state (velocities or moments, and the step count), for checkpoints.
    fn optimizer_state(&mut self) -> Result<OptimizerState>;

    /// A copy of the current parameters.
    fn params(&mut self) -> Result<Params>;

    /// Replaces the parameters (e.g. to restore the best epoch).
    fn set_params(&mut self, params: &Params) -> Result<()>;

    /// Time per kernel family over `steps` steps of `batch` samples of the training set, each
    /// family measured alone; for `gpunn bench`. Empty when the engine has no breakdown.
    /// The parameters are the same afterwards.
    fn profile(&mut self, _steps: usize) -> Result<Vec<FamilyTime>> {
        Ok(Vec::new())
    }
}

/// The numbers of one step. `output`, `loss`, `acts` and the gradients are from before the
/// update; `after` holds the updated parameters.
#[derive(Clone, Debug)]
pub struct StepResult {
    pub batch: usize,
    pub loss: f32,
    /// `[batch][outputs]`
    pub output: Vec<f32>,
    /// `[batch][inputs]`
    pub grad_input: Vec<f32>,
    /// Per layer `([out][in], [out])`.
    pub grads: Vec<(Vec<f32>, Vec<f32>)>,
    pub after: Params,
}

/// Checks that a dataset fits the network's input and output.
pub fn check_fits(params: &Params, data: &Dataset) -> Result<()> {
    if data.dim != params.inputs() {
        return Err(Error::invalid(
            "model.layers",
            format!(
                "the network takes {} inputs but {} has {} features per sample",
                params.inputs(),
                data.name,
                data.dim
            ),
        ));
    }
    let outputs = params.outputs();
    if let Some(t) = data.target_dim() {
        if t != outputs {
            return Err(Error::invalid(
                "model.layers",
                format!(
                    "the network has {outputs} outputs but {} has {t} target values per sample",
                    data.name
                ),
            ));
        }
        if params.loss == Loss::Ce {
            return Err(Error::invalid(
                "model.loss",
                format!(
                    "ce needs class labels; {} has values as targets (use mse)",
                    data.name
                ),
            ));
        }
        return Ok(());
    }
    let needed = if outputs == 1 { 2 } else { data.classes };
    if (outputs == 1 && data.classes > 2) || (outputs > 1 && outputs < needed) {
        return Err(Error::invalid(
            "model.layers",
            format!(
                "the network has {outputs} outputs but {} has {} classes",
                data.name, data.classes
            ),
        ));
    }
    Ok(())
}

/// The state an engine starts `cfg` with: `state` checked against `cfg` and `params`, or a
/// fresh one (zeros, step 0). Also checks `cfg`.
pub fn optimizer_state_for(
    cfg: &OptimizerConfig,
    params: &Params,
    state: Option<&OptimizerState>,
) -> Result<OptimizerState> {
    cfg.validate()?;
    match state {
        Some(s) => {
            check_optimizer_state(cfg, params, s)?;
            Ok(s.clone())
        }
        None => Ok(OptimizerState::new(cfg, params)),
    }
}

/// Checks that `state` belongs to `cfg` and `params`: one tensor state per parameter tensor,
/// each with the vectors of the rule at the tensor's size.
pub fn check_optimizer_state(
    cfg: &OptimizerConfig,
    params: &Params,
    state: &OptimizerState,
) -> Result<()> {
    let fresh = OptimizerState::new(cfg, params);
    // Every tensor's velocity, m and v sizes, in order.
    let sizes = |s: &OptimizerState| -> Vec<usize> {
        s.tensors
            .iter()
            .flat_map(|t| [t.velocity.len(), t.m.len(), t.v.len()])
            .collect()
    };
    if sizes(&fresh) != sizes(state) {
        return Err(Error::shape(
            "optimizer state",
            format!(
                "the sizes of each tensor's velocity, m and v for {} on this network",
                cfg.kind
            ),
            sizes(&fresh).as_slice(),
            sizes(state).as_slice(),
        ));
    }
    Ok(())
}
