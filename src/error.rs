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

    /// Operands whose shapes do not fit together.
    #[error("{op}: shape mismatch: {msg}")]
    Shape { op: &'static str, msg: String },

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

    /// A bad value of the field `field` (e.g. `train.lr`).
    pub fn invalid(field: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            msg: msg.into(),
        }
    }
}
