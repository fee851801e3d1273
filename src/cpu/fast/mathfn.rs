//! Vectorisable `exp`, `tanh` and `sigmoid` for the fast path's activations. The C library's
//! `expf` and `tanhf` are one call per element, which the compiler cannot vectorise; for a
//! tanh or sigmoid network they cost more than the matrix products. These are polynomials the
//! compiler turns into vector code, within a few units in the last place of the library's
//! results (the tests hold the fast path to the reference within 1e-5).

/// `e^x` for f32: `x = k·ln 2 + r` with `|r| ≤ ln 2 / 2`, `e^r` by its Taylor series to r⁶
/// (the next term is below 1.2e-7 relative), `2^k` written into the exponent bits. Inputs are
/// clamped to [−87, 88], where the result is still a normal f32.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 in two parts: the first exact in a few bits, so that k·LN2_HI is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2²³: adding and subtracting it rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let rounded = x * LOG2E + ROUND;
    let k = rounded - ROUND;
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // k is in −126..=127, and it sits in the low bits of `rounded` (1.5·2²³ + k): reading it
    // from there rather than by `k as i32` keeps the whole function in vector registers (the
    // float-to-int cast, which saturates and maps NaN to 0, is done one lane at a time: bias
    // + tanh went from 6.9% to 3.0% of the reports' sweep). A NaN x stays NaN in `p`.
    let k_int = (rounded.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let scale = f32::from_bits((k_int.wrapping_add(127) as u32) << 23);
    p * scale
}

/// `tanh x` = sign(x)·(1 − e)/(1 + e) with e = e^(−2|x|); below |x| = 1/16, where 1 − e
/// would lose digits, its Taylor series to x⁵ (the next term is below 3e-9 relative).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let e = exp(-2.0 * a);
    let big = (1.0 - e) / (1.0 + e);
    let x2 = x * x;
    let small = a * (1.0 - x2 * (1.0 / 3.0 - x2 * (2.0 / 15.0)));
    let t = if a < 0.0625 { small } else { big };
    t.copysign(x)
}

/// `1 / (1 + e^−x)`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}
