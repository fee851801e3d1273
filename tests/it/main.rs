//! gpunn's integration tests: one binary, one module per area.
//!
//! - `common`: the comparison helper (`assert_close`) and the GPU gate (`gpu_or_skip`).
//! - `cpu_reference`: worked examples, finite differences and convergence of the reference.
//! - `cpu_fast`: the fast CPU engine against the reference, step by step and epoch by epoch.
//! - `cli`: the real binary, run as a user would.
//! - `gpu_*`: every kernel and whole steps against the CPU reference (`gpu_kernels`: gather,
//!   loss, bias and metrics alone; `gpu_matmul`: the matmul family; `gpu_step`: whole steps; `gpu_gang`: runs trained together, bit for bit as alone).
//! - `data_*`: dataset readers (`data_idx`), downloading (`data_fetch`), finding
//!   (`data_locate`) and splitting (`data_split`) datasets.
//! - `metrics`: confusion matrix and classification report against hand-worked numbers.
//! - `checkpoint`: safetensors save/load, atomic writes, and every kind of broken file.
//! - `plots`: learning-curve and confusion-matrix PNGs.
//! - `digit`: PNG/JPEG images to MNIST-style 28x28 input, and unreadable files.
//! - `optim`: the reference optimizer by hand and against torch.optim trajectories;
//!   `optim_engines`: every engine against it, state carried over, NaN in the state, the fast
//!   path flushing subnormals.
//! - `run_config`: the run description: defaults, TOML, errors, metrics, checkpoints, resume.
//! - `shaders`: ids generated into the WGSL, every dumped variant compiles.
//! - `train_loop`: the loop alone with a scripted engine (early stopping); `plateau`: its
//!   scikit-learn stopping rules.
//! - `weights`: per-sample weights of the loss, the reference against repeated rows, the fast
//!   CPU path and the GPU against the reference.
//! - `tables`: CSV and NumPy readers, scaling, holdout and folds, regression metrics, engines
//!   on regression, autoencoders and layers without bias; `tables_cli`: the same through the
//!   binary, with a corpus of broken files.
//! - `sweep`: grids, failures among good configurations, resuming, shards and merging, and
//!   one configuration alone and in a sweep.
//! - `explain`: decision boundaries, predictions, PCA and t-SNE maps, `gpunn embed`.
//! - `readme`: every figure the README states, by running its command.
//! - `faults`: broken inputs through the binary, divergence, resume, kills during saves, GPU faults.

mod checkpoint;
mod cli;
mod common;
mod cpu_fast;
mod cpu_reference;
mod data_fetch;
mod data_idx;
mod data_locate;
mod data_split;
mod digit;
mod explain;
mod faults;
mod gpu_big_table;
mod gpu_gang;
mod gpu_kernels;
mod gpu_matmul;
mod gpu_optim_kernels;
mod gpu_step;
mod metrics;
mod mnist_cli;
mod optim;
mod optim_engines;
mod plateau;
mod plots;
mod readme;
mod run_config;
mod settings;
mod shaders;
mod sweep;
mod tables;
mod tables_cli;
mod train_loop;
mod weights;
