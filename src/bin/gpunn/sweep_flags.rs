//! `gpunn sweep`'s grid flags: `gpunn train`'s flags, each taking alternatives (a comma list
//! for a scalar flag, one occurrence per alternative for a list-valued one), mapped onto the
//! keys of a run description.

use anyhow::Result;
use clap::{ArgAction, Args};
use gpunn::sweep::Grid;
use std::path::Path;

/// `gpunn train`'s flags, each with alternatives.
#[derive(Args)]
pub struct GridFlags {
    #[arg(long, action = ArgAction::Append)]
    dataset: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    data: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    labels: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    test: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    test_split: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    target: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    task: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    scale: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    digits: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    val_split: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    samples: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    factor: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    noise: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    layers: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    activation: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    loss: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    init: Vec<String>,
    /// Layers without bias (`--no-bias true,false` sweeps both).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Append)]
    no_bias: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    lr: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    lr_schedule: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    batch_size: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    epochs: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    seed: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    early_stopping: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    validate_every: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    device: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    optimizer: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    momentum: Vec<String>,
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Append)]
    nesterov: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    beta1: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    beta2: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    eps: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    weight_decay: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    clip_norm: Vec<String>,
    #[arg(long, action = ArgAction::Append)]
    clip_value: Vec<String>,
}

/// How a flag's text becomes TOML values.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Float,
    Bool,
    /// Flips a boolean: `--no-bias` sets `bias = false`.
    NotBool,
    IntList,
    StrList,
}

impl GridFlags {
    /// `(flag, key, kind, values given)` for every flag.
    fn table(&self) -> Vec<(&'static str, &'static str, Kind, &Vec<String>)> {
        use Kind::*;
        vec![
            ("--dataset", "data.dataset", Str, &self.dataset),
            ("--data", "data.file", Str, &self.data),
            ("--labels", "data.labels", Str, &self.labels),
            ("--test", "data.test", Str, &self.test),
            ("--test-split", "data.test_split", Float, &self.test_split),
            ("--target", "data.target", StrList, &self.target),
            ("--task", "data.task", Str, &self.task),
            ("--scale", "data.scale", Str, &self.scale),
            ("--digits", "data.digits", IntList, &self.digits),
            ("--val-split", "data.val_split", Float, &self.val_split),
            ("--samples", "data.samples", Int, &self.samples),
            ("--factor", "data.factor", Float, &self.factor),
            ("--noise", "data.noise", Float, &self.noise),
            ("--layers", "model.layers", IntList, &self.layers),
            (
                "--activation",
                "model.activations",
                StrList,
                &self.activation,
            ),
            ("--loss", "model.loss", Str, &self.loss),
            ("--init", "model.init", Str, &self.init),
            ("--no-bias", "model.bias", NotBool, &self.no_bias),
            ("--lr", "train.lr", Float, &self.lr),
            ("--lr-schedule", "train.schedule", Str, &self.lr_schedule),
            ("--batch-size", "train.batch_size", Int, &self.batch_size),
            ("--epochs", "train.epochs", Int, &self.epochs),
            ("--seed", "seed", Int, &self.seed),
            (
                "--early-stopping",
                "train.early_stopping",
                Int,
                &self.early_stopping,
            ),
            (
                "--validate-every",
                "train.validate_every",
                Int,
                &self.validate_every,
            ),
            ("--device", "device", Str, &self.device),
            ("--optimizer", "optimizer.kind", Str, &self.optimizer),
            ("--momentum", "optimizer.momentum", Float, &self.momentum),
            ("--nesterov", "optimizer.nesterov", Bool, &self.nesterov),
            ("--beta1", "optimizer.beta1", Float, &self.beta1),
            ("--beta2", "optimizer.beta2", Float, &self.beta2),
            ("--eps", "optimizer.eps", Float, &self.eps),
            (
                "--weight-decay",
                "optimizer.weight_decay",
                Float,
                &self.weight_decay,
            ),
            ("--clip-norm", "optimizer.clip_norm", Float, &self.clip_norm),
            (
                "--clip-value",
                "optimizer.clip_value",
                Float,
                &self.clip_value,
            ),
        ]
    }

    /// Adds every given flag to `grid` as an axis (or a fixed value).
    pub fn add_to(&self, grid: &mut Grid) -> Result<()> {
        for (flag, key, kind, given) in self.table() {
            if given.is_empty() {
                continue;
            }
            let mut values = Vec::new();
            let list = matches!(kind, Kind::IntList | Kind::StrList);
            for g in given {
                if list {
                    values.push(value(flag, kind, g)?);
                } else {
                    for part in g.split(',') {
                        values.push(value(flag, kind, part.trim())?);
                    }
                }
            }
            // A directory of IDX files is `dir`, a file `file`.
            let key = if key == "data.file" && Path::new(&given[0]).is_dir() {
                "data.dir"
            } else {
                key
            };
            grid.add(key, values)
                .map_err(|e| gpunn::Error::invalid(flag, e.to_string()))?;
        }
        Ok(())
    }
}

fn value(flag: &str, kind: Kind, text: &str) -> Result<toml::Value> {
    let bad = |what: &str| gpunn::Error::invalid(flag, format!("'{text}' is not {what}"));
    Ok(match kind {
        Kind::Str => toml::Value::String(text.to_string()),
        Kind::Int => toml::Value::Integer(text.parse().map_err(|_| bad("an integer"))?),
        Kind::Float => toml::Value::Float(text.parse().map_err(|_| bad("a number"))?),
        Kind::Bool | Kind::NotBool => {
            let b: bool = text.parse().map_err(|_| bad("true or false"))?;
            toml::Value::Boolean(if matches!(kind, Kind::NotBool) { !b } else { b })
        }
        Kind::IntList => toml::Value::Array(
            text.split(',')
                .map(|p| p.trim().parse::<i64>().map(toml::Value::Integer))
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| bad("a comma list of integers"))?,
        ),
        Kind::StrList => toml::Value::Array(
            text.split(',')
                .map(|p| toml::Value::String(p.trim().to_string()))
                .collect(),
        ),
    })
}
