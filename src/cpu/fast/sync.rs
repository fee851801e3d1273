//! What the worker threads of one training call share: a spinning barrier and raw views of
//! the buffers they split between them.
//!
//! The threads of a step work on disjoint parts of each buffer between two barriers (their own
//! batch rows, or their own neurons of a weight matrix), and read whole buffers only in a phase
//! where nobody writes them. Rust cannot express "mine until the barrier, shared after it", so
//! [`Shared`] hands out slices from a raw pointer and each call site states why its slice is not
//! written by anyone else while it lives.

use super::products::{MatMut, MatRef};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A barrier for a handful of threads that meet every few tens of microseconds: it spins
/// (cheap when every thread has a core), then yields (when the machine is oversubscribed).
pub struct SpinBarrier {
    threads: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    poisoned: AtomicBool,
}

/// Spins before the first `yield_now`; a phase of the small network takes 10–100 µs.
const SPINS_BEFORE_YIELD: u32 = 1 << 14;

impl SpinBarrier {
    pub fn new(threads: usize) -> Self {
        SpinBarrier {
            threads,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
        }
    }

    /// Blocks until all threads have called `wait`. Everything a thread wrote before its call
    /// is visible to every thread after theirs (release on arrival, acquire on leaving).
    ///
    /// Panics if another thread panicked (see [`PoisonOnPanic`]), so no thread waits forever
    /// for one that is gone.
    pub fn wait(&self) {
        if self.threads <= 1 {
            return;
        }
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.threads {
            // Last to arrive: reset the count before releasing the others, so that a thread
            // racing ahead into the next barrier counts from zero.
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            if self.poisoned.load(Ordering::Relaxed) {
                panic!("another worker thread of the fast CPU engine panicked");
            }
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Marks the barrier poisoned if dropped while its thread unwinds from a panic.
pub struct PoisonOnPanic<'a>(pub &'a SpinBarrier);

impl Drop for PoisonOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poisoned.store(true, Ordering::Relaxed);
        }
    }
}

/// A buffer that several threads read and write in disjoint parts. Every range is bounds
/// checked; what is unchecked is that no two threads hold overlapping slices at once when one
/// of them is mutable — the callers' barriers ensure that.
pub struct Shared<T> {
    ptr: *mut T,
    len: usize,
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Shared<T> {}

// SAFETY: a `Shared` is a pointer plus a length; sending or sharing it between threads is what
// it is for. The data races it could allow are ruled out at each `slice`/`slice_mut` call.
unsafe impl<T: Send> Send for Shared<T> {}
unsafe impl<T: Send + Sync> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// Views `v`; the view must not outlive the borrow it was made from (the engine keeps both
    /// inside one `std::thread::scope`).
    pub fn new(v: &mut [T]) -> Self {
        Shared {
            ptr: v.as_mut_ptr(),
            len: v.len(),
        }
    }

    /// Whether the view has no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `[start, end)` for reading.
    ///
    /// # Safety
    /// No thread may write any part of the range while the returned slice lives, and the buffer
    /// must still be alive.
    pub unsafe fn slice<'a>(&self, start: usize, end: usize) -> &'a [T] {
        assert!(
            start <= end && end <= self.len,
            "shared buffer: {start}..{end} out of 0..{}",
            self.len
        );
        // SAFETY: in bounds (checked above); no writer (the caller's contract).
        unsafe { std::slice::from_raw_parts(self.ptr.add(start), end - start) }
    }

    /// `[start, end)` for writing.
    ///
    /// # Safety
    /// No other thread may read or write any part of the range while the returned slice lives,
    /// and the buffer must still be alive.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice_mut<'a>(&self, start: usize, end: usize) -> &'a mut [T] {
        assert!(
            start <= end && end <= self.len,
            "shared buffer: {start}..{end} out of 0..{}",
            self.len
        );
        // SAFETY: in bounds (checked above); exclusive (the caller's contract).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), end - start) }
    }
}

impl Shared<f32> {
    /// Rows `r0..r1`, columns `c0..c1` of the buffer seen as `[len / width][width]`, for reading.
    ///
    /// # Safety
    /// As [`Shared::slice`], for every element of the block.
    pub unsafe fn mat(&self, width: usize, rows: (usize, usize), cols: (usize, usize)) -> MatRef {
        // SAFETY: the caller's contract; `block` checks the bounds.
        unsafe { MatRef::block(self.ptr, self.len, width, rows, cols) }
    }

    /// The same block for writing.
    ///
    /// # Safety
    /// As [`Shared::slice_mut`], for every element of the block.
    pub unsafe fn mat_mut(
        &self,
        width: usize,
        rows: (usize, usize),
        cols: (usize, usize),
    ) -> MatMut {
        // SAFETY: the caller's contract; `block` checks the bounds.
        unsafe { MatMut::block(self.ptr, self.len, width, rows, cols) }
    }
}

/// The part `[start, end)` of `0..len` that thread `t` of `threads` takes: contiguous, sizes
/// differing by at most one, the larger parts first.
pub fn split(len: usize, threads: usize, t: usize) -> (usize, usize) {
    let base = len / threads;
    let rem = len % threads;
    let start = t * base + t.min(rem);
    let size = base + usize::from(t < rem);
    (start, start + size)
}

/// Runs `work(t, scratch_t)` on threads `0..scratch.len()`, thread 0 being the caller, and
/// returns the results in thread order. A panic in any thread reaches the caller.
///
/// Every thread runs with subnormal floats flushed to zero (inputs and results below 1.2e-38
/// in magnitude read and written as 0), as TensorFlow's CPU kernels and
/// `torch.set_flush_denormal(True)` do; the caller's flags come back afterwards. Without it,
/// Adam's first moment of a weight whose gradient stays 0 (a dead ReLU's inputs, an always
/// blank pixel) decays by β1 a step through the subnormal range, where every operation on it
/// takes a microcode assist: Adam ran 9% slower after 4,000 steps. The reference keeps IEEE
/// subnormals; the two differ only below that magnitude.
pub(super) fn on_threads<S: Send, R: Send>(
    scratch: &mut [S],
    work: impl Fn(usize, &mut S) -> R + Sync,
) -> Vec<R> {
    let (first, rest) = scratch.split_first_mut().expect("at least one thread");
    // SAFETY: the flags change only floating-point results below f32::MIN_POSITIVE (which the
    // fast path's arithmetic tolerates, as above) and are restored when `work` returns.
    let flushed = |t: usize, sc: &mut S| unsafe { no_denormals::no_denormals(|| work(t, sc)) };
    std::thread::scope(|s| {
        let flushed = &flushed;
        let handles: Vec<_> = rest
            .iter_mut()
            .enumerate()
            .map(|(i, sc)| s.spawn(move || flushed(i + 1, sc)))
            .collect();
        let mut results = vec![flushed(0, first)];
        for h in handles {
            results.push(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        results
    })
}
