// matmul_optim.wgsl: the fused optimizer epilogue (EPILOGUE_OPTIM) of the weight-gradient
// product W [M][N] ← rule(W, g = dz [B][M]ᵀ·input [B][N], state): bindings 6 to 9 and
// `optim_store`, placed by src/gpu/kernels/matmul/source.rs after the generated consts and
// optim_rule.wgsl, before the kernel (matmul.wgsl or matmul_subgroup.wgsl) that calls
// `optim_store(i, g)` for each element of C it computes. Its CPU twin is the same as
// optim.wgsl's `update`: `optim::rule::update_tensor`.
@group(0) @binding(6) var<storage, read_write> opt_m: array<f32>; // [M][N] velocity or first moment (or a dummy)
@group(0) @binding(7) var<storage, read_write> opt_v: array<f32>; // [M][N] second moment (or a dummy)
@group(0) @binding(8) var<storage, read> opt_state: array<u32>; // [2] step size, [3] sqrt(1 - beta2^t), f32 bits
@group(0) @binding(9) var<storage, read_write> opt_flags: array<atomic<u32>>; // [0] set on a NaN/inf in the state
fn optim_store(i: u32, g: f32) {
    let has_m = (params.rule.flags & RULE_KEEPS_M) != 0u;
    let has_v = (params.rule.flags & RULE_KEEPS_V) != 0u;
    var m = 0.0;
    var v = 0.0;
    if has_m {
        m = opt_m[i];
    }
    if has_v {
        v = opt_v[i];
    }
    let r = optim_rule(params.rule, step.lr, params.rule.weight_decay, vec4(g), vec4(out[i]),
                       vec4(m), vec4(v), bitcast<f32>(opt_state[2]), bitcast<f32>(opt_state[3]));
    out[i] = r.w.x;
    if has_m {
        opt_m[i] = r.m.x;
    }
    if has_v {
        opt_v[i] = r.v.x;
    }
    if !rule_finite(vec4(r.m.x), vec4(r.v.x)) {
        atomicOr(&opt_flags[0], 1u);
    }
}
