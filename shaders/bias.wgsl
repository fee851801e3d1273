// bias.wgsl: the bias gradient and its SGD update, fused.
//
// Shapes: dz [ROWS][COLS] (∂L/∂z of the layer; masked rows are zero), bias [COLS],
//         grad [COLS] (written only when p.store_grad == 1, for `gpunn step`).
// db[j] = Σ_r dz[r][j], summed in row order by one thread per column: a fixed order, so the
// result is the same on every run (no float atomics).

struct Params {
    rows: u32,
    cols: u32,
    store_grad: u32,
    _pad: u32,
    lr: f32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dz: array<f32>;
@group(0) @binding(2) var<storage, read_write> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= p.cols {
        return;
    }
    var s = 0.0;
    for (var r = 0u; r < p.rows; r++) {
        s += dz[r * p.cols + j];
    }
    bias[j] -= p.lr * s;
    if p.store_grad == 1u {
        grad[j] = s;
    }
}
