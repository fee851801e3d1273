//! File helpers shared by every writer and reader: atomic writes (checkpoints, metrics,
//! sweeps' results) and reads capped at a size decided before anything is allocated.

use crate::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary files of concurrent writes within one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Removes the temporary file when dropped, unless it has been renamed into place.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// An I/O error on `target` that says which step failed (the temporary file's name included).
fn io_err(target: &Path, what: String, e: io::Error) -> Error {
    Error::io(target, io::Error::new(e.kind(), format!("{what}: {e}")))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename
/// over `path`, fsync of the directory. On error the temporary file is removed and a previous
/// file at `path` is intact; a reader never sees a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::bad_file(path, "cannot write: the path does not name a file"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp_name = format!(
        ".{}.tmp-{}-{}",
        file_name.to_string_lossy(),
        std::process::id(),
        n
    );
    let tmp_path = dir.join(tmp_name);

    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp_path)
        .map_err(|e| io_err(path, format!("creating {}", tmp_path.display()), e))?;
    // From here on the guard removes the temporary file on every early return.
    let mut guard = TempFile {
        path: tmp_path,
        armed: true,
    };
    file.write_all(bytes)
        .map_err(|e| io_err(path, format!("writing {}", guard.path.display()), e))?;
    file.sync_all()
        .map_err(|e| io_err(path, format!("syncing {}", guard.path.display()), e))?;
    drop(file);
    fs::rename(&guard.path, path).map_err(|e| {
        io_err(
            path,
            format!("renaming {} over it", guard.path.display()),
            e,
        )
    })?;
    guard.armed = false;
    sync_dir(&dir);
    Ok(())
}

/// Makes a rename in `dir` durable. Best effort: not every platform or file system can open or
/// sync a directory, and the data itself is already on disk.
pub fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Reads the whole regular file at `path`, refusing one larger than `max` bytes before
/// allocating (`what` names the kind of file in that error: `checkpoint is N bytes, more than
/// the M-byte limit`).
pub fn read_capped(path: &Path, max: u64, what: &str) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::bad_file(path, "not a regular file"));
    }
    let len = meta.len();
    if len > max {
        return Err(Error::bad_file(
            path,
            format!("{what} is {len} bytes, more than the {max}-byte limit"),
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // `take` caps the read even if the file grows after the size check.
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(Error::bad_file(
            path,
            format!("{what} grew past the {max}-byte limit while being read"),
        ));
    }
    Ok(bytes)
}

/// [`read_capped`] for a UTF-8 text file.
pub fn read_text_capped(path: &Path, max: u64, what: &str) -> Result<String> {
    let bytes = read_capped(path, max, what)?;
    String::from_utf8(bytes).map_err(|e| {
        Error::bad_file(
            path,
            format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        )
    })
}

/// `value` as a JSON value whose numbers read as they were written: an `f32` setting of 0.1
/// stays 0.1. (`serde_json::json!` and `to_value` widen an `f32` to the `f64`
/// 0.10000000149011612; its text form is the shortest that reads back as the same `f32`, so
/// going through the text keeps what the user wrote, as the TOML and `runs/*.json` do.)
pub fn json_as_written<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Value {
    serde_json::to_string(value)
        .and_then(|text| serde_json::from_str(&text))
        .unwrap_or(serde_json::Value::Null)
}

/// Files smaller than this read in well under a second: no progress bar.
const PROGRESS_FROM_BYTES: u64 = 64 << 20;

/// A progress bar over `size` bytes being `what` (`reading`), drawn on stderr when it is a
/// terminal and the file is large enough to take a while; hidden otherwise.
pub fn byte_progress(size: u64, what: &str) -> indicatif::ProgressBar {
    progress_bar(what, Some(size), size >= PROGRESS_FROM_BYTES)
}

/// A bar of bytes done (of `len`, when known: else a spinner) with their rate, labelled
/// `what`: drawn on stderr when `show` and stderr is a terminal, hidden otherwise. Downloads
/// and reads of big files show the same bar.
pub fn progress_bar(what: &str, len: Option<u64>, show: bool) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use std::io::IsTerminal;
    let target = if show && io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(len, target);
    let template = if len.is_some() {
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}, eta {eta}"
    } else {
        "{msg} {spinner} {bytes} {bytes_per_sec}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// The memory the system can give this process without swapping (`MemAvailable` of
/// /proc/meminfo), where it says.
pub fn memory_available() -> Option<u64> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses to hold `bytes` of `what` read from `path` when the system has less memory
/// available, before anything is allocated (rather than being killed half-way).
pub fn check_fits_in_memory(path: &Path, what: &str, bytes: u64) -> Result<()> {
    match memory_available() {
        Some(free) if bytes > free => Err(Error::bad_file(
            path,
            format!(
                "{what} need {:.1} GiB in memory, but {:.1} GiB are available",
                bytes as f64 / (1u64 << 30) as f64,
                free as f64 / (1u64 << 30) as f64
            ),
        )),
        _ => Ok(()),
    }
}
