//! Seeded splits of a dataset into parts: a held-out fraction, stratified by class where the
//! set has classes (each class keeps its share in both parts).

use super::{Dataset, Target};
use crate::{Error, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Sample indices of `data` in a seeded order, grouped by class (one group without classes):
/// the building block of stratified splits.
fn shuffled_groups(data: &Dataset, seed: u64) -> Vec<Vec<u32>> {
    let stratify = data.target == Target::Classes && data.classes > 1;
    let groups = if stratify { data.classes } else { 1 };
    let mut by_class = vec![Vec::new(); groups];
    for (i, &l) in data.labels.iter().enumerate() {
        let g = if stratify { l as usize } else { 0 };
        by_class[g].push(i as u32);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for g in &mut by_class {
        g.shuffle(&mut rng);
    }
    by_class
}

/// Holds out `fraction` of `data` (rounded per class), seeded: `(rest, held_out)`, each in
/// the original sample order. `field` names the setting in errors.
pub fn holdout(
    data: &Dataset,
    fraction: f32,
    seed: u64,
    field: &str,
) -> Result<(Dataset, Dataset)> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(Error::invalid(
            field,
            format!("{fraction} is not a fraction in (0, 1), e.g. 0.2 holds out 20%"),
        ));
    }
    let (mut keep, mut out) = (Vec::new(), Vec::new());
    for g in shuffled_groups(data, seed) {
        let k = (f64::from(fraction) * g.len() as f64).round() as usize;
        out.extend_from_slice(&g[..k]);
        keep.extend_from_slice(&g[k..]);
    }
    if out.is_empty() || keep.is_empty() {
        return Err(Error::invalid(
            field,
            format!("{fraction} of {} samples leaves one part empty", data.len()),
        ));
    }
    keep.sort_unstable();
    out.sort_unstable();
    Ok((data.subset(&keep), data.subset(&out)))
}

/// `k` disjoint folds covering `data`, stratified by class, seeded: the sample indices of
/// each fold, in order.
pub fn folds(data: &Dataset, k: usize, seed: u64) -> Result<Vec<Vec<u32>>> {
    if k < 2 || k > data.len() {
        return Err(Error::invalid(
            "folds",
            format!(
                "{k} folds of {} samples: give 2 to {}",
                data.len(),
                data.len()
            ),
        ));
    }
    let mut folds = vec![Vec::new(); k];
    // Deal each class's shuffled samples round-robin, continuing where the last class ended,
    // so fold sizes differ by at most one.
    let mut next = 0;
    for g in shuffled_groups(data, seed) {
        for i in g {
            folds[next].push(i);
            next = (next + 1) % k;
        }
    }
    for f in &mut folds {
        f.sort_unstable();
    }
    Ok(folds)
}
