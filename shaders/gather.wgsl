// gather.wgsl: builds one training batch on the GPU from the resident dataset.
//
// Shapes:
//   data    the whole dataset, [n_total][dim]: u8 pixels packed 4 per u32 word (little-endian
//           byte order, DATA_U8) or f32 bits (otherwise)
//   labels  [n_total] class ids; with `weighted`, followed by [n_total] f32 sample weights
//   values  [n_total][OUTPUTS] f32 target values (TARGET_VALUES; else a dummy)
//   order   [n] sample ids of this run of steps (a shuffled slice of the epoch)
//   state   [0] = the step within this run, [1] = n
//   x       [BATCH][dim] f32, pixels scaled to [0, 1]
//   y       [BATCH][OUTPUTS] f32 targets: TARGET_CLASSES the label with one output, one-hot
//           with several; TARGET_VALUES the sample's row of values; TARGET_INPUT the row of x
//           (OUTPUTS == dim)
//   cls     [2·BATCH]: [0, BATCH) class ids (for ce and accuracy); [BATCH, 2·BATCH) each row's
//           sample weight as f32 bits: the sample's weight (WEIGHTED: `labels[n_total + id]`),
//           else 1.0; 0.0 past the end of the run
// Rows past the end of the run (the last, partial batch) are written as zeros and class 0;
// the loss kernel masks them, so they contribute nothing to any gradient.
//
// Generated consts: DATA_U8 (bool), TARGET_CLASSES, TARGET_VALUES, TARGET_INPUT (u32).

struct Params {
    dim: u32,
    batch: u32,
    outputs: u32,
    target_kind: u32,
    // 1: the samples have weights, after the labels.
    weighted: u32,
    n_total: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> order: array<u32>;
@group(0) @binding(4) var<storage, read> state: array<u32>;
@group(0) @binding(5) var<storage, read_write> x: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
@group(0) @binding(7) var<storage, read_write> cls: array<u32>;
@group(0) @binding(8) var<storage, read> values: array<f32>;

fn feature(sample: u32, k: u32) -> f32 {
    let i = sample * p.dim + k;
    if DATA_U8 {
        let word = data[i / 4u];
        let byte = (word >> (8u * (i % 4u))) & 0xffu;
        return f32(byte) / 255.0;
    }
    return bitcast<f32>(data[i]);
}

// One thread per element of x: thread i writes x[row][k] with row = i / dim, k = i % dim.
// Threads with k == 0 also write the row's targets and class.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= p.batch * p.dim {
        return;
    }
    let row = i / p.dim;
    let k = i % p.dim;
    let pos = state[0] * p.batch + row;
    let valid = pos < state[1];
    var sample = 0u;
    if valid {
        sample = order[pos];
    }
    let xv = select(0.0, feature(sample, k), valid);
    x[i] = xv;
    if p.target_kind == TARGET_INPUT {
        y[i] = xv;
    }
    if k == 0u {
        let c = select(0u, labels[sample], valid);
        cls[row] = c;
        var w = 1.0;
        if p.weighted == 1u {
            w = bitcast<f32>(labels[p.n_total + sample]);
        }
        cls[p.batch + row] = bitcast<u32>(select(0.0, w, valid));
        if p.target_kind == TARGET_VALUES {
            for (var j = 0u; j < p.outputs; j++) {
                y[row * p.outputs + j] = select(0.0, values[sample * p.outputs + j], valid);
            }
        } else if p.target_kind == TARGET_CLASSES {
            for (var j = 0u; j < p.outputs; j++) {
                var t = 0.0;
                if p.outputs == 1u {
                    t = f32(c);
                } else if j == c {
                    t = 1.0;
                }
                y[row * p.outputs + j] = select(0.0, t, valid);
            }
        }
    }
}
