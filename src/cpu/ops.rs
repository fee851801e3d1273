//! The three matrix products a dense layer needs, as plain loops. Generic over the float type
//! so that gradient checks can run the same code in f64.
//!
//! All matrices are row-major. Shapes are written `[rows][cols]`.

use super::Real;

/// Forward product. `a` is `[m][k]`, `b` is `[n][k]` (e.g. weights `[out][in]`); returns
/// `c = a · bᵀ`, `[m][n]`.
pub fn matmul_nt<T: Real>(a: &[T], b: &[T], m: usize, k: usize, n: usize) -> Vec<T> {
    assert_eq!(a.len(), m * k, "matmul_nt: a is not [m][k]");
    assert_eq!(b.len(), n * k, "matmul_nt: b is not [n][k]");
    let mut c = vec![T::zero(); m * n];
    for r in 0..m {
        for col in 0..n {
            let mut acc = T::zero();
            for p in 0..k {
                acc = acc + a[r * k + p] * b[col * k + p];
            }
            c[r * n + col] = acc;
        }
    }
    c
}

/// Input-gradient product. `a` is `[m][k]`, `b` is `[k][n]`; returns `c = a · b`, `[m][n]`.
pub fn matmul_nn<T: Real>(a: &[T], b: &[T], m: usize, k: usize, n: usize) -> Vec<T> {
    assert_eq!(a.len(), m * k, "matmul_nn: a is not [m][k]");
    assert_eq!(b.len(), k * n, "matmul_nn: b is not [k][n]");
    let mut c = vec![T::zero(); m * n];
    for r in 0..m {
        for col in 0..n {
            let mut acc = T::zero();
            for p in 0..k {
                acc = acc + a[r * k + p] * b[p * n + col];
            }
            c[r * n + col] = acc;
        }
    }
    c
}

/// Weight-gradient product. `a` is `[k][m]`, `b` is `[k][n]`; returns `c = aᵀ · b`, `[m][n]`.
pub fn matmul_tn<T: Real>(a: &[T], b: &[T], m: usize, k: usize, n: usize) -> Vec<T> {
    assert_eq!(a.len(), k * m, "matmul_tn: a is not [k][m]");
    assert_eq!(b.len(), k * n, "matmul_tn: b is not [k][n]");
    let mut c = vec![T::zero(); m * n];
    for r in 0..m {
        for col in 0..n {
            let mut acc = T::zero();
            for p in 0..k {
                acc = acc + a[p * m + r] * b[p * n + col];
            }
            c[r * n + col] = acc;
        }
    }
    c
}

/// Column sums of `a` (`[m][n]`) in row order: the bias gradient. Returns `[n]`.
pub fn column_sums<T: Real>(a: &[T], m: usize, n: usize) -> Vec<T> {
    assert_eq!(a.len(), m * n, "column_sums: a is not [m][n]");
    let mut s = vec![T::zero(); n];
    for r in 0..m {
        for col in 0..n {
            s[col] = s[col] + a[r * n + col];
        }
    }
    s
}
