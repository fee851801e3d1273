//! Synthetic toy sets, all seeded: XOR, a linear split and concentric circles.

use super::{Dataset, Features};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

/// The four XOR points with labels 0, 1, 1, 0.
pub fn xor() -> Dataset {
    Dataset {
        name: "xor".into(),
        dim: 2,
        features: Features::F32(vec![0., 0., 0., 1., 1., 0., 1., 1.].into()),
        labels: vec![0, 1, 1, 0],
        classes: 2,
        target: Default::default(),
        weights: None,
    }
}

/// Vertical distance from the line that no point of [`linear`] comes closer than, so the
/// two classes are separated by a margin.
pub const LINEAR_MARGIN: f32 = 0.05;

/// `n` points uniform in [−1, 1]², labelled 1 above the line `x2 = 0.5·x1 + 0.1`, else 0.
/// Points within [`LINEAR_MARGIN`] of the line are drawn again.
pub fn linear(n: usize, seed: u64) -> Dataset {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    while labels.len() < n {
        let (a, b): (f32, f32) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
        let d = b - (0.5 * a + 0.1);
        if d.abs() < LINEAR_MARGIN {
            continue;
        }
        x.extend([a, b]);
        labels.push(u32::from(d > 0.0));
    }
    Dataset {
        name: "linear".into(),
        dim: 2,
        features: Features::F32(x.into()),
        labels,
        classes: 2,
        target: Default::default(),
        weights: None,
    }
}

/// Two concentric circles, as scikit-learn's `make_circles`: `n / 2` points on the unit
/// circle (label 0) and the rest on a circle of radius `factor` (label 1), evenly spaced in
/// angle, plus Gaussian noise of std `noise` on each coordinate, then shuffled.
pub fn circles(n: usize, factor: f32, noise: f32, seed: u64) -> Dataset {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let n_out = n / 2;
    let n_in = n - n_out;
    let mut points: Vec<([f32; 2], u32)> = Vec::with_capacity(n);
    for (count, radius, label) in [(n_out, 1.0f32, 0u32), (n_in, factor, 1)] {
        for i in 0..count {
            let t = 2.0 * std::f32::consts::PI * i as f32 / count as f32;
            points.push(([radius * t.cos(), radius * t.sin()], label));
        }
    }
    if noise > 0.0 {
        let dist = Normal::new(0.0f32, noise).expect("noise is finite and positive");
        for (p, _) in &mut points {
            p[0] += dist.sample(&mut rng);
            p[1] += dist.sample(&mut rng);
        }
    }
    points.shuffle(&mut rng);
    Dataset {
        name: "circles".into(),
        dim: 2,
        features: Features::F32(points.iter().flat_map(|(p, _)| *p).collect()),
        labels: points.iter().map(|(_, l)| *l).collect(),
        classes: 2,
        target: Default::default(),
        weights: None,
    }
}
