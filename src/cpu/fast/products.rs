//! The matrix products of a dense layer on the `gemm` crate. Operands are strided views
//! ([`MatRef`], [`MatMut`]), so a transpose is a swap of strides and a thread's block of a
//! shared buffer is a pointer and its row stride: nothing is ever copied or transposed.
//!
//! `gemm::gemm` computes `dst = alpha·dst + beta·lhs·rhs` (alpha scales `dst`), reading `dst`
//! only when `read_dst` is true; element (i, j) of an operand lives at `ptr + i·rs + j·cs`.
//! Each worker thread calls it single-threaded (`Parallelism::None`) on its own block.

use gemm::Parallelism;

/// A read-only strided matrix view.
#[derive(Clone, Copy, Debug)]
pub struct MatRef {
    ptr: *const f32,
    pub rows: usize,
    pub cols: usize,
    rs: isize,
    cs: isize,
}

/// A writable strided matrix view.
#[derive(Debug)]
pub struct MatMut {
    ptr: *mut f32,
    pub rows: usize,
    pub cols: usize,
    rs: isize,
    cs: isize,
}

/// Rows `r0..r1` and columns `c0..c1` of a row-major `[len / width][width]` buffer starting at
/// `ptr`: checks the block lies inside the buffer and returns its first element's offset.
fn block_offset(
    len: usize,
    width: usize,
    (r0, r1): (usize, usize),
    (c0, c1): (usize, usize),
) -> usize {
    assert!(
        r0 <= r1 && c0 <= c1 && c1 <= width,
        "block {r0}..{r1} × {c0}..{c1} of width {width}"
    );
    assert!(
        r1 * width <= len,
        "block rows {r0}..{r1} of width {width} past a buffer of {len}"
    );
    r0 * width + c0
}

impl MatRef {
    /// Rows `r0..r1`, columns `c0..c1` of the row-major buffer `ptr[..len]`, `width` wide.
    ///
    /// # Safety
    /// `ptr[..len]` must be valid for reads while the view is used, and nobody may write the
    /// block meanwhile.
    pub unsafe fn block(
        ptr: *const f32,
        len: usize,
        width: usize,
        rows: (usize, usize),
        cols: (usize, usize),
    ) -> Self {
        let off = block_offset(len, width, rows, cols);
        MatRef {
            // SAFETY: off ≤ len (checked), inside or one past the buffer.
            ptr: unsafe { ptr.add(off) },
            rows: rows.1 - rows.0,
            cols: cols.1 - cols.0,
            rs: width as isize,
            cs: 1,
        }
    }

    /// The transpose (no copy: the strides swap).
    pub fn t(self) -> Self {
        MatRef {
            ptr: self.ptr,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

impl MatMut {
    /// Rows `r0..r1`, columns `c0..c1` of the row-major buffer `ptr[..len]`, `width` wide.
    ///
    /// # Safety
    /// `ptr[..len]` must be valid for writes while the view is used, and nobody else may read
    /// or write the block meanwhile.
    pub unsafe fn block(
        ptr: *mut f32,
        len: usize,
        width: usize,
        rows: (usize, usize),
        cols: (usize, usize),
    ) -> Self {
        let off = block_offset(len, width, rows, cols);
        MatMut {
            // SAFETY: off ≤ len (checked), inside or one past the buffer.
            ptr: unsafe { ptr.add(off) },
            rows: rows.1 - rows.0,
            cols: cols.1 - cols.0,
            rs: width as isize,
            cs: 1,
        }
    }
}

/// `dst = lhs · rhs` (overwriting `dst`), or with `accumulate = Some(scale)`,
/// `dst = dst + scale · lhs · rhs`.
pub fn product(dst: MatMut, lhs: MatRef, rhs: MatRef, accumulate: Option<f32>) {
    assert_eq!(
        dst.rows, lhs.rows,
        "product: dst has {} rows, lhs {}",
        dst.rows, lhs.rows
    );
    assert_eq!(
        dst.cols, rhs.cols,
        "product: dst has {} columns, rhs {}",
        dst.cols, rhs.cols
    );
    assert_eq!(
        lhs.cols, rhs.rows,
        "product: lhs has {} columns, rhs {} rows",
        lhs.cols, rhs.rows
    );
    if dst.rows == 0 || dst.cols == 0 {
        return;
    }
    let (read_dst, beta) = match accumulate {
        Some(scale) => (true, scale),
        None => (false, 1.0),
    };
    // SAFETY: the views were made by `block`/`of`, which checked that every element they
    // address lies in their buffers and whose callers vouched for access; the shapes agree
    // (checked above), so gemm addresses only elements of the three views.
    unsafe {
        gemm::gemm(
            dst.rows,
            dst.cols,
            lhs.cols,
            dst.ptr,
            dst.cs,
            dst.rs,
            read_dst,
            lhs.ptr,
            lhs.cs,
            lhs.rs,
            rhs.ptr,
            rhs.cs,
            rhs.rs,
            1.0,
            beta,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}
