//! Datasets: IDX files (MNIST and friends) and synthetic toy sets.
//!
//! A [`Dataset`] holds samples as `[n][dim]` row-major features (u8 pixels or f32 values)
//! and integer class labels. Pixels are scaled to [0, 1] when a batch is built.

pub mod fetch;
pub mod idx;
pub mod mnist;
pub mod synth;

/// Sample features, row-major `[n][dim]`.
#[derive(Clone, Debug, PartialEq)]
pub enum Features {
    /// Pixels 0..=255, scaled to [0, 1] by dividing by 255.
    U8(Vec<u8>),
    /// Values used as they are.
    F32(Vec<f32>),
}

/// A labelled set of samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub name: String,
    pub dim: usize,
    pub features: Features,
    pub labels: Vec<u32>,
    pub classes: usize,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Feature `k` of sample `i` as f32 (pixels scaled to [0, 1]).
    pub fn value(&self, i: usize, k: usize) -> f32 {
        match &self.features {
            Features::U8(v) => v[i * self.dim + k] as f32 / 255.0,
            Features::F32(v) => v[i * self.dim + k],
        }
    }

    /// Writes the samples `idx` as a `[idx.len()][dim]` f32 batch into `out`.
    pub fn gather(&self, idx: &[u32], out: &mut Vec<f32>) {
        out.clear();
        out.reserve(idx.len() * self.dim);
        for &i in idx {
            let i = i as usize;
            match &self.features {
                Features::U8(v) => out.extend(
                    v[i * self.dim..(i + 1) * self.dim]
                        .iter()
                        .map(|&p| p as f32 / 255.0),
                ),
                Features::F32(v) => out.extend_from_slice(&v[i * self.dim..(i + 1) * self.dim]),
            }
        }
    }

    /// The subset at `idx`, in that order.
    pub fn subset(&self, idx: &[u32]) -> Dataset {
        let features = match &self.features {
            Features::U8(v) => Features::U8(
                idx.iter()
                    .flat_map(|&i| &v[i as usize * self.dim..(i as usize + 1) * self.dim])
                    .copied()
                    .collect(),
            ),
            Features::F32(v) => Features::F32(
                idx.iter()
                    .flat_map(|&i| &v[i as usize * self.dim..(i as usize + 1) * self.dim])
                    .copied()
                    .collect(),
            ),
        };
        Dataset {
            name: self.name.clone(),
            dim: self.dim,
            features,
            labels: idx.iter().map(|&i| self.labels[i as usize]).collect(),
            classes: self.classes,
        }
    }
}
