//! A sweep's validation curves: every configuration's metric per epoch (the mean over its
//! folds), overlaid; the best few in colour and labelled, the rest in grey.

use super::axes;
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
    // Every finite value is inside the axes unless a configuration blew up; then the range
    // holds the better half, and the curves that leave it are clamped to its edge, marked
    // with triangles where they do, and counted in the caption.
    let range = axes::curve_range(&points);
    let (lo, hi) = (range.lo, range.hi);
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
    let caption = match range.clipped {
        0 => title.to_string(),
        n => format!(
            "{title} ({n} curve{} off the scale, clamped at \u{25b2}/\u{25bc})",
            if n == 1 { "" } else { "s" }
        ),
    };
    let clamp = |p: &(f64, f64)| (p.0, p.1.clamp(lo, hi));
    let off: Vec<(f64, f64, bool)> = points
        .iter()
        .flatten()
        .filter(|p| p.1 < lo || p.1 > hi)
        .map(|p| (p.0, p.1.clamp(lo, hi), p.1 > hi))
        .collect();
    render(path, (1100, 620), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&caption, font(20.0))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(axes::EpochAxis::new(1, epochs), lo..hi)
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
                .draw_series(LineSeries::new(p.iter().map(clamp), style))
                .map_err(s)?;
        }
        for (i, (p, (label, _))) in points.iter().zip(runs).take(BEST.len()).enumerate() {
            let style = ShapeStyle::from(&BEST[i]).stroke_width(3);
            chart
                .draw_series(LineSeries::new(p.iter().map(clamp), style))
                .map_err(s)?
                .label(format!("#{} {label}", i + 1))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], style));
        }
        chart
            .draw_series(off.iter().map(|&(x, y, up)| {
                // A triangle at the edge, pointing the way the value went.
                let tip = if up { -9 } else { 9 };
                EmptyElement::at((x, y))
                    + Polygon::new(
                        vec![(-6, 0), (6, 0), (0, tip)],
                        RGBColor(90, 90, 90).filled(),
                    )
            }))
            .map_err(s)?;
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
