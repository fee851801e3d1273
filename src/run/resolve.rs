//! [`RunSpec::resolve`]: the one home of the defaults, and the resolved [`Run`].

use super::settings::{self, DataKind};
use super::{table, DataSource, LoadedData, Run, RunSpec};
use crate::data::scale::{ScaleKind, Scaler};
use crate::data::table::Task;
use crate::data::{split, Dataset};
use crate::model::{Activation, Init, Loss, MlpSpec, Params};
use crate::train::StopOn;
use crate::{Error, Result};

/// The scaled training, validation and test sets of a run, and the scaling.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub train: Dataset,
    pub val: Option<Dataset>,
    pub test: Option<Dataset>,
    pub scaler: Scaler,
}

/// Below this many training samples there is no validation split unless one is asked for
/// (xor's four points).
pub const FEW_SAMPLES: usize = 50;

impl RunSpec {
    /// Fills in every default from `data` (loaded with [`DataSpec::load`]): the layer sizes from
    /// the input size and class count, the loss from the output count, the output activation
    /// from the loss, the initialiser from the activations, what the data resolved (the source,
    /// the task, a synthetic set's settings), and every other setting's declared default for
    /// the kind of data ([`settings::SETTINGS`]). Checks the result: errors name the field.
    ///
    /// [`DataSpec::load`]: super::DataSpec::load
    pub fn resolve(&self, data: &LoadedData) -> Result<Run> {
        let m = &self.model;
        let images = data.images;
        let train = &data.train;
        let task = data.task;
        let kind = if images {
            DataKind::Images
        } else if data.synthetic.is_some() {
            DataKind::Synthetic
        } else if task == Task::Classify {
            DataKind::ClassifiedTable
        } else {
            DataKind::OtherTable
        };
        let scale: ScaleKind = self
            .data
            .scale
            .unwrap_or_else(|| settings::default_of("data.scale", kind));
        let outputs = match task {
            Task::Classify if train.classes == 2 && (!images || self.data.digits.is_some()) => 1,
            Task::Classify => train.classes,
            Task::Regress => train.target_dim().unwrap_or(1),
            Task::Autoencode => train.dim,
        };
        let layers = match &m.layers {
            Some(l) => l.clone(),
            None if task == Task::Autoencode && images => vec![train.dim, 128, 32, 128, outputs],
            None if task == Task::Autoencode => vec![train.dim, (train.dim / 2).max(2), outputs],
            None if images => vec![train.dim, 128, 64, outputs],
            None if data.synthetic.is_none() => vec![train.dim, 32, outputs],
            None => vec![train.dim, 8, outputs],
        };
        let out = *layers.last().unwrap_or(&1);
        let loss = m.loss.unwrap_or(match task {
            Task::Classify if out == 1 => Loss::Bce,
            Task::Classify => Loss::Ce,
            Task::Regress | Task::Autoencode => Loss::Mse,
        });
        // Regression outputs are unbounded; reconstructions of values in [0, 1] (pixels, min-max
        // scaled tables) are sigmoids, of standardised ones unbounded.
        let unit_range = scale == ScaleKind::MinMax || (scale == ScaleKind::None && images);
        let output = match task {
            Task::Classify => loss.default_output(),
            Task::Autoencode if unit_range => loss.default_output(),
            Task::Regress | Task::Autoencode => {
                loss.required_output().unwrap_or(Activation::Identity)
            }
        };
        let depth = layers.len().saturating_sub(1).max(1);
        let activations = full_activations(m.activations.as_deref(), depth, output)?;
        // A layer that cannot be (softmax inside, ce on one output...) comes from these fields.
        let spec =
            MlpSpec::new(layers.clone(), activations.clone(), loss).map_err(|e| match e {
                Error::BadLayer { .. } => {
                    Error::invalid("model.activations/model.loss", e.to_string())
                }
                e => e,
            })?;
        let hidden_relu = spec.activations[..depth - 1]
            .iter()
            .all(|&x| x == Activation::Relu || x == Activation::LeakyRelu);
        let init = m.init.unwrap_or(if hidden_relu {
            Init::HeNormal
        } else {
            Init::XavierUniform
        });
        let optimizer = self.optimizer.resolve();

        let mut t = table::to_table(self);
        // What loading resolved: the source (`auto` picks a dataset), the task, and the
        // settings of a synthetic set or a held-out test set, recorded only where used.
        for k in super::SOURCE_KEYS.iter().chain(&[
            "data.samples",
            "data.factor",
            "data.noise",
            "data.test_split",
        ]) {
            table::remove(&mut t, k);
        }
        match &data.source {
            DataSource::Dataset(n) => table::insert(&mut t, "data.dataset", value(n)),
            DataSource::Dir(d) => table::insert(&mut t, "data.dir", value(d)),
            DataSource::File(f) => table::insert(&mut t, "data.file", value(f)),
            DataSource::Memory(_) => {}
        }
        if let Some((samples, factor, noise)) = data.synthetic {
            table::insert(&mut t, "data.samples", value(&samples));
            table::insert(&mut t, "data.factor", value(&factor));
            table::insert(&mut t, "data.noise", value(&noise));
        }
        if let Some(f) = data.test_split {
            table::insert(&mut t, "data.test_split", value(&f));
        }
        table::insert(&mut t, "data.task", value(&task));
        // What follows from the data and the other settings.
        table::insert(&mut t, "data.scale", value(&scale));
        table::insert(&mut t, "model.layers", value(&layers));
        table::insert(&mut t, "model.activations", value(&activations));
        table::insert(&mut t, "model.loss", value(&loss));
        table::insert(&mut t, "model.init", value(&init));
        table::insert(
            &mut t,
            "optimizer",
            toml::Value::Table(table::to_table(&optimizer)),
        );
        if train.len() < FEW_SAMPLES {
            table::insert_default(&mut t, "data.val_split", value(&0.0f32));
        }
        if let Some(lr) = optimizer.kind.default_lr() {
            table::insert_default(&mut t, "train.lr", value(&lr));
        }
        // Every other setting's declared default for this kind of data.
        for s in settings::SETTINGS {
            if !matches!(s.default, settings::IfUnset::AtLoad(_)) {
                if let Some(v) = s.default_value(kind) {
                    table::insert_default(&mut t, s.key, v);
                }
            }
        }
        let run: Run = table::from_table(t)?;
        run.check(data)?;
        Ok(run)
    }
}

/// A resolved value as TOML.
fn value<T: serde::Serialize + ?Sized>(v: &T) -> toml::Value {
    toml::Value::try_from(v).expect("a resolved setting serialises as TOML")
}

/// One activation per dense layer from the `activations` field: one for every hidden layer,
/// one per hidden layer, or one per layer; the output's follows the loss unless given.
fn full_activations(
    given: Option<&[Activation]>,
    depth: usize,
    output: Activation,
) -> Result<Vec<Activation>> {
    let list = given.unwrap_or(&[Activation::Relu]);
    let hidden = depth - 1;
    let mut acts = match list.len() {
        n if n == depth => return Ok(list.to_vec()),
        1 => vec![list[0]; hidden],
        n if n == hidden => list.to_vec(),
        n => {
            return Err(Error::invalid(
                "model.activations",
                format!(
                    "{n} activations given for {hidden} hidden layers (give 1, {hidden} or {depth})"
                ),
            ))
        }
    };
    acts.push(output);
    Ok(acts)
}

impl Run {
    /// Checks the loop's settings and that the network fits `data`.
    fn check(&self, data: &LoadedData) -> Result<()> {
        self.train_config(1).validate()?;
        self.optimizer.validate()?;
        if self.train.early_stopping.is_some() && self.data.val_split == 0.0 {
            return Err(Error::invalid(
                "train.early_stopping",
                "needs a validation set: set data.val_split above 0",
            ));
        }
        if self.train.alpha.is_some() && self.optimizer.weight_decay != 0.0 {
            return Err(Error::invalid(
                "train.alpha",
                "is scikit-learn's form of optimizer.weight_decay (α/B): give one of them",
            ));
        }
        if self.train.stop_on == StopOn::ValScore && self.data.val_split == 0.0 {
            return Err(Error::invalid(
                "train.stop_on",
                "val-score needs a validation set: set data.val_split above 0",
            ));
        }
        let params = Params::init(&self.mlp()?, Init::Zeros, 0)?;
        crate::engine::check_fits(&params, &data.train)
    }

    /// The network's architecture.
    pub fn mlp(&self) -> Result<MlpSpec> {
        let m = &self.model;
        MlpSpec::new(m.layers.clone(), m.activations.clone(), m.loss)
    }

    /// Fresh parameters, drawn from the run's initialiser and seed.
    pub fn init_params(&self) -> Result<Params> {
        let p = Params::init(&self.mlp()?, self.model.init, self.seed)?;
        Ok(if self.model.bias { p } else { p.without_bias() })
    }

    /// The training and validation sets: the seeded split of `data.train`, unscaled.
    pub fn split(&self, data: &LoadedData) -> Result<(Dataset, Option<Dataset>)> {
        split::split_validation(data.train.clone(), self.data.val_split, self.seed)
    }

    /// The sets a run trains, validates and tests on: the seeded validation split, then the
    /// run's scaling fitted on the training part and applied to all three.
    pub fn prepare(&self, data: &LoadedData) -> Result<Prepared> {
        let (train, val) = self.split(data)?;
        self.scale(train, val, data.test.clone())
    }

    /// [`Run::prepare`] that takes `data`'s samples rather than copying them: the split and the
    /// scaling happen in place, so the data are held once. `data` keeps its description and a
    /// [`Dataset::shell`] of each set (their sizes of one sample, no samples).
    pub fn prepare_owned(&self, data: &mut LoadedData) -> Result<Prepared> {
        let shell = data.train.shell();
        let train = std::mem::replace(&mut data.train, shell);
        let test = data.test.as_mut().map(|t| {
            let shell = t.shell();
            std::mem::replace(t, shell)
        });
        let (train, val) = split::split_validation(train, self.data.val_split, self.seed)?;
        self.scale(train, val, test)
    }

    fn scale(
        &self,
        train: Dataset,
        val: Option<Dataset>,
        test: Option<Dataset>,
    ) -> Result<Prepared> {
        let scaler = Scaler::fit(self.data.scale, &train);
        Ok(Prepared {
            train: scaler.apply_owned(train)?,
            val: val.map(|v| scaler.apply_owned(v)).transpose()?,
            test: test.map(|t| scaler.apply_owned(t)).transpose()?,
            scaler,
        })
    }

    /// The run as a description that resolves to this same run (for `--config` files and for
    /// overlaying flags on a resumed run).
    pub fn to_spec(&self) -> RunSpec {
        table::from_table(table::to_table(self)).expect("a resolved run reads as a description")
    }

    /// The run as TOML (what `gpunn train --dry-run` prints).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a resolved run serialises as TOML")
    }

    /// Reads a resolved run back from TOML (as written by [`Run::to_toml`]).
    pub fn from_toml_str(text: &str) -> std::result::Result<Run, String> {
        toml::from_str(text).map_err(|e| e.message().trim().to_string())
    }
}
