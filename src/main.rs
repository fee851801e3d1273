//! The `gpunn` command line. The only place that uses `anyhow`: library errors arrive as
//! `gpunn::Error` and are printed once, with their chain, before a non-zero exit.

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use gpunn::backend;
use gpunn::checkpoint::{self, ModelMeta};
use gpunn::data::{mnist, synth, Dataset};
use gpunn::engine::Engine;
use gpunn::gpu::GpuEngine;
use gpunn::metrics::{self, ConfusionMatrix};
use gpunn::model::{parse_sizes, Activation, Init, Loss, MlpSpec, Params};
use gpunn::train::{self, EpochRecord, LrSchedule, Observer, TrainConfig};
use gpunn::{digit, plots};
use std::path::PathBuf;
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
    /// Train a network and report loss and accuracy per epoch.
    Train(Box<TrainArgs>),
    /// One SGD step on a network from a JSON file, showing every number of a worked exercise.
    Step(StepArgs),
    /// Accuracy, confusion matrix and per-class precision/recall/F1 of a saved model.
    Eval(EvalArgs),
    /// Classify digit images (PNG or JPEG) with a saved model.
    Predict(PredictArgs),
    /// Training throughput per device on MNIST-shaped data, side by side.
    Bench(BenchArgs),
    /// List every GPU adapter with the limits and features that matter here.
    Devices,
    /// Datasets: where they are found, and downloading them.
    #[command(subcommand)]
    Data(DataCommand),
}

#[derive(Args)]
struct BenchArgs {
    /// Comma list of devices to measure, each in its own process (so peak memory is its own).
    #[arg(long, default_value = "cpu,auto")]
    device: String,
    #[arg(long, default_value = "784,128,64,10")]
    layers: String,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Timed steps per device (after a warm-up of a tenth as many, at least 5).
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// One JSON object per device.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Download mnist or fashion-mnist from the public mirrors and verify their SHA-256 sums.
    Fetch {
        /// mnist or fashion-mnist.
        name: String,
        /// Where to put the files [default: the user data directory, where training looks].
        #[arg(long)]
        dest: Option<PathBuf>,
        /// Mirror base URLs to use instead of the built-in ones (repeatable).
        #[arg(long = "mirror")]
        mirrors: Vec<String>,
    },
    /// Show where each named dataset is found, or where gpunn looked.
    List,
}

#[derive(Args)]
struct TrainArgs {
    /// mnist, fashion-mnist, mnist-sample, xor, linear or circles [default: the full MNIST if
    /// found, else the bundled mnist-sample].
    #[arg(long)]
    dataset: Option<String>,
    /// A directory with the four IDX files (train-images-idx3-ubyte, ... raw or .gz).
    #[arg(long, conflicts_with = "dataset")]
    data: Option<PathBuf>,
    /// Keep two digits and relabel them 0/1 for a binary task, e.g. 3,6.
    #[arg(long)]
    digits: Option<String>,
    /// All layer sizes including input and output [default: 784,128,64,10 for images (one
    /// output with --digits), 2,8,1 for the synthetic sets].
    #[arg(long)]
    layers: Option<String>,
    /// Hidden-layer activation (one for all), or a comma list: one per hidden layer, or one per
    /// layer including the output.
    #[arg(long, default_value = "relu")]
    activation: String,
    /// mse, half-mse, bce or ce [default: bce with one output, else ce].
    #[arg(long)]
    loss: Option<String>,
    /// zeros, constant[:V], uniform, xavier-normal, xavier-uniform, he-normal, normal[:STD]
    /// [default: he-normal for relu networks, else xavier-uniform].
    #[arg(long)]
    init: Option<String>,
    /// Learning rate [default: 0.1 for images, 0.5 for the synthetic sets].
    #[arg(long)]
    lr: Option<f32>,
    /// Learning-rate schedule: constant, or cosine (decays to 0 over the epochs) [default:
    /// cosine for images, constant for the synthetic sets].
    #[arg(long)]
    lr_schedule: Option<String>,
    /// Samples per SGD step [default: 32].
    #[arg(long)]
    batch_size: Option<usize>,
    /// [default: 10 for images, 100 for the synthetic sets]
    #[arg(long)]
    epochs: Option<usize>,
    /// Seed for initialisation, shuffling, the validation split and synthetic data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Hold out this fraction of the (shuffled) training set for validation [default: 0.1;
    /// 0 for sets of fewer than 50 samples, such as xor].
    #[arg(long)]
    val_split: Option<f32>,
    /// Stop when the validation loss has not improved for this many epochs; keep the best.
    #[arg(long, value_name = "PATIENCE")]
    early_stopping: Option<usize>,
    /// Write the history, test figures and confusion matrix as JSON.
    #[arg(long, value_name = "FILE.json")]
    metrics: Option<PathBuf>,
    /// Save the model (weights, spec and run state) as safetensors after every epoch and at
    /// the end, each time atomically: an interrupted or diverged run keeps its last good epoch.
    #[arg(long, value_name = "MODEL.safetensors")]
    save: Option<PathBuf>,
    /// Continue the run saved in this checkpoint from its last epoch, with its data, seed,
    /// learning rate and batch size; --epochs is the total to reach. Saves back to it unless
    /// --save names another file.
    #[arg(long, value_name = "CKPT", conflicts_with_all = ["dataset", "data", "digits", "layers", "init"])]
    resume: Option<PathBuf>,
    /// Write learning curves and the confusion matrix as PNG files into this directory.
    #[arg(long, value_name = "DIR")]
    plots: Option<PathBuf>,
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
struct EvalArgs {
    /// A model saved by `gpunn train --save`.
    #[arg(long)]
    model: PathBuf,
    /// mnist, fashion-mnist, mnist-sample, ... [default: the model's own dataset].
    #[arg(long)]
    dataset: Option<String>,
    /// A directory with the four IDX files.
    #[arg(long, conflicts_with = "dataset")]
    data: Option<PathBuf>,
    /// auto, vulkan, metal, dx12, gl, software or cpu.
    #[arg(long, default_value = "auto")]
    device: String,
}

#[derive(Args)]
struct PredictArgs {
    /// A model saved by `gpunn train --save` (28x28 input).
    #[arg(long)]
    model: PathBuf,
    /// PNG or JPEG images of single digits, any size and colour.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// One JSON object per line: {"file", "class", "probabilities"}.
    #[arg(long)]
    json: bool,
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
        Command::Eval(a) => cmd_eval(a),
        Command::Predict(a) => cmd_predict(a),
        Command::Bench(a) => cmd_bench(a),
        Command::Devices => cmd_devices(),
        Command::Data(c) => cmd_data(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The chain once: gpunn's I/O errors already show their cause (`path: os error`),
            // which `{e:#}` would print a second time.
            let mut msg = e.to_string();
            for cause in e.chain().skip(1).map(|c| c.to_string()) {
                if !msg.contains(&cause) {
                    msg = format!("{msg}: {cause}");
                }
            }
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn parse_flag<T: std::str::FromStr<Err = String>>(flag: &str, v: &str) -> Result<T> {
    v.parse::<T>()
        .map_err(|e| gpunn::Error::bad_arg(flag, e).into())
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
            format!(
                "{n} activations given for {hidden} hidden layers (give 1, {hidden} or {depth})"
            )
        )),
    };
    acts.push(loss.default_output());
    Ok(acts)
}

/// Opens the engine for `--device`, telling the user when `auto` falls back to the CPU.
fn make_engine(device: &str, params: &Params, batch: usize) -> Result<Box<dyn Engine>> {
    let opened = backend::open(backend::parse_device(device)?, params, batch)?;
    if let Some(note) = opened.fallback {
        eprintln!("note: {note}");
    }
    Ok(opened.engine)
}

/// Training and test sets, and how to describe them.
struct Data {
    train: Dataset,
    test: Option<Dataset>,
    /// e.g. `mnist-sample (bundled)`.
    description: String,
    /// The dataset's name for checkpoints (`mnist`, `circles`, a directory...).
    name: String,
    /// Images (28x28 and the like) rather than a synthetic 2-D set.
    images: bool,
    class_names: Vec<String>,
}

/// Loads `--data DIR` or `--dataset NAME` (the best MNIST when neither is given).
fn load_data(
    dataset: Option<&str>,
    dir: Option<&std::path::Path>,
    a: Option<&TrainArgs>,
) -> Result<Data> {
    let (samples, factor, noise, seed) = a.map_or((1000, 0.4, 0.05, 42), |a| {
        (a.samples, a.factor, a.noise, a.seed)
    });
    let synthetic = |train: Dataset, test: Dataset| {
        let name = train.name.clone();
        Ok(Data {
            description: format!("{name} ({} samples)", train.len()),
            class_names: mnist::class_names(&name, train.classes),
            name,
            train,
            test: Some(test),
            images: false,
        })
    };
    if dir.is_none() && matches!(dataset, Some("linear" | "circles")) {
        check_synthetic(dataset == Some("circles"), samples, factor, noise)?;
    }
    if let Some(dir) = dir {
        let (train, test) = mnist::load_dir(dir)?;
        let name = dir.display().to_string();
        return Ok(Data {
            description: format!("{name} ({} train, {} test)", train.len(), test.len()),
            class_names: mnist::class_names(&name, train.classes),
            name,
            train,
            test: Some(test),
            images: true,
        });
    }
    let (train, test, description, name) = match dataset {
        None => {
            let (train, test, what) = mnist::best_mnist()?;
            let name = if what.starts_with("mnist-sample") {
                "mnist-sample"
            } else {
                "mnist"
            };
            (train, test, what, name.to_string())
        }
        Some("xor") => return synthetic(synth::xor(), synth::xor()),
        Some("linear") => {
            return synthetic(
                synth::linear(samples, seed),
                synth::linear(samples, seed + 1),
            )
        }
        Some("circles") => {
            return synthetic(
                synth::circles(samples, factor, noise, seed),
                synth::circles(samples, factor, noise, seed + 1),
            )
        }
        Some(name) => {
            let (train, test) = mnist::load_named(name)?;
            (train, test, name.to_string(), name.to_string())
        }
    };
    Ok(Data {
        description: format!("{description} ({} train, {} test)", train.len(), test.len()),
        class_names: mnist::class_names(&name, train.classes),
        name,
        train,
        test: Some(test),
        images: true,
    })
}

/// The synthetic sets' flags: a sample count that fits in memory, a finite noise and factor.
fn check_synthetic(circles: bool, samples: usize, factor: f32, noise: f32) -> Result<()> {
    const MAX_SAMPLES: usize = 10_000_000;
    if !(1..=MAX_SAMPLES).contains(&samples) {
        anyhow::bail!(gpunn::Error::bad_arg(
            "--samples",
            format!("must be between 1 and {MAX_SAMPLES}, got {samples}")
        ));
    }
    if circles && !(noise.is_finite() && noise >= 0.0) {
        anyhow::bail!(gpunn::Error::bad_arg(
            "--noise",
            format!("must be a finite number >= 0, got {noise}")
        ));
    }
    if circles && !(0.0..1.0).contains(&factor) {
        anyhow::bail!(gpunn::Error::bad_arg(
            "--factor",
            format!("must be in [0, 1) (the inner circle's radius), got {factor}")
        ));
    }
    Ok(())
}

/// Parses `--digits 3,6`.
fn parse_digits(s: &str) -> Result<Vec<u32>> {
    s.split(',')
        .map(|t| {
            t.trim().parse::<u32>().map_err(|_| {
                gpunn::Error::bad_arg("--digits", format!("'{t}' is not a class label in '{s}'"))
                    .into()
            })
        })
        .collect()
}

/// Everything needed to continue a run, kept in the checkpoint's metadata (`run_state`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct RunState {
    dataset: Option<String>,
    data: Option<PathBuf>,
    digits: Option<String>,
    seed: u64,
    lr: f32,
    #[serde(default = "constant_schedule")]
    schedule: LrSchedule,
    batch_size: usize,
    val_split: f32,
    early_stopping: Option<usize>,
    samples: usize,
    factor: f32,
    noise: f32,
    epochs: usize,
    /// Every epoch run so far, resumed ones included.
    history: Vec<EpochRecord>,
}

fn constant_schedule() -> LrSchedule {
    LrSchedule::Constant
}

/// Saves the checkpoint after every good epoch.
struct Saver {
    path: PathBuf,
    meta: ModelMeta,
    state: RunState,
    /// Epochs from before a resume, prepended to the history.
    earlier: Vec<EpochRecord>,
}

impl Saver {
    fn save(&mut self, engine: &mut dyn Engine, epochs: &[EpochRecord]) -> gpunn::Result<()> {
        let params = engine.params()?;
        self.state.history = self.earlier.iter().chain(epochs).cloned().collect();
        let mut meta = self.meta.clone();
        meta.epoch = self.state.history.last().map_or(0, |r| r.epoch);
        let state = serde_json::to_string(&self.state).expect("run state serialises");
        meta.extra.insert("run_state".into(), state);
        checkpoint::save(&self.path, &params, &meta)
    }
}

/// A progress bar over each epoch's samples, one line per epoch, and the checkpoint.
struct Printer {
    bar: Option<indicatif::ProgressBar>,
    epochs: usize,
    saver: Option<Saver>,
}

impl Printer {
    fn new(epochs: usize, saver: Option<Saver>) -> Self {
        Printer {
            bar: None,
            epochs,
            saver,
        }
    }
}

impl Observer for Printer {
    fn progress(&mut self, epoch: usize, done: usize, total: usize) {
        let epochs = self.epochs;
        let bar = self.bar.get_or_insert_with(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "epoch {msg} [{bar:30}] {pos}/{len} samples ({per_sec}, eta {eta})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar
        });
        bar.set_message(format!("{epoch}/{epochs}"));
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    }

    fn epoch_end(&mut self, r: &EpochRecord) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let mut line = format!(
            "epoch {:>3}/{}  train loss {:.4}  acc {:6.2}%",
            r.epoch,
            self.epochs,
            r.train_loss,
            100.0 * r.train_accuracy
        );
        if let (Some(l), Some(a)) = (r.val_loss, r.val_accuracy) {
            line.push_str(&format!("  val loss {l:.4}  acc {:6.2}%", 100.0 * a));
        }
        line.push_str(&format!(
            "  {:>8.0} samples/s  {:.2} s",
            r.samples_per_sec, r.seconds
        ));
        println!("{line}");
    }

    /// After every good epoch: the checkpoint, so a later divergence or kill keeps this one.
    fn epoch_done(
        &mut self,
        history: &train::History,
        engine: &mut dyn Engine,
    ) -> gpunn::Result<()> {
        match &mut self.saver {
            Some(saver) => saver.save(engine, &history.epochs),
            None => Ok(()),
        }
    }
}

/// With `--resume`: the checkpoint's parameters and run state, applied to `a`.
fn resume(a: &mut TrainArgs) -> Result<Option<(Params, RunState)>> {
    let Some(path) = a.resume.clone() else {
        return Ok(None);
    };
    let (params, meta) = checkpoint::load(&path)?;
    let state: RunState = meta
        .extra
        .get("run_state")
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| {
            gpunn::Error::bad_file(
                &path,
                "no run state to resume from (was it saved by gpunn train --save?)",
            )
        })?;
    a.dataset = state.dataset.clone();
    a.data = state.data.clone();
    a.digits = state.digits.clone();
    a.seed = state.seed;
    a.lr = a.lr.or(Some(state.lr));
    if a.lr_schedule.is_none() {
        a.lr_schedule = Some(format!("{:?}", state.schedule).to_lowercase());
    }
    a.batch_size = Some(state.batch_size);
    a.val_split = Some(state.val_split);
    a.early_stopping = a.early_stopping.or(state.early_stopping);
    a.samples = state.samples;
    a.factor = state.factor;
    a.noise = state.noise;
    a.epochs = Some(a.epochs.unwrap_or(state.epochs));
    if a.save.is_none() {
        a.save = Some(path);
    }
    Ok(Some((params, state)))
}

fn cmd_train(mut a: TrainArgs) -> Result<()> {
    let resumed = resume(&mut a)?;
    let mut data = load_data(a.dataset.as_deref(), a.data.as_deref(), Some(&a))?;
    let mut digits = None;
    if let Some(d) = &a.digits {
        let d = parse_digits(d)?;
        data.train = mnist::keep_digits(&data.train, &d)?;
        data.test = data
            .test
            .as_ref()
            .map(|t| mnist::keep_digits(t, &d))
            .transpose()?;
        data.class_names = d
            .iter()
            .map(|c| {
                data.class_names
                    .get(*c as usize)
                    .cloned()
                    .unwrap_or_else(|| c.to_string())
            })
            .collect();
        data.description = format!("{} digits {:?} ({} train)", data.name, d, data.train.len());
        digits = Some(d);
    }
    let images = data.images;
    let val_split = a
        .val_split
        .unwrap_or(if data.train.len() < 50 { 0.0 } else { 0.1 });
    let (train, val) = mnist::split_validation(&data.train, val_split, a.seed)?;
    let binary = data.train.classes == 2;
    let outputs = if binary && (!images || digits.is_some()) {
        1
    } else {
        data.train.classes
    };
    let default_layers = if images {
        format!("{},128,64,{outputs}", data.train.dim)
    } else {
        format!("{},8,{outputs}", data.train.dim)
    };
    let sizes = match &resumed {
        Some((p, _)) => p.spec().sizes,
        None => parse_sizes(a.layers.as_deref().unwrap_or(&default_layers))?,
    };
    let out = *sizes.last().unwrap_or(&1);
    let loss: Loss = match (&resumed, &a.loss) {
        (Some((p, _)), _) => p.loss,
        (None, Some(l)) => parse_flag("--loss", l)?,
        (None, None) if out == 1 => Loss::Bce,
        (None, None) => Loss::Ce,
    };
    let depth = sizes.len().saturating_sub(1).max(1);
    let acts = match &resumed {
        Some((p, _)) => p.spec().activations,
        None => activations(&a.activation, depth, loss)?,
    };
    // A layer that cannot be (softmax inside, ce on one output...) comes from these flags.
    let spec = MlpSpec::new(sizes, acts, loss).map_err(|e| match e {
        gpunn::Error::BadLayer { .. } => {
            gpunn::Error::bad_arg("--activation/--loss", e.to_string())
        }
        e => e,
    })?;
    let init: Init = match &a.init {
        Some(i) => parse_flag("--init", i)?,
        None if spec.activations[..depth - 1]
            .iter()
            .all(|&x| x == Activation::Relu || x == Activation::LeakyRelu) =>
        {
            Init::HeNormal
        }
        None => Init::XavierUniform,
    };
    let cfg = TrainConfig {
        epochs: a.epochs.unwrap_or(if images { 10 } else { 100 }),
        batch_size: a.batch_size.unwrap_or(32),
        lr: a.lr.unwrap_or(if images { 0.1 } else { 0.5 }),
        schedule: match &a.lr_schedule {
            Some(s) => parse_flag("--lr-schedule", s)?,
            None if images => LrSchedule::Cosine,
            None => LrSchedule::Constant,
        },
        seed: a.seed,
        early_stopping: a.early_stopping,
        steps_per_chunk: 32,
        start_epoch: resumed
            .as_ref()
            .map_or(1, |(_, st)| st.history.last().map_or(0, |r| r.epoch) + 1),
    };
    cfg.validate()?;
    if cfg.early_stopping.is_some() && val.is_none() {
        anyhow::bail!(gpunn::Error::bad_arg(
            "--early-stopping",
            "needs a validation set: set --val-split above 0"
        ));
    }
    let (params, earlier) = match resumed {
        Some((p, st)) => {
            println!(
                "resuming after epoch {} of {}",
                cfg.start_epoch - 1,
                a.resume
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string())
            );
            (p, st.history)
        }
        None => (Params::init(&spec, init, a.seed)?, Vec::new()),
    };
    gpunn::cpu::engine::check_fits(&params, &train)?;
    let mut meta_extra = std::collections::BTreeMap::new();
    meta_extra.insert("class_names".to_string(), data.class_names.join(","));
    if let Some(d) = &digits {
        meta_extra.insert(
            "digits".to_string(),
            d.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    let side = (train.dim as f64).sqrt() as usize;
    let meta = ModelMeta {
        input_shape: if images && side * side == train.dim {
            vec![side, side]
        } else {
            vec![train.dim]
        },
        classes: data.train.classes,
        dataset: data.name.clone(),
        epoch: 0,
        extra: meta_extra,
    };
    let saver = a.save.clone().map(|path| Saver {
        path,
        meta: meta.clone(),
        state: RunState {
            dataset: a.dataset.clone(),
            data: a.data.clone(),
            digits: a.digits.clone(),
            seed: a.seed,
            lr: cfg.lr,
            schedule: cfg.schedule,
            batch_size: cfg.batch_size,
            val_split,
            early_stopping: cfg.early_stopping,
            samples: a.samples,
            factor: a.factor,
            noise: a.noise,
            epochs: cfg.epochs,
            history: Vec::new(),
        },
        earlier: earlier.clone(),
    });
    let mut engine = make_engine(&a.device, &params, cfg.batch_size)?;
    println!(
        "training {} ({}, {}, {init}) on {}: {} train, {} validation; lr {}, batch {}, {} epochs; {}",
        spec.sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-"),
        spec.activations.iter().map(|a| a.name()).collect::<Vec<_>>().join(","),
        loss,
        data.description,
        train.len(),
        val.as_ref().map_or(0, |v| v.len()),
        cfg.lr,
        cfg.batch_size,
        cfg.epochs,
        engine.describe()
    );
    let mut printer = Printer::new(cfg.epochs, saver);
    let mut history = train::train(engine.as_mut(), &train, val.as_ref(), &cfg, &mut printer)?;
    if history.stopped_early {
        println!(
            "early stopping: no better validation loss for {} epochs; restored epoch {}",
            cfg.early_stopping.unwrap_or(0),
            history.best_epoch.unwrap_or(0)
        );
    }
    if let Some(saver) = &mut printer.saver {
        // Once more at the end: with early stopping the engine now holds the best epoch.
        saver.save(engine.as_mut(), &history.epochs)?;
        println!("saved model to {}", saver.path.display());
    }
    history.epochs = earlier.into_iter().chain(history.epochs).collect();
    let classes = data.train.classes;
    let (test_eval, matrix) = match &data.test {
        Some(test) if !test.is_empty() => {
            let e = engine.evaluate(test)?;
            let cm = ConfusionMatrix::new(classes, &test.labels, &e.predictions);
            println!(
                "test: loss {:.4}  accuracy {:.2}% ({} samples)",
                e.loss,
                100.0 * e.accuracy,
                test.len()
            );
            (Some(e), Some(cm))
        }
        _ => (None, None),
    };
    if let Some(path) = &a.metrics {
        let v = serde_json::json!({
            "dataset": data.description,
            "device": engine.describe(),
            "layers": spec.sizes,
            "activations": spec.activations.iter().map(|a| a.name()).collect::<Vec<_>>(),
            "loss": loss.name(),
            "lr": cfg.lr,
            "batch_size": cfg.batch_size,
            "seed": cfg.seed,
            "history": history.epochs,
            "best_epoch": history.best_epoch,
            "stopped_early": history.stopped_early,
            "test_loss": test_eval.as_ref().map(|e| e.loss),
            "test_accuracy": test_eval.as_ref().map(|e| e.accuracy),
            "class_names": data.class_names,
            "confusion_matrix": matrix.as_ref().map(|m| &m.counts),
        });
        let text = serde_json::to_string_pretty(&v)?;
        std::fs::write(path, text + "\n").map_err(|e| gpunn::Error::io(path, e))?;
        println!("wrote metrics to {}", path.display());
    }
    if let Some(dir) = &a.plots {
        std::fs::create_dir_all(dir).map_err(|e| gpunn::Error::io(dir, e))?;
        let curves = dir.join("learning_curves.png");
        plots::learning_curves(&curves, &history.epochs)?;
        println!("wrote {}", curves.display());
        if let Some(m) = &matrix {
            let path = dir.join("confusion_matrix.png");
            plots::confusion_matrix(
                &path,
                &m.counts,
                &data.class_names,
                &format!("{} test set", data.name),
            )?;
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

fn cmd_eval(a: EvalArgs) -> Result<()> {
    let (params, meta) = checkpoint::load(&a.model)?;
    let default = match meta.dataset.as_str() {
        "mnist" | "fashion-mnist" | "mnist-sample" | "xor" | "linear" | "circles" => {
            Some(meta.dataset.clone())
        }
        _ => None,
    };
    let dir_default = if a.dataset.is_none() && a.data.is_none() && default.is_none() {
        Some(PathBuf::from(&meta.dataset))
    } else {
        None
    };
    let mut data = load_data(
        a.dataset.as_deref().or(default.as_deref()),
        a.data.as_deref().or(dir_default.as_deref()),
        None,
    )?;
    let mut test = data.test.take().unwrap_or_else(|| data.train.clone());
    if let Some(d) = meta.extra.get("digits") {
        test = mnist::keep_digits(&test, &parse_digits(d)?)?;
    }
    let names: Vec<String> = match meta.extra.get("class_names") {
        Some(n) => n.split(',').map(|s| s.to_string()).collect(),
        None => mnist::class_names(&data.name, meta.classes),
    };
    // Name the model, not --layers (a flag eval does not have), when model and data disagree.
    gpunn::cpu::engine::check_fits(&params, &test).map_err(|e| {
        let msg = match e {
            gpunn::Error::BadArg { msg, .. } => msg,
            e => e.to_string(),
        };
        gpunn::Error::bad_file(
            &a.model,
            format!(
                "does not fit the data: {msg} (pick the model's data with --dataset or --data)"
            ),
        )
    })?;
    if test.classes > meta.classes {
        anyhow::bail!(gpunn::Error::bad_file(
            &a.model,
            format!(
                "records {} classes but {} has {} (pick the model's data with --dataset or --data)",
                meta.classes, test.name, test.classes
            )
        ));
    }
    let mut engine = make_engine(&a.device, &params, 128)?;
    let e = engine.evaluate(&test)?;
    let cm = ConfusionMatrix::new(meta.classes, &test.labels, &e.predictions);
    println!(
        "model {} on {} ({} samples, {})",
        a.model.display(),
        data.name,
        test.len(),
        engine.describe()
    );
    println!("loss {:.4}  accuracy {:.2}%\n", e.loss, 100.0 * e.accuracy);
    println!(
        "confusion matrix (rows: true class, columns: predicted)\n{}",
        metrics::format_matrix(&cm, &names)
    );
    println!("{}", metrics::format_report(&cm.report(), &names));
    Ok(())
}

fn cmd_predict(a: PredictArgs) -> Result<()> {
    let (params, meta) = checkpoint::load(&a.model)?;
    if params.inputs() != 784 {
        anyhow::bail!(gpunn::Error::bad_file(
            &a.model,
            format!(
                "the model takes {} inputs; predict needs a 28x28 (784-input) image model",
                params.inputs()
            )
        ));
    }
    let names: Option<Vec<String>> = meta
        .extra
        .get("class_names")
        .map(|n| n.split(',').map(|s| s.to_string()).collect());
    for file in &a.files {
        let pixels = digit::load_digit(file)?;
        let x: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
        let trace = gpunn::cpu::net::forward(&params, &x, 1);
        let out = trace.output();
        let act = params
            .layers
            .last()
            .map_or(Activation::Identity, |l| l.activation);
        let class = gpunn::cpu::loss::predict(act, out, out.len())[0];
        // One sigmoid output is the probability of class 1.
        let probabilities: Vec<f32> = if out.len() == 1 {
            vec![1.0 - out[0], out[0]]
        } else {
            out.to_vec()
        };
        let p = probabilities.get(class as usize).copied().unwrap_or(0.0);
        if a.json {
            let v = serde_json::json!({
                "file": file.display().to_string(),
                "class": class,
                "probabilities": probabilities.iter().map(|&v| gpunn::step::num(v)).collect::<Vec<_>>(),
            });
            println!("{v}");
        } else {
            let name = names
                .as_ref()
                .and_then(|n| n.get(class as usize))
                .map_or(String::new(), |n| format!(" ({n})"));
            println!("{}: {class}{name}  p = {p:.4}", file.display());
        }
    }
    Ok(())
}

fn cmd_step(a: StepArgs) -> Result<()> {
    let loss: Loss = parse_flag("--loss", &a.loss)?;
    if !(a.lr.is_finite() && a.lr >= 0.0) {
        anyhow::bail!(gpunn::Error::bad_arg(
            "--lr",
            format!("must be a number >= 0, got {}", a.lr)
        ));
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

fn cmd_data(c: DataCommand) -> Result<()> {
    use gpunn::data::fetch;
    match c {
        DataCommand::Fetch {
            name,
            dest,
            mirrors,
        } => {
            let spec = fetch::spec(&name)?;
            let dest = dest.unwrap_or_else(|| fetch::default_dest(&name));
            let opts = fetch::FetchOptions {
                mirrors: (!mirrors.is_empty()).then_some(mirrors),
                ..Default::default()
            };
            for (file, outcome) in fetch::fetch_report(spec, &dest, &opts)? {
                let what = match outcome {
                    fetch::Outcome::AlreadyPresent => "already present, verified",
                    fetch::Outcome::Downloaded => "downloaded, verified",
                };
                println!("{file}: {what}");
            }
            println!("{name} is in {}", dest.display());
        }
        DataCommand::List => {
            for name in mnist::NAMES {
                match mnist::locate(name) {
                    Ok(dir) => println!("{name:<14} {}", dir.display()),
                    Err(e) => println!("{name:<14} not found ({e})"),
                }
            }
        }
    }
    Ok(())
}

fn cmd_bench(a: BenchArgs) -> Result<()> {
    let cfg = gpunn::bench::BenchConfig {
        layers: parse_sizes(&a.layers)?,
        batch: a.batch_size,
        steps: a.steps.max(1),
        warmup: (a.steps / 10).max(5),
        lr: 0.01,
        seed: 42,
    };
    if cfg.batch == 0 {
        anyhow::bail!(gpunn::Error::bad_arg("--batch-size", "must be at least 1"));
    }
    let devices: Vec<&str> = a
        .device
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    if devices.is_empty() {
        anyhow::bail!(gpunn::Error::bad_arg("--device", "no device given"));
    }
    for d in &devices {
        backend::parse_device(d)?;
    }
    if let [one] = devices[..] {
        // Measure here: this process is the one whose memory is reported.
        let kind = backend::parse_device(one)?;
        let r = gpunn::bench::run(kind, &cfg)?;
        if a.json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            print!("{r}");
        }
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    let mut results = Vec::new();
    for d in devices {
        let out = std::process::Command::new(&exe)
            .args(["bench", "--json", "--device", d, "--layers", &a.layers])
            .args([
                "--batch-size",
                &a.batch_size.to_string(),
                "--steps",
                &a.steps.to_string(),
            ])
            .stderr(std::process::Stdio::inherit())
            .output()?;
        if !out.status.success() {
            eprintln!("bench --device {d} failed; see above");
            continue;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(text.trim())?;
        if a.json {
            println!("{v}");
        }
        results.push(v);
    }
    if !a.json {
        println!(
            "{:<10} {:<44} {:>12} {:>9} {:>9} {:>11} {:>9}",
            "device", "adapter", "samples/s", "GFLOP/s", "mm GF/s", "first step", "peak RSS"
        );
        for r in &results {
            let mm = r["matmul_gflops"]
                .as_f64()
                .map_or("-".to_string(), |g| format!("{g:.1}"));
            let rss = r["peak_rss_mb"]
                .as_f64()
                .map_or("-".to_string(), |m| format!("{m:.0} MB"));
            println!(
                "{:<10} {:<44} {:>12.0} {:>9.1} {:>9} {:>9.3} s {:>9}",
                r["device"].as_str().unwrap_or("?"),
                r["adapter"]
                    .as_str()
                    .unwrap_or("?")
                    .chars()
                    .take(44)
                    .collect::<String>(),
                r["samples_per_sec"].as_f64().unwrap_or(0.0),
                r["gflops"].as_f64().unwrap_or(0.0),
                mm,
                r["first_step_seconds"].as_f64().unwrap_or(0.0),
                rss
            );
        }
        if let (Some(base), true) = (results.first(), results.len() > 1) {
            let b = base["samples_per_sec"].as_f64().unwrap_or(1.0);
            for r in &results[1..] {
                println!(
                    "{} / {}: {:.2}x",
                    r["device"].as_str().unwrap_or("?"),
                    base["device"].as_str().unwrap_or("?"),
                    r["samples_per_sec"].as_f64().unwrap_or(0.0) / b
                );
            }
        }
    }
    Ok(())
}
