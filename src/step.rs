//! `gpunn step`: one SGD step on a batch given on the command line, with every number a worked
//! exercise shows.

use crate::cpu::loss::Targets;
use crate::cpu::{dense, net};
use crate::model::{Loss, Params};
use crate::{Error, Result};
use serde_json::{json, Value};
use std::fmt::Write as _;

pub use crate::engine::StepResult;

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

/// One step on the CPU reference.
pub fn step_cpu(
    params: &Params,
    x: &[f32],
    batch: usize,
    targets: &Targets,
    lr: f32,
) -> StepResult {
    let mut after = params.clone();
    let report = net::step(&mut after, x, batch, targets, lr);
    StepResult {
        batch,
        loss: report.grads.loss,
        output: report.output,
        grad_input: report.grads.input,
        grads: report
            .grads
            .layers
            .into_iter()
            .map(|g| (g.weights, g.bias))
            .collect(),
        after,
    }
}

/// An f32 as the JSON number with the shortest decimal form that reads back to the same f32
/// (so 1.0000067 prints as 1.0000067, not as its f64 widening 1.0000066757202148).
pub fn num(v: f32) -> Value {
    let shortest: f64 = v.to_string().parse().unwrap_or(f64::NAN);
    serde_json::Number::from_f64(shortest).map_or(Value::Null, Value::Number)
}

fn vec(v: &[f32]) -> Value {
    Value::Array(v.iter().map(|&x| num(x)).collect())
}

fn rows(v: &[f32], width: usize) -> Value {
    Value::Array(v.chunks(width.max(1)).map(vec).collect())
}

/// The JSON object of `gpunn step --json`.
pub fn to_json(r: &StepResult) -> Value {
    let layers: Vec<Value> = r
        .after
        .layers
        .iter()
        .zip(&r.grads)
        .map(|(l, (gw, gb))| {
            json!({
                "grad_weights": rows(gw, l.inputs),
                "grad_bias": vec(gb),
                "weights": rows(&l.weights, l.inputs),
                "bias": vec(&l.bias),
            })
        })
        .collect();
    json!({
        "loss": num(r.loss),
        "output": rows(&r.output, r.after.outputs()),
        "grad_input": rows(&r.grad_input, r.after.inputs()),
        "layers": layers,
    })
}

/// The readable table: forward values per neuron, the loss, then every parameter's gradient,
/// old value and new value. `before` is the network before the step.
pub fn to_table(before: &Params, x: &[f32], r: &StepResult, lr: f32) -> String {
    let mut s = String::new();
    let b = r.batch;
    let _ = writeln!(
        s,
        "Forward pass ({} sample{})",
        b,
        if b == 1 { "" } else { "s" }
    );
    let mut input = x.to_vec();
    for (l, layer) in before.layers.iter().enumerate() {
        let (z, a) = dense::forward(layer, &input, b);
        let _ = writeln!(
            s,
            "  layer {} ({}, {} -> {})",
            l + 1,
            layer.activation,
            layer.inputs,
            layer.outputs
        );
        for sample in 0..b {
            for j in 0..layer.outputs {
                let k = sample * layer.outputs + j;
                let who = if b > 1 {
                    format!("sample {} ", sample + 1)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    s,
                    "    {who}neuron {:<3} net = {:>12.7}   out = {:>12.7}",
                    j + 1,
                    z[k],
                    a[k]
                );
            }
        }
        input = a;
    }
    let _ = writeln!(s, "Loss ({}): {:.8}", before.loss, r.loss);
    let _ = writeln!(s, "Backward pass and SGD update (lr = {lr})");
    let _ = writeln!(
        s,
        "  {:<22} {:>14} {:>14} {:>14}",
        "parameter", "gradient", "old", "new"
    );
    for (l, ((old, new), (gw, gb))) in before
        .layers
        .iter()
        .zip(&r.after.layers)
        .zip(&r.grads)
        .enumerate()
    {
        for (j, &g) in gb.iter().enumerate() {
            for i in 0..old.inputs {
                let k = j * old.inputs + i;
                let name = format!("L{} w[{}][{}]", l + 1, j + 1, i + 1);
                let _ = writeln!(
                    s,
                    "  {:<22} {:>14.7} {:>14.7} {:>14.7}",
                    name, gw[k], old.weights[k], new.weights[k]
                );
            }
            let name = format!("L{} b[{}]", l + 1, j + 1);
            let _ = writeln!(
                s,
                "  {:<22} {:>14.7} {:>14.7} {:>14.7}",
                name, g, old.bias[j], new.bias[j]
            );
        }
    }
    let _ = writeln!(s, "Gradient with respect to the input");
    for (sample, row) in r.grad_input.chunks(before.inputs().max(1)).enumerate() {
        let vals: Vec<String> = row.iter().map(|v| format!("{v:.7}")).collect();
        let _ = writeln!(s, "  sample {}: [{}]", sample + 1, vals.join(", "));
    }
    s
}
