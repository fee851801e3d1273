//! The `gpunn` command line. The only place that uses `anyhow`: library errors arrive as
//! `gpunn::Error` and are printed once, with their chain, before a non-zero exit.

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use gpunn::backend;
use gpunn::gpu::GpuEngine;
use gpunn::data::{synth, Dataset};
use gpunn::engine::Engine;
use gpunn::model::{parse_sizes, Activation, Init, Loss, MlpSpec, Params};
use gpunn::train::{self, EpochRecord, Observer, TrainConfig};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "gpunn", version, about = "Train multilayer perceptrons on the GPU, proven against a CPU reference")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a network and report loss and accuracy per epoch.
    Train(Box<TrainArgs>),
    /// One SGD step on a network from a JSON file, showing every number of a worked exercise.
    Step(StepArgs),
    /// List every GPU adapter with the limits and features that matter here.
    Devices,
}

#[derive(Args)]
struct TrainArgs {
    /// Dataset: xor, linear or circles.
    #[arg(long, default_value = "circles")]
    dataset: String,
    /// All layer sizes including input and output, e.g. 2,5,1 or 784,128,64,10.
    #[arg(long)]
    layers: Option<String>,
    /// Hidden-layer activation (one for all), or a comma list: one per hidden layer, or one per layer including the output.
    #[arg(long, default_value = "tanh")]
    activation: String,
    /// Loss: mse, half-mse, bce or ce.
    #[arg(long)]
    loss: Option<String>,
    /// Initializer: zeros, constant[:V], uniform, xavier-normal, xavier-uniform, he-normal, normal[:STD].
    #[arg(long, default_value = "xavier-uniform")]
    init: String,
    /// Learning rate.
    #[arg(long, default_value_t = 0.5)]
    lr: f32,
    /// Samples per SGD step.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    /// Seed for initialisation, shuffling and synthetic data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Synthetic sets: number of samples.
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// circles: radius of the inner circle relative to the outer one.
    #[arg(long, default_value_t = 0.4)]
    factor: f32,
    /// circles: std of the Gaussian noise added to each coordinate.
    #[arg(long, default_value_t = 0.05)]
    noise: f32,
    /// auto (a hardware GPU, else the CPU), vulkan, metal, dx12, gl, software or cpu.
    #[arg(long, default_value = "auto")]
    device: String,
}

#[derive(Args)]
struct StepArgs {
    /// The network as JSON: {"layers": [{"weights": [[..]], "bias": [..], "activation": "sigmoid"}, ..]}.
    #[arg(long)]
    net: PathBuf,
    /// One sample as comma-separated numbers; samples separated by ';' form a batch.
    #[arg(long, allow_hyphen_values = true)]
    input: String,
    /// Targets in the same form; with --loss ce, one class index per sample.
    #[arg(long, allow_hyphen_values = true)]
    target: String,
    #[arg(long, default_value_t = 0.1)]
    lr: f32,
    /// mse, half-mse, bce or ce.
    #[arg(long, default_value = "half-mse")]
    loss: String,
    /// auto, vulkan, metal, dx12, gl, software or cpu.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    // wgpu's GL backend logs an error for every EGL display it cannot open while probing
    // adapters; that is noise unless the user asks for logs with RUST_LOG.
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,wgpu_hal=off,wgpu_core=off"),
    )
    .init();
    // The Vulkan loader complains on stderr when XDG_RUNTIME_DIR is unset; give it one.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => cmd_train(*a),
        Command::Step(a) => cmd_step(a),
        Command::Devices => cmd_devices(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse_flag<T: std::str::FromStr<Err = String>>(flag: &str, v: &str) -> Result<T> {
    v.parse::<T>().map_err(|e| gpunn::Error::bad_arg(flag, e).into())
}

/// Hidden activations from `--activation`, and the output one from the loss unless the list
/// names one per layer.
fn activations(arg: &str, depth: usize, loss: Loss) -> Result<Vec<Activation>> {
    let list: Vec<Activation> = arg
        .split(',')
        .map(|s| parse_flag("--activation", s))
        .collect::<Result<_>>()?;
    let hidden = depth - 1;
    let mut acts = match list.len() {
        n if n == depth => return Ok(list),
        1 => vec![list[0]; hidden],
        n if n == hidden => list,
        n => anyhow::bail!(gpunn::Error::bad_arg(
            "--activation",
            format!("{n} activations given for {hidden} hidden layers (give 1, {hidden} or {depth})")
        )),
    };
    acts.push(loss.default_output());
    Ok(acts)
}

fn synthetic(a: &TrainArgs) -> Result<Dataset> {
    Ok(match a.dataset.as_str() {
        "xor" => synth::xor(),
        "linear" => synth::linear(a.samples, a.seed),
        "circles" => synth::circles(a.samples, a.factor, a.noise, a.seed),
        other => anyhow::bail!(gpunn::Error::bad_arg(
            "--dataset",
            format!("unknown dataset '{other}' (expected xor, linear or circles)")
        )),
    })
}

/// Opens the engine for `--device`, telling the user when `auto` falls back to the CPU.
fn make_engine(device: &str, params: &Params, batch: usize) -> Result<Box<dyn Engine>> {
    let opened = backend::open(backend::parse_device(device)?, params, batch)?;
    if let Some(note) = opened.fallback {
        eprintln!("note: {note}");
    }
    Ok(opened.engine)
}

struct Printer;

impl Observer for Printer {
    fn epoch_end(&mut self, r: &EpochRecord) {
        let mut line = format!(
            "epoch {:>4}  loss {:.6}  accuracy {:6.2}%",
            r.epoch,
            r.train_loss,
            100.0 * r.train_accuracy
        );
        if let (Some(l), Some(a)) = (r.val_loss, r.val_accuracy) {
            line.push_str(&format!("  val loss {l:.6}  val accuracy {:6.2}%", 100.0 * a));
        }
        line.push_str(&format!("  {:.0} samples/s", r.samples_per_sec));
        println!("{line}");
    }
}

fn cmd_train(a: TrainArgs) -> Result<()> {
    let data = synthetic(&a)?;
    let default_layers = format!("{},8,1", data.dim);
    let sizes = parse_sizes(a.layers.as_deref().unwrap_or(&default_layers))?;
    let outputs = *sizes.last().unwrap_or(&1);
    let loss: Loss = match &a.loss {
        Some(l) => parse_flag("--loss", l)?,
        None if outputs == 1 => Loss::Bce,
        None => Loss::Ce,
    };
    let depth = sizes.len().saturating_sub(1).max(1);
    let spec = MlpSpec::new(sizes, activations(&a.activation, depth, loss)?, loss)?;
    let init: Init = parse_flag("--init", &a.init)?;
    let params = Params::init(&spec, init, a.seed)?;
    let mut engine = make_engine(&a.device, &params, a.batch_size)?;
    let cfg = TrainConfig {
        epochs: a.epochs,
        batch_size: a.batch_size,
        lr: a.lr,
        seed: a.seed,
        early_stopping: None,
        steps_per_chunk: 64,
    };
    println!(
        "training {} on {} ({} samples) with {}",
        spec.sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-"),
        data.name,
        data.len(),
        engine.describe()
    );
    train::train(engine.as_mut(), &data, None, &cfg, &mut Printer)?;
    let eval = engine.evaluate(&data)?;
    println!("final: loss {:.6}  accuracy {:.2}%", eval.loss, 100.0 * eval.accuracy);
    Ok(())
}

fn cmd_step(a: StepArgs) -> Result<()> {
    let loss: Loss = parse_flag("--loss", &a.loss)?;
    if !(a.lr.is_finite() && a.lr >= 0.0) {
        anyhow::bail!(gpunn::Error::bad_arg("--lr", format!("must be a number >= 0, got {}", a.lr)));
    }
    let params = gpunn::netfile::load(&a.net, loss)?;
    let (x, batch) = gpunn::step::parse_batch(&a.input, params.inputs(), "--input")?;
    let targets = gpunn::step::parse_targets(&a.target, loss, params.outputs(), batch)?;
    let (ctx, fallback) = backend::context(backend::parse_device(&a.device)?)?;
    if let Some(note) = fallback {
        eprintln!("note: {note}");
    }
    let result = match ctx {
        None => gpunn::step::step_cpu(&params, &x, batch, &targets, a.lr),
        Some(ctx) => GpuEngine::new(ctx, &params, batch, true)?.step_report(&x, &targets, a.lr)?,
    };
    if a.json {
        println!("{}", gpunn::step::to_json(&result));
    } else {
        print!("{}", gpunn::step::to_table(&params, &x, &result, a.lr));
    }
    Ok(())
}


fn cmd_devices() -> Result<()> {
    let adapters = gpunn::gpu::list_adapters();
    if adapters.is_empty() {
        println!("no GPU adapters found (install your GPU's driver, or mesa-vulkan-drivers for the software adapter); --device cpu still works");
    }
    for (i, a) in adapters.iter().enumerate() {
        println!("[{i}] {a}");
    }
    Ok(())
}
