//! The learning-rate schedules: the rate of each epoch from the initial one.

/// How the learning rate changes over the epochs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LrSchedule {
    /// The same rate every epoch.
    Constant,
    /// Cosine decay from the rate to 0 over the run: epoch `e` of `E` uses
    /// `lr · ½(1 + cos(π·(e−1)/E))`.
    Cosine,
    /// scikit-learn's `invscaling`: after `t` training samples, `lr / (t + 1)^power_t`, updated
    /// at the end of each epoch (so epoch `e` of `n` samples uses `t = (e−1)·n`).
    InvScaling,
    /// scikit-learn's `adaptive`: the rate divided by 5 each time the training loss stops
    /// improving (see [`super::plateau`]; needs `n_iter_no_change`).
    Adaptive,
}

/// Where a run stands when an epoch starts, for [`LrSchedule::rate`].
#[derive(Clone, Copy, Debug)]
pub struct ScheduleAt {
    /// The epoch about to run (1-based), of `epochs`.
    pub epoch: usize,
    pub epochs: usize,
    /// Training samples per epoch.
    pub samples: usize,
    /// The exponent of [`LrSchedule::InvScaling`].
    pub power_t: f32,
    /// Times [`LrSchedule::Adaptive`] divided the rate so far.
    pub divisions: u32,
}

impl LrSchedule {
    /// The rate of the epoch `at` describes, from the initial rate `lr`; computed in f64 and
    /// rounded once (scikit-learn computes invscaling's in Python floats).
    pub fn rate(self, lr: f32, at: ScheduleAt) -> f32 {
        let lr = lr as f64;
        let rate = match self {
            LrSchedule::Constant => lr,
            LrSchedule::Cosine => {
                let t = (at.epoch.saturating_sub(1)) as f64 / at.epochs.max(1) as f64;
                lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
            LrSchedule::InvScaling => {
                let seen = at.epoch.saturating_sub(1) as f64 * at.samples as f64;
                lr / (seen + 1.0).powf(at.power_t as f64)
            }
            LrSchedule::Adaptive => super::plateau::adaptive_rate(lr as f32, at.divisions),
        };
        rate as f32
    }
}

impl std::str::FromStr for LrSchedule {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "constant" | "none" => Ok(LrSchedule::Constant),
            "cosine" | "cos" => Ok(LrSchedule::Cosine),
            "invscaling" => Ok(LrSchedule::InvScaling),
            "adaptive" => Ok(LrSchedule::Adaptive),
            _ => Err(format!(
                "unknown schedule '{s}' (expected constant, cosine, invscaling or adaptive)"
            )),
        }
    }
}

impl std::fmt::Display for LrSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LrSchedule::Constant => "constant",
            LrSchedule::Cosine => "cosine",
            LrSchedule::InvScaling => "invscaling",
            LrSchedule::Adaptive => "adaptive",
        })
    }
}

crate::model::serde_as_name!(LrSchedule);
