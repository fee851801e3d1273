//! Several GPU runs trained to their ends together, epoch by epoch: the loop of
//! [`crate::train::train`] for each, with every epoch's steps of all of them in the same
//! submissions ([`crate::gpu::train_together`]). The engines know nothing of the loop; this
//! module, above both, joins them for the GPU sweep.

use crate::data::Dataset;
use crate::gpu::{train_together, GangRun, GpuEngine};
use crate::tensorboard::TensorBoard;
use crate::train::{History, Quiet, TrainConfig, Trainer};
use crate::{Error, Result};

/// One run for [`fit_together`]: an engine (with its optimizer set), its data and its loop.
pub struct Fit {
    pub engine: GpuEngine,
    pub train: Dataset,
    pub val: Option<Dataset>,
    pub cfg: TrainConfig,
    /// Its TensorBoard log, if the sweep writes them.
    pub log: Option<TensorBoard>,
}

/// Trains every run to its end as [`crate::train::train`] trains one, epoch by epoch: each
/// epoch's steps of every run still going in the same submissions ([`train_together`]), then
/// each run's end of epoch (statistics, validation, early stopping). A run that fails or
/// diverges drops out with its error; the others go on. Returns each run's history, in order.
pub fn fit_together(fits: &mut [Fit]) -> Vec<Result<History>> {
    let mut engines = Vec::with_capacity(fits.len());
    let mut trainers = Vec::with_capacity(fits.len());
    let mut logs = Vec::with_capacity(fits.len());
    let mut results: Vec<Option<Result<History>>> = Vec::with_capacity(fits.len());
    for f in fits.iter_mut() {
        let Fit {
            engine,
            train,
            val,
            cfg,
            log,
        } = f;
        logs.push(log);
        match Trainer::new(engine, train, val.as_ref(), cfg) {
            Ok(t) => {
                trainers.push(Some(t));
                results.push(None);
            }
            Err(e) => {
                trainers.push(None);
                results.push(Some(Err(e)));
            }
        }
        engines.push(engine);
    }
    loop {
        let mut plans = Vec::new();
        for (i, slot) in trainers.iter_mut().enumerate() {
            if let Some(t) = slot {
                match t.next_epoch() {
                    Some(plan) => plans.push((i, plan)),
                    None => {
                        let t = slot.take().expect("a trainer");
                        results[i] = Some(t.finish(&mut *engines[i]));
                    }
                }
            }
        }
        if plans.is_empty() {
            break;
        }
        let trained = {
            let mut planned = plans.iter().peekable();
            let mut runs = Vec::with_capacity(plans.len());
            for (i, engine) in engines.iter_mut().enumerate() {
                if let Some((_, plan)) = planned.next_if(|(j, _)| *j == i) {
                    runs.push(GangRun {
                        engine,
                        order: &plan.order,
                        lr: plan.lr,
                    });
                }
            }
            train_together(&mut runs)
        };
        for (i, _) in &plans {
            let mut quiet = Quiet;
            let ended = match &trained {
                Ok(()) => trainers[*i]
                    .as_mut()
                    .expect("a planned run has its trainer")
                    .end_epoch(
                        &mut *engines[*i],
                        match &mut *logs[*i] {
                            Some(log) => log,
                            None => &mut quiet,
                        },
                    ),
                Err(e) => Err(Error::Gpu(e.to_string())),
            };
            if let Err(e) = ended {
                trainers[*i] = None;
                results[*i] = Some(Err(e));
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.expect("every run ends"))
        .collect()
}
