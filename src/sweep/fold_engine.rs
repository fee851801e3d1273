//! What each fold of a configuration trains with: its engine (the fast CPU path on a share of
//! the cores, or the run's device) and, when the sweep writes them, its TensorBoard log.

use super::{grid, Label, Sweep};
use crate::cpu::fast::FastCpu;
use crate::data::Dataset;
use crate::engine::Engine;
use crate::run::Run;
use crate::tensorboard::TensorBoard;
use crate::Result;

impl Sweep {
    /// The TensorBoard log of fold `k` (0-based) of the configuration `label`, when the sweep
    /// writes them.
    pub(crate) fn fold_log(
        &self,
        label: &Label,
        k: usize,
        train: &Dataset,
    ) -> Result<Option<TensorBoard>> {
        let Some(root) = &self.tensorboard else {
            return Ok(None);
        };
        let mut dir = root.join(grid::label_dir(label));
        if self.folds.is_some() {
            dir = dir.join(format!("fold{}", k + 1));
        }
        Ok(Some(TensorBoard::create(&dir, train.classes > 0)?))
    }
}

/// The engine of one configuration: on the CPU (`threads`) the fast path on that many
/// threads, else the run's device.
pub(super) fn open_engine(
    run: &Run,
    params: &crate::model::Params,
    threads: Option<usize>,
) -> Result<Box<dyn Engine>> {
    match threads {
        Some(t) => {
            let mut engine = FastCpu::with_threads(params.clone(), t);
            engine.set_optimizer(&run.engine_optimizer(1.0), None)?;
            Ok(Box::new(engine))
        }
        None => Ok(run.open_engine(params, None, 1.0)?.engine),
    }
}
