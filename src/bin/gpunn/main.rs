//! The `gpunn` command line. It maps flags onto library types and prints; the library owns
//! every behaviour. The only place that uses `anyhow`: library errors arrive as `gpunn::Error`
//! and are printed once, with their chain and with fields named by their flags, before a
//! non-zero exit.

mod bench;
mod data;
mod embed;
mod eval;
mod export;
mod features;
mod pictures;
mod predict;
mod printer;
mod setting_flags;
mod shaders;
mod step;
mod sweep;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "gpunn",
    version,
    about = "Train multilayer perceptrons on the GPU, proven against a CPU reference"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a network and report loss and accuracy (or MSE and R²) per epoch.
    Train(Box<train::TrainArgs>),
    /// A grid of training runs (train's flags with alternatives, or --config grid.toml),
    /// with K-fold cross-validation, trained concurrently and ranked.
    Sweep(Box<sweep::SweepArgs>),
    /// Training steps on a network from a JSON file, showing every number of a worked exercise.
    Step(step::StepArgs),
    /// Accuracy, confusion matrix and per-class precision/recall/F1 (or MSE, MAE, R²) of a
    /// saved model.
    Eval(eval::EvalArgs),
    /// Write a saved model as an ONNX model (input scaling and output units included) for
    /// ONNX Runtime and other tools without gpunn.
    Export(export::ExportArgs),
    /// Classify digit images (PNG or JPEG) with a saved model.
    Predict(predict::PredictArgs),
    /// Write the activations of one hidden layer of a saved model for its training and test
    /// sets as an .npz that `gpunn train --data` reads (e.g. an autoencoder's bottleneck).
    Features(features::FeaturesArgs),
    /// 2-D maps (t-SNE or PCA) of a saved model's hidden layers and output for its training,
    /// validation and test sets, coloured by class.
    Embed(embed::EmbedArgs),
    /// Training throughput per device on MNIST-shaped data, side by side.
    Bench(bench::BenchArgs),
    /// List every GPU adapter with the limits and features that matter here.
    Devices,
    /// Datasets: where they are found, and downloading them.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Write the expanded WGSL of every kernel variant, as it is compiled.
    Shaders(shaders::ShadersArgs),
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so println! into a closed pipe (`gpunn train | head -2`) would
    // panic; with the default action the process ends quietly, as grep's does.
    #[cfg(unix)]
    // SAFETY: called first thing, before any thread exists; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // wgpu's GL backend logs an error for every EGL display it cannot open while probing
    // adapters; that is noise unless the user asks for logs with RUST_LOG.
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,wgpu_hal=off,wgpu_core=off"),
    )
    .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => train::run(*a),
        Command::Step(a) => step::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Embed(a) => embed::run(a),
        Command::Sweep(a) => sweep::run(*a),
        Command::Features(a) => features::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Export(a) => export::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Devices => devices(),
        Command::Data(c) => data::run(c),
        Command::Shaders(a) => shaders::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_message(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, with run-description fields named by their flags.
fn one_message(e: &anyhow::Error) -> String {
    let mut msg = match e.downcast_ref::<gpunn::Error>() {
        Some(gpunn::Error::Invalid { field, msg }) => {
            format!("{}: {msg}", gpunn::run::settings::flags_of(field))
        }
        _ => e.to_string(),
    };
    // The chain once: gpunn's I/O errors already show their cause (`path: os error`), which
    // `{e:#}` would print a second time.
    for cause in e.chain().skip(1).map(|c| c.to_string()) {
        if !msg.contains(&cause) {
            msg = format!("{msg}: {cause}");
        }
    }
    msg
}

/// Parses a flag's value with the type's `FromStr`, naming the flag in the error.
fn parse_flag<T: std::str::FromStr<Err = String>>(flag: &str, v: &str) -> anyhow::Result<T> {
    v.parse::<T>()
        .map_err(|e| gpunn::Error::invalid(flag, e).into())
}

/// Opens the engine for a device, telling the user in one line when `auto` fell back to the
/// CPU.
fn open_engine(
    device: gpunn::gpu::DeviceKind,
    params: &gpunn::model::Params,
    batch: usize,
) -> anyhow::Result<Box<dyn gpunn::engine::Engine>> {
    let opened = gpunn::backend::open(device, params, batch)?;
    if let Some(note) = opened.fallback {
        eprintln!("note: {note}");
    }
    Ok(opened.engine)
}

fn devices() -> anyhow::Result<()> {
    let adapters = gpunn::gpu::list_adapters();
    if adapters.is_empty() {
        println!("no GPU adapters found (install your GPU's driver, or mesa-vulkan-drivers for the software adapter); --device cpu still works");
    }
    for (i, a) in adapters.iter().enumerate() {
        println!("[{i}] {a}");
    }
    Ok(())
}
