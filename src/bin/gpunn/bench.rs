//! `gpunn bench`: training throughput per device, each device measured in its own process.

use crate::parse_flag;
use anyhow::Result;
use clap::Args;
use gpunn::gpu::DeviceKind;
use gpunn::model::parse_sizes;
use gpunn::optim::{OptimizerConfig, OptimizerKind};

#[derive(Args)]
pub struct BenchArgs {
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
    /// Comma list of optimizers to measure on each device (sgd, adam, adamw; their default
    /// settings), each in its own process.
    #[arg(long, default_value = "sgd")]
    optimizer: String,
}

pub fn run(a: BenchArgs) -> Result<()> {
    let optimizers: Vec<OptimizerKind> = a
        .optimizer
        .split(',')
        .map(|k| parse_flag("--optimizer", k.trim()))
        .collect::<Result<_>>()?;
    let cfg = gpunn::bench::BenchConfig {
        layers: parse_sizes(&a.layers)?,
        batch: a.batch_size,
        steps: a.steps.max(1),
        warmup: (a.steps / 10).max(5),
        lr: 0.01,
        seed: 42,
        optimizer: OptimizerConfig::of(optimizers[0]),
    };
    if cfg.batch == 0 {
        anyhow::bail!(gpunn::Error::invalid("--batch-size", "must be at least 1"));
    }
    let devices: Vec<&str> = a
        .device
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    if devices.is_empty() {
        anyhow::bail!(gpunn::Error::invalid("--device", "no device given"));
    }
    for d in &devices {
        parse_flag::<DeviceKind>("--device", d)?;
    }
    if let ([one], [_]) = (&devices[..], &optimizers[..]) {
        // Measure here: this process is the one whose memory is reported.
        let kind = parse_flag::<DeviceKind>("--device", one)?;
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
    let runs = devices
        .iter()
        .flat_map(|d| optimizers.iter().map(move |o| (*d, o.name())));
    for (d, opt) in runs {
        let out = std::process::Command::new(&exe)
            .args(["bench", "--json", "--device", d, "--layers", &a.layers])
            .args(["--optimizer", opt])
            .args([
                "--batch-size",
                &a.batch_size.to_string(),
                "--steps",
                &a.steps.to_string(),
            ])
            .stderr(std::process::Stdio::inherit())
            .output()?;
        if !out.status.success() {
            eprintln!("bench --device {d} --optimizer {opt} failed; see above");
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
            "{:<10} {:<8} {:<40} {:>12} {:>9} {:>9} {:>11} {:>9}",
            "device",
            "optim",
            "adapter",
            "samples/s",
            "GFLOP/s",
            "mm GF/s",
            "first step",
            "peak RSS"
        );
        for r in &results {
            let mm = r["matmul_gflops"]
                .as_f64()
                .map_or("-".to_string(), |g| format!("{g:.1}"));
            let rss = r["peak_rss_mb"]
                .as_f64()
                .map_or("-".to_string(), |m| format!("{m:.0} MB"));
            println!(
                "{:<10} {:<8} {:<40} {:>12.0} {:>9.1} {:>9} {:>9.3} s {:>9}",
                r["device"].as_str().unwrap_or("?"),
                kind_of(r),
                r["adapter"]
                    .as_str()
                    .unwrap_or("?")
                    .chars()
                    .take(40)
                    .collect::<String>(),
                r["samples_per_sec"].as_f64().unwrap_or(0.0),
                r["gflops"].as_f64().unwrap_or(0.0),
                mm,
                r["first_step_seconds"].as_f64().unwrap_or(0.0),
                rss
            );
        }
        // Per device, each optimizer's time per step against the first optimizer's; then each
        // device against the first, with the first optimizer.
        let sps = |r: &serde_json::Value| r["samples_per_sec"].as_f64().unwrap_or(0.0);
        let dev = |r: &serde_json::Value| r["device"].as_str().unwrap_or("?").to_string();
        for base in results
            .iter()
            .filter(|r| kind_of(r) == optimizers[0].name())
        {
            for r in results
                .iter()
                .filter(|r| dev(r) == dev(base) && kind_of(r) != kind_of(base))
            {
                println!(
                    "{}: one {} step takes {:.2}x the time of one {} step",
                    dev(r),
                    kind_of(r),
                    sps(base) / sps(r),
                    kind_of(base)
                );
            }
        }
        let firsts: Vec<_> = results
            .iter()
            .filter(|r| kind_of(r) == optimizers[0].name())
            .collect();
        if let [base, rest @ ..] = &firsts[..] {
            for r in rest {
                println!("{} / {}: {:.2}x", dev(r), dev(base), sps(r) / sps(base));
            }
        }
    }
    Ok(())
}

/// The optimizer's name in a result (`adam` of `adam (β1 0.9, β2 0.999)`).
fn kind_of(r: &serde_json::Value) -> &str {
    r["optimizer"]
        .as_str()
        .unwrap_or("?")
        .split(' ')
        .next()
        .unwrap_or("?")
}
