//! NumPy's `.npy` format, read strictly and written: a magic string, a version, a header (a
//! Python dict literal with `descr`, `fortran_order` and `shape`), then the values in C order.
//! Read: float32, float64, uint8, int32 and int64, little-endian. The data must be exactly
//! the size the header's shape implies: nothing is allocated from the header's claim alone.

use super::{Array, Numbers};
use crate::data::floats::Storage;
use crate::data::Floats;

const MAGIC: &[u8] = b"\x93NUMPY";

/// Parses one `.npy` image; the error is the message without the file (or array) name.
pub fn parse(bytes: &[u8]) -> Result<Array, String> {
    let (shape, descr, end) = layout(bytes)?;
    Ok(Array {
        shape,
        data: decode(descr, &bytes[end..]),
    })
}

/// The values of `data` as `descr` (a dtype [`header`] accepted) stores them.
fn decode(descr: &str, data: &[u8]) -> Numbers {
    let chunks = |w: usize| data.chunks_exact(w);
    match descr {
        "<f4" => Numbers::F32(
            chunks(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        ),
        "<f8" => Numbers::F64(
            chunks(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        ),
        "<i4" => Numbers::I64(
            chunks(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64)
                .collect(),
        ),
        "<i8" => Numbers::I64(
            chunks(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        ),
        _ => Numbers::U8(data.to_vec()),
    }
}

/// A float32 `.npy` file's values in a copy-on-write memory map: read from the file as they
/// are touched, and written in place (a page written becomes this process's own; the file is
/// never changed). Holds the map: see [`map_f32`].
pub struct MappedF32 {
    map: memmap2::MmapMut,
    start: usize,
    len: usize,
}

impl Storage for MappedF32 {
    fn values(&self) -> &[f32] {
        bytemuck::cast_slice(&self.map[self.start..self.start + 4 * self.len])
    }

    fn values_mut(&mut self) -> Option<&mut [f32]> {
        let (start, len) = (self.start, self.len);
        Some(bytemuck::cast_slice_mut(
            &mut self.map[start..start + 4 * len],
        ))
    }

    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

/// The shape and values of the `.npy` file at `path` when it is a little-endian float32 array
/// in C order (on a little-endian machine), memory-mapped rather than read; `None` for other
/// arrays, which [`parse`] reads.
///
/// The map is private to this process: a program that changes the file while it is read is
/// the one hazard, as with any memory-mapped reader (NumPy's `mmap_mode` included).
pub fn map_f32(path: &std::path::Path) -> crate::Result<Option<(Vec<usize>, Floats)>> {
    use crate::Error;
    if cfg!(target_endian = "big") {
        return Ok(None);
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: a copy-on-write map of a regular file; see the function's notes.
    let map =
        unsafe { memmap2::MmapOptions::new().map_copy(&file) }.map_err(|e| Error::io(path, e))?;
    let (shape, descr, start) = layout(&map).map_err(|m| Error::bad_file(path, m))?;
    if descr != "<f4" || start % 4 != 0 {
        return Ok(None);
    }
    let len = (map.len() - start) / 4;
    let storage = MappedF32 { map, start, len };
    Ok(Some((shape, Floats::shared(std::sync::Arc::new(storage)))))
}

/// A `.npy` image's shape, dtype and the offset of its data, the data checked to be exactly
/// the size the shape implies.
fn layout(bytes: &[u8]) -> Result<(Vec<usize>, &str, usize), String> {
    let (shape, descr, end, needed) = header(bytes)?;
    check_size(&shape, needed, (bytes.len() - end) as u64)?;
    Ok((shape, descr, end))
}

/// Data of `held` bytes for an array of `shape` that needs `needed`.
fn check_size(shape: &[usize], needed: usize, held: u64) -> Result<(), String> {
    let needed = needed as u64;
    if held < needed {
        return Err(format!(
            "truncated: shape {shape:?} needs {needed} bytes of data, the file holds {held}"
        ));
    }
    if held > needed {
        return Err(format!(
            "{} bytes after the {needed} bytes of data shape {shape:?} needs",
            held - needed
        ));
    }
    Ok(())
}

/// Reads a `.npy` image from `r` (an archive's entry), its data straight into the array's
/// values (f32 without a second copy); memory grows with the data read, never with a size
/// the header claims.
pub fn read_from(r: &mut impl std::io::Read) -> Result<Array, String> {
    use std::io::Read;
    let io = |e: std::io::Error| e.to_string();
    let mut head = vec![0u8; 10];
    r.read_exact(&mut head)
        .map_err(|_| "not a .npy array (no \\x93NUMPY magic)".to_string())?;
    let len_bytes = if head[6] >= 2 { 4 } else { 2 };
    if len_bytes == 4 {
        head.resize(12, 0);
        r.read_exact(&mut head[10..]).map_err(io)?;
    }
    let header_len = match len_bytes {
        2 => u16::from_le_bytes([head[8], head[9]]) as u64,
        _ => u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as u64,
    };
    r.by_ref()
        .take(header_len)
        .read_to_end(&mut head)
        .map_err(io)?;
    let (shape, descr, _, needed) = header(&head)?;
    let mut data = r.by_ref().take(needed as u64 + 1);
    let (numbers, held) = if descr == "<f4" && cfg!(target_endian = "little") {
        let mut values: Vec<f32> = Vec::new();
        let mut held = 0usize;
        loop {
            if held == values.len() * 4 {
                values.resize(values.len() + (1 << 18).min(needed / 4 + 1), 0.0);
            }
            let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut values);
            match data.read(&mut bytes[held..]).map_err(io)? {
                0 => break,
                n => held += n,
            }
        }
        values.truncate(held / 4);
        (Numbers::F32(values), held as u64)
    } else {
        let mut raw = Vec::new();
        data.read_to_end(&mut raw).map_err(io)?;
        let held = raw.len() as u64;
        check_size(&shape, needed, held)?;
        (decode(descr, &raw), held)
    };
    check_size(&shape, needed, held)?;
    Ok(Array {
        shape,
        data: numbers,
    })
}

/// A `.npy` image's shape, dtype, the offset of its data and the bytes of data its shape
/// needs (the data itself unchecked).
fn header(bytes: &[u8]) -> Result<(Vec<usize>, &str, usize, usize), String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy array (no \\x93NUMPY magic)".into());
    }
    let (major, _minor) = (bytes[6], bytes[7]);
    let (header_len, start): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(format!("unsupported .npy version {major}")),
    };
    let end = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or("truncated: the header runs past the end of the data")?;
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|_| "header is not text")?;
    let descr = dict_str(header, "descr").ok_or("header has no 'descr'")?;
    if dict_raw(header, "fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err(
            "Fortran-ordered arrays are not supported (save with np.ascontiguousarray)".into(),
        );
    }
    let shape = parse_shape(dict_raw(header, "shape").ok_or("header has no 'shape'")?)?;
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("shape overflows")?;
    let width = match descr {
        "|u1" | "<u1" | "u1" => 1,
        "<i4" | "<f4" => 4,
        "<i8" | "<f8" => 8,
        d => {
            return Err(format!(
                "unsupported dtype '{d}' (float32, float64, uint8, int32 or int64, little-endian)"
            ))
        }
    };
    let needed = count.checked_mul(width).ok_or("shape overflows")?;
    Ok((shape, descr, end, needed))
}

/// The `.npy` image of a float32 array of `shape` (C order).
pub fn write_f32(shape: &[usize], values: &[f32]) -> Vec<u8> {
    write(
        shape,
        "<f4",
        &bytemuck_le(values.iter().map(|v| v.to_le_bytes())),
    )
}

/// The `.npy` image of an int64 array of `shape`.
pub fn write_i64(shape: &[usize], values: &[i64]) -> Vec<u8> {
    write(
        shape,
        "<i8",
        &bytemuck_le(values.iter().map(|v| v.to_le_bytes())),
    )
}

fn bytemuck_le<const N: usize>(it: impl Iterator<Item = [u8; N]>) -> Vec<u8> {
    it.flatten().collect()
}

fn write(shape: &[usize], descr: &str, data: &[u8]) -> Vec<u8> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64.
    let total = (10 + header.len() + 1).next_multiple_of(64);
    header.push_str(&" ".repeat(total - 10 - header.len() - 1));
    header.push('\n');
    let mut out = Vec::with_capacity(total + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// The text after `'key':` in the header dict, trimmed.
fn dict_raw<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[at + key.len() + 2..];
    Some(rest.trim_start().strip_prefix(':')?.trim_start())
}

/// A quoted string value of the header dict.
fn dict_str<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let raw = dict_raw(header, key)?;
    let q = raw.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = &raw[1..];
    Some(&body[..body.find(q)?])
}

/// `(60000, 28, 28)`, `(5,)` or `()`.
fn parse_shape(raw: &str) -> Result<Vec<usize>, String> {
    let inner = raw
        .strip_prefix('(')
        .and_then(|r| r.split_once(')'))
        .map(|(i, _)| i)
        .ok_or("header's shape is not a tuple")?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| format!("header's shape has a bad dimension '{s}'"))
        })
        .collect()
}
