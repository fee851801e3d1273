//! Strict reader and writer for IDX files, the format MNIST is distributed in.
//!
//! An IDX file is a big-endian header followed by raw data:
//!
//! ```text
//! images (idx3-ubyte): u32 magic 0x00000803 (2051) | u32 count | u32 rows | u32 cols | count*rows*cols u8
//! labels (idx1-ubyte): u32 magic 0x00000801 (2049) | u32 count |                        count u8
//! ```
//!
//! The magic's first two bytes are always zero, the third is the element type (0x08 = u8) and
//! the fourth the number of dimensions. A file that starts with the gzip magic `1f 8b` is
//! decompressed on the fly, whatever its name.
//!
//! The reader is strict, because a silently misread dataset trains a silently wrong model: the
//! magic must match, no dimension may be zero, the data must be exactly as long as the header
//! says (a short file and trailing bytes are both errors), and a gzip stream must be complete.
//! A header that declares more data than the file holds never makes it allocate that much: raw
//! files are checked against their length first, and buffers grow only as data arrives, from a
//! capped initial reservation. Every error names the file.

use std::path::{Path, PathBuf};

mod source;
mod write;

pub use write::{write_images, write_labels};

use source::{candidates, Kind, Source};

use crate::data::{Dataset, Features};
use crate::error::{Error, Result};

/// Magic number of an IDX images file: u8 elements, 3 dimensions (count, rows, cols).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX labels file: u8 elements, 1 dimension (count).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// The four files of an MNIST-style directory, without the `.gz` suffix.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// The first two bytes of every gzip stream (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The most a reader reserves before any data has arrived. Larger payloads still load; their
/// buffer grows as the bytes come in, so a lying header cannot make us allocate gigabytes.
const MAX_RESERVE: usize = 64 << 20;

/// The images of an IDX images file, row-major `[count][rows][cols]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
    pub count: usize,
}

impl IdxImages {
    /// Pixels per image, `rows * cols`.
    pub fn dim(&self) -> usize {
        self.rows * self.cols
    }
}

/// Reads an IDX images file (magic 2051), raw or gzip-compressed.
pub fn read_images(path: &Path) -> Result<IdxImages> {
    images_from(Source::open(path, Kind::Images)?)
}

/// [`read_images`] on the contents of a file already in memory (raw or gzip-compressed), with
/// the same checks; errors name the data `<bytes>`. The fuzz target's entry point.
pub fn parse_images_bytes(bytes: &[u8]) -> Result<IdxImages> {
    images_from(Source::from_bytes(
        Path::new(BYTES_NAME),
        Kind::Images,
        bytes,
    )?)
}

/// [`read_labels`] on the contents of a file already in memory; see [`parse_images_bytes`].
pub fn parse_labels_bytes(bytes: &[u8]) -> Result<Vec<u8>> {
    labels_from(Source::from_bytes(
        Path::new(BYTES_NAME),
        Kind::Labels,
        bytes,
    )?)
}

/// What errors of [`parse_images_bytes`] and [`parse_labels_bytes`] call their data.
const BYTES_NAME: &str = "<bytes>";

fn images_from(mut src: Source<'_>) -> Result<IdxImages> {
    let [count, rows, cols] = src.header::<3>()?;
    if count == 0 || rows == 0 || cols == 0 {
        return Err(src.bad(format!(
            "zero dimension: header declares {count} images of {rows}x{cols}"
        )));
    }
    let what = format!("{count} images of {rows}x{cols}");
    let declared = u64::from(count)
        .checked_mul(u64::from(rows))
        .and_then(|n| n.checked_mul(u64::from(cols)))
        .ok_or_else(|| src.bad(format!("header declares {what}, a size that overflows")))?;
    let pixels = src.payload(declared, &what)?;
    Ok(IdxImages {
        rows: rows as usize,
        cols: cols as usize,
        pixels,
        count: count as usize,
    })
}

/// Reads an IDX labels file (magic 2049), raw or gzip-compressed.
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    labels_from(Source::open(path, Kind::Labels)?)
}

fn labels_from(mut src: Source<'_>) -> Result<Vec<u8>> {
    let [count] = src.header::<1>()?;
    if count == 0 {
        return Err(src.bad("zero dimension: header declares 0 labels"));
    }
    src.payload(u64::from(count), &format!("{count} labels"))
}

/// Loads an images file and its labels file as one [`Dataset`] of u8 features.
///
/// The counts must match. `classes` is the largest label plus one; a label of 255 is refused
/// (it would leave no room for the class count in a u8).
pub fn load_pair(images: &Path, labels: &Path, name: &str) -> Result<Dataset> {
    let img = read_images(images)?;
    let lab = read_labels(labels)?;
    if img.count != lab.len() {
        return Err(Error::bad_file(
            labels,
            format!(
                "count mismatch: {} labels, but {} holds {} images",
                lab.len(),
                images.display(),
                img.count
            ),
        ));
    }
    if let Some(i) = lab.iter().position(|&l| l > 254) {
        return Err(Error::bad_file(
            labels,
            format!("label #{i} is {}, labels must be at most 254", lab[i]),
        ));
    }
    let classes = lab.iter().copied().max().map_or(0, |m| m as usize + 1);
    Ok(Dataset {
        name: name.to_string(),
        dim: img.dim(),
        features: Features::U8(img.pixels),
        labels: lab.into_iter().map(u32::from).collect(),
        classes,
        target: Default::default(),
        weights: None,
    })
}

/// Finds `stem` in `dir` under the names it is commonly shipped as: `stem`, `stem.gz`, and the
/// variant with a dot before `idx` (`train-images.idx3-ubyte`, `.gz` or not).
pub fn find_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    candidates(stem)
        .into_iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

/// Loads the (train, test) pair from the four standard MNIST file names in `dir`
/// (see [`find_file`] for the accepted spellings). The sets are named `{name}-train` and
/// `{name}-test`. Their images must have one size; both get the larger class count of the
/// two, so a network sized for one fits the other.
pub fn load_dir(dir: &Path, name: &str) -> Result<(Dataset, Dataset)> {
    let meta = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !meta.is_dir() {
        return Err(Error::bad_file(
            dir,
            "not a directory (expected a directory of IDX files)",
        ));
    }
    let find = |stem: &str| {
        find_file(dir, stem).ok_or_else(|| {
            Error::bad_file(
                dir,
                format!(
                    "missing {stem}: looked for {} in this directory",
                    candidates(stem).join(", ")
                ),
            )
        })
    };
    // Find all four before reading any, so a missing file is reported at once.
    let (train_images, train_labels) = (find(TRAIN_IMAGES)?, find(TRAIN_LABELS)?);
    let (test_images, test_labels) = (find(TEST_IMAGES)?, find(TEST_LABELS)?);
    let mut train = load_pair(&train_images, &train_labels, &format!("{name}-train"))?;
    let mut test = load_pair(&test_images, &test_labels, &format!("{name}-test"))?;
    // A model trained on one set is run on the other: same sample size, same class count.
    if test.dim != train.dim {
        return Err(Error::bad_file(
            &test_images,
            format!(
                "holds images of {} pixels, but {} holds images of {} (both sets need one image size)",
                test.dim,
                train_images.display(),
                train.dim
            ),
        ));
    }
    let classes = train.classes.max(test.classes);
    (train.classes, test.classes) = (classes, classes);
    Ok((train, test))
}
