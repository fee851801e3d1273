//! CSV tables: comma-separated numbers, one sample per line, with an optional header row
//! (taken as one when its first line is not all numbers). Strict: every row has the header's
//! number of columns, every cell is a number; errors name the file, the line and the column.

use super::{Array, Numbers};
use crate::{Error, Result};
use std::path::Path;

/// The largest CSV file read (a table of a few million numbers).
pub const MAX_BYTES: u64 = 2 << 30;

/// A CSV file's numbers, `[rows][cols]`, and its header's column names (if it has one).
#[derive(Clone, Debug, PartialEq)]
pub struct CsvTable {
    pub header: Option<Vec<String>>,
    pub array: Array,
    /// The file's line number (1-based) of each row.
    pub lines: Vec<usize>,
}

/// Reads a CSV file (see the module docs).
pub fn read(path: &Path) -> Result<CsvTable> {
    let text = crate::io::read_text_capped(path, MAX_BYTES, "CSV file")?;
    parse(&text).map_err(|msg| Error::bad_file(path, msg))
}

/// Parses CSV text; the error is the message without the file name.
pub fn parse(text: &str) -> std::result::Result<CsvTable, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((first_no, first)) = lines.next() else {
        return Err("empty file: no rows".into());
    };
    let cells: Vec<&str> = first.split(',').map(str::trim).collect();
    let header = cells.iter().any(|c| number(c).is_none());
    let cols = cells.len();
    let mut values = Vec::new();
    let mut line_of = Vec::new();
    let mut push_row = |line_no: usize, cells: &[&str]| -> std::result::Result<(), String> {
        if cells.len() != cols {
            return Err(format!(
                "line {line_no}: {} columns, but the {} has {cols}",
                cells.len(),
                if header { "header" } else { "first row" }
            ));
        }
        for (c, cell) in cells.iter().enumerate() {
            match number(cell) {
                Some(v) => values.push(v),
                None => {
                    return Err(format!(
                        "line {line_no}, column {} ({}): '{cell}' is not a number",
                        c + 1,
                        column_name(header.then_some(&cells_of_header(first)), c)
                    ))
                }
            }
        }
        line_of.push(line_no);
        Ok(())
    };
    if !header {
        push_row(first_no, &cells)?;
    }
    for (no, line) in lines {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        push_row(no, &cells)?;
    }
    let rows = line_of.len();
    if rows == 0 {
        return Err("no data rows after the header".into());
    }
    Ok(CsvTable {
        header: header.then(|| cells.iter().map(|c| unquote(c).to_string()).collect()),
        array: Array {
            shape: vec![rows, cols],
            data: Numbers::F64(values),
        },
        lines: line_of,
    })
}

fn cells_of_header(first: &str) -> Vec<String> {
    first
        .split(',')
        .map(|c| unquote(c.trim()).to_string())
        .collect()
}

fn column_name(header: Option<&Vec<String>>, c: usize) -> String {
    match header.and_then(|h| h.get(c)) {
        Some(name) => format!("'{name}'"),
        None => format!("index {c}"),
    }
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(s)
}

/// A cell as a number: Rust's float syntax (which also reads `nan` and `inf`: they are
/// rejected later, naming the column, where the column is a feature or a label).
fn number(cell: &str) -> Option<f64> {
    unquote(cell).trim().parse::<f64>().ok()
}
