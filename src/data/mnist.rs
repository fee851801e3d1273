//! Where the MNIST-style datasets come from, and the two ways a training run reshapes them.
//!
//! - [`locate`] finds `mnist` or `fashion-mnist` on disk (see [`candidates`] for the places,
//!   in order), or the bundled `mnist-sample`. A directory counts only when all four IDX files
//!   are there (raw or `.gz`, see [`idx::find_file`]); one that is not is reported with what it
//!   lacks, next to every other place looked.
//! - [`load_named`], [`load_dir`] and [`best_mnist`] read the (train, test) pair.
//! - [`keep_digits`] makes the binary task of `--digits 3,6`. (The validation set of
//!   `--val-split` is held out by [`super::split::split_validation`].)
//!
//! Downloading is in [`super::fetch`]; it writes into [`fetch::default_dest`], one of the
//! places searched here.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::data::{fetch, idx, Dataset};
use crate::error::{Error, Result};

/// The datasets [`load_named`] knows, besides a directory given by path.
pub const NAMES: [&str; 3] = ["mnist", "fashion-mnist", "mnist-sample"];

/// The bundled 10,000-digit sample, relative to the crate (and to the working directory).
const SAMPLE_DIR: &str = "data/mnist-sample";

/// The environment variable naming a directory of datasets (or a dataset directory itself).
pub const DATA_ENV: &str = "GPUNN_DATA";

/// The four files every dataset directory must hold, without `.gz`.
const STEMS: [&str; 4] = [
    idx::TRAIN_IMAGES,
    idx::TRAIN_LABELS,
    idx::TEST_IMAGES,
    idx::TEST_LABELS,
];

/// The directories searched for `name` (`mnist` or `fashion-mnist`), in order:
///
/// 1. `$GPUNN_DATA/<name>`, then `$GPUNN_DATA` itself (unless its last component names a
///    different known dataset, so `GPUNN_DATA=~/x/fashion-mnist` never passes for `mnist`);
/// 2. `./data/<name>`, then `<crate dir>/data/<name>` (for a binary run from elsewhere);
/// 3. the directory `gpunn data fetch` downloads into ([`fetch::default_dest`]):
///    `$XDG_DATA_HOME/gpunn/<name>` or `~/.local/share/gpunn/<name>`;
/// 4. system places: `/usr/share/datasets/<name>` (Debian's `dataset-fashion-mnist` installs
///    the four `.gz` files there) and `/usr/share/<name>`.
///
/// Duplicates are dropped, keeping the first.
pub fn candidates(name: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(root) = std::env::var_os(DATA_ENV).filter(|v| !v.is_empty()) {
        let root = PathBuf::from(root);
        dirs.push(root.join(name));
        let names_other = root
            .file_name()
            .and_then(|f| f.to_str())
            .is_some_and(|f| f != name && NAMES.contains(&f));
        if !names_other {
            dirs.push(root);
        }
    }
    dirs.push(Path::new("data").join(name));
    dirs.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(name),
    );
    dirs.push(fetch::default_dest(name));
    dirs.push(Path::new("/usr/share/datasets").join(name));
    dirs.push(Path::new("/usr/share").join(name));
    let mut seen = HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// The four files `dir` lacks (by stem), empty when it is a complete dataset directory.
/// A path that is not a directory lacks all four.
pub fn missing_files(dir: &Path) -> Vec<&'static str> {
    STEMS
        .into_iter()
        .filter(|stem| idx::find_file(dir, stem).is_none())
        .collect()
}

/// The first complete dataset directory among `dirs`. The error (one line, like every gpunn
/// error) lists every directory with why it was passed over, and how to get the data.
pub fn locate_in(name: &str, dirs: &[PathBuf]) -> Result<PathBuf> {
    let mut looked = Vec::new();
    for dir in dirs {
        let why = if !dir.is_dir() {
            "not found".to_string()
        } else {
            let missing = missing_files(dir);
            if missing.is_empty() {
                return Ok(dir.clone());
            }
            format!("lacks {} (raw or .gz)", missing.join(", "))
        };
        looked.push(format!("{} ({why})", dir.display()));
    }
    let fetchable = fetch::spec(name).is_ok();
    let hint = if fetchable {
        format!(
            "; download it with `gpunn data fetch {name}` (into {}), set {DATA_ENV} to a directory \
             holding it, or pass a directory with --data",
            fetch::default_dest(name).display()
        )
    } else {
        format!("; set {DATA_ENV} to a directory holding it, or pass a directory with --data")
    };
    Err(Error::invalid(
        "data.dataset",
        format!(
            "{name}: no directory with the four IDX files ({}, raw or .gz); looked in: {}{hint}",
            STEMS.join(", "),
            looked.join(", ")
        ),
    ))
}

/// Finds the directory of `mnist`, `fashion-mnist` (searching [`candidates`]) or the bundled
/// `mnist-sample`.
pub fn locate(name: &str) -> Result<PathBuf> {
    match name {
        "mnist" | "fashion-mnist" => locate_in(name, &candidates(name)),
        "mnist-sample" => sample_dir(),
        _ => Err(Error::invalid(
            "data.dataset",
            format!(
                "unknown dataset '{name}': expected one of {}, {} (or --data with a directory \
                 of IDX files or a table)",
                NAMES.join(", "),
                crate::run::SYNTHETIC.join(", ")
            ),
        )),
    }
}

/// The bundled sample: `./data/mnist-sample`, else the one in the crate's source tree.
pub fn sample_dir() -> Result<PathBuf> {
    let dirs = [
        PathBuf::from(SAMPLE_DIR),
        Path::new(env!("CARGO_MANIFEST_DIR")).join(SAMPLE_DIR),
    ];
    locate_in("mnist-sample", &dirs)
}

/// Loads the (train, test) pair of a named dataset: `mnist`, `fashion-mnist` or
/// `mnist-sample`. The sets are named `<name>-train` and `<name>-test`.
pub fn load_named(name: &str) -> Result<(Dataset, Dataset)> {
    let dir = locate(name)?;
    idx::load_dir(&dir, name)
}

/// Loads the (train, test) pair from a directory of the four IDX files, named after the
/// directory (`~/x/fashion-mnist` gives `fashion-mnist-train` and `fashion-mnist-test`).
pub fn load_dir(dir: &Path) -> Result<(Dataset, Dataset)> {
    let name = dir
        .canonicalize()
        .ok()
        .as_deref()
        .unwrap_or(dir)
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or("idx")
        .to_string();
    idx::load_dir(dir, &name)
}

/// The full MNIST when it is found (see [`candidates`]), else the bundled sample; with a
/// description of what was chosen: `mnist (/path)` or `mnist-sample (bundled)`.
///
/// A full MNIST that is found but fails to load is an error, not a silent fall-back.
pub fn best_mnist() -> Result<(Dataset, Dataset, String)> {
    if let Ok(dir) = locate_in("mnist", &candidates("mnist")) {
        let (train, test) = idx::load_dir(&dir, "mnist")?;
        return Ok((train, test, format!("mnist ({})", dir.display())));
    }
    let dir = sample_dir()?;
    let (train, test) = idx::load_dir(&dir, "mnist-sample")?;
    Ok((train, test, "mnist-sample (bundled)".to_string()))
}

/// Keeps the samples labelled with one of `digits` (exactly two distinct labels) and relabels
/// them 0 and 1 in the order given: `--digits 3,6` makes 3 → 0 and 6 → 1. Samples keep their
/// order; `classes` becomes 2.
///
/// Errors (naming `--digits`): not exactly two labels, the same label twice, or a label with no
/// sample in `data`.
pub fn keep_digits(data: &Dataset, digits: &[u32]) -> Result<Dataset> {
    let &[a, b] = digits else {
        return Err(Error::invalid(
            "data.digits",
            format!(
                "the binary task needs exactly 2 labels, e.g. 3,6; got {}: {digits:?}",
                digits.len()
            ),
        ));
    };
    if a == b {
        return Err(Error::invalid(
            "data.digits",
            format!("the two labels must differ; got {a} twice"),
        ));
    }
    for d in [a, b] {
        if !data.labels.contains(&d) {
            return Err(Error::invalid(
                "data.digits",
                format!(
                    "label {d} does not occur in {} ({} samples, labels 0..{})",
                    data.name,
                    data.len(),
                    data.classes.saturating_sub(1)
                ),
            ));
        }
    }
    let keep: Vec<u32> = (0..data.len() as u32)
        .filter(|&i| {
            let l = data.labels[i as usize];
            l == a || l == b
        })
        .collect();
    let mut out = data.subset(&keep);
    for l in &mut out.labels {
        *l = u32::from(*l == b);
    }
    out.classes = 2;
    Ok(out)
}

/// Fashion-MNIST's class names, in label order.
pub const FASHION_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Display names of a dataset's classes: Fashion-MNIST's article names, else the label numbers.
pub fn class_names(name: &str, classes: usize) -> Vec<String> {
    if name.starts_with("fashion") && classes == 10 {
        FASHION_NAMES.iter().map(|s| s.to_string()).collect()
    } else {
        (0..classes).map(|c| c.to_string()).collect()
    }
}
