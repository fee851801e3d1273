//! Metrics of a trained network. Classification, here: the confusion matrix, and precision,
//! recall and F1 per class with their macro and weighted averages, defined as scikit-learn's
//! `classification_report` with `zero_division=0`. Regression and reconstruction: MSE, MAE and
//! R² ([`value_metrics`]).
//!
//! Orientation, everywhere in this module: **rows are the true class, columns the predicted
//! class** (`counts[true][predicted]`), as in scikit-learn's `confusion_matrix`.

mod values;
pub use values::{subset_accuracy, value_metrics, ValueMetrics};

use std::fmt::Write as _;

/// Counts of (true class, predicted class) pairs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionMatrix {
    /// Number of classes; `counts` is `classes × classes`.
    pub classes: usize,
    /// `counts[t][p]`: how many samples of true class `t` were predicted as `p`.
    pub counts: Vec<Vec<u64>>,
    /// Pairs that were not counted because the label or the prediction was `>= classes`.
    /// Zero for well-formed input; a caller may refuse to report when it is not.
    pub skipped: u64,
}

impl ConfusionMatrix {
    /// Counts `labels[i]` (true) against `predictions[i]` (predicted).
    ///
    /// Never panics: a pair whose label or prediction is not below `classes` is skipped and
    /// counted in [`skipped`](Self::skipped), and if the two slices differ in length the
    /// extra tail of the longer one is skipped too (also counted in `skipped`).
    pub fn new(classes: usize, labels: &[u32], predictions: &[u32]) -> Self {
        let mut counts = vec![vec![0u64; classes]; classes];
        let mut skipped = labels.len().abs_diff(predictions.len()) as u64;
        for (&t, &p) in labels.iter().zip(predictions) {
            let (t, p) = (t as usize, p as usize);
            if t < classes && p < classes {
                counts[t][p] += 1;
            } else {
                skipped += 1;
            }
        }
        ConfusionMatrix {
            classes,
            counts,
            skipped,
        }
    }

    /// Number of counted samples (the sum of all cells; skipped pairs are not included).
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Number of correctly classified samples (the trace).
    pub fn correct(&self) -> u64 {
        (0..self.classes).map(|c| self.counts[c][c]).sum()
    }

    /// Fraction of counted samples on the diagonal; 0 when nothing was counted.
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct(), self.total())
    }

    /// Samples of true class `c` (row sum): the class's support.
    pub fn support(&self, c: usize) -> u64 {
        self.counts[c].iter().sum()
    }

    /// Samples predicted as class `c` (column sum).
    pub fn predicted(&self, c: usize) -> u64 {
        self.counts.iter().map(|row| row[c]).sum()
    }

    /// Precision, recall and F1 per class, their macro and weighted averages, and accuracy.
    ///
    /// Per class `c`, with `tp = counts[c][c]`:
    /// - precision = tp / (column sum), 0 if the class was never predicted;
    /// - recall = tp / (row sum = support), 0 if the class never occurs;
    /// - F1 = 2·tp / (support + predicted) = 2pr/(p+r), 0 if that is 0/0.
    ///
    /// The macro average is the unweighted mean over the classes that occur as a label or as
    /// a prediction (a class absent from both carries no information and, as in scikit-learn
    /// without `labels=`, is left out); the weighted average weights each class by its
    /// support. Both averages report `support = total()`.
    pub fn report(&self) -> Report {
        let total = self.total();
        let per_class: Vec<ClassReport> = (0..self.classes)
            .map(|c| {
                let tp = self.counts[c][c];
                let support = self.support(c);
                let predicted = self.predicted(c);
                ClassReport {
                    precision: ratio(tp, predicted),
                    recall: ratio(tp, support),
                    f1: ratio(2 * tp, support + predicted),
                    support,
                }
            })
            .collect();

        let present: Vec<&ClassReport> = per_class
            .iter()
            .enumerate()
            .filter(|&(c, r)| r.support > 0 || self.predicted(c) > 0)
            .map(|(_, r)| r)
            .collect();
        let n = present.len() as f64;
        let mean = |f: fn(&ClassReport) -> f64| {
            if present.is_empty() {
                0.0
            } else {
                present.iter().map(|r| f(r)).sum::<f64>() / n
            }
        };
        let macro_avg = ClassReport {
            precision: mean(|r| r.precision),
            recall: mean(|r| r.recall),
            f1: mean(|r| r.f1),
            support: total,
        };

        let weighted = |f: fn(&ClassReport) -> f64| {
            if total == 0 {
                0.0
            } else {
                per_class
                    .iter()
                    .map(|r| f(r) * r.support as f64)
                    .sum::<f64>()
                    / total as f64
            }
        };
        let weighted_avg = ClassReport {
            precision: weighted(|r| r.precision),
            recall: weighted(|r| r.recall),
            f1: weighted(|r| r.f1),
            support: total,
        };

        Report {
            per_class,
            macro_avg,
            weighted_avg,
            accuracy: self.accuracy(),
        }
    }
}

/// `num / den`, or 0 when `den` is 0 (scikit-learn's `zero_division=0`).
fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Precision, recall, F1 and support of one class (or of an average).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassReport {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Samples of this class; for the averages, all counted samples.
    pub support: u64,
}

/// What [`ConfusionMatrix::report`] computes.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// One entry per class, in class order.
    pub per_class: Vec<ClassReport>,
    pub macro_avg: ClassReport,
    pub weighted_avg: ClassReport,
    pub accuracy: f64,
}

/// The display name of class `c`: `names[c]`, or the class number where `names` is short.
fn class_name(names: &[String], c: usize) -> String {
    names.get(c).cloned().unwrap_or_else(|| c.to_string())
}

/// The report as a text table laid out like scikit-learn's `classification_report`
/// (4 decimals):
///
/// ```text
///               precision    recall  f1-score   support
///
///            0     0.5000    1.0000    0.6667         1
///            1     0.0000    0.0000    0.0000         1
///            2     1.0000    0.6667    0.8000         3
///
///     accuracy                         0.6000         5
///    macro avg     0.5000    0.5556    0.4889         5
/// weighted avg     0.7000    0.6000    0.6133         5
/// ```
///
/// Rows are named by `names[c]`, or by the class number where `names` has no entry.
pub fn format_report(report: &Report, names: &[String]) -> String {
    const DIGITS: usize = 4;
    let labels: Vec<String> = (0..report.per_class.len())
        .map(|c| class_name(names, c))
        .collect();
    let width = labels
        .iter()
        .map(|s| s.chars().count())
        .chain(std::iter::once("weighted avg".len()))
        .max()
        .unwrap_or(0);
    let row = |out: &mut String, name: &str, r: &ClassReport| {
        let _ = writeln!(
            out,
            "{name:>width$}  {:>9.DIGITS$} {:>9.DIGITS$} {:>9.DIGITS$} {:>9}",
            r.precision, r.recall, r.f1, r.support
        );
    };

    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>width$}  {:>9} {:>9} {:>9} {:>9}",
        "", "precision", "recall", "f1-score", "support"
    );
    out.push('\n');
    for (name, r) in labels.iter().zip(&report.per_class) {
        row(&mut out, name, r);
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "{:>width$}  {:>9} {:>9} {:>9.DIGITS$} {:>9}",
        "accuracy", "", "", report.accuracy, report.macro_avg.support
    );
    row(&mut out, "macro avg", &report.macro_avg);
    row(&mut out, "weighted avg", &report.weighted_avg);
    out
}

/// The confusion matrix as a text table: one row per true class, one column per predicted
/// class, headed by the class names (or numbers where `names` is short). Columns are at least
/// 6 characters wide and two spaces apart, so counts of up to 6 digits stay aligned; wider
/// names or counts widen every column alike.
///
/// ```text
/// true \ pred       0       1       2
///           0       1       0       0
///           1       1       0       0
///           2       0       1       2
/// ```
pub fn format_matrix(cm: &ConfusionMatrix, names: &[String]) -> String {
    const CORNER: &str = "true \\ pred";
    let labels: Vec<String> = (0..cm.classes).map(|c| class_name(names, c)).collect();
    let name_width = labels
        .iter()
        .map(|s| s.chars().count())
        .chain(std::iter::once(CORNER.len()))
        .max()
        .unwrap_or(0);
    let max_count = cm.counts.iter().flatten().copied().max().unwrap_or(0);
    let col = labels
        .iter()
        .map(|s| s.chars().count())
        .chain([6, max_count.to_string().len()])
        .max()
        .unwrap_or(6);

    let mut out = String::new();
    let _ = write!(out, "{CORNER:>name_width$}");
    for name in &labels {
        let _ = write!(out, "  {name:>col$}");
    }
    out.push('\n');
    for (name, row) in labels.iter().zip(&cm.counts) {
        let _ = write!(out, "{name:>name_width$}");
        for n in row {
            let _ = write!(out, "  {n:>col$}");
        }
        out.push('\n');
    }
    out
}
