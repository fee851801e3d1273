//! A sweep's validation curves: every configuration's metric per epoch (the mean over its
//! folds), overlaid; the best few in colour and labelled, the rest in grey.

use super::curves::trim_number;
use super::*;
use crate::error::Result;

/// Colours of the labelled (best) curves, best first.
const BEST: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(230, 97, 1),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Writes the curves of `runs` (`(label, metric per epoch)`, best first) as a PNG; the first
/// five are labelled. `metric` names the y axis.
pub fn sweep_curves(
    path: &Path,
    runs: &[(String, Vec<f32>)],
    (metric, higher_is_better): (&str, bool),
    title: &str,
) -> Result<()> {
    let points: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .map(|(_, c)| {
            c.iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(e, &v)| ((e + 1) as f64, v as f64))
                .collect()
        })
        .collect();
    // The y range holds the better half of the configurations (at least the best), so that
    // one that blew up does not flatten the rest; worse curves leave the frame.
    let shown = points.len().div_ceil(2).max(1);
    let (lo, hi) = points[..shown.min(points.len())]
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
            (l.min(p.1), h.max(p.1))
        });
    // The last epoch with a value (with `validate_every` above 1, not every epoch has one).
    let epochs = points
        .iter()
        .flatten()
        .map(|p| p.0 as usize)
        .max()
        .unwrap_or(0);
    if epochs == 0 {
        return Err(Error::bad_file(
            path,
            "cannot draw sweep curves: no finite values",
        ));
    }
    let pad = ((hi - lo) * 0.05).max(1e-6);
    render(path, (1100, 620), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, font(20.0))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(0.5..(epochs as f64 + 0.5), (lo - pad)..(hi + pad))
            .map_err(s)?;
        chart
            .configure_mesh()
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .x_desc("epoch")
            .y_desc(format!("{} (mean over folds)", metric.replace('_', " ")))
            .axis_desc_style(font(16.0))
            .label_style(font(14.0))
            .x_label_formatter(&|x| format!("{}", x.round() as i64))
            .y_label_formatter(&|y| trim_number(*y))
            .draw()
            .map_err(s)?;
        // The rest first, in grey, so the best are drawn on top.
        for p in points.iter().skip(BEST.len()) {
            let style = ShapeStyle::from(&RGBColor(190, 190, 190)).stroke_width(1);
            chart
                .draw_series(LineSeries::new(p.iter().copied(), style))
                .map_err(s)?;
        }
        for (i, (p, (label, _))) in points.iter().zip(runs).take(BEST.len()).enumerate() {
            let style = ShapeStyle::from(&BEST[i]).stroke_width(3);
            chart
                .draw_series(LineSeries::new(p.iter().copied(), style))
                .map_err(s)?
                .label(format!("#{} {label}", i + 1))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], style));
        }
        chart
            .configure_series_labels()
            .position(if higher_is_better {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperRight
            })
            .background_style(WHITE.mix(0.9))
            .border_style(GRID)
            .label_font(font(14.0))
            .draw()
            .map_err(s)
    })
}
