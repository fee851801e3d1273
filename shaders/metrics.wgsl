// metrics.wgsl: ends a step. Adds the batch's per-sample losses and hits to the running
// totals in a fixed order (one thread, so the sums are reproducible), flags a non-finite
// loss, and advances the step counter that the gather and loss kernels read.
//
// Shapes: rows [BATCH][2] (loss, hit) from loss.wgsl; state [0] step within this run, [1] n,
//         [2] steps since the totals were last read (u32);
// totals: [0] loss sum (f32 bits), [1] Kahan compensation (f32 bits), [2] hits, [3] samples,
//         [4] first step (counted since the totals were last read, from 1) whose loss was
//         not finite, 0 = none, [5] steps since the totals were last read (a copy of state[2]).

struct Params {
    batch: u32,
    // 1: advance state[0] (training and evaluation runs); 0: leave it.
    advance: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rows: array<f32>;
@group(0) @binding(2) var<storage, read_write> state: array<u32>;
@group(0) @binding(3) var<storage, read_write> totals: array<u32>;
// [0] nonzero when the optimizer kernel left a NaN or an infinity in this step; cleared here.
@group(0) @binding(4) var<storage, read_write> flags: array<u32>;

@compute @workgroup_size(1)
fn main() {
    let start = state[0] * p.batch;
    let count = min(p.batch, state[1] - min(start, state[1]));
    var sum = bitcast<f32>(totals[0]);
    var comp = bitcast<f32>(totals[1]);
    var hits = 0u;
    var batch_loss = 0.0;
    for (var r = 0u; r < count; r++) {
        batch_loss += rows[2u * r];
        hits += u32(rows[2u * r + 1u]);
    }
    // Kahan summation keeps an epoch's total accurate in f32.
    let yk = batch_loss - comp;
    let t = sum + yk;
    comp = (t - sum) - yk;
    sum = t;
    totals[0] = bitcast<u32>(sum);
    totals[1] = bitcast<u32>(comp);
    totals[2] += hits;
    totals[3] += count;
    // NaN fails every comparison; infinity is larger than the largest finite f32.
    let finite = batch_loss == batch_loss && abs(batch_loss) <= 3.4e38 && flags[0] == 0u;
    flags[0] = 0u;
    state[2] += 1u;
    totals[5] = state[2];
    if !finite && totals[4] == 0u {
        totals[4] = state[2];
    }
    if p.advance == 1u {
        state[0] += 1u;
    }
}
