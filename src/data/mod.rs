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

    /// This set without its samples: its name, sizes, classes and kinds of features and
    /// targets (what is said of a set after its samples moved on).
    pub fn shell(&self) -> Dataset {
        Dataset {
            name: self.name.clone(),
            dim: self.dim,
            features: match &self.features {
                Features::U8(_) => Features::U8(Vec::new()),
                Features::F32(_) => Features::F32(Floats::from(Vec::new())),
            },
            labels: Vec::new(),
            classes: self.classes,
            target: match &self.target {
                Target::Values { dim, units, .. } => Target::Values {
                    dim: *dim,
                    values: Floats::from(Vec::new()),
                    units: units.clone(),
                },
                t => t.clone(),
            },
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

    /// Reorders the samples in place: sample `i` becomes the one at `order[i]` (`order` a
    /// permutation of `0..len`). Features are written in place where they are this set's own
    /// ([`Floats::make_mut`]), so a split needs no second copy of the data.
    pub fn permute(&mut self, order: &[u32]) {
        assert_eq!(order.len(), self.len(), "a permutation of every sample");
        let dim = self.dim;
        match &mut self.features {
            Features::U8(v) => permute_rows(v, dim, order),
            Features::F32(v) => permute_rows(v.make_mut(), dim, order),
        }
        permute_rows(&mut self.labels, 1, order);
        if let Target::Values { dim, values, .. } = &mut self.target {
            permute_rows(values.make_mut(), *dim, order);
        }
        if let Some(w) = &mut self.weights {
            permute_rows(w, 1, order);
        }
    }

    /// Moves the samples `i` with `out[i]` into a new set and keeps the others, both in their
    /// order: one forward pass, writing this set's values in place where they are its own.
    pub fn partition(&mut self, out: &[bool]) -> Dataset {
        assert_eq!(out.len(), self.len(), "a flag per sample");
        let keep = out.iter().filter(|o| !**o).count();
        let dim = self.dim;
        let features = match &mut self.features {
            Features::U8(v) => {
                let moved = partition_rows(v, dim, out);
                v.truncate(keep * dim);
                v.shrink_to_fit();
                Features::U8(moved)
            }
            Features::F32(v) => {
                let moved = partition_rows(v.make_mut(), dim, out);
                v.truncate(keep * dim);
                Features::F32(moved.into())
            }
        };
        let labels = partition_rows(&mut self.labels, 1, out);
        self.labels.truncate(keep);
        let target = match &mut self.target {
            Target::Values { dim, values, units } => {
                let moved = partition_rows(values.make_mut(), *dim, out);
                values.truncate(keep * *dim);
                Target::Values {
                    dim: *dim,
                    values: moved.into(),
                    units: units.clone(),
                }
            }
            t => t.clone(),
        };
        let weights = self.weights.as_mut().map(|w| {
            let moved = partition_rows(w, 1, out);
            w.truncate(keep);
            moved
        });
        Dataset {
            name: self.name.clone(),
            dim,
            features,
            labels,
            classes: self.classes,
            target,
            weights,
        }
    }

    /// Splits off the samples from `at` on as a new set (a copy of those); this one keeps the
    /// first `at`, releasing the rest where it can.
    pub fn split_off(&mut self, at: usize) -> Dataset {
        let dim = self.dim;
        let features = match &mut self.features {
            Features::U8(v) => {
                let tail = v.split_off(at * dim);
                v.shrink_to_fit();
                Features::U8(tail)
            }
            Features::F32(v) => {
                let tail = Floats::from(v[at * dim..].to_vec());
                v.truncate(at * dim);
                Features::F32(tail)
            }
        };
        let target = match &mut self.target {
            Target::Values { dim, values, units } => {
                let tail = Floats::from(values[at * *dim..].to_vec());
                values.truncate(at * *dim);
                Target::Values {
                    dim: *dim,
                    values: tail,
                    units: units.clone(),
                }
            }
            t => t.clone(),
        };
        Dataset {
            name: self.name.clone(),
            dim,
            features,
            labels: self.labels.split_off(at),
            classes: self.classes,
            target,
            weights: self.weights.as_mut().map(|w| w.split_off(at)),
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

/// Reorders rows of `width` values in place: row `i` becomes row `order[i]`, following each
/// cycle of the permutation with one row held aside.
fn permute_rows<T: Copy>(v: &mut [T], width: usize, order: &[u32]) {
    if width == 0 {
        return;
    }
    let mut done = vec![false; order.len()];
    let mut held = Vec::with_capacity(width);
    for start in 0..order.len() {
        if done[start] || order[start] as usize == start {
            continue;
        }
        held.clear();
        held.extend_from_slice(&v[start * width..(start + 1) * width]);
        let mut i = start;
        loop {
            done[i] = true;
            let from = order[i] as usize;
            if from == start {
                v[i * width..(i + 1) * width].copy_from_slice(&held);
                break;
            }
            v.copy_within(from * width..(from + 1) * width, i * width);
            i = from;
        }
    }
}

/// Moves the rows of `width` values not flagged in `out` to the front, in their order (in
/// place), and returns the flagged ones, in theirs; the caller truncates `v`.
fn partition_rows<T: Copy>(v: &mut [T], width: usize, out: &[bool]) -> Vec<T> {
    let mut moved = Vec::with_capacity(out.iter().filter(|o| **o).count() * width);
    let mut write = 0;
    for (i, &o) in out.iter().enumerate() {
        let row = i * width..(i + 1) * width;
        if o {
            moved.extend_from_slice(&v[row]);
        } else {
            if write != i {
                v.copy_within(row, write * width);
            }
            write += 1;
        }
    }
    moved
}
