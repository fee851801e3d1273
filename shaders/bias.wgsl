// bias.wgsl: the bias gradient and its SGD update, fused.
//
// Shapes: dz [ROWS][COLS] (∂L/∂z of the layer; masked rows are zero), bias [COLS],
//         grad [COLS] (written only when p.store_grad == 1, for `gpunn step` and the
//         optimizers); bias updated by plain SGD only when p.update == 1.
// db[j] = Σ_r dz[r][j], summed in row order by one thread per column: a fixed order, so the
// result is the same on every run (no float atomics).

// BiasParams and StepUniform are generated from src/gpu/kernels/ and placed above this file.
@group(0) @binding(0) var<uniform> p: BiasParams;
@group(0) @binding(1) var<storage, read> dz: array<f32>;
@group(0) @binding(2) var<storage, read_write> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<uniform> step: StepUniform;

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
    if p.update == 1u {
        bias[j] -= step.lr * s;
    }
    if p.store_grad == 1u {
        grad[j] = s;
    }
}
