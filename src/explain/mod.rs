//! Looking at what a network learned: 2-D maps of its layers' activations ([`pca`], [`tsne`])
//! on a stratified sample, and the decision field of a 2-feature model over its input plane
//! ([`boundary_field`]). The pictures themselves are drawn by [`crate::plots`].

pub mod pca;
pub mod tsne;

use crate::data::scale::Scaler;
use crate::data::{Dataset, Features};
use crate::engine::Engine;
use crate::{Error, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::fmt;
use std::str::FromStr;

/// How activations become a 2-D map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Tsne,
    Pca,
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim() {
            "tsne" | "t-sne" => Ok(Method::Tsne),
            "pca" => Ok(Method::Pca),
            _ => Err(format!("unknown method '{s}' (tsne or pca)")),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Tsne => "t-SNE",
            Method::Pca => "PCA",
        })
    }
}

/// `n` sample indices of `data` (all of them if it has no more), stratified by class: each
/// class keeps its share, rounded by largest remainder so that the shares add up to `n`;
/// seeded; in ascending order.
pub fn stratified_sample(data: &Dataset, n: usize, seed: u64) -> Vec<u32> {
    let total = data.len();
    if n >= total {
        return (0..total as u32).collect();
    }
    let groups = data.classes.max(1);
    let mut by_class = vec![Vec::new(); groups];
    for (i, &l) in data.labels.iter().enumerate() {
        by_class[(l as usize).min(groups - 1)].push(i as u32);
    }
    let exact: Vec<f64> = by_class
        .iter()
        .map(|g| g.len() as f64 * n as f64 / total as f64)
        .collect();
    let mut take: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut order: Vec<usize> = (0..groups).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let short = n - take.iter().sum::<usize>();
    for &g in order.iter().take(short) {
        take[g] += 1;
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n);
    for (g, k) in by_class.iter_mut().zip(take) {
        g.shuffle(&mut rng);
        out.extend_from_slice(&g[..k.min(g.len())]);
    }
    out.sort_unstable();
    out
}

/// A 2-D map of `x` (`[n][d]`) by `method`: `[n][2]`, and the axis names.
pub fn map_2d(
    x: &[f32],
    n: usize,
    d: usize,
    method: Method,
    progress: impl FnMut(usize) + Send,
) -> Result<(Vec<f32>, [String; 2])> {
    match method {
        Method::Pca => {
            let (coords, share) = pca::pca_2d(x, n, d);
            let axis =
                |k: usize| format!("PC {} ({:.1}% of the variance)", k + 1, 100.0 * share[k]);
            Ok((coords, [axis(0), axis(1)]))
        }
        Method::Tsne => Ok((
            tsne::tsne_2d(x, n, d, progress)?,
            ["t-SNE 1".to_string(), "t-SNE 2".to_string()],
        )),
    }
}

/// A model's outputs over a grid of its 2-D input plane.
#[derive(Clone, Debug)]
pub struct BoundaryField {
    /// The plane shown, in the data's own units: `(x0, x1)`, `(y0, y1)`.
    pub x: (f32, f32),
    pub y: (f32, f32),
    /// Points per side.
    pub res: usize,
    /// `[res][res][outputs]`, row 0 at y0, column 0 at x0.
    pub outputs: Vec<f32>,
    pub n_outputs: usize,
}

impl BoundaryField {
    /// The predicted class at grid point (i, j) (row i, column j): the output above 0.5 with
    /// one output, the argmax with several.
    pub fn class(&self, i: usize, j: usize) -> u32 {
        let o = &self.outputs[(i * self.res + j) * self.n_outputs..][..self.n_outputs];
        crate::cpu::loss::predict(
            if o.len() == 1 {
                crate::model::Activation::Sigmoid
            } else {
                crate::model::Activation::Softmax
            },
            o,
            o.len(),
        )[0]
    }

    /// The grid point nearest to `(x, y)`: `(row, column)`.
    pub fn cell(&self, x: f32, y: f32) -> (usize, usize) {
        let at = |v: f32, (lo, hi): (f32, f32)| {
            let t = ((v - lo) / (hi - lo) * (self.res - 1) as f32).round();
            t.clamp(0.0, (self.res - 1) as f32) as usize
        };
        (at(y, self.y), at(x, self.x))
    }
}

/// Evaluates `engine` (a model of 2 inputs) on a `res`×`res` grid covering `data` (unscaled,
/// with a margin of 10%), each point scaled by `scaler` as the model's inputs were.
pub fn boundary_field(
    engine: &mut dyn Engine,
    scaler: &Scaler,
    data: &Dataset,
    res: usize,
) -> Result<BoundaryField> {
    if data.dim != 2 || data.is_empty() || res < 2 {
        return Err(Error::invalid(
            "plots",
            "a decision boundary needs a non-empty set of 2 features",
        ));
    }
    let range = |k: usize| {
        let (lo, hi) = (0..data.len())
            .map(|i| data.value(i, k))
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
        let pad = ((hi - lo) * 0.1).max(1e-3);
        (lo - pad, hi + pad)
    };
    let (x, y) = (range(0), range(1));
    let mut pts = Vec::with_capacity(res * res * 2);
    for i in 0..res {
        for j in 0..res {
            let t = |k: usize, (lo, hi): (f32, f32)| lo + (hi - lo) * k as f32 / (res - 1) as f32;
            pts.push(t(j, x));
            pts.push(t(i, y));
        }
    }
    let grid = Dataset::classes(
        "grid",
        2,
        Features::F32(pts.into()),
        vec![0; res * res],
        data.classes.max(2),
    );
    let outputs = engine.outputs(&scaler.apply(&grid)?)?;
    let n_outputs = outputs.len() / (res * res);
    Ok(BoundaryField {
        x,
        y,
        res,
        outputs,
        n_outputs,
    })
}

/// One map of [`embed`]: a layer's activations for a sample of one set, in 2-D.
#[derive(Clone, Debug)]
pub struct LayerMap {
    /// 1-based; the last is the output layer.
    pub layer: usize,
    /// The layer's width.
    pub width: usize,
    /// `train`, `validation` or `test`.
    pub set: String,
    /// `[n][2]`
    pub coords: Vec<f32>,
    pub labels: Vec<u32>,
    pub axes: [String; 2],
}

/// Maps the activations of `layers` (1-based) of `params` for a stratified sample of
/// `samples` points of each set (`(name, data)`, scaled as the model saw them) to 2-D by
/// `method`; `progress(done, total)` counts t-SNE iterations (or maps, for PCA).
pub fn embed(
    device: crate::gpu::DeviceKind,
    params: &crate::model::Params,
    sets: &[(&str, &Dataset)],
    layers: &[usize],
    (method, samples, seed): (Method, usize, u64),
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<LayerMap>> {
    let per_map = if method == Method::Tsne {
        tsne::EPOCHS
    } else {
        1
    };
    let total = sets.len() * layers.len() * per_map;
    let mut maps = Vec::new();
    for (s, (name, data)) in sets.iter().enumerate() {
        let idx = stratified_sample(data, samples, seed);
        let sample = data.subset(&idx);
        for (l, &layer) in layers.iter().enumerate() {
            let acts = crate::features::layer_activations(device, params, layer, &sample)?;
            let n = sample.len();
            let width = acts.len() / n.max(1);
            let base = (s * layers.len() + l) * per_map;
            let (coords, axes) =
                map_2d(&acts, n, width, method, |e| progress(base + e + 1, total))?;
            if method == Method::Pca {
                progress(base + 1, total);
            }
            maps.push(LayerMap {
                layer,
                width,
                set: name.to_string(),
                coords,
                labels: sample.labels.clone(),
                axes,
            });
        }
    }
    Ok(maps)
}
