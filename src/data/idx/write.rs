//! Writing IDX files (raw, or gzip-compressed for a `.gz` path): the test fixtures and the
//! bundled sample are made with these.

use super::source::has_gz_suffix;
use super::{IMAGES_MAGIC, LABELS_MAGIC};
use crate::error::{Error, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Writes `pixels` (row-major `[count][rows][cols]`) as an IDX images file; gzip-compressed
/// when `path` ends in `.gz`.
pub fn write_images(path: &Path, rows: usize, cols: usize, pixels: &[u8]) -> Result<()> {
    let dim = rows.checked_mul(cols).unwrap_or(0);
    if dim == 0 || pixels.is_empty() || !pixels.len().is_multiple_of(dim) {
        return Err(Error::bad_file(
            path,
            format!(
                "cannot write IDX images: {} pixels is not a whole, non-zero number of {rows}x{cols} images",
                pixels.len()
            ),
        ));
    }
    let header = [
        IMAGES_MAGIC,
        to_u32(path, pixels.len() / dim)?,
        to_u32(path, rows)?,
        to_u32(path, cols)?,
    ];
    write_idx(path, &header, pixels)
}

/// Writes `labels` as an IDX labels file; gzip-compressed when `path` ends in `.gz`.
pub fn write_labels(path: &Path, labels: &[u8]) -> Result<()> {
    if labels.is_empty() {
        return Err(Error::bad_file(path, "cannot write IDX labels: no labels"));
    }
    write_idx(path, &[LABELS_MAGIC, to_u32(path, labels.len())?], labels)
}

fn to_u32(path: &Path, n: usize) -> Result<u32> {
    u32::try_from(n)
        .map_err(|_| Error::bad_file(path, format!("cannot write IDX: dimension {n} exceeds u32")))
}

fn write_idx(path: &Path, header: &[u32], data: &[u8]) -> Result<()> {
    let io_err = |e| Error::io(path, e);
    let file = BufWriter::new(File::create(path).map_err(io_err)?);
    let write_all = |w: &mut dyn Write| -> io::Result<()> {
        for d in header {
            w.write_all(&d.to_be_bytes())?;
        }
        w.write_all(data)
    };
    if has_gz_suffix(path) {
        let mut gz = GzEncoder::new(file, Compression::default());
        write_all(&mut gz).map_err(io_err)?;
        gz.finish().map_err(io_err)?.flush().map_err(io_err)
    } else {
        let mut file = file;
        write_all(&mut file).map_err(io_err)?;
        file.flush().map_err(io_err)
    }
}
