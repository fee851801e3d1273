//! The run description: everything that defines a training run, as one serde type.
//!
//! A [`RunSpec`] is what a person writes (a `run.toml`, or the flags of `gpunn train`): every
//! field optional. [`RunSpec::resolve`] fills in every default from the loaded data and gives a
//! [`Run`], the one home of the defaults; a `Run` is what `--dry-run` prints, what the
//! `--metrics` JSON and the checkpoint record, and what `--resume` and `eval` read back. A
//! resolved run written as TOML reads back as a `RunSpec` that resolves to the same `Run`.
//!
//! ```toml
//! seed = 42
//! device = "auto"
//! [data]              # one of: dataset = "...", dir = "...", file = "..."
//! dataset = "mnist-sample"
//! digits = [3, 6]     # optional
//! val_split = 0.1
//! [model]
//! layers = [784, 128, 64, 10]
//! activations = ["relu", "relu", "softmax"]
//! loss = "ce"
//! init = "he-normal"
//! [train]
//! epochs = 10
//! batch_size = 32
//! lr = 0.1
//! schedule = "cosine"
//! early_stopping = 3  # optional
//! validate_every = 1  # optional: validate after every N epochs and after the last
//! [optimizer]
//! kind = "sgd"
//! ```
//!
//! An unknown key or a value of the wrong type is an error naming the key and the file.

mod data;
mod figures;
mod fit;
mod resolve;
pub mod settings;
mod spec;
pub mod table;
mod whole;

pub use crate::optim::OptimizerConfig;
pub use data::{DataSource, LoadedData, SYNTHETIC};
pub use figures::{metrics_json, TestFigures};
pub use fit::{scaler_of, CheckpointSaver, Resumed, RUN_KEY, SCALER_KEY};
pub use resolve::Prepared;
pub use spec::{
    DataRun, DataSpec, ModelRun, ModelSpec, OptimizerSpec, Run, RunSpec, TrainRun, TrainSpec,
};
pub use whole::{train_run, RunObserver, Started, TrainOptions, Trained};

use crate::{Error, Result};
use std::path::Path;

impl OptimizerSpec {
    /// Every setting filled in: the given ones laid over the rule's defaults.
    pub fn resolve(&self) -> OptimizerConfig {
        let mut t = table::to_table(&OptimizerConfig::of(self.kind.unwrap_or_default()));
        table::merge(&mut t, table::to_table(self));
        table::from_table(t).expect("a section of the same fields and types")
    }

    /// A resolved optimizer as a description that resolves to it.
    pub fn of(c: &OptimizerConfig) -> OptimizerSpec {
        table::from_table(table::to_table(c)).expect("a resolved optimizer reads as a section")
    }
}

impl RunSpec {
    /// The seed of the run.
    pub fn seed(&self) -> u64 {
        self.seed
            .unwrap_or_else(|| settings::default_of("seed", settings::DataKind::Images))
    }

    /// Loads the data the `[data]` section names (synthetic sets drawn with the run's seed).
    pub fn load_data(&self) -> Result<LoadedData> {
        self.data.load(self.seed())
    }

    /// Reads a run description from a TOML file. Errors name the file and the key.
    pub fn from_toml_file(path: &Path) -> Result<RunSpec> {
        let text = crate::io::read_text_capped(path, 1 << 20, "run description")?;
        RunSpec::from_toml_str(&text).map_err(|e| match e {
            Error::Invalid { field, msg } if field == "run" => Error::bad_file(path, msg),
            Error::Invalid { field, msg } => Error::bad_file(path, format!("{field}: {msg}")),
            e => e,
        })
    }

    /// Parses a run description written as TOML. Errors name the key (`train.lr: ...`).
    pub fn from_toml_str(text: &str) -> Result<RunSpec> {
        let t: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let msg = e.message().trim().to_string();
            match line {
                Some(l) => Error::invalid("run", format!("line {l}: {msg}")),
                None => Error::invalid("run", msg),
            }
        })?;
        table::from_table(t)
    }

    /// The description given by `(flag's setting, text)` pairs, as from the command line.
    /// Errors name the setting's key and the text.
    pub fn from_flags<'a>(
        given: impl IntoIterator<Item = (&'a settings::Setting, &'a str)>,
    ) -> Result<RunSpec> {
        let mut t = toml::Table::new();
        for (s, text) in given {
            table::insert(&mut t, s.key_for(text), s.parse(text)?);
        }
        table::from_table(t)
    }

    /// This description with every setting that `over` gives laid over it (flags given on the
    /// command line over a `--config` file). A data source named on top (dataset, dir or file)
    /// replaces the one below as a whole.
    pub fn overlay(self, over: RunSpec) -> RunSpec {
        let mut t = table::to_table(&self);
        let over = table::to_table(&over);
        if SOURCE_KEYS.iter().any(|k| table::get(&over, k).is_some()) {
            for k in SOURCE_KEYS {
                table::remove(&mut t, k);
            }
        }
        table::merge(&mut t, over);
        table::from_table(t).expect("two valid descriptions merge into a valid one")
    }

    /// This description (a model's run) on the data `other` names, when it names a source:
    /// its source, labels and test set replace this one's; its task, target columns and
    /// scaling replace this one's where given (what `eval` and `features` do with `--data`).
    pub fn on_other_data(self, other: RunSpec) -> RunSpec {
        let other = table::to_table(&other);
        if !SOURCE_KEYS.iter().any(|k| table::get(&other, k).is_some()) {
            return self;
        }
        let mut t = table::to_table(&self);
        for k in SOURCE_KEYS
            .iter()
            .chain(&["data.labels", "data.test", "data.test_split"])
        {
            table::remove(&mut t, k);
        }
        table::merge(&mut t, other);
        table::from_table(t).expect("two valid descriptions merge into a valid one")
    }

    /// The description as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a run description serialises as TOML")
    }
}

/// The keys that name where the data come from: one of them at a time.
const SOURCE_KEYS: [&str; 3] = ["data.dataset", "data.dir", "data.file"];
