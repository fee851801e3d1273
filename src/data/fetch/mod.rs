//! `gpunn data fetch mnist|fashion-mnist`: downloads the four `.gz` files of a dataset and
//! verifies each against its published SHA-256 sum.
//!
//! A file is streamed into `<dest>/<name>.<pid>.part` while it is hashed; only when the byte count
//! and the sum are right is it synced and renamed to its final name, so a file with the final
//! name is always a verified one. A file already present with the right sum is not downloaded
//! again. Each file tries the mirrors in order; a mirror that fails (HTTP error, connection
//! cut short, wrong sum) passes the file to the next, and when all fail the error lists every
//! mirror's failure.
//!
//! # Where the sums come from
//!
//! MNIST: the SHA-256 sums of the four original `.gz` files from yann.lecun.com, which the
//! mirrors below serve unchanged. They are the ones used, for example, in tensorflow/haskell
//! (`tensorflow-mnist-input-data/Setup.hs`), and in many other downloaders (sizes 9,912,422,
//! 28,881, 1,648,877 and 4,542 bytes).
//!
//! Fashion-MNIST: the sums of Zalando's files as served from the S3 bucket and the GitHub
//! repository, as used in FluxML/Flux.jl (`src/data/fashion-mnist.jl`). They were also checked
//! here against the MD5 sums in Zalando's README, through Debian's `dataset-fashion-mnist`
//! package: Debian ships the same deflate streams with a normalised gzip header (no file name,
//! mtime 2020-06-05), and restoring the original header (FNAME and mtime 2017-08-31 10:50:06
//! UTC for the train files, 10:50:27 for the test files) reproduces files with both the
//! README's MD5 sums and these SHA-256 sums. Debian's own files therefore have other sums;
//! [`super::mnist::locate`] finds them in `/usr/share/datasets/fashion-mnist` directly.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use sha2::{Digest, Sha256};

mod download;

use download::{download_file, Agents};

use crate::error::{Error, Result};

/// One file of a dataset and its SHA-256 sum (lower-case hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpec {
    /// The file name on the mirrors and on disk, e.g. `train-images-idx3-ubyte.gz`.
    pub name: String,
    pub sha256: String,
}

impl FileSpec {
    pub fn new(name: impl Into<String>, sha256: impl Into<String>) -> Self {
        FileSpec {
            name: name.into(),
            sha256: sha256.into(),
        }
    }
}

/// A downloadable dataset: its name, the base URLs it is served from (each ending in `/`; a
/// file's URL is the base followed by its name), and its four files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetSpec {
    pub name: String,
    pub mirrors: Vec<String>,
    pub files: [FileSpec; 4],
}

static MNIST: LazyLock<DatasetSpec> = LazyLock::new(|| DatasetSpec {
    name: "mnist".into(),
    mirrors: vec![
        "https://ossci-datasets.s3.amazonaws.com/mnist/".into(),
        "https://storage.googleapis.com/cvdf-datasets/mnist/".into(),
    ],
    files: [
        FileSpec::new(
            "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        FileSpec::new(
            "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
        FileSpec::new(
            "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ),
        FileSpec::new(
            "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
    ],
});

static FASHION_MNIST: LazyLock<DatasetSpec> = LazyLock::new(|| DatasetSpec {
    name: "fashion-mnist".into(),
    mirrors: vec![
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/".into(),
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/".into(),
    ],
    files: [
        FileSpec::new(
            "train-images-idx3-ubyte.gz",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        ),
        FileSpec::new(
            "train-labels-idx1-ubyte.gz",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        ),
        FileSpec::new(
            "t10k-images-idx3-ubyte.gz",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        ),
        FileSpec::new(
            "t10k-labels-idx1-ubyte.gz",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        ),
    ],
});

/// The names [`spec`] knows.
pub const FETCHABLE: [&str; 2] = ["mnist", "fashion-mnist"];

/// The download description of `mnist` or `fashion-mnist`.
pub fn spec(name: &str) -> Result<&'static DatasetSpec> {
    match name {
        "mnist" => Ok(&MNIST),
        "fashion-mnist" => Ok(&FASHION_MNIST),
        _ => Err(Error::invalid(
            "data fetch",
            format!(
                "unknown dataset '{name}': can download {}",
                FETCHABLE.join(", ")
            ),
        )),
    }
}

/// Where `gpunn data fetch <name>` puts a dataset, and one of the places
/// [`super::mnist::locate`] looks: `$XDG_DATA_HOME/gpunn/<name>` (when that is an absolute
/// path), else `$HOME/.local/share/gpunn/<name>`, else `./data/<name>`.
pub fn default_dest(name: &str) -> PathBuf {
    let abs = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(xdg) = abs("XDG_DATA_HOME") {
        xdg.join("gpunn").join(name)
    } else if let Some(home) = abs("HOME") {
        home.join(".local/share/gpunn").join(name)
    } else {
        Path::new("data").join(name)
    }
}

/// How [`fetch`] downloads.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// Base URLs to use instead of the spec's (each ending in `/`), e.g. a local mirror.
    pub mirrors: Option<Vec<String>>,
    /// Show a progress bar per file on stderr (never when stderr is not a terminal).
    pub progress: bool,
    /// The longest wait for a connection, and then for each read of the body; a stalled
    /// mirror fails after this long and the next one is tried. `None`: wait forever.
    pub timeout: Option<Duration>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            mirrors: None,
            progress: true,
            timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// What [`fetch`] did with one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Present with the right sum; not downloaded.
    AlreadyPresent,
    /// Downloaded and verified.
    Downloaded,
}

/// The most bytes accepted for one file: the largest real one is 26 MB, so anything near this
/// is a wrong URL or a hostile server, and it must not fill the disk.
const MAX_FILE_BYTES: u64 = 256 << 20;

/// Downloads every file of `spec` that `dest` does not already hold verified, and returns
/// `dest` (created if needed). See [`fetch_report`] for what was done with each file.
pub fn fetch(spec: &DatasetSpec, dest: &Path, opts: &FetchOptions) -> Result<PathBuf> {
    fetch_report(spec, dest, opts)?;
    Ok(dest.to_path_buf())
}

/// [`fetch`], returning what happened to each file of `spec.files`, in order.
pub fn fetch_report(
    spec: &DatasetSpec,
    dest: &Path,
    opts: &FetchOptions,
) -> Result<Vec<(String, Outcome)>> {
    fs::create_dir_all(dest).map_err(|e| Error::io(dest, e))?;
    let mirrors: Vec<String> = opts.mirrors.clone().unwrap_or_else(|| spec.mirrors.clone());
    if mirrors.is_empty() {
        return Err(Error::invalid(
            "data fetch",
            format!("no mirror to download {} from", spec.name),
        ));
    }
    let agents = Agents::new(opts.timeout);
    let mut done = Vec::with_capacity(spec.files.len());
    for file in &spec.files {
        let path = dest.join(&file.name);
        if path.is_file() {
            let actual = sha256_file(&path)?;
            if actual.eq_ignore_ascii_case(&file.sha256) {
                done.push((file.name.clone(), Outcome::AlreadyPresent));
                continue;
            }
            log::warn!(
                "{}: SHA-256 is {actual}, expected {}; downloading it again",
                path.display(),
                file.sha256
            );
        }
        download_file(&agents, &mirrors, file, dest, opts.progress)?;
        done.push((file.name.clone(), Outcome::Downloaded));
    }
    Ok(done)
}

/// The SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        };
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
