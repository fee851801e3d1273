// loss.wgsl: the output activation, the loss, its gradient and the prediction, fused, one
// thread per sample (as `cpu::loss::loss_and_grad` and `cpu::loss::predict`).
//
// Shapes:
//   z      [BATCH][O] pre-activations of the output layer (its matmul stores logits)
//   y      [BATCH][O] f32 targets (mse, half-mse, bce)
//   cls    [2·BATCH] class ids (ce, and accuracy), then each row's sample weight as f32 bits
//          (read when `weighted`)
//   state  [0] = the step within this run, [1] = n (rows past n are masked)
//   a      [BATCH][O] output activations (the network's output)
//   dz     [BATCH][O] ∂L/∂z of the output layer, for the batch mean over the valid rows
//   rows   [BATCH][2] per-sample loss and 1.0 if the prediction is right, else 0.0
//   pred   [n] predicted class, at the sample's position in the run
//
// Gradients (count = valid rows in the batch, O = outputs):
//   mse       L_row = Σ(a−y)²/O     ∂L/∂a = 2(a−y)/(count·O), then the activation backward
//   half-mse  L_row = ½Σ(a−y)²      ∂L/∂a = (a−y)/count, then the activation backward
//   bce       L_row = Σ[max(z,0) − z·y + ln(1+e^−|z|)]/O   ∂L/∂z = (σ(z) − y)/(count·O)
//   ce        L_row = logsumexp(z) − z[y]                  ∂L/∂z = (softmax(z) − onehot)/count
// Softmax with mse/half-mse uses its Jacobian-vector product a ⊙ (g − Σ g·a).
//
// Weighted (sample weights w, Σw over the batch's rows), as `cpu::loss::weighted_loss_and_grad`:
// each row's gradient of L_row (the formulas above for a batch of one) times w/Σw, and its
// loss in `rows` times w·count/Σw, so that the mean of `rows` is the weighted mean.

// LOSS_MSE, LOSS_HALF_MSE, LOSS_BCE and LOSS_CE are generated from `Loss` (src/gpu/ids.rs).

struct Params {
    batch: u32,
    outputs: u32,
    act: u32,
    loss: u32,
    // 1: write dz; 0: evaluation only.
    train: u32,
    // 1: weigh the rows by the weights in cls[BATCH..].
    weighted: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> cls: array<u32>;
@group(0) @binding(4) var<storage, read> state: array<u32>;
@group(0) @binding(5) var<storage, read_write> a: array<f32>;
@group(0) @binding(6) var<storage, read_write> dz: array<f32>;
@group(0) @binding(7) var<storage, read_write> rows: array<f32>;
@group(0) @binding(8) var<storage, read_write> pred: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if r >= p.batch {
        return;
    }
    let o = p.outputs;
    let base = r * o;
    let start = state[0] * p.batch;
    let valid = start + r < state[1];
    let count = f32(min(p.batch, state[1] - min(start, state[1])));
    let weighted = p.weighted == 1u;
    var w = 1.0;
    var wsum = 1.0;
    if weighted {
        w = bitcast<f32>(cls[p.batch + r]);
        wsum = 0.0;
        for (var i = 0u; i < p.batch; i++) {
            wsum += bitcast<f32>(cls[p.batch + i]);
        }
        // All weights 0: the batch contributes nothing (as the reference).
        if wsum == 0.0 {
            wsum = 1.0;
        }
    }

    // ---- output activation
    var zmax = z[base];
    for (var j = 1u; j < o; j++) {
        zmax = max(zmax, z[base + j]);
    }
    var sum = 0.0;
    if p.act == ACT_SOFTMAX {
        for (var j = 0u; j < o; j++) {
            let e = exp(z[base + j] - zmax);
            a[base + j] = e;
            sum += e;
        }
        for (var j = 0u; j < o; j++) {
            a[base + j] = a[base + j] / sum;
        }
    } else {
        for (var j = 0u; j < o; j++) {
            a[base + j] = act_forward(p.act, z[base + j]);
        }
    }

    // ---- loss and gradient
    var loss = 0.0;
    let c = cls[r];
    if p.loss == LOSS_CE {
        loss = zmax + log(sum) - z[base + min(c, o - 1u)];
        for (var j = 0u; j < o; j++) {
            var g = (a[base + j] - select(0.0, 1.0, j == c)) / count;
            if weighted {
                g = (a[base + j] - select(0.0, 1.0, j == c)) * w / wsum;
            }
            if p.train == 1u {
                dz[base + j] = select(0.0, g, valid);
            }
        }
    } else if p.loss == LOSS_BCE {
        for (var j = 0u; j < o; j++) {
            let zj = z[base + j];
            let yj = y[base + j];
            if weighted {
                loss += (max(zj, 0.0) - zj * yj + log(1.0 + exp(-abs(zj)))) / f32(o);
            } else {
                loss += max(zj, 0.0) - zj * yj + log(1.0 + exp(-abs(zj)));
            }
            var g = (a[base + j] - yj) / (count * f32(o));
            if weighted {
                g = (a[base + j] - yj) / f32(o) * w / wsum;
            }
            if p.train == 1u {
                dz[base + j] = select(0.0, g, valid);
            }
        }
        if !weighted {
            loss /= f32(o);
        }
    } else {
        // mse / half-mse: ∂L/∂a first, then through the activation.
        var scale = 2.0 / (count * f32(o));
        if p.loss == LOSS_HALF_MSE {
            scale = 1.0 / count;
        }
        // Weighted: ∂L_row/∂a = 2(a−y)/O (half-mse: a−y), times w/Σw.
        var per = f32(o);
        var half = 1.0;
        if p.loss == LOSS_HALF_MSE {
            per = 1.0;
            half = 0.5;
        }
        var dot = 0.0;
        for (var j = 0u; j < o; j++) {
            let d = a[base + j] - y[base + j];
            loss += d * d;
            if weighted {
                dot += 2.0 * half * d / per * w / wsum * a[base + j];
            } else {
                dot += scale * d * a[base + j];
            }
        }
        if p.loss == LOSS_HALF_MSE {
            loss *= 0.5;
        } else {
            loss /= f32(o);
        }
        if p.train == 1u {
            for (var j = 0u; j < o; j++) {
                let aj = a[base + j];
                var g = scale * (aj - y[base + j]);
                if weighted {
                    g = 2.0 * half * (aj - y[base + j]) / per * w / wsum;
                }
                var d = 0.0;
                if p.act == ACT_SOFTMAX {
                    d = aj * (g - dot);
                } else {
                    d = g * act_grad_from_output(p.act, aj);
                }
                dz[base + j] = select(0.0, d, valid);
            }
        }
    }

    // ---- prediction
    var k = 0u;
    if o == 1u {
        let thr = select(0.5, 0.0, p.act == ACT_TANH);
        k = select(0u, 1u, a[base] >= thr);
    } else {
        for (var j = 1u; j < o; j++) {
            if a[base + j] > a[base + k] {
                k = j;
            }
        }
    }
    if weighted {
        loss *= w * count / wsum;
    }
    rows[2u * r] = select(0.0, loss, valid);
    rows[2u * r + 1u] = select(0.0, 1.0, valid && k == c);
    if valid {
        pred[start + r] = k;
    }
}
