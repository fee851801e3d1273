//! CSV tables: comma-separated numbers, one sample per line, with an optional header row
//! (taken as one when its first line is not all numbers). Strict: every row has the header's
//! number of columns, every cell is a number, every feature finite, every label a class; errors
//! name the file, the line and the column.
//!
//! The file is read in blocks of whole lines and each round of blocks is parsed on every core
//! (the `csv` crate splits records, `fast-float2` reads the numbers), straight into the f32
//! columns a run needs: features `[rows][features]` and targets `[rows][targets]`. Nothing of
//! the whole file is held but those (no text, no f64 copy), and the first error in the file's
//! order is the one reported.

use super::MAX_CLASSES;
use crate::{Error, Result};
use rayon::prelude::*;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::mpsc;

/// Bytes of whole lines parsed as one block.
const BLOCK: usize = 4 << 20;

/// What a column holds for the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// An input of the network: a finite number.
    Feature,
    /// A class label: a non-negative integer below [`MAX_CLASSES`].
    Label,
    /// A value to regress: a finite number.
    Value,
    /// Not read.
    Skip,
}

/// A CSV file's first line: the column names if it is a header, and the number of columns.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub names: Option<Vec<String>>,
    pub cols: usize,
}

impl Header {
    /// How errors name column `c` (0-based) where a number was expected: `'b'` or `index 1`.
    fn quoted(&self, c: usize) -> String {
        match self.names.as_ref().and_then(|h| h.get(c)) {
            Some(name) => format!("'{name}'"),
            None => format!("index {c}"),
        }
    }

    /// How errors name column `c` (0-based) whose value is wrong: `column 2 ('b')` or `column 2`.
    pub fn column(&self, c: usize) -> String {
        match self.names.as_ref().and_then(|h| h.get(c)) {
            Some(name) => format!("column {} ('{name}')", c + 1),
            None => format!("column {}", c + 1),
        }
    }
}

/// The columns read: features and targets of every row, in the file's order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns {
    pub rows: usize,
    /// `[rows][Feature columns]`
    pub features: Vec<f32>,
    /// `[rows][Label and Value columns]`, in column order.
    pub targets: Vec<f32>,
}

/// The first non-empty line of `text` (after a byte-order mark): header or first row.
pub fn header_of(text: &[u8]) -> std::result::Result<Header, String> {
    let text = text.strip_prefix("\u{feff}".as_bytes()).unwrap_or(text);
    let mut reader = reader(text);
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) if blank(&record) => continue,
            Ok(true) => break,
            Ok(false) => return Err("empty file: no rows".into()),
            Err(e) => return Err(e.to_string()),
        }
    }
    let cells: Vec<&[u8]> = record.iter().collect();
    let is_header = cells.iter().any(|c| number(c).is_none());
    Ok(Header {
        names: is_header.then(|| {
            cells
                .iter()
                .map(|c| String::from_utf8_lossy(c.trim_ascii()).into_owned())
                .collect()
        }),
        cols: cells.len(),
    })
}

/// Reads the header of the CSV file at `path` (its first 64 KiB at most).
pub fn read_header(path: &Path) -> Result<Header> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = Vec::new();
    let mut r = BufReader::new(file).take(64 << 10);
    // Whole lines only: up to the last line break of what was read (or all of a short file).
    r.read_to_end(&mut head).map_err(|e| Error::io(path, e))?;
    header_of(&head).map_err(|m| Error::bad_file(path, m))
}

/// Reads the columns `roles` (one per column of `header`) of the file at `path`, with a
/// progress bar on a terminal for files that take a while. A thread reads blocks of whole
/// lines while the cores parse the blocks read before, into buffers reused from round to round.
pub fn read(path: &Path, header: &Header, roles: &[Role]) -> Result<Columns> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let threads = rayon::current_num_threads().max(1);
    let (full_tx, full_rx) = mpsc::sync_channel::<Result<(usize, Vec<u8>)>>(threads);
    let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        scope.spawn(move || read_blocks(path, file, &full_tx, &empty_rx));
        // `full_rx` is dropped when this returns, which ends the reader, on errors too.
        parse_blocks(path, size, header, roles, full_rx, empty_tx, threads)
    })
}

/// The reader: blocks of about [`BLOCK`] bytes ending at a line break, each with the line
/// number of its first line, until the end of the file or of the consumer.
fn read_blocks(
    path: &Path,
    file: std::fs::File,
    full: &mpsc::SyncSender<Result<(usize, Vec<u8>)>>,
    empty: &mpsc::Receiver<Vec<u8>>,
) {
    let mut input = BufReader::with_capacity(1 << 20, file);
    let mut line = 1;
    let mut first = true;
    loop {
        let mut block = empty
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BLOCK + (64 << 10)));
        block.clear();
        let read = (&mut input)
            .take(BLOCK as u64)
            .read_to_end(&mut block)
            // Complete the last line, so that blocks split between lines.
            .and_then(|_| input.read_until(b'\n', &mut block));
        if let Err(e) = read {
            let _ = full.send(Err(Error::io(path, e)));
            return;
        }
        if std::mem::take(&mut first) && block.starts_with("\u{feff}".as_bytes()) {
            block.drain(..3);
        }
        if block.is_empty() {
            return;
        }
        let lines = memchr::memchr_iter(b'\n', &block).count();
        if full.send(Ok((line, block))).is_err() {
            return;
        }
        line += lines;
    }
}

/// The consumer: rounds of a block per thread, parsed in parallel, appended in order.
fn parse_blocks(
    path: &Path,
    size: u64,
    header: &Header,
    roles: &[Role],
    full: mpsc::Receiver<Result<(usize, Vec<u8>)>>,
    empty: mpsc::Sender<Vec<u8>>,
    threads: usize,
) -> Result<Columns> {
    let bar = crate::io::byte_progress(size, "reading");
    let mut out = Columns::default();
    let mut parts = vec![Columns::default(); threads];
    let mut header_pending = header.names.is_some();
    let mut first = true;
    loop {
        let mut round = Vec::with_capacity(threads);
        while round.len() < threads {
            match full.recv() {
                Ok(block) => round.push(block?),
                Err(_) => break,
            }
        }
        if round.is_empty() {
            break;
        }
        if std::mem::take(&mut first) {
            reserve(path, size, &round[0].1, roles, &mut out)?;
        }
        let skip_header = std::mem::take(&mut header_pending);
        let results: Vec<std::result::Result<(), String>> = round
            .par_iter()
            .zip(parts.par_iter_mut())
            .enumerate()
            .map(|(i, ((at, block), part))| {
                parse_block(block, *at, header, roles, skip_header && i == 0, part)
            })
            .collect();
        for (result, part) in results.into_iter().zip(&parts) {
            result.map_err(|m| Error::bad_file(path, m))?;
            out.rows += part.rows;
            out.features.extend_from_slice(&part.features);
            out.targets.extend_from_slice(&part.targets);
        }
        for (_, block) in round {
            bar.inc(block.len() as u64);
            let _ = empty.send(block);
        }
    }
    bar.finish_and_clear();
    if out.rows == 0 {
        return Err(Error::bad_file(path, "no data rows after the header"));
    }
    Ok(out)
}

/// Refuses a file whose numbers will not fit in memory, estimating its rows from its first
/// block's; else reserves room for them (a little over: untouched room costs no memory).
fn reserve(path: &Path, size: u64, first: &[u8], roles: &[Role], out: &mut Columns) -> Result<()> {
    let lines = memchr::memchr_iter(b'\n', first).count().max(1);
    let rows = (size as f64 * lines as f64 / first.len().max(1) as f64) as u64;
    let width = roles.iter().filter(|r| **r != Role::Skip).count() as u64;
    let what = format!("its ~{rows} rows of {width} numbers as f32");
    crate::io::check_fits_in_memory(path, &what, rows * width * 4)?;
    let n_features = roles.iter().filter(|r| **r == Role::Feature).count();
    let rows = (rows as usize).saturating_add(rows as usize / 16);
    out.features.reserve(rows * n_features);
    out.targets.reserve(rows * (width as usize - n_features));
    Ok(())
}

/// Parses CSV text with the columns `roles` (all features when `None`): the header and the
/// columns; the error is the message without the file name.
pub fn parse(text: &str, roles: Option<&[Role]>) -> std::result::Result<(Header, Columns), String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let header = header_of(text.as_bytes())?;
    let all = vec![Role::Feature; header.cols];
    let roles = roles.unwrap_or(&all);
    let mut cols = Columns::default();
    parse_block(
        text.as_bytes(),
        1,
        &header,
        roles,
        header.names.is_some(),
        &mut cols,
    )?;
    if cols.rows == 0 {
        return Err("no data rows after the header".into());
    }
    Ok((header, cols))
}

/// Records as the csv crate splits them; cells are trimmed where they are read ([`number`]).
fn reader(block: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(block)
}

/// An empty line, or one of spaces.
fn blank(record: &csv::ByteRecord) -> bool {
    record.len() == 1 && record[0].trim_ascii().is_empty()
}

/// The rows of `block`, whose first line is line `first_line` of the file, into `out` (its
/// buffers reused); `skip_header`: its first non-empty line is the header.
fn parse_block(
    block: &[u8],
    first_line: usize,
    header: &Header,
    roles: &[Role],
    mut skip_header: bool,
    out: &mut Columns,
) -> std::result::Result<(), String> {
    out.rows = 0;
    out.features.clear();
    out.targets.clear();
    let mut reader = reader(block);
    let mut record = csv::ByteRecord::new();
    let (mut line, mut counted) = (first_line, 0);
    loop {
        let more = reader
            .read_byte_record(&mut record)
            .map_err(|e| format!("line {}: {e}", first_line))?;
        if !more {
            break;
        }
        if blank(&record) {
            continue;
        }
        // The csv crate's line count leaves out blank lines: count the line breaks before the
        // record instead.
        let mut at = record.position().map_or(counted, |p| p.byte() as usize);
        // Its position can be that of blank lines before it: the record starts at its first
        // non-blank byte.
        while block.get(at).is_some_and(|b| b.is_ascii_whitespace()) {
            at += 1;
        }
        line += memchr::memchr_iter(b'\n', &block[counted..at.max(counted)]).count();
        counted = at.max(counted);
        if skip_header {
            skip_header = false;
            continue;
        }
        if record.len() != header.cols {
            return Err(format!(
                "line {line}: {} columns, but the {} has {}",
                record.len(),
                if header.names.is_some() {
                    "header"
                } else {
                    "first row"
                },
                header.cols
            ));
        }
        for (c, (cell, role)) in record.iter().zip(roles).enumerate() {
            if *role == Role::Skip {
                continue;
            }
            let Some(v) = number(cell) else {
                return Err(format!(
                    "line {line}, column {} ({}): '{}' is not a number",
                    c + 1,
                    header.quoted(c),
                    String::from_utf8_lossy(cell.trim_ascii())
                ));
            };
            let at = || format!("line {line}, {}", header.column(c));
            match role {
                Role::Feature if !v.is_finite() => {
                    return Err(format!("{}: {v} is not a finite number", at()))
                }
                Role::Value if !v.is_finite() => {
                    return Err(format!("{}: target {v} is not a finite number", at()))
                }
                Role::Label if !(v >= 0.0 && v.fract() == 0.0 && v < MAX_CLASSES as f64) => {
                    return Err(format!(
                        "{}: class label {v} is not a non-negative integer below {MAX_CLASSES}",
                        at()
                    ))
                }
                Role::Feature => out.features.push(v as f32),
                _ => out.targets.push(v as f32),
            }
        }
        out.rows += 1;
    }
    Ok(())
}

/// A cell as a number (`nan` and `inf` included: they are refused where the column is a
/// feature, a label or a value, naming it).
fn number(cell: &[u8]) -> Option<f64> {
    let cell = cell.trim_ascii();
    let cell = cell
        .strip_prefix(b"\"")
        .and_then(|t| t.strip_suffix(b"\""))
        .unwrap_or(cell)
        .trim_ascii();
    fast_float2::parse::<f64, _>(cell).ok()
}
