// optim_rule.wgsl: the per-element optimizer rule, shared by the optimizer kernel (optim.wgsl)
// and the matmul epilogue that fuses it into the weight-gradient product (EPILOGUE_OPTIM).
// CPU twin: `optim::rule::update_tensor` (clipping by value, weight decay, sgd/adam/adamw).
// Rust prepends the generated ids (OPT_SGD, OPT_ADAM, OPT_ADAMW, RULE_*) and places this file
// before the kernel that uses it.

// The run's optimizer settings, `OptimRule`, are generated from src/gpu/kernels/optim.rs
// (RULE_* flags from src/gpu/ids.rs) and placed above.

// The rule on four elements at once (callers with one element use lane x): the gradient g
// (already scaled by any global-norm clipping), the parameter w and its state m (velocity or
// first moment) and v; `decay` is the weight decay (0 on biases); step_size = lr/(1 − β1ᵗ)
// and bc2_sqrt = √(1 − β2ᵗ) for Adam. Written on vec4s rather than looped over lanes: on CPU
// adapters a loop indexing a vector's lanes by a variable goes through memory.
struct RuleOut {
    w: vec4<f32>,
    m: vec4<f32>,
    v: vec4<f32>,
}

fn optim_rule(r: OptimRule, lr: f32, decay: f32, g_in: vec4<f32>, w_in: vec4<f32>,
              m_in: vec4<f32>, v_in: vec4<f32>, step_size: f32, bc2_sqrt: f32) -> RuleOut {
    var g = g_in;
    if (r.flags & RULE_CLIP_VALUE) != 0u {
        g = clamp(g, vec4(-r.clip_value), vec4(r.clip_value));
    }
    var w = w_in;
    var m = m_in;
    var v = v_in;
    if r.kind == OPT_SGD {
        g += decay * w;
        var d = g;
        if r.momentum != 0.0 {
            m = r.momentum * m + g;
            if (r.flags & RULE_NESTEROV) != 0u {
                d = g + r.momentum * m;
            } else {
                d = m;
            }
        }
        w -= lr * d;
    } else {
        if r.kind == OPT_ADAMW {
            w *= 1.0 - lr * decay;
        } else {
            g += decay * w;
        }
        m = r.beta1 * m + (1.0 - r.beta1) * g;
        v = r.beta2 * v + (1.0 - r.beta2) * g * g;
        w -= step_size * m / (sqrt(v) / bc2_sqrt + r.eps);
    }
    return RuleOut(w, m, v);
}

// Whether every lane of the state (m, v) is finite: NaN fails every comparison; infinity is
// larger than the largest finite f32.
fn rule_finite(m: vec4<f32>, v: vec4<f32>) -> bool {
    return all(abs(m) <= vec4(3.4e38)) && all(abs(v) <= vec4(3.4e38));
}
