//! Your own data: CSV tables, NumPy `.npz` archives and `.npy` pairs, read into [`Dataset`]s
//! for a task ([`Task`]): classes from a label column or array, values to regress, or the
//! input itself (autoencoders). Every error names the file and the line and column, the
//! array or the key.

pub mod csv;
mod csv_sets;
pub mod npy;
pub mod npz;

use super::{Dataset, Features, Floats, Target};
use crate::model::serde_as_name;
use crate::{Error, Result};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// What the network learns from a table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Task {
    /// Predict a class (an integer label).
    #[default]
    Classify,
    /// Predict one or several values.
    Regress,
    /// Reproduce the input.
    Autoencode,
}

impl Task {
    pub const ALL: [Task; 3] = [Task::Classify, Task::Regress, Task::Autoencode];

    pub fn name(self) -> &'static str {
        match self {
            Task::Classify => "classify",
            Task::Regress => "regress",
            Task::Autoencode => "autoencode",
        }
    }
}

impl FromStr for Task {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Task::ALL
            .into_iter()
            .find(|t| t.name() == s.trim())
            .ok_or_else(|| format!("unknown task '{s}' (expected classify, regress or autoencode)"))
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

serde_as_name!(Task);

/// Numbers as a file stores them.
#[derive(Clone, Debug, PartialEq)]
pub enum Numbers {
    U8(Vec<u8>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    /// f32 values read in place (a memory-mapped `.npy`).
    Mapped(Floats),
}

impl Numbers {
    pub fn len(&self) -> usize {
        match self {
            Numbers::U8(v) => v.len(),
            Numbers::F32(v) => v.len(),
            Numbers::F64(v) => v.len(),
            Numbers::I64(v) => v.len(),
            Numbers::Mapped(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` as f64 (exact for every stored type but the largest int64s).
    pub fn get(&self, i: usize) -> f64 {
        match self {
            Numbers::U8(v) => v[i] as f64,
            Numbers::F32(v) => v[i] as f64,
            Numbers::F64(v) => v[i],
            Numbers::I64(v) => v[i] as f64,
            Numbers::Mapped(v) => v[i] as f64,
        }
    }
}

/// An n-dimensional array, C order.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Numbers,
}

/// Names the place of element (row, column) of an array in errors: `line 7, column 3 ('age')`
/// in a CSV file, `x_train[6, 2]` in NumPy files.
type Locate<'a> = &'a dyn Fn(usize, usize) -> String;

/// Features (`[n][d]` or images `[n][h][w]`, flattened) and targets as a [`Dataset`] for
/// `task`; `y` is `[n]` or `[n][k]` (optional for autoencoders). u8 features stay pixels
/// (scaled by 1/255); others must be finite.
pub fn dataset(
    name: &str,
    task: Task,
    x: Array,
    x_at: Locate<'_>,
    y: Option<&Array>,
    y_at: Locate<'_>,
) -> std::result::Result<Dataset, String> {
    let n = *x
        .shape
        .first()
        .ok_or("features must be 2-D (samples × features), not a scalar")?;
    if x.shape.len() < 2 || x.shape.len() > 3 {
        return Err(format!(
            "features must be 2-D (samples × features) or 3-D images, not shape {:?}",
            x.shape
        ));
    }
    let dim: usize = x.shape[1..].iter().product();
    if n == 0 || dim == 0 {
        return Err(format!("no samples or no features (shape {:?})", x.shape));
    }
    let not_finite = |v: &[f32]| -> std::result::Result<(), String> {
        match v.iter().position(|f| !f.is_finite()) {
            Some(i) => Err(format!(
                "{}: {} is not a finite number",
                x_at(i / dim, i % dim),
                v[i] as f64
            )),
            None => Ok(()),
        }
    };
    // u8 and f32 values move into the set as they are; others are converted.
    let features = match x.data {
        Numbers::U8(v) => Features::U8(v),
        Numbers::Mapped(v) => {
            not_finite(&v)?;
            Features::F32(v)
        }
        Numbers::F32(v) => {
            not_finite(&v)?;
            Features::F32(v.into())
        }
        data => {
            let mut out = Vec::with_capacity(data.len());
            for i in 0..data.len() {
                let v = data.get(i);
                if !v.is_finite() {
                    return Err(format!(
                        "{}: {v} is not a finite number",
                        x_at(i / dim, i % dim)
                    ));
                }
                out.push(v as f32);
            }
            Features::F32(out.into())
        }
    };
    let (rows, cols) = match y {
        Some(y) => {
            let rows = *y.shape.first().unwrap_or(&1);
            let cols = match y.shape.len() {
                1 => 1,
                2 => y.shape[1],
                _ => {
                    return Err(format!(
                        "targets must be 1-D or 2-D, not shape {:?}",
                        y.shape
                    ))
                }
            };
            if rows != n {
                return Err(format!("{n} samples of features but {rows} of targets"));
            }
            (rows, cols)
        }
        None => (n, 0),
    };
    let labels_of = |y: &Array| -> std::result::Result<(Vec<u32>, usize), String> {
        if cols != 1 {
            return Err(format!(
                "class labels must be one column, not {cols} (regress several values with --task regress)"
            ));
        }
        let mut labels = Vec::with_capacity(rows);
        for r in 0..rows {
            let v = y.data.get(r);
            if !(v >= 0.0 && v.fract() == 0.0 && v < MAX_CLASSES as f64) {
                return Err(format!(
                    "{}: class label {v} is not a non-negative integer below {MAX_CLASSES}",
                    y_at(r, 0)
                ));
            }
            labels.push(v as u32);
        }
        let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
        Ok((labels, classes))
    };
    let (labels, classes, target) = match (task, y) {
        (Task::Classify, Some(y)) => {
            let (labels, classes) = labels_of(y)?;
            (labels, classes, Target::Classes)
        }
        (Task::Regress, Some(y)) => {
            let mut values = Vec::with_capacity(rows * cols);
            for i in 0..rows * cols {
                let v = y.data.get(i);
                if !v.is_finite() {
                    return Err(format!(
                        "{}: target {v} is not a finite number",
                        y_at(i / cols, i % cols)
                    ));
                }
                values.push(v as f32);
            }
            let units = Vec::new();
            (
                vec![0; n],
                0,
                Target::Values {
                    dim: cols,
                    values: values.into(),
                    units,
                },
            )
        }
        (Task::Autoencode, y) => match y.map(labels_of) {
            Some(Ok((labels, classes))) => (labels, classes, Target::Input),
            _ => (vec![0; n], 0, Target::Input),
        },
        (task, None) => return Err(format!("--task {task} needs targets")),
    };
    Ok(Dataset {
        name: name.to_string(),
        dim,
        features,
        labels,
        classes,
        target,
        weights: None,
    })
}

/// More classes than any table here plausibly has: a label beyond is a mistake (a value
/// column taken as labels), and the output layer would be that wide.
pub const MAX_CLASSES: usize = 100_000;

/// The training set and an optional test set read from a file.
#[derive(Clone, Debug)]
pub struct FileSets {
    pub train: Dataset,
    pub test: Option<Dataset>,
    /// The features are u8 images (pixels), not a table.
    pub images: bool,
    /// Column names of the targets (CSV with a header), for titles and metrics.
    pub target_names: Vec<String>,
}

/// Reads `path` (`.csv`, `.npz`, or `.npy` with `labels`, another `.npy`) for `task`, taking
/// the CSV target columns `target` (header names or 0-based indices; default the last).
pub fn read(path: &Path, labels: Option<&Path>, target: &[String], task: Task) -> Result<FileSets> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "csv" => csv_sets::read_csv(path, target, task),
        "npz" => npz::read_sets(path, task),
        "npy" => read_npy_pair(path, labels, task),
        _ => Err(Error::bad_file(
            path,
            "not a directory of IDX files, nor a .csv, .npz or .npy file",
        )),
    }
}

fn read_npy_pair(path: &Path, labels: Option<&Path>, task: Task) -> Result<FileSets> {
    // A float32 array is mapped, not read: the features are the file's pages.
    let x = match npy::map_f32(path)? {
        Some((shape, values)) => Array {
            shape,
            data: Numbers::Mapped(values),
        },
        None => read_npy(path)?,
    };
    let y = match labels {
        Some(l) => Some(read_npy(l)?),
        None if task == Task::Autoencode => None,
        None => {
            return Err(Error::invalid(
                "data.labels",
                format!(
                    "{} holds features only: give the targets as another .npy (--labels Y.npy)",
                    path.display()
                ),
            ))
        }
    };
    let x_at = |r: usize, c: usize| format!("element [{r}, {c}]");
    let y_at = |r: usize, c: usize| format!("element [{r}, {c}] of the labels");
    let name = path.display().to_string();
    let images = matches!(x.data, Numbers::U8(_));
    let train = dataset(&name, task, x, &x_at, y.as_ref(), &y_at).map_err(|m| {
        let culprit = if m.contains("of the labels") || m.contains("target") || m.contains("label")
        {
            labels.unwrap_or(path)
        } else {
            path
        };
        Error::bad_file(culprit, m)
    })?;
    Ok(FileSets {
        images,
        train,
        test: None,
        target_names: Vec::new(),
    })
}

/// Reads a `.npy` file as it streams in: its values are read into the array, not first into
/// a copy of the file.
fn read_npy(path: &Path) -> Result<Array> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    npy::read_from(&mut std::io::BufReader::new(file)).map_err(|m| Error::bad_file(path, m))
}
