//! The two ways `gpunn step` shows its numbers: one JSON object, or the readable table.

use super::Step;
use crate::cpu::dense;
use crate::model::Params;
use crate::optim::{OptimizerConfig, OptimizerKind};
use serde_json::{json, Value};
use std::fmt::Write as _;

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

/// The JSON object of `gpunn step --json`: the loss, output and gradients of the first step,
/// the weights and biases after the last, and `losses`, every step's loss.
pub fn to_json(steps: &[Step]) -> Value {
    let (Some(first), Some(last)) = (steps.first(), steps.last()) else {
        return json!({});
    };
    let (r, after) = (&first.result, &last.result.after);
    let layers: Vec<Value> = after
        .layers
        .iter()
        .zip(&r.grads)
        .map(|(l, (gw, gb))| {
            let mut v = json!({
                "grad_weights": rows(gw, l.inputs),
                "weights": rows(&l.weights, l.inputs),
            });
            // Layers without bias have no bias to show.
            if after.bias {
                v["grad_bias"] = vec(gb);
                v["bias"] = vec(&l.bias);
            }
            v
        })
        .collect();
    let losses: Vec<f32> = steps.iter().map(|s| s.result.loss).collect();
    json!({
        "loss": num(r.loss),
        "losses": vec(&losses),
        "output": rows(&r.output, after.outputs()),
        "grad_input": rows(&r.grad_input, after.inputs()),
        "layers": layers,
    })
}

/// The readable table: forward values per neuron and the loss of the first step, then for
/// every step and parameter the gradient, the optimizer's state (the velocity; or both moments
/// and their bias-corrected values), the old and the new value. `before` is the network before
/// the first step.
pub fn to_table(
    before: &Params,
    x: &[f32],
    steps: &[Step],
    lr: f32,
    cfg: &OptimizerConfig,
) -> String {
    let mut s = String::new();
    let Some(first) = steps.first() else {
        return s;
    };
    forward_table(&mut s, before, x, &first.result);
    let columns = Columns::of(cfg);
    let mut old = before;
    for (k, step) in steps.iter().enumerate() {
        if steps.len() > 1 || !cfg.is_plain_sgd() {
            let _ = writeln!(
                s,
                "Step {} of {}: loss {:.8}",
                k + 1,
                steps.len(),
                step.result.loss
            );
        }
        let what = if cfg.is_plain_sgd() {
            "SGD update".to_string()
        } else {
            format!(
                "{} update, step count t = {}",
                cfg.describe(),
                step.state.step
            )
        };
        let _ = writeln!(s, "Backward pass and {what} (lr = {lr})");
        let _ = writeln!(s, "  {:<22} {}", "parameter", columns.header());
        let new = &step.result.after;
        for (l, ((o, n), (gw, gb))) in old
            .layers
            .iter()
            .zip(&new.layers)
            .zip(&step.result.grads)
            .enumerate()
        {
            let [ws, bs] = [&step.state.tensors[2 * l], &step.state.tensors[2 * l + 1]];
            for (j, &gbj) in gb.iter().enumerate() {
                for i in 0..o.inputs {
                    let k = j * o.inputs + i;
                    let name = format!("L{} w[{}][{}]", l + 1, j + 1, i + 1);
                    let row =
                        columns.row(gw[k], ws, k, step.state.step, (o.weights[k], n.weights[k]));
                    let _ = writeln!(s, "  {name:<22} {row}");
                }
                if old.bias {
                    let name = format!("L{} b[{}]", l + 1, j + 1);
                    let row = columns.row(gbj, bs, j, step.state.step, (o.bias[j], n.bias[j]));
                    let _ = writeln!(s, "  {name:<22} {row}");
                }
            }
        }
        old = new;
    }
    let _ = writeln!(s, "Gradient with respect to the input");
    for (sample, row) in first
        .result
        .grad_input
        .chunks(before.inputs().max(1))
        .enumerate()
    {
        let vals: Vec<String> = row.iter().map(|v| format!("{v:.7}")).collect();
        let _ = writeln!(s, "  sample {}: [{}]", sample + 1, vals.join(", "));
    }
    s
}

/// The forward values per neuron and the loss of the first step.
fn forward_table(s: &mut String, before: &Params, x: &[f32], r: &super::StepResult) {
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
}

/// Which state columns the table shows.
enum Columns {
    Sgd,
    Momentum,
    /// β1, β2 for the bias corrections.
    Adam(f64, f64),
}

impl Columns {
    fn of(cfg: &OptimizerConfig) -> Self {
        match cfg.kind {
            OptimizerKind::Sgd if cfg.momentum > 0.0 => Columns::Momentum,
            OptimizerKind::Sgd => Columns::Sgd,
            _ => Columns::Adam(cfg.beta1 as f64, cfg.beta2 as f64),
        }
    }

    fn header(&self) -> String {
        let state: &[&str] = match self {
            Columns::Sgd => &[],
            Columns::Momentum => &["velocity"],
            Columns::Adam(..) => &["m", "v", "m_hat", "v_hat"],
        };
        let mut cols = vec!["gradient"];
        cols.extend(state);
        cols.extend(["old", "new"]);
        cols.iter()
            .map(|c| format!("{c:>14}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn row(
        &self,
        g: f32,
        state: &crate::optim::TensorState,
        k: usize,
        t: u64,
        (old, new): (f32, f32),
    ) -> String {
        let fixed = |v: f32| format!("{v:>14.7}");
        // Moments of small gradients (v ≈ g², 1e-9 and less) would print as 0 in fixed point.
        let any = |v: f32| {
            if v != 0.0 && v.abs() < 1e-4 {
                format!("{v:>14.6e}")
            } else {
                fixed(v)
            }
        };
        let mut cols = vec![fixed(g)];
        match self {
            Columns::Sgd => {}
            Columns::Momentum => cols.push(any(state.velocity[k])),
            Columns::Adam(b1, b2) => {
                let (m, v) = (state.m[k], state.v[k]);
                let t = t.min(i32::MAX as u64) as i32;
                cols.extend([any(m), any(v)]);
                cols.push(any((m as f64 / (1.0 - b1.powi(t))) as f32));
                cols.push(any((v as f64 / (1.0 - b2.powi(t))) as f32));
            }
        }
        cols.extend([fixed(old), fixed(new)]);
        cols.join(" ")
    }
}
