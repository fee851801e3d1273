//! What a network learned, as pictures: a 2-D map of activations coloured by class, the
//! decision field of a 2-feature model with its training points, and test images titled with
//! their true and predicted class.

use super::*;
use crate::error::Result;
use crate::explain::BoundaryField;

/// Ten colours that stay apart (matplotlib's tab10), then greys for more classes.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn color(class: u32) -> RGBColor {
    PALETTE[class as usize % PALETTE.len()]
}

fn name(names: &[String], class: u32) -> String {
    names
        .get(class as usize)
        .cloned()
        .unwrap_or_else(|| class.to_string())
}

fn padded((lo, hi): (f64, f64)) -> std::ops::Range<f64> {
    let pad = ((hi - lo) * 0.05).max(1e-6);
    (lo - pad)..(hi + pad)
}

fn bounds(v: impl Iterator<Item = f64>) -> (f64, f64) {
    v.filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
            (l.min(x), h.max(x))
        })
}

/// A scatter of `coords` (`[n][2]`) coloured by `labels`, with a legend of class names.
pub fn scatter_2d(
    path: &Path,
    coords: &[f32],
    labels: &[u32],
    names: &[String],
    axes: &[String; 2],
    title: &str,
) -> Result<()> {
    if coords.is_empty() || coords.len() != labels.len() * 2 {
        return Err(Error::bad_file(path, "cannot draw a map: no points"));
    }
    let xr = padded(bounds(coords.iter().step_by(2).map(|&v| v as f64)));
    let yr = padded(bounds(coords.iter().skip(1).step_by(2).map(|&v| v as f64)));
    let classes = labels.iter().copied().max().unwrap_or(0) + 1;
    render(path, (1000, 820), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, font(19.0))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d(xr, yr)
            .map_err(s)?;
        xy_axes(&mut chart, (axes[0].as_str(), axes[1].as_str()), true)?;
        for c in 0..classes {
            let col = color(c);
            let pts = coords
                .chunks_exact(2)
                .zip(labels)
                .filter(|(_, &l)| l == c)
                .map(|(p, _)| Circle::new((p[0] as f64, p[1] as f64), 3, col.mix(0.75).filled()));
            chart
                .draw_series(pts)
                .map_err(s)?
                .label(name(names, c))
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, col.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .margin(8)
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .label_font(font(14.0))
            .draw()
            .map_err(s)
    })
}

/// The model's output over its input plane as a colour field (blended class colours by
/// probability), the decision boundary (0.5, or where the argmax changes) in black, and the
/// training points (`(x, y, class)`) on top.
pub fn decision_boundary(
    path: &Path,
    field: &BoundaryField,
    points: &[(f32, f32, u32)],
    names: &[String],
    axes: &[String; 2],
    title: &str,
) -> Result<()> {
    let res = field.res;
    if res < 2 || field.outputs.len() != res * res * field.n_outputs {
        return Err(Error::bad_file(
            path,
            "cannot draw a decision boundary: no field",
        ));
    }
    let (x0, x1) = (field.x.0 as f64, field.x.1 as f64);
    let (y0, y1) = (field.y.0 as f64, field.y.1 as f64);
    let classes = points.iter().map(|p| p.2).max().unwrap_or(1).max(1) + 1;
    render(path, (960, 820), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, font(19.0))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(s)?;
        xy_axes(&mut chart, (axes[0].as_str(), axes[1].as_str()), false)?;
        let (dx, dy) = ((x1 - x0) / (res - 1) as f64, (y1 - y0) / (res - 1) as f64);
        let cells = (0..res).flat_map(|i| (0..res).map(move |j| (i, j)));
        chart
            .draw_series(cells.map(|(i, j)| {
                let o = &field.outputs[(i * res + j) * field.n_outputs..][..field.n_outputs];
                // One output: blend class 0 and 1 by p; several: the argmax class, paler where
                // it is less sure.
                let fill = if o.len() == 1 {
                    blend(color(0), color(1), o[0].clamp(0.0, 1.0) as f64)
                } else {
                    let c = field.class(i, j);
                    blend(WHITE, color(c), (o[c as usize] as f64).clamp(0.0, 1.0))
                };
                let boundary = (i + 1 < res && field.class(i + 1, j) != field.class(i, j))
                    || (j + 1 < res && field.class(i, j + 1) != field.class(i, j));
                let (x, y) = (x0 + (j as f64 - 0.5) * dx, y0 + (i as f64 - 0.5) * dy);
                let style = if boundary {
                    BLACK.filled()
                } else {
                    pale(fill).filled()
                };
                Rectangle::new([(x, y), (x + dx, y + dy)], style)
            }))
            .map_err(s)?;
        for c in 0..classes {
            let col = color(c);
            let pts = points
                .iter()
                .filter(|p| p.2 == c)
                .map(|p| Circle::new((p.0 as f64, p.1 as f64), 4, col.filled().stroke_width(1)));
            chart
                .draw_series(pts)
                .map_err(s)?
                .label(format!("class {}", name(names, c)))
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, col.filled()));
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                [(x0, y0), (x0, y0)],
                BLACK.stroke_width(3),
            )))
            .map_err(s)?
            .label("decision boundary")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK.stroke_width(3)));
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}

fn blend(a: RGBColor, b: RGBColor, t: f64) -> RGBColor {
    let m = |x: u8, y: u8| (x as f64 * (1.0 - t) + y as f64 * t).round() as u8;
    RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// Halfway to white, so that the points stand out on the field.
fn pale(c: RGBColor) -> RGBColor {
    blend(c, WHITE, 0.45)
}

/// Test images (`[n][h·w]`, values in [0, 1]) in a grid of 5 columns, each under its caption
/// (two lines at most); captions of wrong predictions in red.
pub fn predictions_grid(
    path: &Path,
    images: &[f32],
    (h, w): (usize, usize),
    captions: &[(String, bool)],
    title: &str,
) -> Result<()> {
    let px = h * w;
    let n = captions.len();
    if n == 0 || images.len() != n * px {
        return Err(Error::bad_file(path, "cannot draw predictions: no images"));
    }
    let cols = n.min(5);
    let rows = n.div_ceil(cols);
    let scale = (112 / h.max(w)).max(1);
    let (cw, ch) = (230u32, (h * scale) as u32 + 62);
    let size = (cw * cols as u32 + 20, 50 + ch * rows as u32);
    render(path, size, |root| {
        root.draw_text(title, &font(19.0), (12, 12)).map_err(s)?;
        for (k, (caption, wrong)) in captions.iter().enumerate() {
            let (x, y) = (10 + cw * (k % cols) as u32, 50 + ch * (k / cols) as u32);
            let style = if *wrong {
                font(14.0).color(&RGBColor(200, 30, 30))
            } else {
                font(14.0)
            };
            for (line, text) in caption.lines().enumerate() {
                let at = (x as i32, y as i32 + 17 * line as i32);
                root.draw_text(text, &style, at).map_err(s)?;
            }
            let left = x as usize + (cw as usize - w * scale) / 2;
            for p in 0..px {
                let g = (255.0 * (1.0 - images[k * px + p].clamp(0.0, 1.0))) as u8;
                let (x0, y0) = (
                    (left + (p % w) * scale) as i32,
                    (y as usize + 38 + (p / w) * scale) as i32,
                );
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + scale as i32, y0 + scale as i32)],
                    RGBColor(g, g, g).filled(),
                ))
                .map_err(s)?;
            }
        }
        Ok(())
    })
}
