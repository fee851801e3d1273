//! Tables larger than one storage binding (lavapipe's 128 MiB; a few GiB on discrete GPUs):
//! the set stays on the host and each run of steps gathers its samples there, in the order
//! the loop gave, into a part of its own that is uploaded and trained like a resident set.
//! The batches, and so every update, are those of a resident set; what streaming costs is one
//! upload of the data per epoch. Evaluations and forward passes go part by part the same way.
//!
//! Part sizes are whole batches, so that a part's batches are the resident run's batches.

use super::GpuEngine;
use crate::data::{Dataset, Features, Target};
use crate::engine::{Evaluation, Stats};
use crate::Result;

/// The largest part, in bytes of features: a quarter of a binding, leaving the device room.
const PART_SHARE: u64 = 4;

impl GpuEngine {
    /// Whether each of `data`'s arrays (features, labels with weights, target values) fits
    /// one storage binding, so that the set can be resident.
    pub(super) fn fits_one_binding(&self, data: &Dataset) -> bool {
        let max = self.binding_bytes();
        let features = match &data.features {
            Features::U8(v) => v.len().div_ceil(4) * 4,
            Features::F32(v) => v.len() * 4,
        } as u64;
        let labels = (data.len() * 4 * (1 + data.weights.is_some() as usize)) as u64;
        let values = match &data.target {
            Target::Values { values, .. } => values.len() as u64 * 4,
            _ => 0,
        };
        features.max(labels).max(values) <= max
    }

    /// The largest storage binding (and buffer) of this device.
    fn binding_bytes(&self) -> u64 {
        let l = &self.ctx.limits;
        l.max_storage_buffer_binding_size.min(l.max_buffer_size)
    }

    /// Samples per part of `data` when it is streamed: whole batches.
    fn part_rows(&self, data: &Dataset) -> usize {
        let row = (data.dim.max(1) * 4).max(data.target_dim().unwrap_or(0) * 4) as u64;
        let rows = (self.binding_bytes() / PART_SHARE / row) as usize;
        (rows / self.batch).max(1) * self.batch
    }

    /// [`crate::engine::Engine::train_steps`] for a streamed set `host`: a part at a time.
    pub(super) fn train_streamed(&mut self, host: &Dataset, order: &[u32]) -> Result<()> {
        for part in order.chunks(self.part_rows(host)) {
            let sub = host.subset(part);
            let set = self.upload(&sub, true)?;
            self.reset_state(sub.len());
            self.submit_steps(&set, sub.len().div_ceil(self.batch), true)?;
        }
        Ok(())
    }

    /// [`crate::engine::Engine::evaluate`] of a set too large to be resident: the totals run
    /// on over its parts, the predictions are read part by part.
    pub(super) fn evaluate_streamed(&mut self, data: &Dataset) -> Result<Evaluation> {
        let mut predictions = Vec::with_capacity(data.len());
        for sub in self.parts(data) {
            let set = self.upload(&sub, false)?;
            self.reset_state(set.n);
            self.submit_steps(&set, set.n.div_ceil(self.batch), false)?;
            predictions.extend(self.ctx.read_u32(&set.preds, 0, set.n as u64)?);
        }
        let stats = self.read_totals()?;
        Ok(Evaluation {
            loss: stats.mean_loss(),
            accuracy: stats.accuracy(),
            predictions,
        })
    }

    /// [`crate::engine::Engine::loss_and_outputs`] part by part: one forward pass per batch,
    /// as for a resident set.
    pub(super) fn outputs_streamed(&mut self, data: &Dataset) -> Result<(Stats, Vec<f32>)> {
        let outputs = self.params_host.outputs();
        let mut out = Vec::with_capacity(data.len() * outputs);
        for sub in self.parts(data) {
            let set = self.upload(&sub, false)?;
            self.reset_state(set.n);
            for start in (0..set.n).step_by(self.batch) {
                self.submit_steps(&set, 1, false)?;
                let rows = self.batch.min(set.n - start);
                out.extend(self.ctx.read_f32(&self.out, 0, (rows * outputs) as u64)?);
            }
        }
        Ok((self.read_totals()?, out))
    }

    /// `data` in parts of [`GpuEngine::part_rows`] consecutive samples (each a copy).
    fn parts<'a>(&self, data: &'a Dataset) -> impl Iterator<Item = Dataset> + 'a {
        let (rows, n) = (self.part_rows(data), data.len());
        (0..n).step_by(rows).map(move |start| {
            let idx: Vec<u32> = (start as u32..(start + rows).min(n) as u32).collect();
            data.subset(&idx)
        })
    }
}
