//! PNG plots of a training run: learning curves and confusion matrices.
//!
//! Rendering is headless and needs no system fonts: plotters draws text with `ab_glyph` from
//! DejaVu Sans, bundled in `assets/fonts/` (licence alongside) and compiled into the binary.
//! Each plot is drawn into an in-memory RGB buffer and encoded with the `image` crate, so a
//! failure leaves no half-drawn file behind and every error names the output path.

use crate::error::{Error, Result};
use crate::train::EpochRecord;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontTransform;
use std::path::Path;
use std::sync::OnceLock;

/// DejaVu Sans 2.37 from Debian's `fonts-dejavu-core` (Bitstream Vera licence, see
/// `assets/fonts/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

/// The family every text style here asks for.
const FAMILY: &str = "sans-serif";

/// Size of the learning-curves image.
pub const CURVES_SIZE: (u32, u32) = (1200, 500);

const TRAIN_COLOR: RGBColor = RGBColor(31, 119, 180); // blue
const VAL_COLOR: RGBColor = RGBColor(230, 97, 1); // orange, distinct from blue for colour-blind eyes
const TEXT_COLOR: RGBColor = RGBColor(33, 33, 33);
const GRID: RGBColor = RGBColor(220, 220, 220);

/// Registers the bundled font with plotters, once per process.
fn ensure_font(path: &Path) -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::bad_file(
            path,
            "cannot draw plot: the bundled font failed to load",
        ))
    }
}

fn font(size: f64) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&TEXT_COLOR)
}

/// Draws with `draw` on a white `size` canvas and writes it to `path` as PNG.
fn render<F>(path: &Path, size: (u32, u32), draw: F) -> Result<()>
where
    F: FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> std::result::Result<(), String>,
{
    ensure_font(path)?;
    let (w, h) = size;
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|_| draw(&root))
            .and_then(|_| root.present().map_err(|e| e.to_string()))
            .map_err(|e| Error::bad_file(path, format!("cannot draw plot: {e}")))?;
    }
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut png),
        &buf,
        w,
        h,
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|e| Error::bad_file(path, format!("cannot encode PNG: {e}")))?;
    std::fs::write(path, png).map_err(|e| Error::io(path, e))
}

/// Turns any displayable plotters error into the string `render` reports.
fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

// ------------------------------------------------------------------------------------------------
// Learning curves
// ------------------------------------------------------------------------------------------------

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
    let train_acc: Vec<(f64, f64)> = points(history, |r| Some(pct(r.train_accuracy)));
    let val_acc: Vec<(f64, f64)> = points(history, |r| r.val_accuracy.map(pct));

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
        "Learning curves, {} epoch{}: final train loss {:.4}, accuracy {:.2}%",
        history.len(),
        if history.len() == 1 { "" } else { "s" },
        last_rec.train_loss,
        pct(last_rec.train_accuracy)
    );
    if let (Some(vl), Some(va)) = (last_rec.val_loss, last_rec.val_accuracy) {
        title.push_str(&format!("; validation {vl:.4}, {:.2}%", pct(va)));
    }

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
        let acc = Panel {
            caption: "Accuracy",
            y_desc: "accuracy (%)",
            y_range: 0.0..100.0,
            y_percent: true,
            legend_at: SeriesLabelPosition::LowerRight,
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
        let span = (x_range.end - x_range.start).round() as usize;
        let mut chart = ChartBuilder::on(area)
            .caption(self.caption, font(18.0))
            .margin(12)
            .margin_right(24)
            .x_label_area_size(50)
            .y_label_area_size(62)
            .build_cartesian_2d(x_range, self.y_range.clone())
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
            .x_labels(span.clamp(2, 12))
            .y_labels(if percent { 11 } else { 8 })
            // Epochs are whole numbers: label only the integer ticks.
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 1e-6 {
                    format!("{}", x.round() as i64)
                } else {
                    String::new()
                }
            })
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
fn trim_number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.abs() < 1e-3 || v.abs() >= 1e5 {
        return format!("{v:.1e}");
    }
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

// ------------------------------------------------------------------------------------------------
// Confusion matrix
// ------------------------------------------------------------------------------------------------

/// ColorBrewer "Blues", white to dark blue.
const BLUES: [(u8, u8, u8); 9] = [
    (247, 251, 255),
    (222, 235, 247),
    (198, 219, 239),
    (158, 202, 225),
    (107, 174, 214),
    (66, 146, 198),
    (33, 113, 181),
    (8, 81, 156),
    (8, 48, 107),
];

/// The heat-map colour of a fraction in 0..=1.
fn blues(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (BLUES.len() - 1) as f64;
    let i = (x.floor() as usize).min(BLUES.len() - 2);
    let f = x - i as f64;
    let (a, b) = (BLUES[i], BLUES[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Whether white text reads better than dark text on `c` (relative luminance below ~0.45).
fn is_dark(c: RGBColor) -> bool {
    let lum = (0.2126 * c.0 as f64 + 0.7152 * c.1 as f64 + 0.0722 * c.2 as f64) / 255.0;
    lum < 0.45
}

/// Pixel width of `text` at `size` in the bundled font (the font must be registered).
fn text_width(text: &str, size: f64) -> i32 {
    match FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal).box_size(text) {
        Ok((w, _)) => w as i32,
        Err(_) => (text.chars().count() as f64 * size * 0.62).ceil() as i32,
    }
}

/// How far plotters' ab_glyph renderer draws text above its anchor, as a fraction of the font
/// size: it centres on a box 0.8·size tall whose ink sits in its upper part. Anchors of
/// vertically centred text are moved by this much to put the ink in the middle.
const INK_RAISE: f64 = 0.21;

fn raise(size: f64) -> i32 {
    (INK_RAISE * size).round() as i32
}

/// Writes a heat map of `counts` (rows = true class, columns = predicted class), each cell
/// coloured from white to dark blue by its fraction of the row and labelled with its count
/// (white on dark cells, dark on light ones), with a colour bar for the fraction. Class labels
/// too wide for their column are turned vertical.
pub fn confusion_matrix(
    path: &Path,
    counts: &[Vec<u64>],
    labels: &[String],
    title: &str,
) -> Result<()> {
    let n = counts.len();
    let refuse =
        |msg: String| Error::bad_file(path, format!("cannot draw confusion matrix: {msg}"));
    if n == 0 {
        return Err(refuse("no classes".into()));
    }
    if let Some((r, row)) = counts.iter().enumerate().find(|(_, row)| row.len() != n) {
        return Err(refuse(format!(
            "row {r} has {} columns, expected {n}",
            row.len()
        )));
    }
    if labels.len() != n {
        return Err(refuse(format!("{} labels for {n} classes", labels.len())));
    }
    ensure_font(path)?; // text is measured below, before drawing

    let total: u64 = counts.iter().flatten().sum();
    let correct: u64 = (0..n).map(|i| counts[i][i]).sum();
    let subtitle = if total > 0 {
        format!(
            "{total} samples, {:.2}% on the diagonal; colour = share of the true class's row",
            correct as f64 * 100.0 / total as f64
        )
    } else {
        "no samples".to_string()
    };

    // Geometry, in pixels: square cells, big for few classes and at least 28 for many; room on
    // the left for the row labels, below for the column labels (vertical when they would not
    // fit their column), on the right for the colour bar.
    let (title_size, subtitle_size, label_size, axis_size) = (22.0, 14.0, 16.0, 16.0);
    let cell = (640 / n as i32).clamp(28, 150);
    let g = cell * n as i32;
    let label_w = labels
        .iter()
        .map(|l| text_width(l, label_size))
        .max()
        .unwrap_or(0);
    let vertical_x_labels = label_w + 8 > cell;
    let x_labels_h = if vertical_x_labels {
        label_w
    } else {
        label_size as i32
    };
    let (bar_gap, bar_w, bar_labels_w) = (24, 22, 48);
    let left = 12 + axis_size as i32 + 14 + label_w + 10;
    let right = bar_gap + bar_w + bar_labels_w;
    let top = 78;
    let bottom = 8 + x_labels_h + 12 + axis_size as i32 + 16;
    let body_w = left + g + right;
    let text_w = text_width(title, title_size).max(text_width(&subtitle, subtitle_size)) + 40;
    let width = body_w.max(text_w);
    let (x0, y0) = (left + (width - body_w) / 2, top);
    let size = (width as u32, (top + g + bottom) as u32);

    render(path, size, |root| {
        let centre = Pos::new(HPos::Center, VPos::Center);
        let mid_x = width / 2;
        root.draw(&Text::new(
            title.to_string(),
            (mid_x, 24 + raise(title_size)),
            font(title_size).pos(centre),
        ))
        .map_err(s)?;
        root.draw(&Text::new(
            subtitle.clone(),
            (mid_x, 52 + raise(subtitle_size)),
            font(subtitle_size).pos(centre),
        ))
        .map_err(s)?;

        // Cells: colour by the share of the row, count in the middle.
        for (r, row) in counts.iter().enumerate() {
            let row_sum: u64 = row.iter().sum();
            for (col, &count) in row.iter().enumerate() {
                let frac = if row_sum > 0 {
                    count as f64 / row_sum as f64
                } else {
                    0.0
                };
                let fill = blues(frac);
                let (x, y) = (x0 + col as i32 * cell, y0 + r as i32 * cell);
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    fill.filled(),
                ))
                .map_err(s)?;
                let text = count.to_string();
                let ink = if is_dark(fill) { WHITE } else { TEXT_COLOR };
                if let Some(size) = fitting_size(&text, cell) {
                    let style = (FAMILY, size).into_font().color(&ink).pos(centre);
                    let at = (x + cell / 2, y + cell / 2 + raise(size));
                    root.draw(&Text::new(text, at, style)).map_err(s)?;
                }
            }
        }
        // Thin cell borders and a frame around the grid.
        let line = ShapeStyle::from(&RGBColor(200, 200, 200)).stroke_width(1);
        for k in 0..=n as i32 {
            let (h, v) = (y0 + k * cell, x0 + k * cell);
            root.draw(&PathElement::new(vec![(x0, h), (x0 + g, h)], line))
                .map_err(s)?;
            root.draw(&PathElement::new(vec![(v, y0), (v, y0 + g)], line))
                .map_err(s)?;
        }
        root.draw(&Rectangle::new(
            [(x0, y0), (x0 + g, y0 + g)],
            TEXT_COLOR.stroke_width(1),
        ))
        .map_err(s)?;

        // Class labels: predicted along the bottom, true down the left.
        let lab = font(label_size);
        for (i, l) in labels.iter().enumerate() {
            let mid = i as i32 * cell + cell / 2;
            let below = if vertical_x_labels {
                // Reads bottom to top, ending just under the grid.
                Text::new(
                    l.clone(),
                    (x0 + mid + raise(label_size), y0 + g + 8),
                    lab.clone()
                        .transform(FontTransform::Rotate270)
                        .pos(Pos::new(HPos::Right, VPos::Center)),
                )
            } else {
                Text::new(
                    l.clone(),
                    (
                        x0 + mid,
                        y0 + g + 8 + label_size as i32 / 2 + raise(label_size),
                    ),
                    lab.clone().pos(centre),
                )
            };
            root.draw(&below).map_err(s)?;
            root.draw(&Text::new(
                l.clone(),
                (x0 - 10, y0 + mid + raise(label_size)),
                lab.clone().pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(s)?;
        }
        let axis = font(axis_size);
        let pred_y = y0 + g + 8 + x_labels_h + 12 + axis_size as i32 / 2;
        root.draw(&Text::new(
            "predicted",
            (x0 + g / 2, pred_y + raise(axis_size)),
            axis.clone().pos(centre),
        ))
        .map_err(s)?;
        let true_x = x0 - label_w - 10 - 14 - axis_size as i32 / 2;
        root.draw(&Text::new(
            "true",
            (true_x + raise(axis_size), y0 + g / 2),
            axis.transform(FontTransform::Rotate270).pos(centre),
        ))
        .map_err(s)?;

        // Colour bar: share of the row, 0 at the bottom, 100% at the top.
        let bx = x0 + g + bar_gap;
        for py in 0..g {
            let t = 1.0 - py as f64 / (g - 1).max(1) as f64;
            root.draw(&Rectangle::new(
                [(bx, y0 + py), (bx + bar_w, y0 + py + 1)],
                blues(t).filled(),
            ))
            .map_err(s)?;
        }
        root.draw(&Rectangle::new(
            [(bx, y0), (bx + bar_w, y0 + g)],
            TEXT_COLOR.stroke_width(1),
        ))
        .map_err(s)?;
        let tick_size = 13.0;
        for pct in [0, 25, 50, 75, 100] {
            let y = y0 + g - (pct * g) / 100;
            root.draw(&PathElement::new(
                vec![(bx + bar_w, y), (bx + bar_w + 4, y)],
                TEXT_COLOR,
            ))
            .map_err(s)?;
            root.draw(&Text::new(
                format!("{pct}%"),
                (bx + bar_w + 7, y + raise(tick_size)),
                font(tick_size).pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(s)?;
        }
        Ok(())
    })
}

/// The largest font size (up to a third of the cell, at most 28) at which `text` fits in a
/// cell with some room; `None` when even 9 does not fit (the colour still shows the fraction).
fn fitting_size(text: &str, cell: i32) -> Option<f64> {
    let mut size = (cell as f64 / 3.0).min(28.0).floor();
    while size >= 9.0 {
        if text_width(text, size) + 6 <= cell {
            return Some(size);
        }
        size -= 1.0;
    }
    None
}
