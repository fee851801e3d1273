//! Datasets: IDX files (MNIST and friends) and synthetic toy sets.
//!
//! A [`Dataset`] holds samples as `[n][dim]` row-major features (u8 pixels or f32 values),
//! integer class labels and what the network learns to output ([`Target`]): the class, a
//! row of values (regression) or the input itself (autoencoders). Pixels are scaled to [0, 1]
//! when a batch is built.

pub mod fetch;
pub mod floats;
pub mod idx;
pub mod mnist;
pub mod scale;
pub mod split;
pub mod synth;
pub mod table;

pub use floats::Floats;

/// Sample features, row-major `[n][dim]`.
#[derive(Clone, Debug, PartialEq)]
pub enum Features {
    /// Pixels 0..=255, scaled to [0, 1] by dividing by 255.
    U8(Vec<u8>),
    /// Values used as they are (shared, not copied, when the dataset is cloned).
    F32(Floats),
}

/// What the network learns to output for a sample.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Target {
    /// Its class, `labels[i]` (classification).
    #[default]
    Classes,
    /// `values[i·dim..(i+1)·dim]` (regression). `units` maps them back to the original
    /// units, `value·scale + shift` per target (empty: they are in the original units).
    Values {
        dim: usize,
        values: Floats,
        units: Vec<(f32, f32)>,
    },
    /// Its own features, as a batch gathers them (autoencoders).
    Input,
}

/// A set of samples: features, class labels (all 0 where there are no classes) and targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub name: String,
    pub dim: usize,
    pub features: Features,
    pub labels: Vec<u32>,
    /// The number of classes (0 for regression).
    pub classes: usize,
    pub target: Target,
    /// Per-sample weights of the training loss (scikit-learn's `sample_weight`): each batch's
    /// loss is Σ w·L / Σ w over its samples. `None`: every sample weighs 1.
    pub weights: Option<Vec<f32>>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// A classification set.
    pub fn classes(
        name: impl Into<String>,
        dim: usize,
        features: Features,
        labels: Vec<u32>,
        classes: usize,
    ) -> Dataset {
        Dataset {
            name: name.into(),
            dim,
            features,
            labels,
            classes,
            target: Target::Classes,
            weights: None,
        }
    }

    /// The mean sample weight (1 without weights).
    pub fn mean_weight(&self) -> f32 {
        match &self.weights {
            Some(w) if !w.is_empty() => {
                (w.iter().map(|&v| v as f64).sum::<f64>() / w.len() as f64) as f32
            }
            _ => 1.0,
        }
    }

    /// The weights of samples `idx` (`[idx.len()]`), `None` without weights.
    pub fn gather_weights(&self, idx: &[u32]) -> Option<Vec<f32>> {
        let w = self.weights.as_ref()?;
        Some(idx.iter().map(|&i| w[i as usize]).collect())
    }

    /// Values per target row (`None` for classification).
    pub fn target_dim(&self) -> Option<usize> {
        match &self.target {
            Target::Classes => None,
            Target::Values { dim, .. } => Some(*dim),
            Target::Input => Some(self.dim),
        }
    }

    /// Writes the targets of samples `idx` as `[idx.len()][target_dim]` f32 into `out` (empty
    /// for classification).
    pub fn gather_targets(&self, idx: &[u32], out: &mut Vec<f32>) {
        match &self.target {
            Target::Classes => out.clear(),
            Target::Values { dim, values, .. } => {
                out.clear();
                for &i in idx {
                    let i = i as usize;
                    out.extend_from_slice(&values[i * dim..(i + 1) * dim]);
                }
            }
            Target::Input => self.gather(idx, out),
        }
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
        let target = match &self.target {
            Target::Values { dim, units, .. } => {
                let mut values = Vec::new();
                self.gather_targets(idx, &mut values);
                Target::Values {
                    dim: *dim,
                    values: values.into(),
                    units: units.clone(),
                }
            }
            t => t.clone(),
        };
        Dataset {
            name: self.name.clone(),
            dim: self.dim,
            features,
            labels: idx.iter().map(|&i| self.labels[i as usize]).collect(),
            classes: self.classes,
            target,
            weights: self.gather_weights(idx),
        }
    }
}
