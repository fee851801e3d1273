//! The three matrix products of a dense layer on the `gemm` crate, expressed with row and
//! column strides so that no transpose is ever materialised. All matrices are row-major.
//!
//! `gemm::gemm` computes `dst = alpha·dst + beta·lhs·rhs` (note: alpha scales `dst`), reading
//! `dst` only when `read_dst` is true; element (i, j) of an operand lives at
//! `ptr + i·rs + j·cs`. Each worker thread calls it single-threaded on its own part of the
//! batch or of the layer, so the products run with `Parallelism::None`.

use gemm::Parallelism;

/// Forward: `z = x · wᵀ`, overwriting `z`. `x` is `[m][k]` (m batch rows), `w` is `[n][k]`
/// (weights `[out][in]`), `z` is `[m][n]`.
pub fn forward(z: &mut [f32], x: &[f32], w: &[f32], m: usize, k: usize, n: usize) {
    assert_eq!(z.len(), m * n, "forward: z is not [{m}][{n}]");
    assert_eq!(x.len(), m * k, "forward: x is not [{m}][{k}]");
    assert_eq!(w.len(), n * k, "forward: w is not [{n}][{k}]");
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: dst (i, j) = z[i·n + j], lhs (i, p) = x[i·k + p], rhs (p, j) = w[j·k + p]
    // (wᵀ read through w's strides): every index is inside the slices checked above, and `z`
    // is exclusively borrowed.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            z.as_mut_ptr(),
            1,
            n as isize,
            false,
            x.as_ptr(),
            1,
            k as isize,
            w.as_ptr(),
            k as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// Input gradient: `dx = dz · w`, overwriting `dx`. `dz` is `[m][k]` (k = the layer's
/// outputs), `w` is `[k][n]` (weights `[out][in]`), `dx` is `[m][n]`.
pub fn input_grad(dx: &mut [f32], dz: &[f32], w: &[f32], m: usize, k: usize, n: usize) {
    assert_eq!(dx.len(), m * n, "input_grad: dx is not [{m}][{n}]");
    assert_eq!(dz.len(), m * k, "input_grad: dz is not [{m}][{k}]");
    assert_eq!(w.len(), k * n, "input_grad: w is not [{k}][{n}]");
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: dst (i, j) = dx[i·n + j], lhs (i, p) = dz[i·k + p], rhs (p, j) = w[p·n + j]:
    // inside the slices checked above; `dx` is exclusively borrowed.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dx.as_mut_ptr(),
            1,
            n as isize,
            false,
            dz.as_ptr(),
            1,
            k as isize,
            w.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// Weight gradient fused with SGD, for the neurons `j0..j1` of a layer:
/// `w[j0..j1] = w[j0..j1] − lr · dz[:, j0..j1]ᵀ · x`. The gradient never goes through memory.
///
/// `w_rows` is `[j1 − j0][inputs]` (those neurons' rows of the weights), `dz` is
/// `[batch][outputs]`, `x` is the layer's input `[batch][inputs]`.
#[allow(clippy::too_many_arguments)]
pub fn sgd_weights(
    w_rows: &mut [f32],
    dz: &[f32],
    x: &[f32],
    (j0, j1): (usize, usize),
    batch: usize,
    outputs: usize,
    inputs: usize,
    lr: f32,
) {
    let m = j1 - j0;
    assert!(
        j0 <= j1 && j1 <= outputs,
        "sgd_weights: neurons {j0}..{j1} of {outputs}"
    );
    assert_eq!(
        w_rows.len(),
        m * inputs,
        "sgd_weights: w_rows is not [{m}][{inputs}]"
    );
    assert_eq!(
        dz.len(),
        batch * outputs,
        "sgd_weights: dz is not [{batch}][{outputs}]"
    );
    assert_eq!(
        x.len(),
        batch * inputs,
        "sgd_weights: x is not [{batch}][{inputs}]"
    );
    if m == 0 || batch == 0 {
        return;
    }
    // SAFETY: dst (i, j) = w_rows[i·inputs + j]; lhs (i, p) = dz[p·outputs + j0 + i] (dzᵀ read
    // through dz's strides, columns j0..j1 only), at most (batch−1)·outputs + j1 − 1 < dz.len();
    // rhs (p, j) = x[p·inputs + j]. All inside the slices checked above; `w_rows` is
    // exclusively borrowed.
    unsafe {
        gemm::gemm(
            m,
            inputs,
            batch,
            w_rows.as_mut_ptr(),
            1,
            inputs as isize,
            true,
            dz.as_ptr().add(j0),
            outputs as isize,
            1,
            x.as_ptr(),
            1,
            inputs as isize,
            1.0,
            -lr,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}
