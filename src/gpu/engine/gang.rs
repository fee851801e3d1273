//! Several engines trained together on one device: the steps of every run go into the same
//! compute passes and submissions, their dispatches interleaved stage by stage.
//!
//! ```text
//! pass:  gather₁ gather₂ … gatherₖ │ fwd₁⁰ fwd₂⁰ … fwdₖ⁰ │ fwd₁¹ … │ … │ metrics₁ … metricsₖ
//!        (step s of run 1..k)        (layer 0)             (layer 1)
//! ```
//!
//! A run's dispatches keep their order, and runs share no buffer that a kernel writes, so each
//! run computes exactly what it computes alone (the tests check it bit for bit). What changes
//! is the device's view: one submission per round of steps for all the runs, not one per run,
//! and between two dependent dispatches of one run sit the independent dispatches of the
//! others, which a GPU can run side by side; small networks leave most of a GPU idle when
//! trained one at a time.

use super::run::StepOp;
use super::GpuEngine;
use crate::{Error, Result};
use std::sync::Arc;

/// Steps of each run encoded into one pass and submission: as many as one engine alone gets.
const STEPS_PER_ROUND: usize = crate::engine::STEPS_PER_SUBMISSION;

/// One run's part in [`train_together`]: its engine, the order of this epoch's samples (in
/// batches of the engine's size) and the learning rate.
pub struct GangRun<'a> {
    pub engine: &'a mut GpuEngine,
    pub order: &'a [u32],
    pub lr: f32,
}

/// Trains every run's steps together, as [`crate::engine::Engine::train_steps`] would train
/// each alone (its statistics add up in its engine as usual). The engines must share one
/// [`crate::gpu::GpuContext`] and have their training sets loaded.
pub fn train_together(runs: &mut [GangRun<'_>]) -> Result<()> {
    let Some(first) = runs.first() else {
        return Ok(());
    };
    let ctx = first.engine.ctx.clone();
    let mut steps = Vec::with_capacity(runs.len());
    for (i, r) in runs.iter_mut().enumerate() {
        if !Arc::ptr_eq(&r.engine.ctx, &ctx) {
            return Err(Error::invalid(
                "train_together",
                format!("run {i} is on another device than run 0"),
            ));
        }
        let n = match &r.engine.train_set {
            Some(set) => set.n,
            None => {
                return Err(Error::Gpu(format!(
                    "train_together: run {i} has no training set"
                )))
            }
        };
        if r.order.len() > n {
            return Err(Error::shape(
                "train_together",
                format!("run {i}'s sample order (at most the training set's size)"),
                [n],
                [r.order.len()],
            ));
        }
        let e = &mut *r.engine;
        e.set_lr(r.lr);
        if let Some(set) = &e.train_set {
            ctx.queue
                .write_buffer(&set.order, 0, bytemuck::cast_slice(r.order));
        }
        e.reset_state(r.order.len());
        steps.push(r.order.len().div_ceil(e.batch));
    }
    let total = steps.iter().copied().max().unwrap_or(0);
    // Each run's dispatches of one step, listed once: the same every step.
    let ops: Vec<Vec<StepOp>> = runs.iter().map(|r| r.engine.step_ops(true)).collect();
    let stages = ops.iter().map(Vec::len).max().unwrap_or(0);
    let mut in_flight = None;
    for round in (0..total).step_by(STEPS_PER_ROUND) {
        let ((), submission) = ctx.submit_pass("encoding the steps of several runs", |pass| {
            for step in round..(round + STEPS_PER_ROUND).min(total) {
                for stage in 0..stages {
                    for ((r, ops), &n) in runs.iter().zip(&ops).zip(&steps) {
                        if let Some(&op) = ops.get(stage).filter(|_| step < n) {
                            r.engine.encode_op(pass, r.engine.train_set.as_ref(), op);
                        }
                    }
                }
            }
        })?;
        // At most two submissions in flight, as for one engine.
        if let Some(prev) = in_flight.replace(submission) {
            ctx.wait_for(prev, "running the steps of several runs")?;
        }
    }
    for r in runs.iter_mut() {
        r.engine.last_submission = None;
    }
    Ok(())
}
