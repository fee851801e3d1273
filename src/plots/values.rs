//! Regression and autoencoder pictures: predicted against true values, and test images above
//! their reconstructions.

use super::*;
use crate::error::Result;

/// Size of one predicted-against-true panel.
const PANEL: (u32, u32) = (560, 520);
const POINT_COLOR: RGBColor = RGBColor(31, 119, 180);
const DIAGONAL_COLOR: RGBColor = RGBColor(200, 60, 60);

/// A scatter of predicted (y) against true (x) values, one panel per target (up to 4), with
/// the diagonal of perfect predictions. `truth` and `pred` are `[n][k]` in the targets' units;
/// `names` names the k targets (or is empty).
pub fn predicted_vs_true(
    path: &Path,
    truth: &[f32],
    pred: &[f32],
    names: &[String],
    title: &str,
) -> Result<()> {
    let k = names.len().max(1);
    if truth.is_empty() || truth.len() != pred.len() || !truth.len().is_multiple_of(k) {
        return Err(Error::bad_file(
            path,
            "cannot draw predictions: no values, or predictions and truth of different sizes",
        ));
    }
    let panels = k.min(4);
    let size = ((PANEL.0 * panels as u32).max(860), PANEL.1 + 50);
    render(path, size, |root| {
        let body = root.titled(title, font(20.0)).map_err(s)?;
        let areas = body.split_evenly((1, panels));
        for (j, area) in areas.iter().enumerate() {
            let pts: Vec<(f64, f64)> = (0..truth.len() / k)
                .map(|i| (truth[i * k + j] as f64, pred[i * k + j] as f64))
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .collect();
            let (lo, hi) = pts
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
                    (l.min(p.0).min(p.1), h.max(p.0).max(p.1))
                });
            let pad = ((hi - lo) * 0.05).max(1e-6);
            let range = (lo - pad)..(hi + pad);
            let name = names.get(j).map_or("target", |n| n.as_str());
            let mut chart = ChartBuilder::on(area)
                .caption(name, font(17.0))
                .margin(14)
                .x_label_area_size(48)
                .y_label_area_size(64)
                .build_cartesian_2d(range.clone(), range.clone())
                .map_err(s)?;
            xy_axes(
                &mut chart,
                (&format!("true {name}"), &format!("predicted {name}")),
                true,
            )?;
            let diag = ShapeStyle::from(&DIAGONAL_COLOR).stroke_width(2);
            chart
                .draw_series(LineSeries::new(
                    [(range.start, range.start), (range.end, range.end)],
                    diag,
                ))
                .map_err(s)?
                .label("perfect prediction")
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], diag));
            let dot = POINT_COLOR.mix(0.45).filled();
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, dot)))
                .map_err(s)?
                .label("test sample")
                .legend(move |(x, y)| Circle::new((x + 9, y), 4, POINT_COLOR.filled()));
            legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        }
        Ok(())
    })
}

/// A grid of `count` images (`[count][h·w]`, values in [0, 1]) in the top row of each pair and
/// their reconstructions beneath, each pair labelled with its class name.
pub fn reconstructions(
    path: &Path,
    originals: &[f32],
    recon: &[f32],
    (h, w): (usize, usize),
    labels: &[String],
    title: &str,
) -> Result<()> {
    let px = h * w;
    let count = originals.len().checked_div(px).unwrap_or(0);
    if count == 0 || recon.len() != originals.len() {
        return Err(Error::bad_file(
            path,
            "cannot draw reconstructions: no images",
        ));
    }
    let cols = count.min(10);
    let pairs = count.div_ceil(cols);
    let scale = (84 / h.max(w)).max(1);
    let (cell_w, cell_h) = ((w * scale + 16) as u32, (h * scale + 22) as u32);
    let (left, top) = (130u32, 50u32);
    let size = (
        left + cell_w * cols as u32 + 10,
        top + 2 * cell_h * pairs as u32 + 10,
    );
    render(path, size, |root| {
        root.draw_text(title, &font(20.0), (12, 12)).map_err(s)?;
        for pair in 0..pairs {
            let y0 = top + 2 * cell_h * pair as u32;
            for (row, (name, images)) in [("test image", originals), ("reconstruction", recon)]
                .into_iter()
                .enumerate()
            {
                let y = y0 + row as u32 * cell_h;
                root.draw_text(name, &font(15.0), (8, (y + cell_h / 2 - 8) as i32))
                    .map_err(s)?;
                for c in 0..cols {
                    let i = pair * cols + c;
                    if i >= count {
                        break;
                    }
                    let x = left + c as u32 * cell_w;
                    if row == 0 {
                        let label = labels.get(i).map_or("", |l| l.as_str());
                        root.draw_text(label, &font(13.0), (x as i32, y as i32))
                            .map_err(s)?;
                    }
                    for p in 0..px {
                        let v = images[i * px + p].clamp(0.0, 1.0);
                        let g = (255.0 * (1.0 - v)) as u8;
                        let (py, pxx) = ((p / w) * scale, (p % w) * scale);
                        let x0 = (x as usize + pxx) as i32;
                        let y0 = (y as usize + 18 + py) as i32;
                        root.draw(&Rectangle::new(
                            [(x0, y0), (x0 + scale as i32, y0 + scale as i32)],
                            RGBColor(g, g, g).filled(),
                        ))
                        .map_err(s)?;
                    }
                }
            }
        }
        Ok(())
    })
}
