//! `gpunn step`: training steps on a batch given on the command line, with every number a
//! worked exercise shows: the forward values, the loss, and per step and parameter the
//! gradient, the optimizer's state, the old and the new value.

mod report;

pub use crate::engine::StepResult;
pub use report::{num, to_json, to_table};

pub mod netfile;

use crate::cpu::loss::Targets;
use crate::cpu::net;
use crate::model::{Loss, Params};
use crate::optim::{rule, OptimizerConfig, OptimizerState};
use crate::{Error, Result};

/// One step of a worked exercise and the optimizer's state after it.
#[derive(Clone, Debug)]
pub struct Step {
    pub result: StepResult,
    pub state: OptimizerState,
}

/// Parses `"1,0;0,1"` into a `[batch][width]` batch. `flag` names the option in errors.
pub fn parse_batch(text: &str, width: usize, flag: &str) -> Result<(Vec<f32>, usize)> {
    let mut values = Vec::new();
    let mut batch = 0;
    for (s, sample) in text.split(';').enumerate() {
        let row: Vec<f32> = sample
            .split(',')
            .map(|t| {
                t.trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        Error::invalid(
                            flag,
                            format!("sample {}: '{}' is not a number", s + 1, t.trim()),
                        )
                    })
            })
            .collect::<Result<_>>()?;
        if row.len() != width {
            return Err(Error::invalid(
                flag,
                format!(
                    "sample {} has {} values, expected {width}",
                    s + 1,
                    row.len()
                ),
            ));
        }
        values.extend(row);
        batch += 1;
    }
    Ok((values, batch))
}

/// Parses `--target` for `loss`: class indices for ce (one per sample), else `outputs` values
/// per sample.
pub fn parse_targets(text: &str, loss: Loss, outputs: usize, batch: usize) -> Result<Targets> {
    let targets = if loss == Loss::Ce {
        let (v, n) = parse_batch(text, 1, "--target")?;
        let classes = v
            .iter()
            .enumerate()
            .map(|(s, &c)| {
                if c >= 0.0 && c.fract() == 0.0 && (c as usize) < outputs {
                    Ok(c as u32)
                } else {
                    Err(Error::invalid(
                        "--target",
                        format!("sample {}: {c} is not a class index in 0..{outputs}", s + 1),
                    ))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        check_batch(n, batch)?;
        Targets::Classes(classes)
    } else {
        let (v, n) = parse_batch(text, outputs, "--target")?;
        check_batch(n, batch)?;
        // Binary cross-entropy compares with probabilities; outside [0, 1] its loss is
        // meaningless (and can go negative).
        if let (Loss::Bce, Some(k)) = (loss, v.iter().position(|t| !(0.0..=1.0).contains(t))) {
            return Err(Error::invalid(
                "--target",
                format!(
                    "sample {}: {} is not a probability in [0, 1], which --loss bce needs",
                    k / outputs + 1,
                    v[k]
                ),
            ));
        }
        Targets::Values(v)
    };
    Ok(targets)
}

fn check_batch(targets: usize, inputs: usize) -> Result<()> {
    if targets != inputs {
        return Err(Error::invalid(
            "--target",
            format!("{targets} samples but --input has {inputs}"),
        ));
    }
    Ok(())
}

/// One plain SGD step on the CPU reference.
pub fn step_cpu(
    params: &Params,
    x: &[f32],
    batch: usize,
    targets: &Targets,
    lr: f32,
) -> StepResult {
    let sgd = OptimizerConfig::default();
    let mut steps =
        steps_cpu(params, (x, batch), targets, lr, &sgd, 1).expect("plain SGD is valid");
    steps.remove(0).result
}

/// `steps` steps of `cfg` on the same batch on the CPU reference, each with its numbers.
pub fn steps_cpu(
    params: &Params,
    (x, batch): (&[f32], usize),
    targets: &Targets,
    lr: f32,
    cfg: &OptimizerConfig,
    steps: usize,
) -> Result<Vec<Step>> {
    cfg.validate()?;
    let mut p = params.clone();
    let mut state = OptimizerState::new(cfg, params);
    let mut out = Vec::with_capacity(steps);
    for _ in 0..steps {
        let trace = net::forward(&p, x, batch);
        let mut grads = net::backward(&p, &trace, targets);
        let loss_grads: Vec<(Vec<f32>, Vec<f32>)> = grads
            .layers
            .iter()
            .map(|g| (g.weights.clone(), g.bias.clone()))
            .collect();
        if cfg.is_plain_sgd() {
            net::sgd(&mut p, &grads, lr);
        } else {
            rule::step(cfg, &mut state, &mut p, &mut grads.layers, lr);
        }
        out.push(Step {
            result: StepResult {
                batch,
                loss: grads.loss,
                output: trace.output().to_vec(),
                grad_input: grads.input,
                grads: loss_grads,
                after: p.clone(),
            },
            state: state.clone(),
        });
    }
    Ok(out)
}
