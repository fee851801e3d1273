//! A trained run's figures: the test set's evaluation, confusion matrix or value metrics, and
//! the `--metrics` JSON.

use super::{LoadedData, Run};
use crate::data::table::Task;
use crate::data::Dataset;
use crate::engine::{Engine, Evaluation};
use crate::metrics::{ConfusionMatrix, ValueMetrics};
use crate::train::History;
use crate::Result;

/// A test set's figures: the evaluation, and the confusion matrix (classification) or the
/// value metrics (regression, autoencoders); with the network's outputs for pictures.
#[derive(Clone, Debug)]
pub struct TestFigures {
    pub evaluation: Evaluation,
    pub confusion: Option<ConfusionMatrix>,
    pub values: Option<ValueMetrics>,
    /// `[n][outputs]`, after the output activation (in the scaled units the model saw).
    pub outputs: Vec<f32>,
}

impl TestFigures {
    /// Evaluates `engine` on `test`: loss and accuracy with the confusion matrix over
    /// `classes`, or MSE, MAE and R² in the targets' units.
    pub fn of(engine: &mut dyn Engine, test: &Dataset, classes: usize) -> Result<TestFigures> {
        let evaluation = engine.evaluate(test)?;
        let outputs = engine.outputs(test)?;
        let values = crate::metrics::value_metrics(&outputs, test);
        let confusion = values
            .is_none()
            .then(|| ConfusionMatrix::new(classes, &test.labels, &evaluation.predictions));
        Ok(TestFigures {
            evaluation,
            confusion,
            values,
            outputs,
        })
    }
}

/// The `--metrics` JSON: the resolved run under `"run"`, the history and the test figures:
/// loss, accuracy and the confusion matrix (rows = true class) for classification; MSE, MAE
/// and R² in the targets' units for regression and autoencoders.
pub fn metrics_json(
    run: &Run,
    data: &LoadedData,
    device: &str,
    history: &History,
    test: Option<&TestFigures>,
) -> serde_json::Value {
    use crate::io::json_as_written as w;
    let mut v = serde_json::json!({
        "run": w(run),
        "dataset": data.description,
        "device": device,
        "task": run.data.task,
        "layers": run.model.layers,
        "activations": run.model.activations,
        "loss": run.model.loss,
        "lr": w(&run.train.lr),
        "batch_size": run.train.batch_size,
        "seed": run.seed,
        "history": w(&history.epochs),
        "best_epoch": history.best_epoch,
        "stopped_early": history.stopped_early,
        "test_loss": w(&test.map(|t| t.evaluation.loss)),
    });
    let m = v.as_object_mut().expect("an object");
    match test.and_then(|t| t.values) {
        Some(values) => {
            m.insert("test_mse".into(), w(&values.mse));
            m.insert("test_mae".into(), w(&values.mae));
            if run.data.task == Task::Regress {
                m.insert("test_r2".into(), w(&values.r2));
            }
            m.insert("target_names".into(), data.target_names.clone().into());
        }
        None => {
            m.insert(
                "test_accuracy".into(),
                w(&test.map(|t| t.evaluation.accuracy)),
            );
            m.insert("class_names".into(), data.class_names.clone().into());
            m.insert(
                "confusion_matrix".into(),
                serde_json::json!(test.and_then(|t| t.confusion.as_ref()).map(|c| &c.counts)),
            );
        }
    }
    v
}
