//! Loading the data a run description names: a named dataset, a directory of IDX files, a
//! file of your own (CSV, NumPy) or a synthetic set; then the two-class filter of `digits`.

use super::DataSpec;
use crate::data::table::{self, Task};
use crate::data::{mnist, split, synth, Dataset};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A setting's declared default, applied as the data are loaded.
fn at_load<T: serde::de::DeserializeOwned>(key: &str) -> T {
    super::settings::default_of(key, super::settings::DataKind::Images)
}

/// The synthetic toy sets, generated from the run's seed.
pub const SYNTHETIC: [&str; 3] = ["xor", "linear", "circles"];

/// Where the samples come from, once resolved: exactly one of a named dataset and a directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataSource {
    Dataset(String),
    Dir(PathBuf),
    File(PathBuf),
    /// Arrays a program holds (the Python estimators'), named for messages; a run trained on
    /// them records no source.
    Memory(String),
}

impl LoadedData {
    /// `train`, held in memory, as the data of a run of `task` without a test set.
    pub fn in_memory(train: Dataset, task: Task) -> LoadedData {
        let name = train.name.clone();
        LoadedData {
            description: format!("{name} ({} samples)", train.len()),
            source: DataSource::Memory(name.clone()),
            name,
            train,
            test: None,
            images: false,
            class_names: Vec::new(),
            synthetic: None,
            task,
            test_split: None,
            target_names: Vec::new(),
        }
    }
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
    pub task: Task,
    /// The held-out fraction that made the test set of a file without one.
    pub test_split: Option<f32>,
    /// The names of the regression targets (CSV columns), for metrics and plots.
    pub target_names: Vec<String>,
}

impl DataSpec {
    /// Loads the data this section names, with `seed` for the synthetic sets. Neither `dataset`
    /// nor `dir` loads the full MNIST if found, else the bundled sample.
    pub fn load(&self, seed: u64) -> Result<LoadedData> {
        let sources = [
            self.dataset.is_some(),
            self.dir.is_some(),
            self.file.is_some(),
        ];
        if sources.iter().filter(|&&s| s).count() > 1 {
            return Err(Error::invalid(
                "data",
                "give one of dataset, dir and file, not several",
            ));
        }
        let task = self.task.unwrap_or_else(|| at_load("data.task"));
        if let Some(file) = &self.file {
            return self.load_file(file, task, seed);
        }
        if task != Task::Classify && task != Task::Autoencode {
            return Err(Error::invalid(
                "data.task",
                "regress needs a file of your own with targets (--data FILE)",
            ));
        }
        let mut data = match (&self.dataset, &self.dir) {
            (_, Some(dir)) => load_dir(dir.clone())?,
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
        if task == Task::Autoencode {
            autoencode(&mut data);
        }
        Ok(data)
    }

    /// A file of your own, its test set from `test` or held out by `test_split`.
    fn load_file(&self, file: &std::path::Path, task: Task, seed: u64) -> Result<LoadedData> {
        let target = self.target.as_deref().unwrap_or(&[]);
        if self.digits.is_some() {
            return Err(Error::invalid(
                "data.digits",
                "applies to the MNIST-style datasets only",
            ));
        }
        let sets = table::read(file, self.labels.as_deref(), target, task)?;
        let (train, test, test_split) = match (&self.test, sets.test) {
            (Some(path), _) => {
                let t = table::read(path, None, target, task)?;
                if t.train.dim != sets.train.dim {
                    return Err(Error::bad_file(
                        path,
                        format!(
                            "{} features per sample, but {} has {}",
                            t.train.dim,
                            file.display(),
                            sets.train.dim
                        ),
                    ));
                }
                (sets.train, t.train, None)
            }
            (None, Some(test)) => (sets.train, test, None),
            (None, None) => {
                let f = self
                    .test_split
                    .unwrap_or_else(|| at_load("data.test_split"));
                let name = sets.train.name.clone();
                let started = std::time::Instant::now();
                let (train, mut test) = split::holdout(sets.train, f, seed, "data.test_split")?;
                log::debug!(
                    "held out the test set in {:.2} s",
                    started.elapsed().as_secs_f64()
                );
                test.name = format!("{name}-test");
                (train, test, Some(f))
            }
        };
        let classes = train.classes.max(test.classes);
        let (mut train, mut test) = (train, test);
        train.classes = classes;
        test.classes = classes;
        let name = file.file_stem().map_or_else(
            || file.display().to_string(),
            |s| s.to_string_lossy().into(),
        );
        Ok(LoadedData {
            description: format!(
                "{} ({} train, {} test{})",
                file.display(),
                train.len(),
                test.len(),
                test_split.map_or(String::new(), |f| format!(", {f} held out"))
            ),
            class_names: (0..classes).map(|c| c.to_string()).collect(),
            name,
            source: DataSource::File(file.to_path_buf()),
            train,
            test: Some(test),
            images: sets.images,
            synthetic: None,
            task,
            test_split,
            target_names: sets.target_names,
        })
    }

    fn load_synthetic(&self, name: &str, seed: u64) -> Result<LoadedData> {
        let samples = self.samples.unwrap_or_else(|| at_load("data.samples"));
        let factor = self.factor.unwrap_or_else(|| at_load("data.factor"));
        let noise = self.noise.unwrap_or_else(|| at_load("data.noise"));
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
            task: Task::Classify,
            test_split: None,
            target_names: Vec::new(),
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
        DataSource::Dataset(n) | DataSource::Memory(n) => n.clone(),
        DataSource::Dir(d) | DataSource::File(d) => d.display().to_string(),
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
        task: Task::Classify,
        test_split: None,
        target_names: Vec::new(),
    }
}

/// Every set's target becomes its input (the labels stay, for plots and features).
fn autoencode(data: &mut LoadedData) {
    data.task = Task::Autoencode;
    data.train.target = crate::data::Target::Input;
    if let Some(t) = &mut data.test {
        t.target = crate::data::Target::Input;
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
