//! Helpers shared by every test module.
#![allow(dead_code)]

/// Asserts `|got - want| <= atol + rtol·|want|` elementwise. On failure it prints the worst
/// index, both values and a few neighbours, then panics with `what`.
#[track_caller]
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: length {} != expected {}",
        got.len(),
        want.len()
    );
    let mut worst: Option<(usize, f32)> = None;
    let mut bad = 0usize;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        let tol = atol + rtol * w.abs();
        // NaN compares false with everything, so test for it first.
        if err.is_nan() || err > tol {
            bad += 1;
            let excess = if err.is_nan() {
                f32::INFINITY
            } else {
                err - tol
            };
            if worst.is_none_or(|(_, e)| excess > e) {
                worst = Some((i, excess));
            }
        }
    }
    if let Some((i, _)) = worst {
        let lo = i.saturating_sub(3);
        let hi = (i + 4).min(got.len());
        let mut msg = format!(
            "{what}: {bad} of {} values differ (atol {atol}, rtol {rtol}); worst at index {i}: got {}, want {} (diff {})\n  neighbours:",
            got.len(),
            got[i],
            want[i],
            (got[i] - want[i]).abs()
        );
        for j in lo..hi {
            msg.push_str(&format!(
                "\n    [{j}] got {:>14.7e} want {:>14.7e}",
                got[j], want[j]
            ));
        }
        panic!("{msg}");
    }
}

/// The GPU context for tests, on the software adapter by default (`GPUNN_TEST_DEVICE` picks
/// another). Without an adapter the test prints that it skipped and returns `None`, unless
/// `GPUNN_REQUIRE_GPU=1`, in which case a missing adapter fails the test.
pub fn gpu_or_skip(test: &str) -> Option<std::sync::Arc<gpunn::gpu::GpuContext>> {
    let kind = std::env::var("GPUNN_TEST_DEVICE").unwrap_or_else(|_| "software".into());
    let kind: gpunn::gpu::DeviceKind = kind.parse().expect("GPUNN_TEST_DEVICE");
    match gpunn::gpu::GpuContext::shared(kind) {
        Ok(ctx) => Some(ctx),
        Err(e) => {
            if std::env::var("GPUNN_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("{test}: GPUNN_REQUIRE_GPU=1 but no GPU adapter: {e}");
            }
            eprintln!(
                "SKIPPED {test}: no GPU adapter ({e}); set GPUNN_REQUIRE_GPU=1 to fail instead"
            );
            None
        }
    }
}

/// A fresh, empty directory for one test, removed when the test passes (kept to look at when
/// it fails). `name` should say which module and test it belongs to.
pub struct Scratch(std::path::PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("gpunn-it-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
