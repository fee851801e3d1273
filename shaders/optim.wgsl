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
// The ids OPT_SGD, OPT_ADAM, OPT_ADAMW are generated from `OptimizerKind` (src/gpu/shaders.rs).

struct Params {
    n: u32,
    kind: u32,
    // bit 0: nesterov, bit 1: a weight tensor (decay applies), bit 2: clip_norm, bit 3: clip_value
    flags: u32,
    _pad0: u32,
    lr: f32,
    momentum: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    clip_norm: f32,
    clip_value: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Every tensor is padded with zeros to whole vec4s (a zero gradient on a zero weight leaves
// it zero under every rule), and read and written as vec4: on CPU adapters a vector load is
// one load, where lane-varying scalar loads are a loop.
@group(0) @binding(1) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> state: array<u32>;
@group(0) @binding(6) var<storage, read_write> flags: array<atomic<u32>>;

const NESTEROV: u32 = 1u;
const IS_WEIGHT: u32 = 2u;
const CLIP_NORM: u32 = 4u;
const CLIP_VALUE: u32 = 8u;

// Starts a step: the norm's sum back to 0, the step count up by one, and Adam's bias
// corrections for it (the same for every tensor: lr and the betas are the run's).
@compute @workgroup_size(1)
fn tick() {
    state[0] = bitcast<u32>(0.0);
    let t = state[1] + 1u;
    state[1] = t;
    state[2] = bitcast<u32>(p.lr / (1.0 - pow(p.beta1, f32(t))));
    state[3] = bitcast<u32>(sqrt(1.0 - pow(p.beta2, f32(t))));
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

// Clipping, weight decay and the rule, as `optim::rule::update_tensor`, on one vec4 of the
// tensor per invocation.
@compute @workgroup_size(64)
fn update(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= (p.n + 3u) / 4u {
        return;
    }
    var grad = g[i];
    if (p.flags & CLIP_NORM) != 0u {
        let total = sqrt(bitcast<f32>(state[0]));
        if total > p.clip_norm {
            grad *= p.clip_norm / (total + 1e-6);
        }
    }
    if (p.flags & CLIP_VALUE) != 0u {
        grad = clamp(grad, vec4(-p.clip_value), vec4(p.clip_value));
    }
    let wd = select(0.0, p.weight_decay, (p.flags & IS_WEIGHT) != 0u);
    var wi = w[i];
    var ok = true;
    if p.kind == OPT_SGD {
        grad += wd * wi;
        var d = grad;
        if p.momentum != 0.0 {
            let vel = p.momentum * m[i] + grad;
            m[i] = vel;
            d = select(vel, grad + p.momentum * vel, (p.flags & NESTEROV) != 0u);
            ok = finite(vel);
        }
        wi -= p.lr * d;
    } else {
        if p.kind == OPT_ADAMW {
            wi *= 1.0 - p.lr * wd;
        } else {
            grad += wd * wi;
        }
        let step_size = bitcast<f32>(state[2]);
        let bc2_sqrt = bitcast<f32>(state[3]);
        let mi = p.beta1 * m[i] + (1.0 - p.beta1) * grad;
        let vi = p.beta2 * v[i] + (1.0 - p.beta2) * grad * grad;
        m[i] = mi;
        v[i] = vi;
        wi -= step_size * mi / (sqrt(vi) / bc2_sqrt + p.eps);
        ok = finite(mi) && finite(vi);
    }
    w[i] = wi;
    if !(ok && finite(wi)) {
        atomicOr(&flags[0], 1u);
    }
}

// NaN fails every comparison; infinity is larger than the largest finite f32.
fn finite(x: vec4<f32>) -> bool {
    return all(abs(x) <= vec4(3.4e38));
}
