//! The CPU reference backend: the plain loops of [`super::net`] driven batch by batch.

use super::loss::{self, Targets};
use super::net;
use crate::data::Dataset;
use crate::engine::{optimizer_state_for, Engine, Evaluation, Stats};
use crate::model::Params;
use crate::optim::{rule, OptimizerConfig, OptimizerState};
use crate::{Error, Result};

/// Trains with the reference path. Slow and plain: it is the specification.
pub struct CpuReference {
    params: Params,
    optimizer: OptimizerConfig,
    state: OptimizerState,
    train: Option<Dataset>,
    stats: Stats,
    x: Vec<f32>,
}

impl CpuReference {
    pub fn new(params: Params) -> Self {
        let optimizer = OptimizerConfig::default();
        CpuReference {
            state: OptimizerState::new(&optimizer, &params),
            optimizer,
            params,
            train: None,
            stats: Stats::default(),
            x: Vec::new(),
        }
    }
}

pub use crate::engine::check_fits;

impl Engine for CpuReference {
    fn describe(&self) -> String {
        "cpu (reference)".into()
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
            .ok_or_else(|| Error::Gpu("train_steps before load_train_set".into()))?;
        let outputs = self.params.outputs();
        let out_act = self.params.layers.last().expect("layers").activation;
        for idx in order.chunks(batch.max(1)) {
            data.gather(idx, &mut self.x);
            let labels: Vec<u32> = idx.iter().map(|&i| data.labels[i as usize]).collect();
            let targets = Targets::for_samples(self.params.loss, data, idx, outputs);
            let trace = net::forward(&self.params, &self.x, idx.len());
            let weights = data.gather_weights(idx);
            let mut grads =
                net::weighted_backward(&self.params, &trace, &targets, weights.as_deref());
            if self.optimizer.is_plain_sgd() {
                net::sgd(&mut self.params, &grads, lr);
            } else {
                let (cfg, state) = (&self.optimizer, &mut self.state);
                rule::step(cfg, state, &mut self.params, &mut grads.layers, lr);
            }
            let pred = loss::predict(out_act, trace.output(), outputs);
            let correct = pred.iter().zip(&labels).filter(|(p, l)| p == l).count();
            self.stats.add_step(grads.loss, idx.len(), correct);
            if self.state.has_nonfinite() {
                self.stats.flag_nonfinite();
            }
        }
        Ok(())
    }

    fn take_stats(&mut self) -> Result<Stats> {
        Ok(std::mem::take(&mut self.stats))
    }

    fn evaluate(&mut self, data: &Dataset) -> Result<Evaluation> {
        check_fits(&self.params, data)?;
        evaluate_with(&self.params, data, net::forward)
    }

    fn outputs(&mut self, data: &Dataset) -> Result<Vec<f32>> {
        outputs_with(&self.params, data)
    }

    fn set_optimizer(
        &mut self,
        cfg: &OptimizerConfig,
        state: Option<&OptimizerState>,
    ) -> Result<()> {
        let state = optimizer_state_for(cfg, &self.params, state)?;
        (self.optimizer, self.state) = (*cfg, state);
        Ok(())
    }

    fn optimizer_state(&mut self) -> Result<OptimizerState> {
        Ok(self.state.clone())
    }

    fn params(&mut self) -> Result<Params> {
        Ok(self.params.clone())
    }

    fn set_params(&mut self, params: &Params) -> Result<()> {
        self.params = params.clone();
        Ok(())
    }
}

/// The outputs `[n][outputs]` of the reference forward pass over `data`, in chunks; shared by
/// the CPU backends.
pub fn outputs_with(params: &Params, data: &Dataset) -> Result<Vec<f32>> {
    const CHUNK: usize = 1024;
    if data.dim != params.inputs() {
        return check_fits(params, data).map(|_| Vec::new());
    }
    let mut x = Vec::new();
    let mut out = Vec::with_capacity(data.len() * params.outputs());
    let all: Vec<u32> = (0..data.len() as u32).collect();
    for idx in all.chunks(CHUNK) {
        data.gather(idx, &mut x);
        out.extend_from_slice(net::forward(params, &x, idx.len()).output());
    }
    Ok(out)
}

/// Evaluates `data` in chunks with a forward function; shared by the CPU backends.
pub fn evaluate_with(
    params: &Params,
    data: &Dataset,
    mut forward: impl FnMut(&Params, &[f32], usize) -> net::Trace<f32>,
) -> Result<Evaluation> {
    const CHUNK: usize = 1024;
    let outputs = params.outputs();
    let top = params.layers.last().expect("layers");
    let mut x = Vec::new();
    let mut loss_sum = 0.0f64;
    let mut predictions = Vec::with_capacity(data.len());
    let all: Vec<u32> = (0..data.len() as u32).collect();
    for idx in all.chunks(CHUNK) {
        data.gather(idx, &mut x);
        let trace = forward(params, &x, idx.len());
        let targets = Targets::for_samples(params.loss, data, idx, outputs);
        let (l, _) = loss::loss_and_grad(
            params.loss,
            top.activation,
            &trace.z_out,
            trace.output(),
            &targets,
            outputs,
        );
        loss_sum += l as f64 * idx.len() as f64;
        predictions.extend(loss::predict(top.activation, trace.output(), outputs));
    }
    let correct = predictions
        .iter()
        .zip(&data.labels)
        .filter(|(p, l)| p == l)
        .count();
    Ok(Evaluation {
        loss: (loss_sum / data.len().max(1) as f64) as f32,
        accuracy: correct as f32 / data.len().max(1) as f32,
        predictions,
    })
}
