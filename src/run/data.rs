//! Loading the data a run description names: a named dataset, a directory of IDX files, or a
//! synthetic set; then the two-class filter of `digits`.

use super::DataSpec;
use crate::data::{mnist, synth, Dataset};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The synthetic toy sets, generated from the run's seed.
pub const SYNTHETIC: [&str; 3] = ["xor", "linear", "circles"];

/// Where the samples come from, once resolved: exactly one of a named dataset and a directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataSource {
    Dataset(String),
    Dir(PathBuf),
}

/// Training and test sets, and how to describe them.
#[derive(Clone, Debug)]
pub struct LoadedData {
    /// The whole training set (before the validation split), `digits` applied.
    pub train: Dataset,
    pub test: Option<Dataset>,
    /// What was loaded, resolved (`auto` picks `mnist` or `mnist-sample`).
    pub source: DataSource,
    /// e.g. `mnist-sample (bundled) (8000 train, 2000 test)`.
    pub description: String,
    /// The dataset's short name for checkpoints and titles (`mnist`, `circles`, a directory).
    pub name: String,
    /// Images (28x28 and the like) rather than a synthetic 2-D set.
    pub images: bool,
    pub class_names: Vec<String>,
    /// The synthetic sets' settings, when the source is one of them: samples, factor, noise.
    pub synthetic: Option<(usize, f32, f32)>,
}

impl DataSpec {
    /// Loads the data this section names, with `seed` for the synthetic sets. Neither `dataset`
    /// nor `dir` loads the full MNIST if found, else the bundled sample.
    pub fn load(&self, seed: u64) -> Result<LoadedData> {
        let mut data = match (&self.dataset, &self.dir) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "data",
                    "give one of dataset and dir, not both",
                ))
            }
            (None, Some(dir)) => load_dir(dir.clone())?,
            (Some(name), None) if SYNTHETIC.contains(&name.as_str()) => {
                self.load_synthetic(name, seed)?
            }
            (Some(name), None) => {
                let (train, test) = mnist::load_named(name)?;
                images(train, test, DataSource::Dataset(name.clone()), name.clone())
            }
            (None, None) => {
                let (train, test, what) = mnist::best_mnist()?;
                let name = if what.starts_with("mnist-sample") {
                    "mnist-sample"
                } else {
                    "mnist"
                };
                images(train, test, DataSource::Dataset(name.into()), what)
            }
        };
        if let Some(digits) = &self.digits {
            keep_digits(&mut data, digits)?;
        }
        Ok(data)
    }

    fn load_synthetic(&self, name: &str, seed: u64) -> Result<LoadedData> {
        let samples = self.samples.unwrap_or(1000);
        let factor = self.factor.unwrap_or(0.4);
        let noise = self.noise.unwrap_or(0.05);
        if name != "xor" {
            check_synthetic(name == "circles", samples, factor, noise)?;
        }
        let (train, test) = match name {
            "xor" => (synth::xor(), synth::xor()),
            "linear" => (
                synth::linear(samples, seed),
                synth::linear(samples, seed + 1),
            ),
            _ => (
                synth::circles(samples, factor, noise, seed),
                synth::circles(samples, factor, noise, seed + 1),
            ),
        };
        Ok(LoadedData {
            description: format!("{name} ({} samples)", train.len()),
            class_names: mnist::class_names(name, train.classes),
            name: name.to_string(),
            source: DataSource::Dataset(name.to_string()),
            train,
            test: Some(test),
            images: false,
            synthetic: Some((samples, factor, noise)),
        })
    }
}

fn load_dir(dir: PathBuf) -> Result<LoadedData> {
    let (train, test) = mnist::load_dir(&dir)?;
    let name = dir.display().to_string();
    Ok(images(train, test, DataSource::Dir(dir), name))
}

fn images(train: Dataset, test: Dataset, source: DataSource, what: String) -> LoadedData {
    let name = match &source {
        DataSource::Dataset(n) => n.clone(),
        DataSource::Dir(d) => d.display().to_string(),
    };
    LoadedData {
        description: format!("{what} ({} train, {} test)", train.len(), test.len()),
        class_names: mnist::class_names(&name, train.classes),
        name,
        source,
        train,
        test: Some(test),
        images: true,
        synthetic: None,
    }
}

/// `digits = [a, b]`: keeps those two classes, relabelled 0 and 1, in train and test.
fn keep_digits(data: &mut LoadedData, digits: &[u32]) -> Result<()> {
    data.train = mnist::keep_digits(&data.train, digits)?;
    data.test = data
        .test
        .as_ref()
        .map(|t| mnist::keep_digits(t, digits))
        .transpose()?;
    data.class_names = digits
        .iter()
        .map(|c| {
            data.class_names
                .get(*c as usize)
                .cloned()
                .unwrap_or_else(|| c.to_string())
        })
        .collect();
    data.description = format!(
        "{} digits {:?} ({} train)",
        data.name,
        digits,
        data.train.len()
    );
    Ok(())
}

/// The synthetic sets' settings: a sample count that fits in memory, a finite noise and factor.
fn check_synthetic(circles: bool, samples: usize, factor: f32, noise: f32) -> Result<()> {
    const MAX_SAMPLES: usize = 10_000_000;
    if !(1..=MAX_SAMPLES).contains(&samples) {
        return Err(Error::invalid(
            "data.samples",
            format!("must be between 1 and {MAX_SAMPLES}, got {samples}"),
        ));
    }
    if circles && !(noise.is_finite() && noise >= 0.0) {
        return Err(Error::invalid(
            "data.noise",
            format!("must be a finite number >= 0, got {noise}"),
        ));
    }
    if circles && !(0.0..1.0).contains(&factor) {
        return Err(Error::invalid(
            "data.factor",
            format!("must be in [0, 1) (the inner circle's radius), got {factor}"),
        ));
    }
    Ok(())
}
