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

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

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

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Kind {
    Images,
    Labels,
}

impl Kind {
    fn magic(self) -> u32 {
        match self {
            Kind::Images => IMAGES_MAGIC,
            Kind::Labels => LABELS_MAGIC,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Images => "IDX images",
            Kind::Labels => "IDX labels",
        }
    }

    /// Header length in bytes: the magic and one u32 per dimension.
    fn header_len(self) -> u64 {
        match self {
            Kind::Images => 16,
            Kind::Labels => 8,
        }
    }
}

/// An open IDX file, positioned after whatever has been read so far.
struct Source<'a> {
    path: &'a Path,
    kind: Kind,
    reader: Box<dyn Read + 'a>,
    /// Gzip-compressed: sizes are only known by decompressing.
    gz: bool,
    /// Length of the file on disk; `None` for a pipe or device, whose length is unknown.
    file_len: Option<u64>,
}

impl<'a> Source<'a> {
    fn open(path: &'a Path, kind: Kind) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            return Err(Error::bad_file(
                path,
                format!("is a directory, expected an {} file", kind.name()),
            ));
        }
        let file_len = meta.is_file().then_some(meta.len());
        Self::from_reader(path, kind, BufReader::new(file), file_len)
    }

    /// A source over bytes in memory, named `name` in errors.
    fn from_bytes(name: &'a Path, kind: Kind, bytes: &'a [u8]) -> Result<Self> {
        Self::from_reader(name, kind, bytes, Some(bytes.len() as u64))
    }

    /// A source over `file`, `file_len` bytes long when known; sniffs the gzip magic.
    fn from_reader(
        path: &'a Path,
        kind: Kind,
        mut file: impl BufRead + 'a,
        file_len: Option<u64>,
    ) -> Result<Self> {
        if file_len == Some(0) {
            return Err(Error::bad_file(
                path,
                format!("empty file (0 bytes), expected an {} file", kind.name()),
            ));
        }
        let mut magic = [0u8; 2];
        let n = read_full(&mut file, &mut magic).map_err(|e| Error::io(path, e))?;
        let gz = magic[..n] == GZIP_MAGIC;
        if !gz && has_gz_suffix(path) {
            return Err(Error::bad_file(
                path,
                "not a gzip file: the name ends in .gz but the file does not start with the gzip magic 1f 8b",
            ));
        }
        // Put the two sniffed bytes back in front of the rest of the file.
        let raw = io::Cursor::new(magic).take(n as u64).chain(file);
        let reader: Box<dyn Read + 'a> = if gz {
            Box::new(GzMembers::new(raw))
        } else {
            Box::new(raw)
        };
        Ok(Source {
            path,
            kind,
            reader,
            gz,
            file_len,
        })
    }

    fn bad(&self, msg: impl Into<String>) -> Error {
        Error::bad_file(self.path, msg)
    }

    /// Turns a read error into ours. Inside a gzip stream, data errors mean a corrupt or cut
    /// short file, not an operating-system failure.
    fn read_err(&self, e: io::Error) -> Error {
        if !self.gz {
            return Error::io(self.path, e);
        }
        if e.get_ref().is_some_and(|inner| inner.is::<AfterGzip>()) {
            return self.bad(format!(
                "trailing data after the end of the gzip stream: {e}"
            ));
        }
        match e.kind() {
            io::ErrorKind::UnexpectedEof => self.bad(format!(
                "gzip stream cut short: the compressed file ends early ({e})"
            )),
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
                self.bad(format!("damaged gzip file: {e}"))
            }
            _ => Error::io(self.path, e),
        }
    }

    /// Reads and checks the magic, then returns the `N` dimensions that follow it.
    fn header<const N: usize>(&mut self) -> Result<[u32; N]> {
        let len = self.kind.header_len() as usize;
        debug_assert_eq!(len, 4 * (N + 1));
        let mut buf = [0u8; 16];
        let n = read_full(&mut self.reader, &mut buf[..len]).map_err(|e| self.read_err(e))?;
        if n < 4 {
            return Err(self.bad(format!(
                "truncated header: {} {n} bytes, an {} header is {len}",
                self.holder(),
                self.kind.name()
            )));
        }
        let magic = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let want = self.kind.magic();
        if magic != want {
            return Err(self.bad(format!(
                "wrong magic number {magic} (0x{magic:08x}{}), expected {want} (0x{want:08x}, {})",
                describe_magic(magic),
                describe_magic(want).trim_start_matches(", "),
            )));
        }
        if n < len {
            return Err(self.bad(format!(
                "truncated header: {} {n} bytes, an {} header is {len}",
                self.holder(),
                self.kind.name()
            )));
        }
        let mut dims = [0u32; N];
        for (i, d) in dims.iter_mut().enumerate() {
            let b = &buf[4 + 4 * i..8 + 4 * i];
            *d = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        }
        Ok(dims)
    }

    /// Where the bytes counted in a size error are: gzip sizes are after decompression.
    fn holder(&self) -> &'static str {
        if self.gz {
            "the decompressed data holds"
        } else {
            "the file holds"
        }
    }

    fn truncated(&self, what: &str, declared: u64, actual: u64) -> Error {
        self.bad(format!(
            "truncated: header declares {what} = {declared} bytes of data, \
             but {} only {actual} bytes after the {}-byte header",
            self.holder(),
            self.kind.header_len()
        ))
    }

    /// Reads exactly `declared` data bytes and checks that nothing follows them.
    fn payload(&mut self, declared: u64, what: &str) -> Result<Vec<u8>> {
        if let (false, Some(len)) = (self.gz, self.file_len) {
            // The file length settles both checks before anything is read or allocated.
            let actual = len.saturating_sub(self.kind.header_len());
            if actual < declared {
                return Err(self.truncated(what, declared, actual));
            }
            if actual > declared {
                let extra = actual - declared;
                return Err(self.bad(format!(
                    "{extra} {} of trailing data after the {declared} bytes the header declares ({what})",
                    if extra == 1 { "byte" } else { "bytes" }
                )));
            }
        }
        if usize::try_from(declared).is_err() {
            let msg = format!("header declares {what}, too large for this machine");
            return Err(self.bad(msg));
        }
        // Reserve what the header declares only where the file can back it: a raw file's length
        // was checked above; a gzip file gets at most 8x its compressed size (MNIST's ratio is
        // about 5), a pipe 1 MiB, and nothing more than MAX_RESERVE. Beyond that the buffer
        // grows as data arrives.
        let backed = match (self.gz, self.file_len) {
            (false, Some(_)) => declared,
            (true, Some(len)) => len.saturating_mul(8),
            (_, None) => 1 << 20,
        };
        let reserve = declared.min(backed).min(MAX_RESERVE as u64) as usize;
        let mut data = Vec::with_capacity(reserve);
        // `take` bounds the read; the Vec grows only as bytes actually arrive.
        (&mut self.reader)
            .take(declared)
            .read_to_end(&mut data)
            .map_err(|e| self.read_err(e))?;
        if (data.len() as u64) < declared {
            return Err(self.truncated(what, declared, data.len() as u64));
        }
        // One more byte must not exist. For gzip this also reads the stream's trailer, so a
        // bad checksum or a stream cut inside the trailer is caught here.
        let mut probe = [0u8; 1];
        if read_full(&mut self.reader, &mut probe).map_err(|e| self.read_err(e))? > 0 {
            return Err(self.bad(format!(
                "trailing data after the {declared} bytes the header declares ({what})"
            )));
        }
        Ok(data)
    }
}

/// Decodes a gzip file member by member (gzip(1) allows concatenated members) and refuses
/// anything after the last member that is not the start of another one. flate2's
/// `MultiGzDecoder` would report such bytes as a bad or cut-short header, which misleads.
struct GzMembers<R: BufRead> {
    /// `None` once the file has ended (or failed).
    member: Option<GzDecoder<R>>,
}

impl<R: BufRead> GzMembers<R> {
    fn new(r: R) -> Self {
        GzMembers {
            member: Some(GzDecoder::new(r)),
        }
    }
}

impl<R: BufRead> Read for GzMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(mut member) = self.member.take() else {
                return Ok(0);
            };
            match member.read(buf) {
                Ok(0) => {}
                Ok(n) => {
                    self.member = Some(member);
                    return Ok(n);
                }
                Err(e) => {
                    self.member = Some(member);
                    return Err(e);
                }
            }
            // The member is complete and its CRC and length have been checked. The bytes after
            // it, if any, must be another member.
            let mut rest = member.into_inner();
            match rest.fill_buf()?.first() {
                None => return Ok(0),
                Some(&b) if b == GZIP_MAGIC[0] => self.member = Some(GzDecoder::new(rest)),
                Some(&b) => {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, AfterGzip(b)));
                }
            }
        }
    }
}

/// A byte after the last gzip member that does not start another one.
#[derive(Debug)]
struct AfterGzip(u8);

impl std::fmt::Display for AfterGzip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "byte 0x{:02x} does not start another gzip member",
            self.0
        )
    }
}

impl std::error::Error for AfterGzip {}

/// What a magic number says about a file, for error messages: `", IDX u8 with 1 dimension"`.
fn describe_magic(magic: u32) -> String {
    let [z0, z1, ty, dims] = magic.to_be_bytes();
    if z0 != 0 || z1 != 0 {
        return ", not an IDX file: an IDX magic starts with two zero bytes".to_string();
    }
    let ty = match ty {
        0x08 => "u8",
        0x09 => "i8",
        0x0B => "i16",
        0x0C => "i32",
        0x0D => "f32",
        0x0E => "f64",
        _ => return ", not an IDX file: unknown element type".to_string(),
    };
    let plural = if dims == 1 { "" } else { "s" };
    let guess = match magic {
        LABELS_MAGIC => ": labels",
        IMAGES_MAGIC => ": images",
        _ => "",
    };
    format!(", IDX {ty} with {dims} dimension{plural}{guess}")
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn has_gz_suffix(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// The names [`find_file`] tries, in order.
fn candidates(stem: &str) -> Vec<String> {
    let mut names = vec![stem.to_string(), format!("{stem}.gz")];
    if let Some(i) = stem.rfind("-idx") {
        let dotted = format!("{}.{}", &stem[..i], &stem[i + 1..]);
        names.push(format!("{dotted}.gz"));
        names.insert(2, dotted);
    }
    names
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

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
