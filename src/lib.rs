//! gpunn trains multilayer perceptrons on the GPU with WGSL compute shaders run through wgpu,
//! and proves its numbers right against a plain-Rust CPU reference.
//!
//! # Training from Rust
//! What `gpunn train` does, as a library user writes it (the whole program is
//! `examples/train_mnist.rs`): a run description, then one call, [`run::train_run`], that loads
//! its data, fills in every default, opens the best device, trains with an observer (saving a
//! checkpoint after every epoch) and tests.
//!
//! ```no_run
//! use gpunn::run::{self, RunObserver, RunSpec, TrainOptions};
//! use gpunn::train::{EpochRecord, Observer};
//!
//! struct Progress;
//! impl RunObserver for Progress {}
//! impl Observer for Progress {
//!     fn epoch_end(&mut self, r: &EpochRecord) {
//!         println!("epoch {}: loss {:.4}", r.epoch, r.train_loss);
//!     }
//! }
//!
//! # fn main() -> gpunn::Result<()> {
//! let spec = RunSpec::from_toml_str("[data]\ndataset = \"mnist-sample\"\n[train]\nepochs = 3\n")?;
//! let options = TrainOptions {
//!     save: Some("model.safetensors".into()),
//!     ..Default::default() // the run's device (a GPU, else the CPU); a new run
//! };
//! let trained = run::train_run(&spec, options, &mut Progress)?;
//! // trained.run.to_toml() is what `gpunn train --dry-run` prints
//! let test = trained.test.as_ref().unwrap();
//! println!("test accuracy {:.2}%", 100.0 * test.evaluation.accuracy);
//! # Ok(())
//! # }
//! ```
//!
//! # Modules, from the description down to the kernels
//! Dependencies point one way: [`run`] → [`train`] → [`engine`] ← ([`cpu`], [`gpu`]) →
//! [`model`].
//! The model knows no engine, the engines know no command line, and the binary
//! (`src/bin/gpunn/`) only maps flags onto these types and prints.
//!
//! - [`run`]: the run description ([`run::RunSpec`]), `resolve` (the one home of the
//!   defaults) and the resolved [`run::Run`] that checkpoints and metrics record.
//! - [`model`]: the network spec (sizes, activations, loss, init) and its parameters.
//! - [`data`]: IDX datasets, synthetic toy sets, splits.
//! - [`train`]: the loop (epochs, shuffles, validation, early stopping); [`engine`]: the
//!   interface a backend implements; [`backend`]: choosing one for a device.
//! - [`cpu`]: the reference mathematics in plain loops (the specification of every GPU kernel)
//!   and the fast CPU path.
//! - [`gpu`]: the wgpu context and one module per kernel family with its WGSL.
//! - [`checkpoint`]: safetensors save/load; [`io`]: atomic writes and capped reads.
//! - [`metrics`]: confusion matrix, precision/recall/F1; [`plots`]: learning curves and
//!   confusion matrices; [`digit`]: images to MNIST-style input.
//! - [`step`]: the single worked step of `gpunn step` (and its network files); [`mod@bench`]: throughput.

pub mod backend;
pub mod bench;
pub mod checkpoint;
pub mod cpu;
pub mod data;
pub mod digit;
pub mod engine;
pub mod error;
pub mod explain;
pub mod export;
pub mod features;
pub mod gpu;
pub mod io;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod plots;
pub mod run;
pub mod step;
pub mod sweep;
pub mod tensorboard;
pub mod train;

pub use error::{Dims, Error, Result};
