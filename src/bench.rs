//! `gpunn bench`: training throughput of one device on MNIST-shaped data.
//!
//! Measured as DESIGN.md asks: time to the first step (adapter, pipeline compilation, upload
//! and one step, synchronised) separately from the steady state; samples per second over a
//! fixed number of steps after a warm-up, with the device synchronised at the end; GFLOP/s
//! from the dense layers' operation count; the share of time per kernel family, each family
//! timed alone; and the process's peak resident memory.

use crate::backend;
use crate::data::{Dataset, Features};
use crate::engine::FamilyTime;
use crate::gpu::DeviceKind;
use crate::model::{Activation, Init, Loss, MlpSpec, Params};
use crate::optim::OptimizerConfig;
use crate::train::epoch_order;
use crate::Result;
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    pub layers: Vec<usize>,
    pub batch: usize,
    /// Timed steps.
    pub steps: usize,
    /// Steps run before timing starts.
    pub warmup: usize,
    pub lr: f32,
    pub seed: u64,
    /// The optimizer each step runs.
    pub optimizer: OptimizerConfig,
}

/// One device's figures (`--json` prints this object).
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchResult {
    pub device: String,
    /// The optimizer, e.g. `adam (β1 0.9, β2 0.999)`.
    pub optimizer: String,
    pub adapter: String,
    pub layers: Vec<usize>,
    pub batch: usize,
    pub steps: usize,
    pub samples_per_sec: f64,
    /// Dense-layer FLOPs per second (2 per multiply-add; forward, weight and input gradients).
    pub gflops: f64,
    /// GFLOP/s of the matrix products alone, from the per-family timing; null without one.
    pub matmul_gflops: Option<f64>,
    pub first_step_seconds: f64,
    pub peak_rss_mb: Option<f64>,
    /// Share of time per kernel family, each family timed alone over the same steps.
    pub families: Vec<FamilyShare>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct FamilyShare {
    pub name: String,
    pub share: f64,
    pub gflops: Option<f64>,
}

/// Dense-layer FLOPs of one training sample: forward `2·in·out` per layer, the weight gradient
/// as much again, and the input gradient for every layer but the first.
pub fn train_flops_per_sample(layers: &[usize]) -> f64 {
    let macs: Vec<f64> = layers.windows(2).map(|w| (w[0] * w[1]) as f64).collect();
    let all: f64 = macs.iter().sum();
    2.0 * all + 2.0 * all + 2.0 * (all - macs.first().copied().unwrap_or(0.0))
}

/// MNIST-shaped data: random u8 pixels, uniform labels, seeded. `n` samples.
pub fn synthetic_images(n: usize, dim: usize, classes: usize, seed: u64) -> Dataset {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut pixels = vec![0u8; n * dim];
    rng.fill(&mut pixels[..]);
    Dataset {
        name: "random MNIST-shaped".into(),
        dim,
        features: Features::U8(pixels),
        labels: (0..n)
            .map(|_| rng.random_range(0..classes as u32))
            .collect(),
        classes,
        target: Default::default(),
        weights: None,
    }
}

/// The process's peak resident set size in MB (Linux: VmHWM), if known.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Runs the benchmark on one device.
pub fn run(kind: DeviceKind, cfg: &BenchConfig) -> Result<BenchResult> {
    let depth = cfg.layers.len().saturating_sub(1);
    let mut acts = vec![Activation::Relu; depth.saturating_sub(1)];
    acts.push(Activation::Softmax);
    let spec = MlpSpec::new(cfg.layers.clone(), acts, Loss::Ce)?;
    let params = Params::init(&spec, Init::HeNormal, cfg.seed)?;
    // Enough samples for a few hundred distinct batches; the order wraps around after that.
    let n = cfg.batch * cfg.steps.clamp(16, 256);
    let data = synthetic_images(n, spec.inputs(), spec.outputs(), cfg.seed);

    let start = Instant::now();
    let opened = backend::open(kind, &params, cfg.batch)?;
    let mut engine = opened.engine;
    engine.set_optimizer(&cfg.optimizer, None)?;
    engine.load_train_set(&data)?;
    let order = epoch_order(n, cfg.seed, 1);
    engine.train_steps(&order[..cfg.batch], cfg.batch, cfg.lr)?;
    engine.take_stats()?;
    let first_step_seconds = start.elapsed().as_secs_f64();

    let run_steps = |engine: &mut Box<dyn crate::engine::Engine>, steps: usize| -> Result<()> {
        let per_epoch = n / cfg.batch;
        let mut left = steps;
        let mut epoch = 2;
        while left > 0 {
            let take = left.min(per_epoch);
            let order = epoch_order(n, cfg.seed, epoch);
            engine.train_steps(&order[..take * cfg.batch], cfg.batch, cfg.lr)?;
            left -= take;
            epoch += 1;
        }
        engine.take_stats()?;
        Ok(())
    };
    run_steps(&mut engine, cfg.warmup)?;
    let t = Instant::now();
    run_steps(&mut engine, cfg.steps)?;
    let seconds = t.elapsed().as_secs_f64();
    let samples_per_sec = (cfg.steps * cfg.batch) as f64 / seconds;
    let gflops = samples_per_sec * train_flops_per_sample(&cfg.layers) / 1e9;

    let profile = engine.profile(cfg.steps.min(64))?;
    let (families, matmul_gflops) = shares(&profile);
    Ok(BenchResult {
        device: kind.to_string(),
        optimizer: cfg.optimizer.describe(),
        adapter: engine.describe(),
        layers: cfg.layers.clone(),
        batch: cfg.batch,
        steps: cfg.steps,
        samples_per_sec,
        gflops,
        matmul_gflops,
        first_step_seconds,
        peak_rss_mb: peak_rss_mb(),
        families,
    })
}

fn shares(profile: &[FamilyTime]) -> (Vec<FamilyShare>, Option<f64>) {
    let total: f64 = profile.iter().map(|f| f.seconds).sum();
    let families = profile
        .iter()
        .map(|f| FamilyShare {
            name: f.name.clone(),
            share: f.seconds / total.max(1e-12),
            gflops: (f.flops > 0.0).then(|| f.flops / f.seconds.max(1e-12) / 1e9),
        })
        .collect();
    let (mm_flops, mm_secs) = profile
        .iter()
        .filter(|f| f.flops > 0.0)
        .fold((0.0, 0.0), |(a, b), f| (a + f.flops, b + f.seconds));
    (families, (mm_secs > 0.0).then(|| mm_flops / mm_secs / 1e9))
}

impl std::fmt::Display for BenchResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let layers: Vec<String> = self.layers.iter().map(|l| l.to_string()).collect();
        writeln!(f, "{} — {}", self.device, self.adapter)?;
        writeln!(
            f,
            "  model {} at batch {}, {}, {} timed steps",
            layers.join("-"),
            self.batch,
            self.optimizer,
            self.steps
        )?;
        writeln!(f, "  samples/s           {:>12.0}", self.samples_per_sec)?;
        writeln!(f, "  GFLOP/s (step)      {:>12.2}", self.gflops)?;
        if let Some(g) = self.matmul_gflops {
            writeln!(f, "  GFLOP/s (matmuls)   {g:>12.2}")?;
        }
        writeln!(
            f,
            "  first step          {:>11.3} s",
            self.first_step_seconds
        )?;
        match self.peak_rss_mb {
            Some(m) => writeln!(f, "  peak RSS            {m:>9.0} MB")?,
            None => writeln!(f, "  peak RSS                 unknown")?,
        }
        if !self.families.is_empty() {
            writeln!(f, "  time per kernel family (each timed alone):")?;
            for fam in &self.families {
                let g = fam
                    .gflops
                    .map_or(String::new(), |g| format!("  {g:.2} GFLOP/s"));
                writeln!(f, "    {:<28} {:>5.1}%{g}", fam.name, 100.0 * fam.share)?;
            }
        }
        Ok(())
    }
}
