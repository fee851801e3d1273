//! Principal component analysis to two dimensions: the data centred, its covariance matrix
//! (f64), the top two eigenvectors by power iteration with deflation, and the projection.
//! Deterministic: a fixed start vector, and each component's sign chosen so that its largest
//! coordinate is positive.

/// The two-dimensional PCA of `x` (`[n][d]`): `([n][2] coordinates, the share of the variance
/// each of the two components explains)`.
pub fn pca_2d(x: &[f32], n: usize, d: usize) -> (Vec<f32>, [f64; 2]) {
    assert_eq!(x.len(), n * d, "pca: x is not [{n}][{d}]");
    if n == 0 || d == 0 {
        return (vec![0.0; n * 2], [0.0; 2]);
    }
    let mut mean = vec![0.0f64; d];
    for row in x.chunks_exact(d) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64 / n as f64;
        }
    }
    // cov[i][j] = Σ (x_i − m_i)(x_j − m_j) / n, upper triangle mirrored.
    let mut cov = vec![0.0f64; d * d];
    let mut centred = vec![0.0f64; d];
    for row in x.chunks_exact(d) {
        for (c, (&v, &m)) in centred.iter_mut().zip(row.iter().zip(&mean)) {
            *c = v as f64 - m;
        }
        for i in 0..d {
            let ci = centred[i];
            if ci == 0.0 {
                continue;
            }
            for j in i..d {
                cov[i * d + j] += ci * centred[j];
            }
        }
    }
    for i in 0..d {
        for j in i..d {
            cov[i * d + j] /= n as f64;
            cov[j * d + i] = cov[i * d + j];
        }
    }
    let total: f64 = (0..d).map(|i| cov[i * d + i]).sum();
    let first = top_eigenvector(&cov, d);
    let l1 = rayleigh(&cov, d, &first);
    // Deflate: cov − λ₁·v₁v₁ᵀ.
    let mut rest = cov.clone();
    for i in 0..d {
        for j in 0..d {
            rest[i * d + j] -= l1 * first[i] * first[j];
        }
    }
    let second = top_eigenvector(&rest, d);
    let l2 = rayleigh(&cov, d, &second);
    let mut out = Vec::with_capacity(n * 2);
    for row in x.chunks_exact(d) {
        for v in [&first, &second] {
            let p: f64 = row
                .iter()
                .zip(&mean)
                .zip(v.iter())
                .map(|((&x, &m), &c)| (x as f64 - m) * c)
                .sum();
            out.push(p as f32);
        }
    }
    let share = |l: f64| {
        if total > 0.0 {
            (l / total).clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    (out, [share(l1), share(l2)])
}

/// The unit eigenvector of the largest eigenvalue of the symmetric `m` (`[d][d]`).
fn top_eigenvector(m: &[f64], d: usize) -> Vec<f64> {
    // A start with a component along every axis (and none of them equal).
    let mut v: Vec<f64> = (0..d)
        .map(|i| 1.0 + (i as f64 * 0.618_034).fract())
        .collect();
    normalise(&mut v);
    for _ in 0..1000 {
        let mut w = vec![0.0f64; d];
        for i in 0..d {
            w[i] = (0..d).map(|j| m[i * d + j] * v[j]).sum();
        }
        if normalise(&mut w) == 0.0 {
            break;
        }
        let change: f64 = w.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
        v = w;
        if change < 1e-12 {
            break;
        }
    }
    // The sign that makes the largest coordinate positive.
    let big = v
        .iter()
        .copied()
        .fold(0.0f64, |a, b| if b.abs() > a.abs() { b } else { a });
    if big < 0.0 {
        v.iter_mut().for_each(|c| *c = -*c);
    }
    v
}

fn normalise(v: &mut [f64]) -> f64 {
    let norm = v.iter().map(|c| c * c).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|c| *c /= norm);
    }
    norm
}

fn rayleigh(m: &[f64], d: usize, v: &[f64]) -> f64 {
    (0..d)
        .map(|i| v[i] * (0..d).map(|j| m[i * d + j] * v[j]).sum::<f64>())
        .sum()
}
