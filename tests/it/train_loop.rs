//! The training loop on its own, driven through a scripted engine: early stopping restores the
//! parameters of the best validation epoch; `validate_every` validates only some epochs.

use gpunn::data::{Dataset, Features};
use gpunn::engine::{Engine, Evaluation, Stats};
use gpunn::model::{Activation, Init, Loss, MlpSpec, Params};
use gpunn::optim::{OptimizerConfig, OptimizerState};
use gpunn::train::{self, TrainConfig};

/// An engine whose "parameters" are one bias holding the number of the last trained epoch, and
/// whose validation and training losses follow a script (epochs of [`four_samples`]). Also used
/// by the plateau tests.
pub struct Scripted {
    params: Params,
    val_losses: Vec<f32>,
    /// Epoch e's training loss is `train_losses[e − 1]` (1 when empty).
    pub train_losses: Vec<f32>,
    /// The last trained epoch.
    pub epoch: usize,
    restored: Vec<f32>,
    /// The epochs after which `evaluate` ran.
    evaluated: Vec<usize>,
    /// The rate of every `train_steps` call.
    pub rates: Vec<f32>,
    /// Epoch e's validation accuracy is `val_scores[e − 1]` (0.5 when empty).
    pub val_scores: Vec<f32>,
}

impl Scripted {
    pub fn new(val_losses: &[f32], train_losses: &[f32]) -> Self {
        let spec = MlpSpec::new(vec![1, 1], vec![Activation::Sigmoid], Loss::Bce).unwrap();
        Scripted {
            params: Params::init(&spec, Init::Zeros, 0).unwrap(),
            val_losses: val_losses.to_vec(),
            train_losses: train_losses.to_vec(),
            epoch: 0,
            restored: Vec::new(),
            evaluated: Vec::new(),
            rates: Vec::new(),
            val_scores: Vec::new(),
        }
    }
}

impl Engine for Scripted {
    fn describe(&self) -> String {
        "scripted".into()
    }
    fn load_train_set(&mut self, _: &Dataset) -> gpunn::Result<()> {
        Ok(())
    }
    fn train_steps(&mut self, order: &[u32], _: usize, lr: f32) -> gpunn::Result<()> {
        self.rates.push(lr);
        if order.len() == 4 {
            self.epoch += 1;
        }
        self.params.layers[0].bias[0] = self.epoch as f32;
        Ok(())
    }
    fn take_stats(&mut self) -> gpunn::Result<Stats> {
        let loss = self
            .train_losses
            .get(self.epoch - 1)
            .copied()
            .unwrap_or(1.0);
        let mut s = Stats::default();
        s.add_step(loss, 4, 2);
        Ok(s)
    }
    fn evaluate(&mut self, data: &Dataset) -> gpunn::Result<Evaluation> {
        self.evaluated.push(self.epoch);
        Ok(Evaluation {
            loss: self.val_losses.get(self.epoch - 1).copied().unwrap_or(1.0),
            accuracy: self.val_scores.get(self.epoch - 1).copied().unwrap_or(0.5),
            predictions: vec![0; data.len()],
        })
    }
    fn outputs(&mut self, _: &Dataset) -> gpunn::Result<Vec<f32>> {
        Ok(Vec::new())
    }
    fn set_optimizer(
        &mut self,
        _: &OptimizerConfig,
        _: Option<&OptimizerState>,
    ) -> gpunn::Result<()> {
        Ok(())
    }
    fn optimizer_state(&mut self) -> gpunn::Result<OptimizerState> {
        Ok(OptimizerState::new(
            &OptimizerConfig::default(),
            &self.params,
        ))
    }
    fn params(&mut self) -> gpunn::Result<Params> {
        Ok(self.params.clone())
    }
    fn set_params(&mut self, p: &Params) -> gpunn::Result<()> {
        self.restored.push(p.layers[0].bias[0]);
        self.params = p.clone();
        Ok(())
    }
}

pub fn four_samples() -> Dataset {
    Dataset {
        name: "four".into(),
        dim: 1,
        features: Features::F32(vec![0.0, 1.0, 2.0, 3.0].into()),
        labels: vec![0, 1, 0, 1],
        classes: 2,
        target: Default::default(),
        weights: None,
    }
}

fn run(val_losses: &[f32], patience: usize) -> (Scripted, train::History) {
    run_every(val_losses, patience, 1)
}

/// `val_losses.len()` epochs, validating after every `every`-th and the last.
fn run_every(val_losses: &[f32], patience: usize, every: usize) -> (Scripted, train::History) {
    let mut engine = Scripted::new(val_losses, &[]);
    let cfg = TrainConfig {
        early_stopping: Some(patience),
        validate_every: every,
        steps_per_chunk: 8,
        ..TrainConfig::new(val_losses.len(), 4, 0.1, 1)
    };
    let data = four_samples();
    let h = train::train(&mut engine, &data, Some(&data), &cfg, &mut train::Quiet).unwrap();
    (engine, h)
}

#[test]
fn early_stopping_restores_the_best_epoch() {
    // Best at epoch 2; epochs 3 and 4 are worse, so patience 2 stops after epoch 4.
    let (engine, h) = run(&[0.9, 0.5, 0.6, 0.7, 0.1, 0.1], 2);
    assert!(h.stopped_early);
    assert_eq!(h.epochs.len(), 4);
    assert_eq!(h.best_epoch, Some(2));
    assert_eq!(
        engine.restored,
        [2.0],
        "the parameters of epoch 2 are put back"
    );
    assert_eq!(engine.params.layers[0].bias[0], 2.0);
}

#[test]
fn no_restore_when_the_last_epoch_is_the_best() {
    let (engine, h) = run(&[0.9, 0.8, 0.7], 2);
    assert!(!h.stopped_early);
    assert_eq!(h.best_epoch, Some(3));
    assert!(engine.restored.is_empty());
}

#[test]
fn validating_every_third_epoch_and_after_the_last() {
    let (engine, h) = run_every(&[0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3], 10, 3);
    assert_eq!(engine.evaluated, [3, 6, 7]);
    let val: Vec<Option<f32>> = h.epochs.iter().map(|r| r.val_loss).collect();
    assert_eq!(
        val,
        [None, None, Some(0.7), None, None, Some(0.4), Some(0.3)]
    );
    assert!(h
        .epochs
        .iter()
        .all(|r| r.val_accuracy.is_some() == r.val_loss.is_some()));
    assert_eq!(h.best_epoch, Some(7));
}

#[test]
fn early_stopping_counts_epochs_but_looks_only_at_validated_ones() {
    // Validated: epoch 2 (0.5), 4 (0.2, the best), 6 (0.8), 8 (0.95): 8 − 4 ≥ 3 stops there;
    // epoch 3's 0.1 is never seen.
    let losses = [0.9, 0.5, 0.1, 0.2, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0];
    let (engine, h) = run_every(&losses, 3, 2);
    assert_eq!(engine.evaluated, [2, 4, 6, 8]);
    assert!(h.stopped_early);
    assert_eq!(h.epochs.len(), 8);
    assert_eq!(h.best_epoch, Some(4));
    assert_eq!(engine.restored, [4.0]);
}

#[test]
fn validate_every_zero_is_an_error_naming_the_key() {
    let cfg = TrainConfig {
        validate_every: 0,
        steps_per_chunk: 8,
        ..TrainConfig::new(1, 4, 0.1, 1)
    };
    let e = cfg.validate().unwrap_err().to_string();
    assert!(e.contains("train.validate_every"), "{e}");
}

/// A real engine that counts the forward passes over the validation set.
struct Counting {
    inner: Box<dyn Engine>,
    /// `evaluate`, `outputs` and `loss_and_outputs` calls on a set of `val_len` samples.
    passes: usize,
    val_len: usize,
}

impl Counting {
    fn count(&mut self, data: &Dataset) {
        self.passes += usize::from(data.len() == self.val_len);
    }
}

impl Engine for Counting {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn load_train_set(&mut self, d: &Dataset) -> gpunn::Result<()> {
        self.inner.load_train_set(d)
    }
    fn train_steps(&mut self, order: &[u32], batch: usize, lr: f32) -> gpunn::Result<()> {
        self.inner.train_steps(order, batch, lr)
    }
    fn take_stats(&mut self) -> gpunn::Result<Stats> {
        self.inner.take_stats()
    }
    fn evaluate(&mut self, data: &Dataset) -> gpunn::Result<Evaluation> {
        self.count(data);
        self.inner.evaluate(data)
    }
    fn outputs(&mut self, data: &Dataset) -> gpunn::Result<Vec<f32>> {
        self.count(data);
        self.inner.outputs(data)
    }
    fn loss_and_outputs(&mut self, data: &Dataset) -> gpunn::Result<(f32, Vec<f32>)> {
        self.count(data);
        self.inner.loss_and_outputs(data)
    }
    fn set_optimizer(
        &mut self,
        c: &OptimizerConfig,
        s: Option<&OptimizerState>,
    ) -> gpunn::Result<()> {
        self.inner.set_optimizer(c, s)
    }
    fn optimizer_state(&mut self) -> gpunn::Result<OptimizerState> {
        self.inner.optimizer_state()
    }
    fn params(&mut self) -> gpunn::Result<Params> {
        self.inner.params()
    }
    fn set_params(&mut self, p: &Params) -> gpunn::Result<()> {
        self.inner.set_params(p)
    }
}

/// `n` samples of 3 features and 2 regression targets.
fn regression_set(n: usize, seed: u32) -> Dataset {
    let x: Vec<f32> = (0..n * 3)
        .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let values: Vec<f32> = (0..n)
        .flat_map(|i| [x[3 * i] - 0.5 * x[3 * i + 1], x[3 * i + 2] * x[3 * i]])
        .collect();
    Dataset {
        name: "regression".into(),
        dim: 3,
        features: Features::F32(x.into()),
        labels: vec![0; n],
        classes: 0,
        target: gpunn::data::Target::Values {
            dim: 2,
            values: values.into(),
            units: vec![(2.0, 1.0), (1.0, 0.0)],
        },
        weights: None,
    }
}

/// A regression's validation is one forward pass per epoch (the loss and the outputs for MSE,
/// MAE and R² together), and its loss is the one `evaluate` reports, on every engine.
#[test]
fn regression_validates_with_one_forward_pass_per_epoch() {
    let spec = MlpSpec::new(
        vec![3, 5, 2],
        vec![Activation::Tanh, Activation::Identity],
        Loss::Mse,
    )
    .unwrap();
    let params = Params::init(&spec, Init::XavierUniform, 3).unwrap();
    let (train_set, val) = (regression_set(40, 1), regression_set(13, 2));
    let mut engines: Vec<Box<dyn Engine>> = vec![
        Box::new(gpunn::cpu::engine::CpuReference::new(params.clone())),
        Box::new(gpunn::cpu::fast::FastCpu::new(params.clone())),
    ];
    if let Some(ctx) = crate::common::gpu_or_skip("regression_validates_with_one_forward_pass") {
        engines.push(Box::new(
            gpunn::gpu::GpuEngine::new(ctx, &params, 8, false).unwrap(),
        ));
    }
    for inner in engines {
        let name = inner.describe();
        let mut e = Counting {
            inner,
            passes: 0,
            val_len: val.len(),
        };
        let cfg = TrainConfig {
            steps_per_chunk: 8,
            ..TrainConfig::new(3, 8, 0.05, 1)
        };
        let h = train::train(&mut e, &train_set, Some(&val), &cfg, &mut train::Quiet).unwrap();
        assert_eq!(
            e.passes, 3,
            "{name}: forward passes over the validation set"
        );
        assert!(h.epochs.iter().all(|r| r.val_r2.is_some()), "{name}");
        let (loss, outputs) = e.inner.loss_and_outputs(&val).unwrap();
        let want = e.inner.evaluate(&val).unwrap().loss;
        assert!(
            (loss - want).abs() <= 1e-6 * want.abs().max(1.0),
            "{name}: loss {loss} against evaluate's {want}"
        );
        assert_eq!(outputs, e.inner.outputs(&val).unwrap(), "{name}");
    }
}

/// `train.shuffle = false` (`--no-shuffle`) takes the samples in their order every epoch; the
/// default shuffles each epoch differently.
#[test]
fn no_shuffle_takes_the_samples_in_order() {
    let data = regression_set(40, 3);
    let spec = MlpSpec::new(
        vec![3, 4, 2],
        vec![Activation::Tanh, Activation::Identity],
        Loss::Mse,
    )
    .unwrap();
    let params = Params::init(&spec, Init::XavierUniform, 1).unwrap();
    let mut engine = gpunn::cpu::engine::CpuReference::new(params);
    let identity: Vec<u32> = (0..40).collect();
    for shuffle in [false, true] {
        let cfg = TrainConfig {
            shuffle,
            ..TrainConfig::new(2, 8, 0.1, 5)
        };
        let mut t = train::Trainer::new(&mut engine, &data, None, &cfg).unwrap();
        let first = t.next_epoch().unwrap().order;
        t.end_epoch(&mut engine, &mut train::Quiet).unwrap();
        let second = t.next_epoch().unwrap().order;
        if shuffle {
            assert_ne!(first, identity, "a shuffled epoch");
            assert_ne!(first, second, "each epoch its own shuffle");
        } else {
            assert_eq!((&first, &second), (&identity, &identity));
        }
    }
    // The flag reaches the run: `--no-shuffle` resolves to `shuffle = false`.
    let out = crate::cli::gpunn(&["train", "--dataset", "xor", "--no-shuffle", "--dry-run"]);
    assert!(out.status.success(), "{}", crate::cli::stderr(&out));
    assert!(
        crate::cli::stdout(&out).contains("shuffle = false"),
        "{}",
        crate::cli::stdout(&out)
    );
}
