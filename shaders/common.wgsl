// common.wgsl: definitions shared by every gpunn kernel. Rust prepends this file to each kernel's
// source (WGSL has no #include), so everything here must be a `const` or a `fn`.
//
// The ids ACT_*, LOSS_* and EPILOGUE_* and LEAKY_SLOPE are generated from the Rust enums by
// src/gpu/ids.rs and placed above this file; `gpunn shaders --dump DIR` shows them.
// Softmax (ACT_SOFTMAX) is row-wise and lives in the loss kernel; the elementwise functions
// below treat it as the identity, so a layer with softmax output stores its logits.

// Sigmoid without overflow: exp is only ever taken of a non-positive number.
fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        return 1.0 / (1.0 + exp(-z));
    }
    let e = exp(z);
    return e / (1.0 + e);
}

// e^x − 1 for |x| ≤ 1 by its Taylor series to x¹²/12! (Horner with the constants 1/k!;
// truncation below 2e-10 relative): no cancellation, however small x is.
fn expm1_small(x: f32) -> f32 {
    var h = 1.0 / 479001600.0;
    h = 1.0 / 39916800.0 + x * h;
    h = 1.0 / 3628800.0 + x * h;
    h = 1.0 / 362880.0 + x * h;
    h = 1.0 / 40320.0 + x * h;
    h = 1.0 / 5040.0 + x * h;
    h = 1.0 / 720.0 + x * h;
    h = 1.0 / 120.0 + x * h;
    h = 1.0 / 24.0 + x * h;
    h = 1.0 / 6.0 + x * h;
    h = 0.5 + x * h;
    h = 1.0 + x * h;
    return x * h;
}

// tanh to f32's relative precision. Drivers may evaluate tanh as (e^2z − 1)/(e^2z + 1)
// (lavapipe does), which cancels for small |z|: tanh(1e-5) came out 0.5% off, and so did the
// gradients of every weight fed by such a unit. Below |z| = 0.5, tanh(z) = e/(e + 2) with
// e = expm1(2|z|) from its series; above, the builtin cancels at most 1.6-fold. tanh(±15)
// is ±1 exactly in f32, so the clamp changes no result; it guards the builtin's inf/inf = NaN
// for large |z|.
fn tanh_precise(z: f32) -> f32 {
    let a = abs(z);
    if a < 0.5 {
        let e = expm1_small(2.0 * a);
        return sign(z) * (e / (e + 2.0));
    }
    return tanh(clamp(z, -15.0, 15.0));
}

// a = f(z), as `cpu::activation::apply`.
fn act_forward(id: u32, z: f32) -> f32 {
    switch id {
        case ACT_SIGMOID: {
            return sigmoid(z);
        }
        case ACT_TANH: {
            return tanh_precise(z);
        }
        case ACT_RELU: {
            return max(z, 0.0);
        }
        case ACT_LEAKY_RELU: {
            return select(z * LEAKY_SLOPE, z, z > 0.0);
        }
        default: { // ACT_IDENTITY, ACT_SOFTMAX
            return z;
        }
    }
}

// f'(z) written through the output a = f(z), as `cpu::activation::derivative_from_output`:
// sigmoid a(1-a), tanh 1-a², relu [a>0], leaky relu [a>0] + slope·[a<=0], identity 1.
fn act_grad_from_output(id: u32, a: f32) -> f32 {
    switch id {
        case ACT_SIGMOID: {
            return a * (1.0 - a);
        }
        case ACT_TANH: {
            return 1.0 - a * a;
        }
        case ACT_RELU: {
            return select(0.0, 1.0, a > 0.0);
        }
        case ACT_LEAKY_RELU: {
            return select(LEAKY_SLOPE, 1.0, a > 0.0);
        }
        default: { // ACT_IDENTITY, ACT_SOFTMAX
            return 1.0;
        }
    }
}
