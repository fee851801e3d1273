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
/// the original sample order; the rest is `data` itself, reordered in place, and only the held
/// out part is copied. `field` names the setting in errors.
pub fn holdout(
    mut data: Dataset,
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
    for g in shuffled_groups(&data, seed) {
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
    let mut held = vec![false; data.len()];
    for &i in &out {
        held[i as usize] = true;
    }
    let held_out = data.partition(&held);
    Ok((data, held_out))
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

/// Shuffles `data` with `seed` (rand's `StdRng`) and holds out the last `round(fraction * n)`
/// samples as a validation set named `<name>-val`; the rest, in shuffled order, is the
/// training set: `data` itself, reordered in place (only the validation part is copied).
/// `fraction == 0` gives no validation set and `data` unchanged.
///
/// Errors (naming `--val-split`): a fraction outside [0, 1), one that holds out no sample of a
/// non-empty set, or one that leaves no training sample.
pub fn split_validation(
    mut data: Dataset,
    fraction: f32,
    seed: u64,
) -> Result<(Dataset, Option<Dataset>)> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(Error::invalid(
            "data.val_split",
            format!("{fraction} is not a fraction in [0, 1), e.g. 0.1 holds out 10%"),
        ));
    }
    if fraction == 0.0 {
        return Ok((data, None));
    }
    let n = data.len();
    // f64 so that the rounding of e.g. 0.1 * 60000 is exact.
    let n_val = (f64::from(fraction) * n as f64).round() as usize;
    if n_val == 0 {
        return Err(Error::invalid(
            "data.val_split",
            format!("{fraction} of {n} samples rounds to no validation sample; raise it or use 0"),
        ));
    }
    if n_val >= n {
        return Err(Error::invalid(
            "data.val_split",
            format!("{fraction} of {n} samples leaves no training sample"),
        ));
    }
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    data.permute(&order);
    let mut val = data.split_off(n - n_val);
    val.name = format!("{}-val", data.name);
    Ok((data, Some(val)))
}
