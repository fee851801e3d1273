//! A sweep on a GPU: the configurations of a group, every fold of each, trained together
//! ([`super::together::fit_together`]): each epoch's steps of all of them go into the same
//! submissions, their dispatches interleaved, so that small networks fill the device together
//! instead of one at a time. The engines share one device context and its compiled kernels.

use super::together::{fit_together, Fit};
use super::{Event, FoldCache, Job, Outcome, Sweep};
use crate::gpu::{DeviceKind, GpuContext, GpuEngine};
use crate::run::Run;
use crate::{Error, Result};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Instant;

/// Configurations trained together on a hardware GPU when [`Sweep::jobs`] does not say (on a
/// software adapter: one, its folds together).
pub const GPU_JOBS: usize = 16;

impl Sweep {
    /// Trains `jobs` on the GPU `kind`, [`Sweep::jobs`] configurations at a time, sending their
    /// events to `tx`.
    pub(super) fn run_together(
        &self,
        kind: DeviceKind,
        jobs: Vec<Job>,
        tx: &Sender<Event>,
        cache: &FoldCache,
    ) {
        let ctx = open_context(kind);
        // A CPU adapter runs one dispatch at a time on every core: interleaving only costs
        // cache there (lavapipe: 16 at once took 1.1-1.2x the time of one at a time).
        let software = ctx.as_ref().is_ok_and(|c| c.is_software());
        let per_group = self
            .jobs
            .unwrap_or(if software { 1 } else { GPU_JOBS })
            .max(1);
        let mut jobs = jobs.into_iter();
        loop {
            let group: Vec<Job> = jobs.by_ref().take(per_group).collect();
            if group.is_empty() {
                break;
            }
            for outcome in self.train_group(&ctx, group, tx, cache) {
                let _ = tx.send(Event::Finished(Box::new(outcome)));
            }
        }
    }

    /// One group of configurations, every fold of each, together.
    fn train_group(
        &self,
        ctx: &Result<Arc<GpuContext>>,
        group: Vec<Job>,
        tx: &Sender<Event>,
        cache: &FoldCache,
    ) -> Vec<Outcome> {
        let start = Instant::now();
        let mut outcomes = Vec::new();
        let mut errors: Vec<Option<Error>> = Vec::new();
        // Per fit: its configuration's place in `outcomes`.
        let mut owner = Vec::new();
        let mut fits = Vec::new();
        for (index, spec, label, id, data) in group {
            let _ = tx.send(Event::Started { index });
            let mut outcome = Outcome::new(index, id, label, spec.clone());
            let made = data.and_then(|data| {
                let run = spec.resolve(&data)?;
                outcome.run = Some(run.clone());
                let ctx = ctx.as_ref().map_err(|e| Error::Gpu(e.to_string()))?;
                self.fold_parts(&run, &data, cache)?
                    .iter()
                    .enumerate()
                    .map(|(k, (train, val))| {
                        let mut fit = fit_for(&run, ctx, train.clone(), val.clone())?;
                        fit.log = self.fold_log(&outcome.label, k, train)?;
                        Ok(fit)
                    })
                    .collect::<Result<Vec<Fit>>>()
            });
            match made {
                Ok(made) => {
                    owner.extend(std::iter::repeat_n(outcomes.len(), made.len()));
                    fits.extend(made);
                    errors.push(None);
                }
                Err(e) => errors.push(Some(e)),
            }
            outcomes.push(outcome);
        }
        let histories = fit_together(&mut fits);
        for (k, history) in histories.into_iter().enumerate() {
            let o = owner[k];
            if errors[o].is_some() {
                continue;
            }
            if let Err(e) = history.and_then(|h| self.add_fold(&mut outcomes[o], &h)) {
                errors[o] = Some(e);
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        for (outcome, error) in outcomes.iter_mut().zip(errors) {
            outcome.finish(error.map_or(Ok(()), Err), seconds);
        }
        outcomes
    }
}

/// The process's context for `kind` (`auto`: the hardware GPU the run would use).
fn open_context(kind: DeviceKind) -> Result<Arc<GpuContext>> {
    match kind {
        DeviceKind::Auto => crate::backend::context(kind)?
            .0
            .ok_or_else(|| Error::Gpu("--device auto found no GPU".into())),
        _ => GpuContext::shared(kind),
    }
}

/// One fold of `run` on its own engine on `ctx`, from the run's initial parameters.
fn fit_for(
    run: &Run,
    ctx: &Arc<GpuContext>,
    train: crate::data::Dataset,
    val: crate::data::Dataset,
) -> Result<Fit> {
    let params = run.init_params()?;
    let mut engine = GpuEngine::new(ctx.clone(), &params, run.train.batch_size, false)?;
    use crate::engine::Engine;
    engine.set_optimizer(&run.engine_optimizer(1.0), None)?;
    Ok(Fit {
        engine,
        train,
        val: Some(val),
        cfg: run.train_config(1),
        log: None,
    })
}
