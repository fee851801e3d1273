//! NumPy `.npz` archives (a zip of `.npy` arrays): `x_train`, `y_train` and optionally
//! `x_test`, `y_test` (Keras's `mnist.npz` layout), or `x` and `y`. Written by
//! `gpunn features` in the first layout.

use super::{dataset, npy, Array, FileSets, Numbers, Task};
use crate::{Error, Result};
use std::io::{Cursor, Read, Write};
use std::path::Path;

/// The largest archive, and the most any one array may decompress to.
pub const MAX_BYTES: u64 = 8 << 30;

/// Reads the training (and test) set of an archive for `task`.
pub fn read_sets(path: &Path, task: Task) -> Result<FileSets> {
    let bad = |m: String| Error::bad_file(path, m);
    // Read from the file as the entries are decompressed, not into memory first.
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| bad(format!("not a readable .npz (zip) archive: {e}")))?;
    let names: Vec<String> = (0..zip.len())
        .filter_map(|i| {
            zip.name_for_index(i)
                .and_then(|n| n.ok())
                .map(|n| n.to_string())
        })
        .collect();
    let has = |k: &str| names.iter().any(|n| n == &format!("{k}.npy"));
    let (xk, yk) = if has("x_train") {
        ("x_train", "y_train")
    } else if has("x") {
        ("x", "y")
    } else {
        let mut found: Vec<&str> = names.iter().map(|n| n.trim_end_matches(".npy")).collect();
        found.sort();
        return Err(bad(format!(
            "no array x_train or x (it holds: {})",
            if found.is_empty() {
                "nothing".to_string()
            } else {
                found.join(", ")
            }
        )));
    };
    let mut array = |key: &str| -> Result<Option<Array>> {
        if !has(key) {
            return Ok(None);
        }
        let entry = zip
            .by_name(&format!("{key}.npy"))
            .map_err(|e| bad(format!("array {key}: {e}")))?;
        // Grows with what actually decompresses, never with the size the entry claims.
        npy::read_from(&mut entry.take(MAX_BYTES))
            .map(Some)
            .map_err(|m| bad(format!("array {key}: {m}")))
    };
    let x = array(xk)?.expect("checked above");
    let y = array(yk)?;
    if y.is_none() && task != Task::Autoencode {
        return Err(bad(format!("no array {yk} beside {xk}")));
    }
    let (xt, yt) = if xk == "x_train" {
        (array("x_test")?, array("y_test")?)
    } else {
        (None, None)
    };
    let name = path.display().to_string();
    let images = matches!(x.data, Numbers::U8(_));
    let make = |xk: &str, x: Array, yk: &str, y: Option<&Array>| {
        let x_at = |r: usize, c: usize| format!("array {xk}[{r}, {c}]");
        let y_at = |r: usize, c: usize| {
            if y.is_some_and(|y| y.shape.len() == 1) {
                format!("array {yk}[{r}]")
            } else {
                format!("array {yk}[{r}, {c}]")
            }
        };
        dataset(&name, task, x, &x_at, y, &y_at).map_err(|m| {
            if m.starts_with("array") {
                bad(m)
            } else {
                bad(format!("arrays {xk}, {yk}: {m}"))
            }
        })
    };
    let train = make(xk, x, yk, y.as_ref())?;
    let test = match (xt, yt) {
        (Some(xt), yt) if yt.is_some() || task == Task::Autoencode => {
            let test = make("x_test", xt, "y_test", yt.as_ref())?;
            if test.dim != train.dim {
                return Err(bad(format!(
                    "x_test has {} features per sample, x_train {}",
                    test.dim, train.dim
                )));
            }
            Some(test)
        }
        (Some(_), _) => return Err(bad("no array y_test beside x_test".into())),
        (None, Some(_)) => return Err(bad("no array x_test beside y_test".into())),
        (None, None) => None,
    };
    Ok(FileSets {
        images,
        train,
        test,
        target_names: Vec::new(),
    })
}

/// One array to write: its key, shape and values.
pub enum Entry<'a> {
    F32(&'a str, Vec<usize>, &'a [f32]),
    I64(&'a str, Vec<usize>, &'a [i64]),
}

/// Writes an archive of `entries` (stored uncompressed), atomically.
pub fn write(path: &Path, entries: &[Entry<'_>]) -> Result<()> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    let fail = |e: String| Error::bad_file(path, format!("writing the archive: {e}"));
    for e in entries {
        let (key, image) = match e {
            Entry::F32(k, shape, v) => (k, npy::write_f32(shape, v)),
            Entry::I64(k, shape, v) => (k, npy::write_i64(shape, v)),
        };
        zip.start_file(format!("{key}.npy"), options)
            .map_err(|e| fail(e.to_string()))?;
        zip.write_all(&image).map_err(|e| fail(e.to_string()))?;
    }
    let bytes = zip.finish().map_err(|e| fail(e.to_string()))?.into_inner();
    crate::io::write_atomic(path, &bytes)
}
