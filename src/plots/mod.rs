//! PNG plots of a training run: learning curves, confusion matrices, predicted against true
//! values (regression) and reconstructions (autoencoders).
//!
//! Rendering is headless and needs no system fonts: plotters draws text with `ab_glyph` from
//! DejaVu Sans, bundled in `assets/fonts/` (licence alongside) and compiled into the binary.
//! Each plot is drawn into an in-memory RGB buffer and encoded with the `image` crate, so a
//! failure leaves no half-drawn file behind and every error names the output path.

use crate::error::{Error, Result};
use crate::train::EpochRecord;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

pub mod axes;
mod confusion;
mod curves;
mod explain;
mod sweep;
mod values;

pub use confusion::confusion_matrix;
pub use curves::learning_curves;
pub use explain::{decision_boundary, predictions_grid, scatter_2d};
pub use sweep::sweep_curves;
pub use values::{predicted_vs_true, reconstructions};

/// DejaVu Sans 2.37 from Debian's `fonts-dejavu-core` (Bitstream Vera licence, see
/// `assets/fonts/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

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

/// The axes of the x–y charts of real values here (maps, fields, predicted against true):
/// named axes, plain numbers, and a light grid unless `grid` is false.
fn xy_axes<'a>(
    chart: &mut ChartContext<
        'a,
        BitMapBackend<'a>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    (x, y): (&str, &str),
    grid: bool,
) -> std::result::Result<(), String> {
    let mut mesh = chart.configure_mesh();
    if grid {
        mesh.bold_line_style(GRID).light_line_style(TRANSPARENT);
    } else {
        mesh.disable_mesh();
    }
    mesh.x_desc(x)
        .y_desc(y)
        .axis_desc_style(font(15.0))
        .label_style(font(13.0))
        .x_label_formatter(&|v| curves::trim_number(*v))
        .y_label_formatter(&|v| curves::trim_number(*v))
        .draw()
        .map_err(s)
}

/// The legend every chart here draws: at `at`, on a pale box with a grey border.
fn legend<'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, CT>,
    at: SeriesLabelPosition,
) -> std::result::Result<(), String> {
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(GRID)
        .label_font(font(14.0))
        .draw()
        .map_err(s)
}

/// Turns any displayable plotters error into the string `render` reports.
fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}
