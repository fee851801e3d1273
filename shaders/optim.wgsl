// optim.wgsl: every optimizer but plain SGD (which is fused into the weight product), on one
// parameter tensor whose gradient the backward pass has written. CPU twin:
// `optim::rule::update_tensor` (and `global_norm`, `clip_scale`).
//
// Per step, in one pass: `tick` once, then with clip_norm `norm` on every tensor, then
// `update` on every tensor. Every entry point uses the same bindings.
//
// Shapes: w, g [N] (a weight matrix [out][in] or a bias [out]), as ⌈N/4⌉ vec4s; m, v the same
// (the velocity of sgd
// with momentum is m; unused ones are a dummy); state [0] Σ g² over every tensor of this step
// (f32 bits), [1] the step count t, [2] Adam's step size lr/(1 − β1ᵗ) and [3] √(1 − β2ᵗ)
// (f32 bits, computed once a step by `tick`); flags [0] nonzero when an update left a NaN or
// infinity (the metrics kernel reads and clears it).
// The ids OPT_SGD, OPT_ADAM, OPT_ADAMW are generated from `OptimizerKind` (src/gpu/ids.rs).

// The rule itself is optim_rule.wgsl's `optim_rule`, placed above this file.
// OptimParams (its uniforms), OptimRule and StepUniform are generated from
// src/gpu/kernels/ and placed above.
@group(0) @binding(0) var<uniform> p: OptimParams;
// Every tensor is padded with zeros to whole vec4s (a zero gradient on a zero weight leaves
// it zero under every rule), and read and written as vec4: on CPU adapters a vector load is
// one load, where lane-varying scalar loads are a loop.
@group(0) @binding(1) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> state: array<u32>;
@group(0) @binding(6) var<storage, read_write> flags: array<atomic<u32>>;
@group(0) @binding(7) var<uniform> step: StepUniform;

// Starts a step: the norm's sum back to 0, the step count up by one, and Adam's bias
// corrections for it (the same for every tensor: lr and the betas are the run's).
@compute @workgroup_size(1)
fn tick() {
    state[0] = bitcast<u32>(0.0);
    let t = state[1] + 1u;
    state[1] = t;
    state[2] = bitcast<u32>(step.lr / one_minus_pow(p.rule.log_beta1, t));
    state[3] = bitcast<u32>(sqrt(one_minus_pow(p.rule.log_beta2, t)));
}

// 1 − βᵗ from ln β, to f32's precision. 1 − pow(β, t) would cancel: pow's error (loose in
// WGSL) and β's rounding are multiplied by about 1/(1 − βᵗ), 1000 for β = 0.999 at t = 1.
// Instead 1 − βᵗ = −expm1(x) with x = t·ln β ≤ 0: for |x| ≤ 1 common.wgsl's series, where no
// term cancels; beyond, 1 − exp(x) ≥ 0.63 cancels little.
fn one_minus_pow(log_beta: f32, t: u32) -> f32 {
    let x = f32(t) * log_beta;
    if x >= -1.0 {
        return -expm1_small(x);
    }
    return 1.0 - exp(x);
}

// Adds Σ g² of this tensor to state[0]: 256 strided partial sums, a tree in workgroup memory,
// then one thread adds the total. One workgroup and a fixed order: the same result every run.
const NORM_THREADS: u32 = 256u;
var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn norm(@builtin(local_invocation_index) i: u32) {
    var s = 0.0;
    for (var k = i; k < (p.n + 3u) / 4u; k += NORM_THREADS) {
        s += dot(g[k], g[k]);
    }
    partial[i] = s;
    workgroupBarrier();
    for (var half = NORM_THREADS / 2u; half > 0u; half /= 2u) {
        if i < half {
            partial[i] += partial[i + half];
        }
        workgroupBarrier();
    }
    if i == 0u {
        state[0] = bitcast<u32>(bitcast<f32>(state[0]) + partial[0]);
    }
}

// Clipping by the global norm, then `optim_rule` on UPDATE_VEC4S vec4s of the tensor per
// invocation, 64 apart (adjacent invocations touch adjacent vec4s): fewer workgroups, which
// CPU adapters run one after another.
const UPDATE_VEC4S: u32 = 4u;

@compute @workgroup_size(64)
fn update(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) l: u32) {
    let n4 = (p.n + 3u) / 4u;
    var scale = 1.0;
    if (p.rule.flags & RULE_CLIP_NORM) != 0u {
        let total = sqrt(bitcast<f32>(state[0]));
        if total > p.rule.clip_norm {
            scale = p.rule.clip_norm / (total + 1e-6);
        }
    }
    let decay = select(0.0, p.rule.weight_decay, p.is_weight != 0u);
    let step_size = bitcast<f32>(state[2]);
    let bc2_sqrt = bitcast<f32>(state[3]);
    // Only the state the rule keeps is read and written: the others are a 16-byte dummy.
    let has_m = (p.rule.flags & RULE_KEEPS_M) != 0u;
    let has_v = (p.rule.flags & RULE_KEEPS_V) != 0u;
    var ok = true;
    for (var j = 0u; j < UPDATE_VEC4S; j++) {
        let i = wg.x * 64u * UPDATE_VEC4S + j * 64u + l;
        if i >= n4 {
            break;
        }
        var mi = vec4(0.0);
        var vi = vec4(0.0);
        if has_m {
            mi = m[i];
        }
        if has_v {
            vi = v[i];
        }
        let r = optim_rule(p.rule, step.lr, decay, g[i] * scale, w[i], mi, vi, step_size, bc2_sqrt);
        w[i] = r.w;
        if has_m {
            m[i] = r.m;
        }
        if has_v {
            v[i] = r.v;
        }
        ok = ok && rule_finite(r.m, r.v);
    }
    if !ok {
        atomicOr(&flags[0], 1u);
    }
}
