//! Turning a picture of a handwritten digit (PNG or JPEG, any size, any colour type) into the
//! 28×28 input an MNIST-trained network expects, for `gpunn predict`.
//!
//! MNIST's digits are light on dark (0 = background, 255 = ink), size-normalised so that the
//! longer side of the ink's bounding box is 20 pixels (aspect ratio kept, anti-aliased), and
//! placed in a 28×28 field so that the centre of mass of the intensities falls on pixel
//! (14, 14) (index coordinates; the bundled sample's mean centre of mass is (14.00, 13.99)).
//! [`preprocess`] repeats those steps on an arbitrary image:
//!
//! 1. **Gray.** Luma (Rec. 709 weights, as `image` computes it) at 8 bits. An image with
//!    transparency is composited over a background that contrasts with its strokes: over white
//!    when its opaque pixels are dark on average (black strokes on a transparent canvas), over
//!    black when they are light (white strokes on a transparent canvas).
//! 2. **Polarity.** If the border pixels are light on average (mean > 127.5), the image is
//!    dark ink on light paper and is inverted, so that ink is light on dark as in MNIST.
//! 3. **Levels.** The background level is the median of the border pixels, the ink level the
//!    brightest pixel. With less than [`MIN_CONTRAST`] between them the image is blank and the
//!    result is all zeros. Everything up to [`INK_CUT`] of the way from background to ink
//!    becomes 0 (paper texture, JPEG noise) and the rest is stretched linearly to 0–255.
//! 4. **Crop.** The bounding box of the pixels that survived step 3.
//! 5. **Scale.** The crop is resized, aspect ratio kept, so that its longer side is
//!    [`BOX`] = 20 pixels: shrunk by area averaging (each output pixel is the mean of the
//!    source area it covers), or enlarged bilinearly (`image`'s `FilterType::Triangle`) when
//!    the drawing is smaller than that. On real MNIST digits enlarged and redrawn, area
//!    averaging reproduces the originals more closely than `image`'s triangle filter, whose
//!    kernel spans two output pixels when shrinking.
//! 6. **Centre.** The 20-pixel box is pasted into a black 28×28 field at the integer offset
//!    that brings its centre of mass nearest to (14, 14), clamped so that nothing is cut off.
//! 7. **Contrast.** Intensities are scaled so that the brightest pixel is 255, as it is (254
//!    or 255) in every MNIST digit; a thin stroke that the scaling spread over two pixels
//!    would otherwise come out grey.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use image::imageops::FilterType;
use image::{
    DynamicImage, GenericImageView, ImageBuffer, ImageError, ImageFormat, ImageReader, Limits, Luma,
};

use crate::{Error, Result};

/// Side of the output image.
pub const SIDE: usize = 28;
/// Side of the box the digit is scaled into (its longer side), as in MNIST.
pub const BOX: u32 = 20;
/// Widest and tallest image [`load_digit`] will decode.
pub const MAX_DIMENSION: u32 = 8192;
/// Most memory the decoder may allocate for one image (a guard against decompression bombs).
pub const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
/// Least difference between the background and the brightest ink (on 0–255) for the image
/// to count as containing a digit at all.
pub const MIN_CONTRAST: u8 = 32;
/// Fraction of the background-to-ink range treated as background (noise floor).
pub const INK_CUT: f32 = 0.2;

/// Reads a PNG or JPEG file and returns its digit as 784 bytes, row-major, MNIST-style
/// (0 = background, 255 = ink); see [`preprocess`] for the steps.
///
/// Errors (never panics): a file that cannot be opened or read is [`Error::Io`]; an empty
/// file, contents that are neither PNG nor JPEG, a corrupt or truncated image, or one larger
/// than [`MAX_DIMENSION`] or [`MAX_DECODE_BYTES`] is [`Error::BadFile`]. Every message names
/// the file.
pub fn load_digit(path: &Path) -> Result<Vec<u8>> {
    let img = read_image(path)?;
    Ok(preprocess(&img))
}

/// Decodes a PNG or JPEG file, recognised by its contents (not its name), under the limits
/// above. Errors as [`load_digit`].
pub fn read_image(path: &Path) -> Result<DynamicImage> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len == 0 {
        return Err(Error::bad_file(
            path,
            "empty file; expected a PNG or JPEG image",
        ));
    }
    let mut reader = ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let kind = match reader.format() {
        Some(ImageFormat::Png) => "PNG",
        Some(ImageFormat::Jpeg) => "JPEG",
        Some(other) => {
            let name = other
                .extensions_str()
                .first()
                .copied()
                .unwrap_or("unknown")
                .to_uppercase();
            return Err(Error::bad_file(
                path,
                format!("not a PNG or JPEG image: the contents look like {name}, which gpunn cannot read"),
            ));
        }
        None => {
            return Err(Error::bad_file(
                path,
                "not a PNG or JPEG image: the contents start with neither signature",
            ))
        }
    };

    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);

    reader.decode().map_err(|e| {
        let msg = one_line(&e.to_string());
        match e {
            ImageError::Limits(_) => Error::bad_file(
                path,
                format!(
                    "{kind} image too large to decode safely (limits: {MAX_DIMENSION}x{MAX_DIMENSION} pixels, {} MiB): {msg}",
                    MAX_DECODE_BYTES >> 20
                ),
            ),
            ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                Error::bad_file(path, format!("truncated {kind} image: {msg}"))
            }
            ImageError::IoError(io) => Error::io(path, io),
            _ => Error::bad_file(path, format!("not a valid {kind} image: {msg}")),
        }
    })
}

/// Collapses a decoder message onto one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The MNIST-style 28×28 digit (784 bytes, row-major, 0 = background, 255 = ink) of an
/// image of any size and colour type; the steps are in the [module documentation](self).
/// An image with no ink (blank, uniform, fully transparent or empty) gives all zeros.
pub fn preprocess(img: &DynamicImage) -> Vec<u8> {
    let blank = vec![0u8; SIDE * SIDE];
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return blank;
    }
    let (w, h) = (w as usize, h as usize);

    // 1. Gray, flattening any transparency.
    let Some(mut gray) = to_gray(img) else {
        return blank;
    };

    // 2. Polarity: MNIST is light ink on a dark background.
    let border = border_pixels(&gray, w, h);
    let border_mean = border.iter().map(|&v| v as u64).sum::<u64>() as f64 / border.len() as f64;
    let inverted = border_mean > 127.5;
    if inverted {
        gray.iter_mut().for_each(|v| *v = 255 - *v);
    }

    // 3. Levels: background = median of the (possibly inverted) border, ink = brightest pixel.
    let background = median(border.iter().map(|&v| if inverted { 255 - v } else { v }));
    let ink = gray.iter().copied().max().unwrap_or(0);
    if ink.saturating_sub(background) < MIN_CONTRAST {
        return blank;
    }
    let cut = background as f32 + INK_CUT * (ink - background) as f32;
    let level = |v: u8| ((v as f32 - cut) / (ink as f32 - cut)).clamp(0.0, 1.0);

    // 4. Bounding box of the ink.
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for (y, row) in gray.chunks_exact(w).enumerate() {
        for (x, &v) in row.iter().enumerate() {
            if v as f32 > cut {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
    }
    if x0 > x1 {
        return blank;
    }
    let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1);
    let crop: ImageBuffer<Luma<f32>, Vec<f32>> =
        ImageBuffer::from_fn(cw as u32, ch as u32, |x, y| {
            Luma([level(gray[(y0 + y as usize) * w + x0 + x as usize])])
        });
    drop(gray);

    // 5. Scale the longer side to BOX, keeping the aspect ratio.
    let long = cw.max(ch) as f64;
    let side = |n: usize| ((n as f64 * BOX as f64 / long).round() as u32).clamp(1, BOX);
    let (sw, sh) = (side(cw), side(ch));
    let scaled = if cw.max(ch) > BOX as usize {
        area_resize(&crop, sw, sh)
    } else {
        image::imageops::resize(&crop, sw, sh, FilterType::Triangle)
    };

    // 6. Centre of mass (index coordinates) to (14, 14), by a whole-pixel shift.
    let (mut mass, mut mx, mut my) = (0f64, 0f64, 0f64);
    for (x, y, p) in scaled.enumerate_pixels() {
        let v = p.0[0].clamp(0.0, 1.0) as f64;
        mass += v;
        mx += v * x as f64;
        my += v * y as f64;
    }
    if mass <= 0.0 {
        return blank;
    }
    let centre = (SIDE / 2) as f64;
    let place = |com: f64, len: u32| -> usize {
        let max = (SIDE - len as usize) as f64;
        (centre - com).round().clamp(0.0, max) as usize
    };
    let (ox, oy) = (place(mx / mass, sw), place(my / mass, sh));

    // 7. Brightest pixel to 255, as in every MNIST digit (thin strokes lose intensity when
    //    they fall across pixel boundaries in the scaling).
    let peak = scaled
        .as_raw()
        .iter()
        .fold(0f32, |m, &v| m.max(v.clamp(0.0, 1.0)));
    let mut out = blank;
    for (x, y, p) in scaled.enumerate_pixels() {
        out[(oy + y as usize) * SIDE + ox + x as usize] =
            (p.0[0].clamp(0.0, 1.0) / peak * 255.0).round() as u8;
    }
    out
}

/// 8-bit luma, row-major. An image with alpha is composited over white if its (alpha-weighted)
/// opaque pixels are dark, over black if they are light. `None` when every pixel is fully
/// transparent: nothing is drawn.
fn to_gray(img: &DynamicImage) -> Option<Vec<u8>> {
    if !img.color().has_alpha() {
        return Some(img.to_luma8().into_raw());
    }
    let la = img.to_luma_alpha8();
    let (mut alpha_sum, mut weighted) = (0u64, 0u64);
    for p in la.pixels() {
        let [l, a] = p.0;
        alpha_sum += a as u64;
        weighted += l as u64 * a as u64;
    }
    if alpha_sum == 0 {
        return None;
    }
    // Light strokes (mean opaque luma above mid-grey) go over black, dark strokes over white.
    let over: u32 = if weighted * 2 > alpha_sum * 255 {
        0
    } else {
        255
    };
    Some(
        la.pixels()
            .map(|p| {
                let [l, a] = p.0;
                let (l, a) = (l as u32, a as u32);
                ((l * a + over * (255 - a) + 127) / 255) as u8
            })
            .collect(),
    )
}

/// The outermost ring of pixels (every pixel when the image is at most 2 pixels wide or tall).
fn border_pixels(gray: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 * (w + h));
    for (y, row) in gray.chunks_exact(w).enumerate() {
        if y == 0 || y == h - 1 {
            out.extend_from_slice(row);
        } else {
            out.push(row[0]);
            if w > 1 {
                out.push(row[w - 1]);
            }
        }
    }
    out
}

/// The lower median of some bytes (0 for none).
fn median(values: impl Iterator<Item = u8>) -> u8 {
    let mut hist = [0u64; 256];
    let mut n = 0u64;
    for v in values {
        hist[v as usize] += 1;
        n += 1;
    }
    let mut seen = 0;
    for (v, &count) in hist.iter().enumerate() {
        seen += count;
        if count > 0 && 2 * seen >= n {
            return v as u8;
        }
    }
    0
}

type GrayF32 = ImageBuffer<Luma<f32>, Vec<f32>>;

/// Shrinks by area averaging: each output pixel is the mean of the source area it covers,
/// partly covered source pixels weighted by the covered fraction. Separable (rows, then
/// columns). Expects `nw <= width` and `nh <= height`.
fn area_resize(src: &GrayF32, nw: u32, nh: u32) -> GrayF32 {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let (nw, nh) = (nw as usize, nh as usize);
    // Horizontal: h rows of nw.
    let wx = area_weights(w, nw);
    let mut tmp = vec![0f32; nw * h];
    for y in 0..h {
        let row = &src.as_raw()[y * w..(y + 1) * w];
        for (i, taps) in wx.iter().enumerate() {
            tmp[y * nw + i] = taps.iter().map(|&(j, wt)| row[j] * wt).sum();
        }
    }
    // Vertical: nh rows of nw.
    let wy = area_weights(h, nh);
    let mut out = vec![0f32; nw * nh];
    for (i, taps) in wy.iter().enumerate() {
        for &(j, wt) in taps {
            for x in 0..nw {
                out[i * nw + x] += tmp[j * nw + x] * wt;
            }
        }
    }
    ImageBuffer::from_raw(nw as u32, nh as u32, out).expect("buffer size matches")
}

/// For each of `n` output cells over `len` source cells, the source indices it covers and
/// their weights (covered fraction / cell width, so each list sums to 1).
fn area_weights(len: usize, n: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = len as f64 / n as f64;
    (0..n)
        .map(|i| {
            let (a, b) = (i as f64 * scale, (i + 1) as f64 * scale);
            let first = a.floor() as usize;
            let last = (b.ceil() as usize).min(len);
            (first..last)
                .map(|j| {
                    let cover = (b.min(j as f64 + 1.0) - a.max(j as f64)).max(0.0);
                    (j, (cover / scale) as f32)
                })
                .filter(|&(_, wt)| wt > 0.0)
                .collect()
        })
        .collect()
}
