//! The ranges and ticks of the plots' axes, as plain functions so that tests can check what a
//! picture will show: whole-epoch ticks without repeats, and y ranges that hold every value
//! or say which curves they clip.

/// Whole-epoch tick positions from `first` to `last`: every epoch up to 12 of them, else a
/// step of 2, 5, 10, 20, 50, ... epochs (multiples of the step, plus `first` when it is 1).
pub fn epoch_ticks(first: usize, last: usize) -> Vec<usize> {
    let (first, last) = (first.min(last), first.max(last));
    let span = last - first + 1;
    let mut step = 1;
    let mut k = 0;
    while span.div_ceil(step) > 12 {
        // 1, 2, 5, 10, 20, 50, ...
        step = [2, 5, 10][k % 3] * 10usize.pow((k / 3) as u32);
        k += 1;
    }
    let mut ticks: Vec<usize> = (first..=last)
        .filter(|e| step == 1 || e % step == 0)
        .collect();
    if ticks.first() != Some(&first) && first == 1 {
        ticks.insert(0, 1);
    }
    ticks
}

/// An x axis of epochs from `first − ½` to `last + ½`, whose ticks are [`epoch_ticks`].
pub(super) struct EpochAxis {
    range: std::ops::Range<f64>,
    ticks: Vec<f64>,
}

impl EpochAxis {
    pub(super) fn new(first: usize, last: usize) -> Self {
        EpochAxis {
            range: (first as f64 - 0.5)..(last as f64 + 0.5),
            ticks: epoch_ticks(first, last)
                .into_iter()
                .map(|e| e as f64)
                .collect(),
        }
    }
}

impl plotters::coord::ranged1d::Ranged for EpochAxis {
    type ValueType = f64;
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let frac = (v - self.range.start) / (self.range.end - self.range.start);
        limit.0 + ((limit.1 - limit.0) as f64 * frac).round() as i32
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.max_num_points() == 0 {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

/// The y range of a chart of curves and how many curves it clips.
#[derive(Clone, Debug, PartialEq)]
pub struct CurveRange {
    pub lo: f64,
    pub hi: f64,
    /// Curves with a finite value outside `lo..=hi` (drawn clamped to the edge, marked).
    pub clipped: usize,
}

/// A y range for `curves` (`(x, y)` points, best curve first): every finite value, padded by
/// 5%, unless a curve blew up: one with a value more than `CLIP_FACTOR` times the better
/// half's span beyond the better half's values. The range then holds the other curves, and
/// `clipped` counts the curves that leave it.
pub fn curve_range(curves: &[Vec<(f64, f64)>]) -> CurveRange {
    const CLIP_FACTOR: f64 = 100.0;
    let span = |cs: &mut dyn Iterator<Item = &Vec<(f64, f64)>>| {
        cs.flatten()
            .map(|p| p.1)
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            })
    };
    let better = span(&mut curves[..curves.len().div_ceil(2)].iter());
    let reach = CLIP_FACTOR * (better.1 - better.0).max(1e-12);
    let blew_up = |c: &Vec<(f64, f64)>| {
        better.0.is_finite()
            && c.iter()
                .any(|p| p.1.is_finite() && (p.1 > better.1 + reach || p.1 < better.0 - reach))
    };
    let (lo, hi) = span(&mut curves.iter().filter(|c| !blew_up(c)));
    if !lo.is_finite() {
        return CurveRange {
            lo: 0.0,
            hi: 1.0,
            clipped: 0,
        };
    }
    let pad = ((hi - lo) * 0.05).max(1e-6 * hi.abs().max(1.0));
    let (lo, hi) = (lo - pad, hi + pad);
    let clipped = curves
        .iter()
        .filter(|c| c.iter().any(|p| p.1.is_finite() && (p.1 < lo || p.1 > hi)))
        .count();
    CurveRange { lo, hi, clipped }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_epochs_tick_once_each() {
        assert_eq!(epoch_ticks(1, 2), vec![1, 2]);
        assert_eq!(epoch_ticks(1, 1), vec![1]);
        assert_eq!(epoch_ticks(1, 12), (1..=12).collect::<Vec<_>>());
        assert_eq!(epoch_ticks(1, 30), vec![1, 5, 10, 15, 20, 25, 30]);
        assert_eq!(epoch_ticks(4, 9), vec![4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn a_blown_up_curve_is_clipped_and_counted() {
        let good: Vec<Vec<(f64, f64)>> = (0..3)
            .map(|i| vec![(1.0, 0.5 + i as f64 * 0.01), (2.0, 0.4)])
            .collect();
        let mut all = good.clone();
        all.push(vec![(1.0, 1e6), (2.0, 2e6)]);
        let r = curve_range(&all);
        assert_eq!(r.clipped, 1);
        assert!(r.hi < 1.0, "{r:?}");
    }
}
