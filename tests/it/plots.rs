//! Plots (`gpunn::plots`): the PNGs are written, decode, have the expected size and are not
//! blank; bad input and unwritable paths give errors naming the file.
//!
//! To look at the images yourself:
//! `cargo test --test it plots_render_samples -- --ignored` writes them to `$TMPDIR/gpunn-plots/`.

use crate::common::Scratch;
use gpunn::plots;
use gpunn::train::EpochRecord;
use std::collections::HashSet;
use std::fs;
use std::path::Path;

/// A fresh, empty directory for one test, removed when the test passes.
fn scratch(name: &str) -> Scratch {
    Scratch::new(&format!("plots-{name}"))
}

/// A plausible MNIST-like run: loss falling, accuracy rising, validation a little behind.
fn history(epochs: usize, with_val: bool) -> Vec<EpochRecord> {
    (1..=epochs)
        .map(|e| {
            let t = e as f32;
            let train_loss = 0.05 + 0.9 * (-0.45 * t).exp();
            let val_loss = 0.09 + 0.8 * (-0.4 * t).exp() + 0.004 * t;
            EpochRecord {
                epoch: e,
                train_loss,
                train_l2: None,
                train_accuracy: 1.0 - train_loss * 0.35,
                val_loss: with_val.then_some(val_loss),
                val_accuracy: with_val.then_some(1.0 - val_loss * 0.4),
                val_mse: None,
                val_r2: None,
                seconds: 1.5,
                samples_per_sec: 40_000.0,
                lr: Some(0.1),
            }
        })
        .collect()
}

/// A 10-class matrix: mostly diagonal, with the classic 4/9, 3/5, 7/1 confusions.
fn digits_matrix() -> (Vec<Vec<u64>>, Vec<String>) {
    let support = [980u64, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
    let confusions = [
        (4usize, 9usize, 23u64),
        (9, 4, 17),
        (3, 5, 19),
        (5, 3, 21),
        (7, 1, 14),
        (2, 7, 12),
        (8, 3, 16),
        (6, 0, 9),
    ];
    let mut m = vec![vec![0u64; 10]; 10];
    for (i, &n) in support.iter().enumerate() {
        let off: u64 = confusions.iter().filter(|c| c.0 == i).map(|c| c.2).sum();
        m[i][i] = n - off - 3;
        m[i][(i + 1) % 10] += 2;
        m[i][(i + 6) % 10] += 1;
    }
    for (t, p, n) in confusions {
        m[t][p] += n;
    }
    (m, (0..10).map(|d| d.to_string()).collect())
}

pub struct Stats {
    pub width: u32,
    pub height: u32,
    pub colours: usize,
    pub dark: usize,
}

pub fn png_stats(path: &Path) -> (Stats, image::RgbImage) {
    let bytes = fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .unwrap()
        .to_rgb8();
    let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    let dark = img
        .pixels()
        .filter(|p| p.0.iter().map(|&c| c as u32).sum::<u32>() < 200)
        .count();
    (
        Stats {
            width: img.width(),
            height: img.height(),
            colours: colours.len(),
            dark,
        },
        img,
    )
}

/// Pixels within `tol` of `c` in every channel.
fn count_near(img: &image::RgbImage, c: [u8; 3], tol: i32) -> usize {
    img.pixels()
        .filter(|p| {
            p.0.iter()
                .zip(c)
                .all(|(&a, b)| (a as i32 - b as i32).abs() <= tol)
        })
        .count()
}

#[test]
fn plots_learning_curves_with_validation() {
    let dir = scratch("curves");
    let path = dir.join("curves.png");
    plots::learning_curves(&path, &history(10, true)).unwrap();
    let (s, img) = png_stats(&path);
    assert_eq!((s.width, s.height), plots::CURVES_SIZE);
    assert!(
        s.colours > 50,
        "anti-aliased text and lines give many colours, got {}",
        s.colours
    );
    assert!(
        s.dark > 2000,
        "text and axes should be drawn, {} dark pixels",
        s.dark
    );
    // Both series are drawn (train blue, validation orange), in both panels.
    let (w, h) = (s.width, s.height);
    for (x0, x1) in [(0, w / 2), (w / 2, w)] {
        let half = image::imageops::crop_imm(&img, x0, 0, x1 - x0, h).to_image();
        assert!(
            count_near(&half, [31, 119, 180], 10) > 200,
            "train line in panel at x={x0}"
        );
        assert!(
            count_near(&half, [230, 97, 1], 10) > 200,
            "validation line in panel at x={x0}"
        );
    }
}

#[test]
fn plots_learning_curves_single_epoch_without_validation() {
    let dir = scratch("one-epoch");
    let path = dir.join("one.png");
    plots::learning_curves(&path, &history(1, false)).unwrap();
    let (s, img) = png_stats(&path);
    assert_eq!((s.width, s.height), plots::CURVES_SIZE);
    assert!(s.dark > 2000);
    assert!(
        count_near(&img, [31, 119, 180], 10) > 20,
        "the single epoch is drawn as a point"
    );
    assert_eq!(
        count_near(&img, [230, 97, 1], 10),
        0,
        "no validation series"
    );
}

#[test]
fn plots_learning_curves_errors_name_the_path() {
    let dir = scratch("curves-errors");
    let missing = dir.join("no-such-dir/curves.png");
    let e = plots::learning_curves(&missing, &history(3, true))
        .unwrap_err()
        .to_string();
    assert!(e.contains(&missing.display().to_string()), "{e}");
    let e = plots::learning_curves(&dir.join("empty.png"), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty.png") && e.contains("no epochs"), "{e}");
    // The target is a directory.
    let e = plots::learning_curves(&dir, &history(2, false))
        .unwrap_err()
        .to_string();
    assert!(e.contains(&dir.display().to_string()), "{e}");
}

#[test]
fn plots_learning_curves_tolerate_nan_and_zero_losses() {
    let dir = scratch("curves-odd");
    let mut h = history(4, true);
    h[2].val_loss = Some(f32::NAN);
    h[3].train_loss = f32::INFINITY;
    plots::learning_curves(&dir.join("nan.png"), &h).unwrap();
    let zeros: Vec<EpochRecord> = history(3, false)
        .into_iter()
        .map(|r| EpochRecord {
            train_loss: 0.0,
            train_accuracy: 1.0,
            ..r
        })
        .collect();
    plots::learning_curves(&dir.join("zeros.png"), &zeros).unwrap();
    assert!(png_stats(&dir.join("zeros.png")).0.dark > 2000);
}

#[test]
fn plots_confusion_matrix_ten_classes() {
    let dir = scratch("cm10");
    let path = dir.join("cm.png");
    let (m, labels) = digits_matrix();
    plots::confusion_matrix(&path, &m, &labels, "MNIST test set").unwrap();
    let (s, img) = png_stats(&path);
    assert!(
        s.width >= 600 && s.height >= 600,
        "{}x{}",
        s.width,
        s.height
    );
    assert!(s.colours > 50, "{}", s.colours);
    // Ten nearly-full diagonal cells in the darkest blue.
    assert!(
        count_near(&img, [8, 48, 107], 12) > 10 * 40 * 40,
        "dark diagonal cells"
    );
    assert!(s.dark > 10 * 40 * 40);
}

#[test]
fn plots_confusion_matrix_two_classes() {
    let dir = scratch("cm2");
    let path = dir.join("cm2.png");
    let labels = vec!["negative".to_string(), "positive".to_string()];
    plots::confusion_matrix(&path, &[vec![480, 20], vec![35, 465]], &labels, "xor").unwrap();
    let (s, img) = png_stats(&path);
    assert!(
        s.width >= 300 && s.height >= 300,
        "{}x{}",
        s.width,
        s.height
    );
    assert!(
        count_near(&img, [8, 48, 107], 30) > 2 * 100 * 100,
        "two dark diagonal cells"
    );
    // A row with no samples is white, not NaN-coloured.
    plots::confusion_matrix(
        &dir.join("zero.png"),
        &[vec![0, 0], vec![3, 4]],
        &labels,
        "zero row",
    )
    .unwrap();
}

#[test]
fn plots_confusion_matrix_errors_name_the_path() {
    let dir = scratch("cm-errors");
    let labels: Vec<String> = vec!["a".into(), "b".into()];
    let path = dir.join("nowhere/cm.png");
    let e = plots::confusion_matrix(&path, &[vec![1, 0], vec![0, 1]], &labels, "t")
        .unwrap_err()
        .to_string();
    assert!(e.contains(&path.display().to_string()), "{e}");
    let p = dir.join("ragged.png");
    let e = plots::confusion_matrix(&p, &[vec![1, 0], vec![0]], &labels, "t")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ragged.png") && e.contains("row 1 has 1 columns, expected 2"),
        "{e}"
    );
    let e = plots::confusion_matrix(&p, &[vec![1]], &labels, "t")
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 labels for 1 classes"), "{e}");
    let e = plots::confusion_matrix(&p, &[], &[], "t")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no classes"), "{e}");
    assert!(!p.exists());
}

/// Writes sample plots to `$TMPDIR/gpunn-plots/` for a person to look at.
#[test]
#[ignore = "writes sample images for inspection"]
fn plots_render_samples() {
    let dir = std::env::temp_dir().join("gpunn-plots");
    fs::create_dir_all(&dir).unwrap();
    plots::learning_curves(&dir.join("curves-10.png"), &history(10, true)).unwrap();
    plots::learning_curves(&dir.join("curves-1.png"), &history(1, false)).unwrap();
    plots::learning_curves(&dir.join("curves-60.png"), &history(60, true)).unwrap();
    let (m, labels) = digits_matrix();
    plots::confusion_matrix(
        &dir.join("cm-10.png"),
        &m,
        &labels,
        "MNIST test set (10 classes)",
    )
    .unwrap();
    let two: Vec<String> = vec!["class 0".into(), "class 1".into()];
    plots::confusion_matrix(
        &dir.join("cm-2.png"),
        &[vec![480, 20], vec![35, 465]],
        &two,
        "xor (2 classes)",
    )
    .unwrap();
    let fashion = gpunn::data::mnist::class_names("fashion-mnist", 10);
    plots::confusion_matrix(
        &dir.join("cm-fashion.png"),
        &m,
        &fashion,
        "Fashion-MNIST (long labels)",
    )
    .unwrap();
    let n = 47;
    let big: Vec<Vec<u64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    if i == j {
                        380 + i as u64
                    } else {
                        ((i * 7 + j * 3) % 11 == 0) as u64 * 9
                    }
                })
                .collect()
        })
        .collect();
    let big_labels: Vec<String> = (0..n).map(|i| format!("{i}")).collect();
    plots::confusion_matrix(
        &dir.join("cm-47.png"),
        &big,
        &big_labels,
        "EMNIST balanced (47 classes)",
    )
    .unwrap();
    eprintln!("wrote plots to {}", dir.display());
}

/// The sweep of the report (4 configurations, 2 epochs, the worst going from 2.09 to 1.97):
/// every value inside the y range, the epochs ticked once each; a configuration that blew up
/// is clipped and counted, the others keeping the range.
#[test]
fn sweep_curves_keep_every_value_on_the_axes() {
    use gpunn::plots::axes::{curve_range, epoch_ticks};
    let curves = vec![
        vec![(1.0, 0.42), (2.0, 0.32)],
        vec![(1.0, 0.81), (2.0, 0.55)],
        vec![(1.0, 1.41), (2.0, 1.07)],
        vec![(1.0, 2.09), (2.0, 1.97)],
    ];
    let r = curve_range(&curves);
    assert_eq!(r.clipped, 0);
    for (x, y) in curves.iter().flatten() {
        assert!(r.lo < *y && *y < r.hi, "epoch {x}: {y} outside {r:?}");
    }
    assert_eq!(epoch_ticks(1, 2), [1, 2]);
    assert_eq!(epoch_ticks(1, 100).len(), 11, "1, 10, 20, ..., 100");
    let mut blown = curves.clone();
    blown.push(vec![(1.0, 3e4), (2.0, f64::NAN)]);
    let r = curve_range(&blown);
    assert_eq!(r.clipped, 1);
    assert!(r.hi < 3.0, "{r:?}");
    // And the picture is drawn with them.
    let dir = crate::common::Scratch::new("plots_sweep_axes");
    let runs: Vec<(String, Vec<f32>)> = blown
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("run {i}"), c.iter().map(|p| p.1 as f32).collect()))
        .collect();
    let path = dir.join("curves.png");
    gpunn::plots::sweep_curves(&path, &runs, ("val_loss", false), "sweep").unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);
}
