//! `gpunn::data::idx`: the strict IDX reader and writer, and the bundled MNIST sample.
//!
//! Bad files live in `tests/data/idx/` (made by `make_fixtures.py` there, listed in its
//! README) so that the CLI tests can feed the same corpus through the binary. Every bad case
//! asserts a message substring and that the message names the file.
//!
//! This module installs a pass-through global allocator for the whole test binary. It only
//! records anything on a thread that asked it to (see [`largest_allocation`]), which lets the
//! tests prove that a header declaring gigabytes does not make the reader allocate them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gpunn::data::idx::{self, IdxImages};
use gpunn::data::Features;
use gpunn::{Error, Result};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

struct Tracking;

thread_local! {
    /// `Some(largest request so far)` while the thread is measuring, `None` otherwise.
    /// Const-initialised and without a destructor, so the allocator may touch it.
    static LARGEST: Cell<Option<usize>> = const { Cell::new(None) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|c| {
        if let Some(m) = c.get() {
            c.set(Some(m.max(size)));
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// Runs `f` and returns its result with the largest single allocation it made on this thread.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|c| c.set(Some(0)));
    let out = f();
    let largest = LARGEST.with(|c| c.replace(None)).unwrap_or(0);
    (out, largest)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/idx")
        .join(name)
}

/// A fresh, empty directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("gpunn-idx-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Asserts that `r` failed, that the message names `path` and contains every one of `wants`.
#[track_caller]
fn assert_err<T: std::fmt::Debug>(r: Result<T>, path: &Path, wants: &[&str]) -> String {
    let msg = match r {
        Ok(v) => panic!("{}: expected an error, got Ok({v:?})", path.display()),
        Err(e) => e.to_string(),
    };
    assert!(
        msg.contains(&path.display().to_string()),
        "message does not name {}: {msg}",
        path.display()
    );
    for w in wants {
        assert!(msg.contains(w), "message lacks {w:?}: {msg}");
    }
    msg
}

#[track_caller]
fn images_err(name: &str, wants: &[&str]) -> String {
    let path = fixture(name);
    assert_err(idx::read_images(&path), &path, wants)
}

#[track_caller]
fn labels_err(name: &str, wants: &[&str]) -> String {
    let path = fixture(name);
    assert_err(idx::read_labels(&path), &path, wants)
}

/// The pixels of `good-images-idx3-ubyte`: 3 images of 2x2, values 0, 20, .., 220.
fn good_pixels() -> Vec<u8> {
    (0..12).map(|i| i * 20).collect()
}

// ---------------------------------------------------------------------------------------------
// Round trips and good files
// ---------------------------------------------------------------------------------------------

#[test]
fn round_trip_raw_and_gz() {
    let tmp = TempDir::new("roundtrip");
    let pixels: Vec<u8> = (0..5 * 3 * 4).map(|i| (i * 37 % 256) as u8).collect();
    let labels = [3u8, 0, 9, 9, 1];
    for suffix in ["", ".gz"] {
        let ip = tmp.path(&format!("images{suffix}"));
        let lp = tmp.path(&format!("labels{suffix}"));
        idx::write_images(&ip, 3, 4, &pixels).unwrap();
        idx::write_labels(&lp, &labels).unwrap();

        let bytes = std::fs::read(&ip).unwrap();
        if suffix.is_empty() {
            assert_eq!(bytes.len(), 16 + pixels.len());
            assert_eq!(
                &bytes[..16],
                &[0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 4]
            );
        } else {
            assert_eq!(
                &bytes[..2],
                &[0x1f, 0x8b],
                "a .gz name is written gzip-compressed"
            );
        }

        let img = idx::read_images(&ip).unwrap();
        assert_eq!(
            img,
            IdxImages {
                rows: 3,
                cols: 4,
                pixels: pixels.clone(),
                count: 5
            }
        );
        assert_eq!(img.dim(), 12);
        assert_eq!(idx::read_labels(&lp).unwrap(), labels);

        let ds = idx::load_pair(&ip, &lp, "rt").unwrap();
        assert_eq!(
            (ds.name.as_str(), ds.dim, ds.len(), ds.classes),
            ("rt", 12, 5, 10)
        );
        assert_eq!(ds.labels, vec![3, 0, 9, 9, 1]);
        assert_eq!(ds.features, Features::U8(pixels.clone()));
    }
}

#[test]
fn write_refuses_shapes_it_cannot_represent() {
    let tmp = TempDir::new("write-bad");
    let p = tmp.path("bad-images");
    assert_err(
        idx::write_images(&p, 3, 3, &[0; 10]),
        &p,
        &["10 pixels", "3x3"],
    );
    assert_err(idx::write_images(&p, 0, 3, &[0; 9]), &p, &["0x3"]);
    assert_err(idx::write_images(&p, 3, 3, &[]), &p, &["0 pixels"]);
    assert_err(idx::write_labels(&p, &[]), &p, &["no labels"]);
}

#[test]
fn good_fixtures_read_raw_gz_multi_member_and_gzip_under_a_plain_name() {
    for name in [
        "good-images-idx3-ubyte",
        "good-images-idx3-ubyte.gz",
        "good-images-gzip-content-idx3-ubyte",
        "good-images-two-members-idx3-ubyte.gz",
    ] {
        let img = idx::read_images(&fixture(name)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            img,
            IdxImages {
                rows: 2,
                cols: 2,
                pixels: good_pixels(),
                count: 3
            },
            "{name}"
        );
    }
    for name in ["good-labels-idx1-ubyte", "good-labels-idx1-ubyte.gz"] {
        assert_eq!(
            idx::read_labels(&fixture(name)).unwrap(),
            [1, 0, 2],
            "{name}"
        );
    }
    let ds = idx::load_pair(
        &fixture("good-images-idx3-ubyte.gz"),
        &fixture("good-labels-idx1-ubyte"),
        "good",
    )
    .unwrap();
    assert_eq!((ds.dim, ds.len(), ds.classes), (4, 3, 3));
}

#[test]
fn find_file_accepts_raw_gz_and_dotted_names() {
    let dir = fixture("tiny");
    let found = |stem| idx::find_file(&dir, stem).map(|p| p.file_name().unwrap().to_owned());
    assert_eq!(
        found(idx::TRAIN_IMAGES).unwrap(),
        "train-images-idx3-ubyte.gz"
    );
    assert_eq!(found(idx::TRAIN_LABELS).unwrap(), "train-labels-idx1-ubyte");
    assert_eq!(found(idx::TEST_IMAGES).unwrap(), "t10k-images.idx3-ubyte");
    assert_eq!(
        found(idx::TEST_LABELS).unwrap(),
        "t10k-labels.idx1-ubyte.gz"
    );
    assert_eq!(found("no-such-idx3-ubyte"), None);
}

#[test]
fn load_dir_reads_the_tiny_directory() {
    let (train, test) = idx::load_dir(&fixture("tiny"), "tiny").unwrap();
    assert_eq!(
        (train.name.as_str(), train.dim, train.len(), train.classes),
        ("tiny-train", 6, 4, 3)
    );
    assert_eq!(train.labels, [0, 1, 2, 1]);
    assert_eq!(
        train.features,
        Features::U8((0..24).map(|i| i * 10).collect())
    );
    assert_eq!(
        (test.name.as_str(), test.dim, test.len(), test.classes),
        ("tiny-test", 6, 2, 3)
    );
    assert_eq!(test.labels, [2, 0]);
    assert_eq!(test.features, Features::U8((100..112).collect()));
}

/// The bundled sample: the counts here are the table in data/README.md.
#[test]
fn bundled_mnist_sample_loads_with_the_documented_counts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-sample");
    let (train, test) = idx::load_dir(&dir, "mnist-sample").unwrap();
    let per_class_train = [801, 902, 793, 826, 784, 690, 811, 856, 755, 782];
    let per_class_test = [200, 225, 198, 206, 196, 173, 203, 214, 189, 196];
    for (ds, n, per_class) in [
        (&train, 8000, per_class_train),
        (&test, 2000, per_class_test),
    ] {
        assert_eq!((ds.len(), ds.dim, ds.classes), (n, 784, 10), "{}", ds.name);
        let mut counts = [0usize; 10];
        for &l in &ds.labels {
            counts[l as usize] += 1;
        }
        assert_eq!(counts, per_class, "{}: images per class", ds.name);
        let Features::U8(px) = &ds.features else {
            panic!("{}: expected u8 pixels", ds.name)
        };
        assert_eq!(px.len(), n * 784);
        // Real digits: mostly background, with full-ink pixels in every set.
        assert_eq!(px.iter().min(), Some(&0));
        assert_eq!(px.iter().max(), Some(&255));
        let ink = px.iter().filter(|&&p| p > 0).count() as f64 / px.len() as f64;
        assert!(
            (0.1..0.3).contains(&ink),
            "{}: {ink:.3} of pixels are non-zero",
            ds.name
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Bad files: one test per case
// ---------------------------------------------------------------------------------------------

#[test]
fn wrong_magic_images_names_found_and_expected() {
    images_err(
        "images-magic-labels-idx3-ubyte",
        &[
            "wrong magic number 2049 (0x00000801",
            "labels",
            "expected 2051 (0x00000803",
        ],
    );
}

#[test]
fn wrong_magic_labels_names_found_and_expected() {
    labels_err(
        "labels-magic-images-idx1-ubyte",
        &[
            "wrong magic number 2051 (0x00000803",
            "images",
            "expected 2049 (0x00000801",
        ],
    );
}

#[test]
fn wrong_magic_float_images() {
    images_err(
        "images-float-idx3-ubyte",
        &["wrong magic number", "0x00000d03", "IDX f32"],
    );
}

#[test]
fn garbage_bytes_are_not_an_idx_file() {
    images_err(
        "garbage-idx3-ubyte",
        &["wrong magic number", "not an IDX file"],
    );
    labels_err("garbage-idx3-ubyte", &["not an IDX file"]);
}

#[test]
fn zero_dimension_is_rejected() {
    images_err(
        "images-zero-rows-idx3-ubyte",
        &["zero dimension", "3 images of 0x2"],
    );
    images_err(
        "images-zero-count-idx3-ubyte",
        &["zero dimension", "0 images of 28x28"],
    );
    labels_err(
        "labels-zero-count-idx1-ubyte",
        &["zero dimension", "0 labels"],
    );
}

#[test]
fn dimension_product_overflow_is_rejected() {
    images_err(
        "images-overflow-idx3-ubyte",
        &["overflows", "4294967295 images"],
    );
}

#[test]
fn empty_file_is_rejected() {
    images_err("empty-idx3-ubyte", &["empty file"]);
    labels_err("empty-idx3-ubyte", &["empty file"]);
    images_err(
        "images-empty-gzip-idx3-ubyte.gz",
        &["truncated header", "0 bytes"],
    );
}

#[test]
fn short_header_is_truncated() {
    images_err(
        "images-short-header-idx3-ubyte",
        &["truncated header", "10 bytes", "is 16"],
    );
}

#[test]
fn truncated_data_names_declared_and_actual_bytes() {
    images_err(
        "images-truncated-idx3-ubyte",
        &[
            "truncated",
            "declares 3 images of 2x2 = 12 bytes",
            "only 9 bytes",
        ],
    );
    images_err(
        "images-truncated-idx3-ubyte.gz",
        &["truncated", "12 bytes", "decompressed", "only 9 bytes"],
    );
    labels_err(
        "labels-truncated-idx1-ubyte",
        &["truncated", "3 labels = 3 bytes", "only 2 bytes"],
    );
}

/// 0xFFFFFFFF images of 28x28 (3.4 TB) backed by 784 bytes: an error at once, with no large
/// allocation, whether the file is raw or gzip-compressed.
#[test]
fn huge_declared_size_fails_fast_without_allocating_it() {
    let cases: [(&str, bool, &[&str]); 4] = [
        (
            "images-huge-count-idx3-ubyte",
            true,
            &[
                "truncated",
                "4294967295 images of 28x28 = 3367254359280 bytes",
                "only 784 bytes",
            ],
        ),
        (
            "images-huge-count-idx3-ubyte.gz",
            true,
            &[
                "truncated",
                "3367254359280 bytes",
                "decompressed",
                "only 784 bytes",
            ],
        ),
        (
            "labels-huge-count-idx1-ubyte",
            false,
            &["truncated", "4294967295 labels", "only 3 bytes"],
        ),
        (
            "labels-huge-count-idx1-ubyte.gz",
            false,
            &["truncated", "4294967295 labels", "only 3 bytes"],
        ),
    ];
    for (name, images, wants) in cases {
        let start = Instant::now();
        let (msg, largest) = largest_allocation(|| {
            if images {
                images_err(name, wants)
            } else {
                labels_err(name, wants)
            }
        });
        let took = start.elapsed();
        assert!(
            largest < 1 << 20,
            "{name}: allocated {largest} bytes at once for: {msg}"
        );
        assert!(took < Duration::from_secs(2), "{name}: took {took:?}");
    }
}

#[test]
fn trailing_garbage_is_rejected() {
    images_err(
        "images-trailing-idx3-ubyte",
        &["5 bytes of trailing data", "12 bytes"],
    );
    images_err(
        "images-trailing-idx3-ubyte.gz",
        &["trailing data", "12 bytes"],
    );
    labels_err("labels-trailing-idx1-ubyte", &["1 byte of trailing data"]);
    // Bytes after the end of the gzip stream itself.
    images_err(
        "images-garbage-after-gzip-idx3-ubyte.gz",
        &["trailing data after the end of the gzip stream", "0x6a"],
    );
}

#[test]
fn gz_name_without_gzip_content_is_rejected() {
    images_err("images-not-gzip-idx3-ubyte.gz", &["not a gzip file"]);
}

#[test]
fn gzip_stream_cut_short_is_rejected() {
    images_err("images-cut-idx3-ubyte.gz", &["gzip stream cut short"]);
    images_err(
        "images-cut-trailer-idx3-ubyte.gz",
        &["gzip stream cut short"],
    );
}

#[test]
fn gzip_checksum_mismatch_is_rejected() {
    images_err(
        "images-bad-crc-idx3-ubyte.gz",
        &["damaged gzip file", "checksum"],
    );
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let path = fixture("no-such-idx3-ubyte");
    let err = idx::read_images(&path).unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{err:?}"
    );
    assert_err::<()>(Err(err), &path, &[]);
}

#[test]
fn a_directory_is_not_an_idx_file() {
    let path = fixture("tiny");
    assert_err(idx::read_labels(&path), &path, &["is a directory"]);
}

#[test]
fn count_mismatch_names_both_files_and_counts() {
    let images = fixture("good-images-idx3-ubyte");
    let labels = fixture("mismatch-labels-idx1-ubyte");
    assert_err(
        idx::load_pair(&images, &labels, "x"),
        &labels,
        &[
            "count mismatch",
            "2 labels",
            "3 images",
            &images.display().to_string(),
        ],
    );
}

#[test]
fn label_255_is_rejected_with_its_index() {
    let labels = fixture("label-255-labels-idx1-ubyte");
    assert_err(
        idx::load_pair(&fixture("good-images-idx3-ubyte"), &labels, "x"),
        &labels,
        &["label #1 is 255"],
    );
}

#[test]
fn load_dir_names_the_directory_and_the_missing_file() {
    let tmp = TempDir::new("missing");
    idx::write_images(&tmp.path("train-images-idx3-ubyte.gz"), 2, 2, &[1; 8]).unwrap();
    idx::write_labels(&tmp.path("train-labels-idx1-ubyte"), &[0, 1]).unwrap();
    idx::write_images(&tmp.path("t10k-images-idx3-ubyte"), 2, 2, &[1; 4]).unwrap();
    assert_err(
        idx::load_dir(&tmp.0, "m"),
        &tmp.0,
        &[
            "missing t10k-labels-idx1-ubyte",
            "t10k-labels-idx1-ubyte.gz",
            "t10k-labels.idx1-ubyte",
        ],
    );
    idx::write_labels(&tmp.path("t10k-labels-idx1-ubyte"), &[1]).unwrap();
    let (train, test) = idx::load_dir(&tmp.0, "m").unwrap();
    assert_eq!(
        (train.len(), test.len(), train.classes, test.classes),
        (2, 1, 2, 2)
    );

    let gone = tmp.path("no-such-dir");
    assert_err(idx::load_dir(&gone, "m"), &gone, &[]);
    let file = tmp.path("t10k-labels-idx1-ubyte");
    assert_err(idx::load_dir(&file, "m"), &file, &["not a directory"]);
}

// ---------------------------------------------------------------------------------------------
// Robustness: no input makes the reader panic or accept a damaged file
// ---------------------------------------------------------------------------------------------

/// Every proper prefix of a good file, raw or gzip, is an error; the whole file is not.
#[test]
fn every_prefix_of_a_good_file_is_an_error() {
    let tmp = TempDir::new("prefixes");
    for name in ["good-images-idx3-ubyte", "good-images-idx3-ubyte.gz"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let cut = tmp.path(name);
        for len in 0..bytes.len() {
            std::fs::write(&cut, &bytes[..len]).unwrap();
            assert_err(idx::read_images(&cut), &cut, &[]);
        }
        std::fs::write(&cut, &bytes).unwrap();
        assert_eq!(idx::read_images(&cut).unwrap().pixels, good_pixels());
    }
}

/// Flipping any single byte of a gzip file is caught (header, deflate data or checksum), and
/// every file in the fixture corpus reads as Ok or Err without panicking.
#[test]
fn damaged_and_corpus_files_never_panic() {
    let tmp = TempDir::new("flips");
    let bytes = std::fs::read(fixture("good-labels-idx1-ubyte.gz")).unwrap();
    let damaged = tmp.path("labels.gz");
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x55;
        std::fs::write(&damaged, &b).unwrap();
        // A flip in the gzip header's flags/mtime/OS bytes may leave the content intact.
        if let Ok(labels) = idx::read_labels(&damaged) {
            assert_eq!(labels, [1, 0, 2], "byte {i} flipped");
            assert!((3..=9).contains(&i), "a flip of byte {i} went unnoticed");
        }
    }
    let mut names = Vec::new();
    for dir in [fixture(""), fixture("tiny")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            names.push(entry.unwrap().path());
        }
    }
    assert!(names.len() > 30);
    for p in names {
        let _ = idx::read_images(&p);
        let _ = idx::read_labels(&p);
    }
}
