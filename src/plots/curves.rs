//! Learning curves: loss and accuracy per epoch, train and validation.

use super::*;
use crate::error::Result;

/// Writes a ~1200×500 PNG with two panels: loss per epoch (train and validation) and accuracy
/// per epoch in percent (train and validation, y from 0 to 100). Validation lines appear when
/// the history has validation figures; a single epoch is drawn as points.
pub fn learning_curves(path: &Path, history: &[EpochRecord]) -> Result<()> {
    if history.is_empty() {
        return Err(Error::bad_file(
            path,
            "cannot draw learning curves: the history has no epochs",
        ));
    }
    let pct = |a: f32| a as f64 * 100.0;
    let train_loss: Vec<(f64, f64)> = points(history, |r| Some(r.train_loss as f64));
    let val_loss: Vec<(f64, f64)> = points(history, |r| r.val_loss.map(|v| v as f64));
    // Regression: the validation R² where classification has accuracy; autoencoders: the
    // validation MSE.
    let r2 = history.iter().any(|r| r.val_r2.is_some());
    let mse = !r2 && history.iter().any(|r| r.val_mse.is_some());
    let values = r2 || mse;
    let train_acc: Vec<(f64, f64)> = if values {
        Vec::new()
    } else {
        points(history, |r| Some(pct(r.train_accuracy)))
    };
    let val_acc: Vec<(f64, f64)> = if r2 {
        points(history, |r| r.val_r2.map(|v| v as f64))
    } else if mse {
        points(history, |r| r.val_mse.map(|v| v as f64))
    } else {
        points(history, |r| r.val_accuracy.map(pct))
    };

    let first = history.iter().map(|r| r.epoch).min().unwrap_or(0) as f64;
    let last = history.iter().map(|r| r.epoch).max().unwrap_or(0) as f64;
    // Half an epoch of padding keeps the end markers off the axes and gives one epoch a width.
    let x_range = (first - 0.5)..(last + 0.5);
    let max_loss = train_loss
        .iter()
        .chain(&val_loss)
        .map(|p| p.1)
        .fold(0.0f64, f64::max);
    let loss_top = if max_loss > 0.0 { max_loss * 1.1 } else { 1.0 };

    let last_rec = history.last().expect("history is not empty");
    let mut title = format!(
        "Learning curves, {} epoch{}: final train loss {:.4}",
        history.len(),
        if history.len() == 1 { "" } else { "s" },
        last_rec.train_loss,
    );
    if !values {
        title.push_str(&format!(", accuracy {:.2}%", pct(last_rec.train_accuracy)));
    }
    if let (Some(vl), Some(va)) = (last_rec.val_loss, last_rec.val_accuracy) {
        title.push_str(&format!("; validation {vl:.4}, {:.2}%", pct(va)));
    }
    if let (Some(vl), Some(r2)) = (last_rec.val_loss, last_rec.val_r2) {
        title.push_str(&format!("; validation {vl:.4}, R² {r2:.3}"));
    }
    if let (Some(vl), Some(m), None) = (last_rec.val_loss, last_rec.val_mse, last_rec.val_r2) {
        title.push_str(&format!("; validation {vl:.4}, MSE {m:.4}"));
    }
    let r2_bottom = val_acc.iter().map(|p| p.1).fold(0.0f64, f64::min).max(-1.0);
    let mse_top = val_acc.iter().map(|p| p.1).fold(0.0f64, f64::max) * 1.1;

    render(path, CURVES_SIZE, |root| {
        let body = root.titled(&title, font(22.0)).map_err(s)?;
        let panels = body.split_evenly((1, 2));
        let loss = Panel {
            caption: "Loss",
            y_desc: "loss",
            y_range: 0.0..loss_top,
            y_percent: false,
            legend_at: SeriesLabelPosition::UpperRight,
        };
        let acc = if mse {
            Panel {
                caption: "Validation MSE (reconstruction)",
                y_desc: "MSE",
                y_range: 0.0..mse_top.max(1e-9),
                y_percent: false,
                legend_at: SeriesLabelPosition::UpperRight,
            }
        } else if values {
            Panel {
                caption: "R² (validation, 1 is perfect)",
                y_desc: "R²",
                y_range: r2_bottom..1.0,
                y_percent: false,
                legend_at: SeriesLabelPosition::LowerRight,
            }
        } else {
            Panel {
                caption: "Accuracy",
                y_desc: "accuracy (%)",
                y_range: 0.0..100.0,
                y_percent: true,
                legend_at: SeriesLabelPosition::LowerRight,
            }
        };
        loss.draw(&panels[0], x_range.clone(), &train_loss, &val_loss)?;
        acc.draw(&panels[1], x_range.clone(), &train_acc, &val_acc)
    })
}

/// `(epoch, value)` for the records where `f` gives a finite value.
fn points(history: &[EpochRecord], f: impl Fn(&EpochRecord) -> Option<f64>) -> Vec<(f64, f64)> {
    history
        .iter()
        .filter_map(|r| f(r).filter(|v| v.is_finite()).map(|v| (r.epoch as f64, v)))
        .collect()
}

/// One panel of the learning-curves figure.
struct Panel {
    caption: &'static str,
    y_desc: &'static str,
    y_range: std::ops::Range<f64>,
    y_percent: bool,
    legend_at: SeriesLabelPosition,
}

impl Panel {
    fn draw(
        &self,
        area: &DrawingArea<BitMapBackend<'_>, Shift>,
        x_range: std::ops::Range<f64>,
        train: &[(f64, f64)],
        val: &[(f64, f64)],
    ) -> std::result::Result<(), String> {
        // Whole epochs only, none repeated (the ends are half an epoch out).
        let x_axis = super::axes::EpochAxis::new(
            (x_range.start + 0.5).round() as usize,
            (x_range.end - 0.5).round() as usize,
        );
        let mut chart = ChartBuilder::on(area)
            .caption(self.caption, font(18.0))
            .margin(12)
            .margin_right(24)
            .x_label_area_size(50)
            .y_label_area_size(62)
            .build_cartesian_2d(x_axis, self.y_range.clone())
            .map_err(s)?;
        let percent = self.y_percent;
        chart
            .configure_mesh()
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .x_desc("epoch")
            .y_desc(self.y_desc)
            .axis_desc_style(font(16.0))
            .label_style(font(14.0))
            .y_labels(if percent { 11 } else { 8 })
            .x_label_formatter(&|x| format!("{}", x.round() as i64))
            .y_label_formatter(&|y| {
                if percent {
                    format!("{y:.0}")
                } else {
                    trim_number(*y)
                }
            })
            .draw()
            .map_err(s)?;

        for (data, color, label) in [
            (train, TRAIN_COLOR, "train"),
            (val, VAL_COLOR, "validation"),
        ] {
            if data.is_empty() {
                continue;
            }
            let line = ShapeStyle::from(&color).stroke_width(2);
            chart
                .draw_series(LineSeries::new(data.iter().copied(), line))
                .map_err(s)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], line));
            // Markers show where the epochs are; past ~40 they would only blur the line. A
            // single epoch is a marker alone.
            if data.len() <= 40 {
                let radius = if data.len() == 1 { 5 } else { 3 };
                chart
                    .draw_series(data.iter().map(|&p| Circle::new(p, radius, color.filled())))
                    .map_err(s)?;
            }
        }
        chart
            .configure_series_labels()
            .position(self.legend_at.clone())
            .margin(10)
            .label_font(font(14.0))
            .background_style(WHITE.mix(0.9))
            .border_style(GRID)
            .draw()
            .map_err(s)
    }
}

/// A tick label without trailing zeros: 0.5, 1, 0.25, 2.5e-5.
pub(super) fn trim_number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.abs() < 1e-3 || v.abs() >= 1e5 {
        return format!("{v:.1e}");
    }
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
