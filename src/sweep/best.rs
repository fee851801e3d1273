//! The sweep's winner, retrained on the whole training set (no validation split, unless it
//! stops early) and tested: `best.safetensors` (with its run, history and test figures in the
//! metadata) and `best.toml`.

use super::Outcome;
use crate::run::{self, Run, TestFigures, TrainOptions};
use crate::train::Quiet;
use crate::Result;
use std::path::Path;

/// Retrains `best` and writes `dir/best.safetensors` and `dir/best.toml`; returns the run and
/// its test figures (none without a test set).
pub fn retrain(best: &Outcome, dir: &Path) -> Result<(Run, Option<TestFigures>)> {
    let mut spec = best.spec.clone();
    if spec.train.early_stopping.is_none() {
        spec.data.val_split = Some(0.0);
    }
    let options = TrainOptions {
        save: Some(dir.join("best.safetensors")),
        ..Default::default()
    };
    let trained = run::train_run(&spec, options, &mut Quiet)?;
    crate::io::write_atomic(&dir.join("best.toml"), trained.run.to_toml().as_bytes())?;
    Ok((trained.run, trained.test))
}
