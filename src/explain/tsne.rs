//! t-SNE to two dimensions with the `bhtsne` crate's Barnes-Hut implementation (θ = 0.5):
//! O(n log n) a step, where the exact method's O(n²) would take minutes on 2,000 points of
//! several layers. Deterministic: the embedding starts from the PCA (scaled to a standard
//! deviation of 1e-4, as scikit-learn's `init="pca"`), and the crate's parallel sums run on one
//! thread, so their order never changes.

use super::pca::pca_2d;
use crate::{Error, Result};

/// Fitting iterations (the crate's and scikit-learn's default is 1000).
pub const EPOCHS: usize = 1000;

/// The t-SNE of `x` (`[n][d]`) as `[n][2]`; `progress(epoch)` after every iteration.
pub fn tsne_2d(
    x: &[f32],
    n: usize,
    d: usize,
    mut progress: impl FnMut(usize) + Send,
) -> Result<Vec<f32>> {
    if n < 4 {
        return Err(Error::invalid(
            "samples",
            format!("t-SNE needs at least 4 points, got {n}"),
        ));
    }
    // The crate asks for n − 1 ≥ 3·perplexity.
    let perplexity = 30.0f32.min((n - 1) as f32 / 3.0 - 0.01).max(1.0);
    let (mut init, _) = pca_2d(x, n, d);
    let sd = (init.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / init.len() as f64).sqrt();
    let k = if sd > 0.0 { 1e-4 / sd } else { 0.0 };
    init.iter_mut().enumerate().for_each(|(i, v)| {
        // All-equal points (a dead layer) still get distinct starts.
        *v = if k > 0.0 {
            (*v as f64 * k) as f32
        } else {
            1e-4 * ((i as f32 * 0.618_034).fract() - 0.5)
        };
    });
    let rows: Vec<&[f32]> = x.chunks_exact(d).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| Error::invalid("t-SNE", e.to_string()))?;
    let embedding = pool.install(|| {
        let mut t: bhtsne::tSNE<f32, &[f32]> = bhtsne::tSNE::new(&rows);
        t.perplexity(perplexity)
            .epochs(EPOCHS)
            .initial_embedding(init)
            .epoch_callback(move |epoch, _| progress(epoch))
            .barnes_hut(0.5, |a, b| {
                a.iter()
                    .zip(b.iter())
                    .map(|(p, q)| (p - q) * (p - q))
                    .sum::<f32>()
                    .sqrt()
            });
        t.embedding()
    });
    Ok(embedding)
}
