//! Feature scaling, fitted on the training part and applied to every other set (validation,
//! test, `eval`, `predict`, `features`); stored in checkpoints. With scaling on, regression
//! targets are standardised too, and outputs are mapped back to the original units.

use super::{Dataset, Features, Target};
use crate::model::serde_as_name;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How features are scaled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ScaleKind {
    /// As they are (pixels still become x/255).
    #[default]
    None,
    /// (x − mean) / std per feature (std 1 where a feature is constant), as scikit-learn's
    /// StandardScaler.
    Standard,
    /// (x − min) / (max − min) per feature, into [0, 1] (1 where a feature is constant).
    MinMax,
}

impl ScaleKind {
    pub const ALL: [ScaleKind; 3] = [ScaleKind::None, ScaleKind::Standard, ScaleKind::MinMax];

    pub fn name(self) -> &'static str {
        match self {
            ScaleKind::None => "none",
            ScaleKind::Standard => "standard",
            ScaleKind::MinMax => "minmax",
        }
    }
}

impl FromStr for ScaleKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ScaleKind::ALL
            .into_iter()
            .find(|k| k.name() == s.trim())
            .ok_or_else(|| format!("unknown scaling '{s}' (expected none, standard or minmax)"))
    }
}

impl fmt::Display for ScaleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

serde_as_name!(ScaleKind);

/// `x' = (x − shift) / scale` per feature, and per regression target.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub kind: ScaleKind,
    /// Per feature (empty with `none`).
    pub shift: Vec<f32>,
    pub scale: Vec<f32>,
    /// Per regression target (empty unless scaling a regression).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_shift: Vec<f32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_scale: Vec<f32>,
}

impl Scaler {
    /// Fits `kind` on `train`'s features (as batches see them: pixels /255) and, for a
    /// regression with scaling on, standardises its targets.
    pub fn fit(kind: ScaleKind, train: &Dataset) -> Scaler {
        if kind == ScaleKind::None {
            return Scaler::default();
        }
        let (n, d) = (train.len(), train.dim);
        let column = |k: usize| (0..n).map(move |i| train.value(i, k) as f64);
        let (shift, scale) = (0..d).map(|k| fit_column(kind, n, column(k))).unzip();
        let (target_shift, target_scale) = match &train.target {
            Target::Values { dim, values, .. } => (0..*dim)
                .map(|j| {
                    let col = (0..n).map(|i| values[i * dim + j] as f64);
                    fit_column(ScaleKind::Standard, n, col)
                })
                .unzip(),
            _ => (Vec::new(), Vec::new()),
        };
        Scaler {
            kind,
            shift,
            scale,
            target_shift,
            target_scale,
        }
    }

    /// `data` scaled: features (and regression targets, where fitted) mapped by this scaler.
    /// Errors when the feature count differs from the fitted one.
    pub fn apply(&self, data: &Dataset) -> crate::Result<Dataset> {
        self.apply_owned(data.clone())
    }

    /// [`Scaler::apply`] on a set the caller gives up: its values are scaled in place where
    /// they are its own (pixels become f32 values).
    pub fn apply_owned(&self, mut data: Dataset) -> crate::Result<Dataset> {
        if self.kind == ScaleKind::None {
            return Ok(data);
        }
        if data.dim != self.shift.len() {
            return Err(crate::Error::invalid(
                "data",
                format!(
                    "{} has {} features per sample; the scaling was fitted on {}",
                    data.name,
                    data.dim,
                    self.shift.len()
                ),
            ));
        }
        let d = data.dim;
        let scale_row = |row: &mut [f32]| {
            for ((x, &shift), &scale) in row.iter_mut().zip(&self.shift).zip(&self.scale) {
                *x = (*x - shift) / scale;
            }
        };
        match &mut data.features {
            Features::F32(v) => v.make_mut().chunks_exact_mut(d).for_each(scale_row),
            Features::U8(pixels) => {
                let mut values: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
                values.chunks_exact_mut(d).for_each(scale_row);
                data.features = Features::F32(values.into());
            }
        }
        if let Target::Values { dim, values, units } = &mut data.target {
            let k = *dim;
            if self.target_shift.len() == k {
                for row in values.make_mut().chunks_exact_mut(k) {
                    for (j, v) in row.iter_mut().enumerate() {
                        *v = (*v - self.target_shift[j]) / self.target_scale[j];
                    }
                }
                *units = (0..k)
                    .map(|j| (self.target_scale[j], self.target_shift[j]))
                    .collect();
            }
        }
        Ok(data)
    }

    /// The features of `data` (scaled by this scaler) back in their own units, for pictures:
    /// `x·scale + shift`, as f32 (equal to the original up to rounding).
    pub fn unapply(&self, data: &Dataset) -> Dataset {
        if self.kind == ScaleKind::None || data.dim != self.shift.len() {
            return data.clone();
        }
        let d = data.dim;
        let values: Vec<f32> = (0..data.len() * d)
            .map(|i| data.value(i / d, i % d) * self.scale[i % d] + self.shift[i % d])
            .collect();
        Dataset {
            features: Features::F32(values.into()),
            ..data.clone()
        }
    }

    /// Network outputs `[n][k]` of a regression back in the targets' original units.
    pub fn unscale_targets(&self, outputs: &mut [f32]) {
        let k = self.target_shift.len();
        if k == 0 {
            return;
        }
        for (i, v) in outputs.iter_mut().enumerate() {
            *v = *v * self.target_scale[i % k] + self.target_shift[i % k];
        }
    }
}

/// (shift, scale) of one column.
fn fit_column(kind: ScaleKind, n: usize, col: impl Iterator<Item = f64> + Clone) -> (f32, f32) {
    let nonzero = |s: f64| if s > 0.0 && s.is_finite() { s } else { 1.0 };
    match kind {
        ScaleKind::None => (0.0, 1.0),
        ScaleKind::Standard => {
            let mean = col.clone().sum::<f64>() / n.max(1) as f64;
            let var = col.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n.max(1) as f64;
            (mean as f32, nonzero(var.sqrt()) as f32)
        }
        ScaleKind::MinMax => {
            let (lo, hi) = col.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
            (lo as f32, nonzero(hi - lo) as f32)
        }
    }
}
