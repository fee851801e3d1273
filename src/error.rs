//! The one error type of the library. Every variant says what went wrong and where:
//! the file, the layer, the op and its shapes, or the field of the run description.

use std::path::PathBuf;

/// Everything that can go wrong inside gpunn. The binary prints the chain once and exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system error on a named file.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file whose contents are malformed (IDX, net JSON, checkpoint, image).
    #[error("{path}: {msg}")]
    BadFile { path: PathBuf, msg: String },

    /// A network description that does not make a valid MLP; `layer` is 1-based in messages.
    #[error("layer {layer}: {msg}")]
    BadLayer { layer: usize, msg: String },

    /// A bad value in a run description or another option, named by its field (`train.lr`,
    /// `data.digits`, `model.layers`). The command line maps a field to its flag when it prints.
    #[error("{field}: {msg}")]
    Invalid { field: String, msg: String },

    /// An operand whose shape does not fit the op: `operand` is `got` where `expected` fits (a
    /// buffer or an index list: where at most or at least `expected` fits, as `operand` says).
    #[error("{op}: {operand} is {got}, expected {expected}")]
    Shape {
        op: &'static str,
        operand: String,
        expected: Dims,
        got: Dims,
    },

    /// An op asked for something it does not do: an operand it lacks or does not take, a size
    /// past what the device or the kernel's indexing can address.
    #[error("{op}: {msg}")]
    Unsupported { op: &'static str, msg: String },

    /// No adapter, a failed device request, or a device that was lost.
    #[error("GPU: {0}")]
    Gpu(String),

    /// A wgpu validation or out-of-memory error, with what we were doing when it happened.
    #[error("GPU error while {context}: {msg}")]
    GpuValidation { context: String, msg: String },

    /// Training produced a NaN or infinite loss or optimizer state.
    #[error("training diverged at epoch {epoch}, step {step}: loss is {loss} (or a parameter or the optimizer's state became NaN or infinite); try a lower learning rate (--lr)")]
    Diverged {
        epoch: usize,
        step: usize,
        loss: f32,
    },

    /// A download that failed or did not verify.
    #[error("download {url}: {msg}")]
    Download { url: String, msg: String },
}

/// The dimensions of a shape, shown as `2×784`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dims(pub Vec<u64>);

impl Dims {
    /// Dimensions from any integers.
    pub fn of<T: Copy + Into<u64>>(dims: &[T]) -> Dims {
        Dims(dims.iter().map(|&d| d.into()).collect())
    }
}

impl From<&[usize]> for Dims {
    fn from(dims: &[usize]) -> Dims {
        Dims(dims.iter().map(|&d| d as u64).collect())
    }
}

impl<const N: usize> From<[usize; N]> for Dims {
    fn from(dims: [usize; N]) -> Dims {
        Dims(dims.iter().map(|&d| d as u64).collect())
    }
}

impl std::fmt::Display for Dims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|d| d.to_string()).collect();
        f.write_str(&parts.join("×"))
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A malformed file.
    pub fn bad_file(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::BadFile {
            path: path.into(),
            msg: msg.into(),
        }
    }

    /// `operand` of `op` is `got` where `expected` fits.
    pub fn shape(
        op: &'static str,
        operand: impl Into<String>,
        expected: impl Into<Dims>,
        got: impl Into<Dims>,
    ) -> Self {
        Error::Shape {
            op,
            operand: operand.into(),
            expected: expected.into(),
            got: got.into(),
        }
    }

    /// `op` does not do what was asked.
    pub fn unsupported(op: &'static str, msg: impl Into<String>) -> Self {
        Error::Unsupported {
            op,
            msg: msg.into(),
        }
    }

    /// A bad value of the field `field` (e.g. `train.lr`).
    pub fn invalid(field: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            msg: msg.into(),
        }
    }
}
