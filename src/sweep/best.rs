//! The sweep's winner, retrained on the whole training set (no validation split, unless it
//! stops early) and tested: `best.safetensors` (with its run, history and test figures in the
//! metadata) and `best.toml`.

use super::Outcome;
use crate::run::{CheckpointSaver, Run, TestFigures};
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
    let data = spec.load_data()?;
    let run = spec.resolve(&data)?;
    let sets = run.prepare(&data)?;
    let path = dir.join("best.safetensors");
    let mut engine = run.open_engine(&run.init_params()?, None)?.engine;
    let mut saver = CheckpointSaver {
        path: path.clone(),
        run: &run,
        data: &data,
        scaler: &sets.scaler,
        earlier: Vec::new(),
        inner: &mut Quiet,
    };
    let history = run.fit(
        engine.as_mut(),
        &sets.train,
        sets.val.as_ref(),
        1,
        &mut saver,
    )?;
    saver.save(engine.as_mut(), &history.epochs)?;
    crate::io::write_atomic(&dir.join("best.toml"), run.to_toml().as_bytes())?;
    let test = match &sets.test {
        Some(t) if !t.is_empty() => Some(TestFigures::of(engine.as_mut(), t, data.train.classes)?),
        _ => None,
    };
    Ok((run, test))
}
