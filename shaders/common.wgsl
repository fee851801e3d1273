// common.wgsl: definitions shared by every gpunn kernel. Rust prepends this file to each kernel's
// source (WGSL has no #include), so everything here must be a `const` or a `fn`.
//
// The ids ACT_*, LOSS_* and EPILOGUE_* and LEAKY_SLOPE are generated from the Rust enums by
// src/gpu/shaders.rs and placed above this file; `gpunn shaders --dump DIR` shows them.
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

// a = f(z), as `cpu::activation::apply`.
fn act_forward(id: u32, z: f32) -> f32 {
    switch id {
        case ACT_SIGMOID: {
            return sigmoid(z);
        }
        case ACT_TANH: {
            // tanh(±15) is ±1 exactly in f32 (1 - tanh(9.1) is already below half an ulp), so
            // the clamp changes no result; it guards drivers that evaluate tanh as
            // (e^2z - 1)/(e^2z + 1), which is inf/inf = NaN for large |z|.
            return tanh(clamp(z, -15.0, 15.0));
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
