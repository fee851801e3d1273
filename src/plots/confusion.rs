//! The confusion matrix as a heat map with counts, rows = true class.

use super::*;
use crate::error::Result;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontTransform;

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
