//! Images to MNIST-style 28x28 input (src/digit.rs): polarity, transparency, size
//! normalisation, centring, JPEG, and files that are not images. The images are drawn here
//! with the `image` crate; files go to a per-test folder under Cargo's test temp dir.

use std::io::Cursor;
use std::path::PathBuf;

use gpunn::digit::{load_digit, preprocess, SIDE};
use gpunn::Error;
use image::codecs::jpeg::JpegEncoder;
use image::{
    DynamicImage, GrayImage, ImageBuffer, ImageFormat, Luma, Rgb, RgbImage, Rgba, RgbaImage,
};

/// A fresh folder for one test's files.
fn tmp(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("digit")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Centre of mass of the intensities, in pixel-index coordinates (x, y).
fn centre_of_mass(img: &[u8]) -> (f64, f64) {
    let (mut m, mut mx, mut my) = (0.0, 0.0, 0.0);
    for (i, &v) in img.iter().enumerate() {
        let v = v as f64;
        m += v;
        mx += v * (i % SIDE) as f64;
        my += v * (i / SIDE) as f64;
    }
    (mx / m, my / m)
}

/// Width and height of the bounding box of the non-zero pixels.
fn ink_box(img: &[u8]) -> (usize, usize) {
    let (mut x0, mut y0, mut x1, mut y1) = (SIDE, SIDE, 0, 0);
    for (i, &v) in img.iter().enumerate() {
        if v > 0 {
            let (x, y) = (i % SIDE, i / SIDE);
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    assert!(x0 <= x1, "no ink at all");
    (x1 - x0 + 1, y1 - y0 + 1)
}

/// The image as rows of characters, for failure messages.
fn picture(img: &[u8]) -> String {
    img.chunks(SIDE)
        .map(|row| {
            row.iter()
                .map(|&v| [' ', '.', ':', '#'][v as usize / 64])
                .collect::<String>()
                + "|\n"
        })
        .collect()
}

/// What every MNIST-style digit satisfies: 784 bytes, bright ink on a black frame, the
/// centre of mass within 1 pixel of (14, 14), the longer side of the ink 20 ± 1 pixels.
/// Returns the ink box.
#[track_caller]
fn assert_mnist_like(what: &str, img: &[u8]) -> (usize, usize) {
    assert_eq!(img.len(), SIDE * SIDE, "{what}: length");
    let pic = picture(img);
    assert!(
        img.iter().any(|&v| v >= 200),
        "{what}: no bright ink\n{pic}"
    );
    for i in 0..SIDE {
        for (x, y) in [(i, 0), (i, SIDE - 1), (0, i), (SIDE - 1, i)] {
            assert_eq!(
                img[y * SIDE + x],
                0,
                "{what}: frame pixel ({x},{y}) is not background\n{pic}"
            );
        }
    }
    // Light on dark: most of the field is background.
    let dark = img.iter().filter(|&&v| v == 0).count();
    assert!(
        dark > SIDE * SIDE / 2,
        "{what}: mostly ink, polarity wrong?\n{pic}"
    );
    let (cx, cy) = centre_of_mass(img);
    assert!(
        (cx - 14.0).abs() <= 1.0 && (cy - 14.0).abs() <= 1.0,
        "{what}: centre of mass ({cx:.2}, {cy:.2})\n{pic}"
    );
    let (w, h) = ink_box(img);
    assert!(
        (19..=21).contains(&w.max(h)),
        "{what}: ink box {w}x{h}\n{pic}"
    );
    (w, h)
}

/// A "1": a black vertical bar near the top-left corner of a white 100x60 RGB image.
fn bar_dark_on_light() -> RgbImage {
    RgbImage::from_fn(100, 60, |x, y| {
        if (6..14).contains(&x) && (4..50).contains(&y) {
            Rgb([0, 0, 0])
        } else {
            Rgb([255, 255, 255])
        }
    })
}

fn is_bar(x: u32, y: u32) -> bool {
    (6..14).contains(&x) && (4..50).contains(&y)
}

fn png_bytes(img: &DynamicImage) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    img.write_to(&mut buf, ImageFormat::Png).unwrap();
    buf.into_inner()
}

fn jpeg_bytes(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut buf = Vec::new();
    JpegEncoder::new_with_quality(&mut buf, quality)
        .encode_image(img)
        .unwrap();
    buf
}

#[test]
fn digit_dark_bar_top_left_is_inverted_scaled_and_centred() {
    let out = preprocess(&DynamicImage::ImageRgb8(bar_dark_on_light()));
    let (w, h) = assert_mnist_like("bar", &out);
    // 8x46 scaled so that 46 → 20: 8·20/46 = 3.5 → 3 or 4 columns, 20 rows.
    assert_eq!(h, 20, "\n{}", picture(&out));
    assert!((3..=4).contains(&w), "width {w}\n{}", picture(&out));
    // The centre of the bar is solid ink.
    assert_eq!(out[14 * SIDE + 14], 255, "\n{}", picture(&out));
}

#[test]
fn digit_light_on_dark_gray_gives_the_same_digit() {
    let dark_on_light = preprocess(&DynamicImage::ImageRgb8(bar_dark_on_light()));
    let light_on_dark =
        GrayImage::from_fn(100, 60, |x, y| Luma([if is_bar(x, y) { 255 } else { 0 }]));
    let out = preprocess(&DynamicImage::ImageLuma8(light_on_dark));
    assert_eq!(out, dark_on_light, "polarity detection\n{}", picture(&out));

    // 16-bit gray: the same again.
    let deep = ImageBuffer::<Luma<u16>, _>::from_fn(100, 60, |x, y| {
        Luma([if is_bar(x, y) { 65535 } else { 0 }])
    });
    assert_eq!(
        preprocess(&DynamicImage::ImageLuma16(deep)),
        dark_on_light,
        "16-bit gray"
    );
}

#[test]
fn digit_transparent_background_png_is_ink_on_dark() {
    let want = preprocess(&DynamicImage::ImageRgb8(bar_dark_on_light()));
    // Black strokes on a fully transparent canvas (whose hidden colour is black, as many
    // drawing programs leave it).
    let black_strokes = RgbaImage::from_fn(100, 60, |x, y| {
        if is_bar(x, y) {
            Rgba([0, 0, 0, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    let out = preprocess(&DynamicImage::ImageRgba8(black_strokes.clone()));
    assert_eq!(out, want, "black strokes on transparent\n{}", picture(&out));

    // White strokes on a transparent canvas whose hidden colour is white.
    let white_strokes = RgbaImage::from_fn(100, 60, |x, y| {
        if is_bar(x, y) {
            Rgba([255, 255, 255, 255])
        } else {
            Rgba([255, 255, 255, 0])
        }
    });
    let out = preprocess(&DynamicImage::ImageRgba8(white_strokes));
    assert_eq!(out, want, "white strokes on transparent\n{}", picture(&out));

    // Through a real PNG file.
    let dir = tmp("transparent");
    let path = dir.join("stroke.png");
    std::fs::write(&path, png_bytes(&DynamicImage::ImageRgba8(black_strokes))).unwrap();
    assert_eq!(load_digit(&path).unwrap(), want, "from {}", path.display());
}

#[test]
fn digit_png_file_round_trip_matches_preprocess() {
    let img = DynamicImage::ImageRgb8(bar_dark_on_light());
    let dir = tmp("png");
    let path = dir.join("one.png");
    std::fs::write(&path, png_bytes(&img)).unwrap();
    assert_eq!(load_digit(&path).unwrap(), preprocess(&img));
}

#[test]
fn digit_jpeg_round_trip_stays_inked_and_centred() {
    let img = bar_dark_on_light();
    let want = preprocess(&DynamicImage::ImageRgb8(img.clone()));
    let dir = tmp("jpeg");
    for quality in [50, 90] {
        // The name says PNG: the format is read from the contents, not the name.
        let path = dir.join(format!("one-q{quality}.png"));
        std::fs::write(&path, jpeg_bytes(&img, quality)).unwrap();
        let out = load_digit(&path).unwrap();
        assert_mnist_like(&format!("JPEG quality {quality}"), &out);
        let diff: u32 = out
            .iter()
            .zip(&want)
            .map(|(&a, &b)| (a as i32 - b as i32).unsigned_abs())
            .sum();
        let ink: u32 = want.iter().map(|&v| v as u32).sum();
        assert!(
            diff * 5 < ink,
            "JPEG q{quality} differs from the PNG result by {diff} (ink {ink})\n{}",
            picture(&out)
        );
    }
}

#[test]
fn digit_ring_keeps_its_aspect_ratio() {
    // An anti-aliased elliptical ring (a "0"), 60 wide and 100 tall, dark on a light-grey
    // paper, off-centre in a 300x200 image.
    let (cx, cy, rx, ry) = (90.0f32, 110.0f32, 30.0f32, 50.0f32);
    let img = GrayImage::from_fn(300, 200, |x, y| {
        let (dx, dy) = ((x as f32 + 0.5 - cx) / rx, (y as f32 + 0.5 - cy) / ry);
        let r = (dx * dx + dy * dy).sqrt();
        // distance from the ring's centre line, in units of the ring radius
        let d = (r - 0.85).abs();
        let ink = (1.0 - (d - 0.1) * 20.0).clamp(0.0, 1.0);
        Luma([(230.0 - 200.0 * ink) as u8])
    });
    let out = preprocess(&DynamicImage::ImageLuma8(img));
    let (w, h) = assert_mnist_like("ring", &out);
    // 60:100 → 12:20
    assert_eq!(h, 20, "\n{}", picture(&out));
    assert!((11..=13).contains(&w), "width {w}\n{}", picture(&out));
    // A ring: its centre is empty.
    assert_eq!(out[14 * SIDE + 14], 0, "\n{}", picture(&out));
}

#[test]
fn digit_wide_stroke_is_scaled_by_its_width() {
    // A horizontal dash 80x10: the longer side is the width.
    let img = GrayImage::from_fn(120, 90, |x, y| {
        Luma([if (20..100).contains(&x) && (50..60).contains(&y) {
            0
        } else {
            255
        }])
    });
    let out = preprocess(&DynamicImage::ImageLuma8(img));
    let (w, h) = assert_mnist_like("dash", &out);
    assert_eq!(w, 20, "\n{}", picture(&out));
    assert!((2..=4).contains(&h), "height {h}\n{}", picture(&out));
}

#[test]
fn digit_tiny_dot_is_enlarged_without_panicking() {
    let img = GrayImage::from_fn(5, 5, |x, y| Luma([if (x, y) == (1, 3) { 0 } else { 255 }]));
    let out = preprocess(&DynamicImage::ImageLuma8(img));
    // As in MNIST's normalisation, the dot's box is scaled up to 20x20: a centred square.
    let pic = picture(&out);
    assert_eq!(ink_box(&out), (20, 20), "\n{pic}");
    assert_eq!(centre_of_mass(&out), (14.5, 14.5), "\n{pic}");
    assert!(out.iter().all(|&v| v == 0 || v == 255), "\n{pic}");
}

#[test]
fn digit_blank_images_give_all_zeros() {
    let zeros = vec![0u8; SIDE * SIDE];
    let cases: Vec<(&str, DynamicImage)> = vec![
        (
            "white",
            DynamicImage::ImageLuma8(GrayImage::from_pixel(50, 40, Luma([255]))),
        ),
        (
            "black",
            DynamicImage::ImageLuma8(GrayImage::from_pixel(50, 40, Luma([0]))),
        ),
        (
            "grey",
            DynamicImage::ImageRgb8(RgbImage::from_pixel(50, 40, Rgb([128, 120, 130]))),
        ),
        (
            "faint smudge",
            DynamicImage::ImageLuma8(GrayImage::from_fn(50, 40, |x, _| {
                Luma([if x == 20 { 230 } else { 250 }])
            })),
        ),
        (
            "transparent",
            DynamicImage::ImageRgba8(RgbaImage::from_pixel(50, 40, Rgba([0, 0, 0, 0]))),
        ),
        (
            "1x1",
            DynamicImage::ImageLuma8(GrayImage::from_pixel(1, 1, Luma([0]))),
        ),
        (
            "1x1 white",
            DynamicImage::ImageLuma8(GrayImage::from_pixel(1, 1, Luma([255]))),
        ),
        ("empty", DynamicImage::ImageLuma8(GrayImage::new(0, 0))),
        ("no rows", DynamicImage::ImageLuma8(GrayImage::new(7, 0))),
    ];
    for (what, img) in cases {
        assert_eq!(preprocess(&img), zeros, "{what}");
    }
    // A blank file too.
    let dir = tmp("blank");
    let path = dir.join("white.png");
    std::fs::write(
        &path,
        png_bytes(&DynamicImage::ImageLuma8(GrayImage::from_pixel(
            30,
            30,
            Luma([255]),
        ))),
    )
    .unwrap();
    assert_eq!(load_digit(&path).unwrap(), zeros);
}

/// Asserts a BadFile error whose message names the file and contains `needle`.
#[track_caller]
fn assert_bad_file(path: &std::path::Path, needle: &str) {
    match load_digit(path) {
        Err(e @ Error::BadFile { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&path.display().to_string()),
                "message does not name the file: {msg}"
            );
            assert!(msg.contains(needle), "message lacks {needle:?}: {msg}");
            assert!(!msg.contains('\n'), "message is not one line: {msg}");
        }
        Err(e) => panic!("{}: expected BadFile, got {e:?}", path.display()),
        Ok(_) => panic!("{}: expected an error, got a digit", path.display()),
    }
}

#[test]
fn digit_unreadable_files_are_errors_naming_the_file() {
    let dir = tmp("bad");

    let missing = dir.join("missing.png");
    match load_digit(&missing) {
        Err(e @ Error::Io { .. }) => assert!(e.to_string().contains("missing.png"), "{e}"),
        other => panic!("missing file: {other:?}"),
    }

    let empty = dir.join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    assert_bad_file(&empty, "empty");

    let text = dir.join("text.png");
    std::fs::write(&text, b"this is a text file, not a picture of a digit\n").unwrap();
    assert_bad_file(&text, "not a PNG or JPEG");

    // Deterministic garbage (a linear congruential generator).
    let mut s = 0x2545_f491_u32;
    let junk: Vec<u8> = (0..4096)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 24) as u8
        })
        .collect();
    let garbage = dir.join("garbage.jpg");
    std::fs::write(&garbage, &junk).unwrap();
    assert_bad_file(&garbage, "not a PNG or JPEG");

    let png = png_bytes(&DynamicImage::ImageRgb8(bar_dark_on_light()));
    for (name, keep) in [
        ("cut-half.png", png.len() / 2),
        ("cut-header.png", 20),
        ("signature-only.png", 8),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, &png[..keep]).unwrap();
        assert_bad_file(&path, "PNG");
    }

    // A PNG signature followed by garbage.
    let fake = dir.join("fake.png");
    std::fs::write(&fake, [&png[..8], &junk[..]].concat()).unwrap();
    assert_bad_file(&fake, "PNG");

    // A flipped byte inside the image data: the chunk checksum no longer matches.
    let mut corrupt = png.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0xff;
    let path = dir.join("corrupt.png");
    std::fs::write(&path, &corrupt).unwrap();
    assert_bad_file(&path, "PNG");

    // A JPEG header followed by garbage, and a cut JPEG: an error or, for a decoder that
    // fills in what is missing, a digit; never a panic.
    let jpeg = jpeg_bytes(&bar_dark_on_light(), 90);
    let fake_jpeg = dir.join("fake.jpg");
    std::fs::write(&fake_jpeg, [&jpeg[..4], &junk[..]].concat()).unwrap();
    assert_bad_file(&fake_jpeg, "JPEG");
    let cut_jpeg = dir.join("cut.jpg");
    std::fs::write(&cut_jpeg, &jpeg[..jpeg.len() / 2]).unwrap();
    if let Ok(out) = load_digit(&cut_jpeg) {
        assert_eq!(out.len(), SIDE * SIDE);
    }

    // A directory.
    assert!(load_digit(&dir).is_err());
}

/// A small PNG file whose header claims the given size (the pixel data is a few bytes).
fn png_header_only(width: u32, height: u32, bit_depth: u8, colour_type: u8) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[bit_depth, colour_type, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    // The start of the pixel data: one compressed row of zeros (the decoder wants an IDAT
    // before it reports the image's size).
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, &[0u8; 64]).unwrap();
    chunk(&mut out, b"IDAT", &z.finish().unwrap());
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn digit_decompression_bombs_are_refused_before_decoding() {
    let dir = tmp("bomb");
    // 100000 x 100000 gray: past the dimension limit.
    let wide = dir.join("huge.png");
    std::fs::write(&wide, png_header_only(100_000, 100_000, 8, 0)).unwrap();
    assert_bad_file(&wide, "too large");
    // 8000 x 8000 RGBA at 16 bits: within the dimensions, but 512 MB decoded.
    let deep = dir.join("deep.png");
    std::fs::write(&deep, png_header_only(8000, 8000, 16, 6)).unwrap();
    assert_bad_file(&deep, "too large");
    // A real, small file that is just over the width limit.
    let real = dir.join("wide.png");
    std::fs::write(
        &real,
        png_bytes(&DynamicImage::ImageLuma8(GrayImage::new(9000, 2))),
    )
    .unwrap();
    assert_bad_file(&real, "too large");
}

/// The first `n` images of the bundled MNIST test sample.
fn mnist_sample(n: usize) -> Vec<Vec<u8>> {
    use std::io::Read;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data/mnist-sample/t10k-images-idx3-ubyte.gz");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    assert_eq!(
        &raw[..4],
        &[0, 0, 8, 3],
        "{}: not an IDX image file",
        path.display()
    );
    raw[16..]
        .chunks_exact(SIDE * SIDE)
        .take(n)
        .map(<[u8]>::to_vec)
        .collect()
}

/// `img` moved by (dx, dy), zero-filled.
fn shifted(img: &[u8], dx: i32, dy: i32) -> Vec<u8> {
    let n = SIDE as i32;
    (0..n * n)
        .map(|i| {
            let (x, y) = (i % n - dx, i / n - dy);
            if (0..n).contains(&x) && (0..n).contains(&y) {
                img[(y * n + x) as usize]
            } else {
                0
            }
        })
        .collect()
}

fn cosine(a: &[u8], b: &[u8]) -> f64 {
    let dot = |a: &[u8], b: &[u8]| {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| x as f64 * y as f64)
            .sum::<f64>()
    };
    dot(a, b) / (dot(a, a) * dot(b, b)).sqrt()
}

#[test]
fn digit_real_mnist_digits_enlarged_and_inverted_come_back() {
    // Real MNIST digits, enlarged 2x to 10x and drawn dark on light, as a user's picture
    // would be: preprocessing must give back (nearly) the digit MNIST itself made.
    let digits = mnist_sample(200);
    let (mut total_diff, mut worst_cos) = (0.0, 1.0f64);
    for (k, orig) in digits.iter().enumerate() {
        let side = SIDE as u32 * (k as u32 % 9 + 2);
        let small = GrayImage::from_raw(28, 28, orig.iter().map(|&v| 255 - v).collect()).unwrap();
        let big =
            image::imageops::resize(&small, side, side, image::imageops::FilterType::Triangle);
        let out = preprocess(&DynamicImage::ImageLuma8(big));
        let what = format!("MNIST test digit {k} at {side}x{side}");
        let pic = format!("got\n{}want\n{}", picture(&out), picture(orig));

        // Like MNIST: longer side 20, brightest pixel 255, centre of mass where the original
        // has it (MNIST's own digits may touch the frame, so its centre can be off (14, 14)).
        let (w, h) = ink_box(&out);
        assert_eq!(w.max(h), 20, "{what}: ink box {w}x{h}\n{pic}");
        assert_eq!(out.iter().max(), Some(&255), "{what}\n{pic}");
        let ((cx, cy), (ox, oy)) = (centre_of_mass(&out), centre_of_mass(orig));
        assert!(
            (cx - ox).abs() <= 1.0 && (cy - oy).abs() <= 1.0,
            "{what}: centre ({cx:.2}, {cy:.2}), MNIST's ({ox:.2}, {oy:.2})\n{pic}"
        );

        // The same shape: MNIST's rounding of the centring shift may differ from ours by a
        // pixel, which thin strokes feel, so compare at the best of the 1-pixel shifts.
        let mut best = 0.0f64;
        for dy in -1..=1 {
            for dx in -1..=1 {
                best = best.max(cosine(&shifted(&out, dx, dy), orig));
            }
        }
        assert!(best > 0.85, "{what}: cosine similarity {best:.3}\n{pic}");
        worst_cos = worst_cos.min(best);
        total_diff += out
            .iter()
            .zip(orig)
            .map(|(&a, &b)| (a as f64 - b as f64).abs())
            .sum::<f64>()
            / 784.0;
    }
    let mean_diff = total_diff / digits.len() as f64;
    eprintln!("MNIST round trip: mean |diff| {mean_diff:.2} per pixel, worst best-shift cosine {worst_cos:.3}");
    assert!(
        mean_diff < 12.0,
        "mean absolute difference {mean_diff:.2} per pixel"
    );
}

#[test]
fn digit_noisy_grey_paper_is_cleaned_up() {
    // A photo-like picture: grey ink (50) on grey paper (190), uneven by ±12 of noise.
    let digits = mnist_sample(20);
    let mut s = 12345u32;
    for (k, orig) in digits.iter().enumerate() {
        let small = GrayImage::from_raw(28, 28, orig.clone()).unwrap();
        let big = image::imageops::resize(&small, 224, 224, image::imageops::FilterType::Triangle);
        let photo = GrayImage::from_fn(300, 260, |x, y| {
            let ink = if (30..254).contains(&x) && (10..234).contains(&y) {
                big.get_pixel(x - 30, y - 10).0[0] as f32 / 255.0
            } else {
                0.0
            };
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (s >> 24) as f32 / 255.0 * 24.0 - 12.0;
            Luma([(190.0 - 140.0 * ink + noise).round() as u8])
        });
        let out = preprocess(&DynamicImage::ImageLuma8(photo));
        let what = format!("MNIST test digit {k} on noisy paper");
        let pic = format!("got\n{}want\n{}", picture(&out), picture(orig));
        let (w, h) = ink_box(&out);
        assert_eq!(w.max(h), 20, "{what}: ink box {w}x{h}\n{pic}");
        let mut best = 0.0f64;
        for dy in -1..=1 {
            for dx in -1..=1 {
                best = best.max(cosine(&shifted(&out, dx, dy), orig));
            }
        }
        assert!(best > 0.85, "{what}: cosine similarity {best:.3}\n{pic}");
    }
}
