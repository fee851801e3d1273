//! Reading an IDX file strictly, raw or gzip (one or several members), from a file or bytes:
//! the header checked against the kind of file and the data checked against the header
//! before anything is allocated beyond a bounded reserve.

use super::{GZIP_MAGIC, IMAGES_MAGIC, LABELS_MAGIC, MAX_RESERVE};
use crate::error::{Error, Result};
use flate2::bufread::GzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

#[derive(Clone, Copy)]
pub(super) enum Kind {
    Images,
    Labels,
}

impl Kind {
    pub(super) fn magic(self) -> u32 {
        match self {
            Kind::Images => IMAGES_MAGIC,
            Kind::Labels => LABELS_MAGIC,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Images => "IDX images",
            Kind::Labels => "IDX labels",
        }
    }

    /// Header length in bytes: the magic and one u32 per dimension.
    pub(super) fn header_len(self) -> u64 {
        match self {
            Kind::Images => 16,
            Kind::Labels => 8,
        }
    }
}

/// An open IDX file, positioned after whatever has been read so far.
pub(super) struct Source<'a> {
    path: &'a Path,
    kind: Kind,
    reader: Box<dyn Read + 'a>,
    /// Gzip-compressed: sizes are only known by decompressing.
    gz: bool,
    /// Length of the file on disk; `None` for a pipe or device, whose length is unknown.
    file_len: Option<u64>,
}

impl<'a> Source<'a> {
    pub(super) fn open(path: &'a Path, kind: Kind) -> Result<Self> {
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
    pub(super) fn from_bytes(name: &'a Path, kind: Kind, bytes: &'a [u8]) -> Result<Self> {
        Self::from_reader(name, kind, bytes, Some(bytes.len() as u64))
    }

    /// A source over `file`, `file_len` bytes long when known; sniffs the gzip magic.
    pub(super) fn from_reader(
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

    pub(super) fn bad(&self, msg: impl Into<String>) -> Error {
        Error::bad_file(self.path, msg)
    }

    /// Turns a read error into ours. Inside a gzip stream, data errors mean a corrupt or cut
    /// short file, not an operating-system failure.
    pub(super) fn read_err(&self, e: io::Error) -> Error {
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
    pub(super) fn header<const N: usize>(&mut self) -> Result<[u32; N]> {
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
    pub(super) fn holder(&self) -> &'static str {
        if self.gz {
            "the decompressed data holds"
        } else {
            "the file holds"
        }
    }

    pub(super) fn truncated(&self, what: &str, declared: u64, actual: u64) -> Error {
        self.bad(format!(
            "truncated: header declares {what} = {declared} bytes of data, \
             but {} only {actual} bytes after the {}-byte header",
            self.holder(),
            self.kind.header_len()
        ))
    }

    /// Reads exactly `declared` data bytes and checks that nothing follows them.
    pub(super) fn payload(&mut self, declared: u64, what: &str) -> Result<Vec<u8>> {
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
pub(super) struct GzMembers<R: BufRead> {
    /// `None` once the file has ended (or failed).
    member: Option<GzDecoder<R>>,
}

impl<R: BufRead> GzMembers<R> {
    pub(super) fn new(r: R) -> Self {
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
pub(super) struct AfterGzip(u8);

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
pub(super) fn describe_magic(magic: u32) -> String {
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
pub(super) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
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

pub(super) fn has_gz_suffix(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// The names [`find_file`] tries, in order.
pub(super) fn candidates(stem: &str) -> Vec<String> {
    let mut names = vec![stem.to_string(), format!("{stem}.gz")];
    if let Some(i) = stem.rfind("-idx") {
        let dotted = format!("{}.{}", &stem[..i], &stem[i + 1..]);
        names.push(format!("{dotted}.gz"));
        names.insert(2, dotted);
    }
    names
}
