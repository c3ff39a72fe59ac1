//! TFLite's fixed-point requantization: a real multiplier as `(multiplier, shift)`, applied to
//! an `i32` accumulator with two roundings.
//!
//! Conventions (those of TFLite, TFLite Micro and CMSIS-NN):
//!
//! - A real multiplier `r > 0` is stored as a Q0.31 *multiplier* `m` in `[2^30, 2^31)` and an
//!   exponent *shift* with `r ≈ m · 2^(shift − 31)`. **A positive shift is a left shift** (the
//!   multiplier is ≥ 1), a negative shift a right shift.
//! - [`multiply_by_quantized_multiplier`] computes `x · r` as TFLite does by default (without
//!   `TFLITE_SINGLE_ROUNDING`): a left shift by `max(shift, 0)`, then
//!   [`saturating_rounding_doubling_high_mul`] (first rounding), then
//!   [`rounding_divide_by_pot`] by `max(−shift, 0)` (second rounding). The double rounding
//!   differs from a single rounding of `x · r` in rare near-half-way cases (for `m = 1717986918`
//!   (0.8), `shift = −3`: `−1995 → −200`, where a single rounding gives `−199`).
//! - [`multiply_by_quantized_multiplier_fast`] gives the same result for every input without
//!   a 32×32→64-bit product, which the Cortex-M0 lacks (see there).
//!
//! Where TFLite's C++ has undefined behaviour (an `int32` overflow in the left shift), these
//! functions wrap, as the C++ does on two's-complement hardware; they never panic.

use crate::error::Error;

/// Splits a real multiplier into TFLite's `(multiplier, shift)`: `real ≈ m · 2^(shift − 31)`.
///
/// As TFLite's `QuantizeMultiplier`: `real = q · 2^shift` with `q` in `[0.5, 1)` (`frexp`),
/// `m = round(q · 2^31)` (half away from zero); if that rounds up to `2^31`, `m = 2^30` and
/// `shift + 1`. A multiplier below `2^−32` (`shift < −31`) becomes `(0, 0)`: every product
/// rounds to 0. `real = 0` gives `(0, 0)`.
///
/// # Errors
///
/// [`Error::ScaleOutOfRange`] if `real` is negative, NaN or infinite, or `≥ 2^30` (a shift
/// above 30, which TFLite rejects too).
///
/// # Examples
///
/// ```
/// use constnn::quant::quantize_multiplier;
///
/// assert_eq!(quantize_multiplier(0.5), Ok((1 << 30, 0)));
/// assert_eq!(quantize_multiplier(0.1), Ok((1717986918, -3)));
/// assert_eq!(quantize_multiplier(1.5), Ok((1610612736, 1)));
/// ```
pub fn quantize_multiplier(real: f64) -> Result<(i32, i32), Error> {
    if !(real.is_finite() && real >= 0.0) {
        return Err(Error::ScaleOutOfRange);
    }
    if real == 0.0 {
        return Ok((0, 0));
    }
    let (q, mut shift) = libm::frexp(real);
    // q in [0.5, 1), so q·2^31 is in [2^30, 2^31] and the product is exact.
    let mut m = libm::round(q * 2_147_483_648.0) as i64;
    if m == 1 << 31 {
        m /= 2;
        shift += 1;
    }
    if shift > 30 {
        return Err(Error::ScaleOutOfRange);
    }
    if shift < -31 {
        return Ok((0, 0));
    }
    Ok((m as i32, shift))
}

/// `round(a · b / 2^31)`, TFLite's (gemmlowp's) `SaturatingRoundingDoublingHighMul`.
///
/// The high 32 bits of the doubled 64-bit product `2·a·b`, rounded: gemmlowp adds `2^30` to a
/// non-negative product and `1 − 2^30` to a negative one, then divides by `2^31` rounding
/// toward zero, which is the same as `floor((a·b + 2^30) / 2^31)`: ties round toward `+∞`.
/// The only overflow, `a = b = i32::MIN` (`(−1)·(−1) = 1` in Q0.31), saturates to
/// `i32::MAX`.
///
/// # Examples
///
/// ```
/// use constnn::quant::saturating_rounding_doubling_high_mul as srdhm;
///
/// assert_eq!(srdhm(i32::MIN, i32::MIN), i32::MAX);
/// assert_eq!(srdhm(1000, 1 << 30), 500); // × 0.5
/// assert_eq!(srdhm(-3, 1 << 30), -1); // −1.5 rounds toward +∞
/// ```
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // |ab + nudge| / 2^31 < 2^31 except for the case excluded above, so the cast is exact.
    ((ab + nudge) / (1 << 31)) as i32
}

/// `x / 2^exponent` rounded to nearest, ties away from zero: TFLite's `RoundingDivideByPOT`.
///
/// `exponent` must be in `0..=31` in TFLite; here larger exponents are treated as 31 and
/// negative ones as 0, so the function is total.
///
/// # Examples
///
/// ```
/// use constnn::quant::rounding_divide_by_pot;
///
/// assert_eq!(rounding_divide_by_pot(-1596, 3), -200); // −199.5 → −200
/// assert_eq!(rounding_divide_by_pot(12, 3), 2); // 1.5 → 2
/// assert_eq!(rounding_divide_by_pot(11, 3), 1);
/// ```
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let e = exponent.clamp(0, 31);
    let mask = ((1i64 << e) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> e) + i32::from(remainder > threshold)
}

/// `x · m · 2^(shift − 31)` with TFLite's double rounding: its `MultiplyByQuantizedMultiplier`.
///
/// `SRDHM(x · 2^max(shift, 0), m)`, then `RoundingDivideByPOT(·, max(−shift, 0))`. The left
/// shift wraps on overflow (TFLite's C++ has undefined behaviour there); shifts are taken
/// in `−31..=31`. This is the reference that [`multiply_by_quantized_multiplier_fast`] is
/// tested against.
///
/// # Examples
///
/// ```
/// use constnn::quant::multiply_by_quantized_multiplier;
///
/// // 0.8 / 8 = 0.1: −1995 · 0.1 = −199.5 → −200 after two roundings.
/// assert_eq!(multiply_by_quantized_multiplier(-1995, 1717986918, -3), -200);
/// ```
pub fn multiply_by_quantized_multiplier(x: i32, m: i32, shift: i32) -> i32 {
    let shift = shift.clamp(-31, 31);
    let left = shift.max(0);
    let right = (-shift).max(0);
    let shifted = x.wrapping_mul((1i64 << left) as i32);
    rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, m), right)
}

/// The accumulators for which [`multiply_by_quantized_multiplier_fast`] needs no 64-bit
/// product: `|x| < 2^20`.
pub const FAST_ACCUMULATOR_LIMIT: i32 = 1 << 20;

/// [`multiply_by_quantized_multiplier`], bit for bit, with three 32-bit products instead of
/// one 64-bit product where it can.
///
/// For `|x| < 2^20`, `0 ≤ m < 2^31` and `shift ≤ 0` (every layer of a calibrated model in
/// practice: `|x|` is bounded by the int8 output range divided by the effective scale), the
/// first rounding `floor((x·m + 2^30) / 2^31)` is computed from `m = m₂·2^22 + m₁·2^11 + m₀`
/// (11-bit limbs) as
///
/// ```text
/// q₀ = (x·m₀) >> 11,   q₁ = (x·m₁ + q₀) >> 11,   t = (x·m₂ + 2^8 + q₁) >> 9
/// ```
///
/// (arithmetic shifts are floor divisions, and `floor(floor(a / b) / c) = floor(a / (b·c))`,
/// so `t` is exact; every product and sum stays below `2^31` in magnitude). Other inputs take
/// the 64-bit path. On a Cortex-M0, which has no 32×32→64 multiply, this replaces a call to the
/// 64-bit multiplication routine by three `muls`. The equivalence is tested exhaustively
/// over the whole fast range for a set of multipliers and shifts, and on random inputs.
///
/// # Examples
///
/// ```
/// use constnn::quant::{multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_fast};
///
/// for x in [-1995, 0, 7, 1 << 19, i32::MIN] {
///     assert_eq!(
///         multiply_by_quantized_multiplier_fast(x, 1717986918, -3),
///         multiply_by_quantized_multiplier(x, 1717986918, -3)
///     );
/// }
/// ```
#[inline]
pub fn multiply_by_quantized_multiplier_fast(x: i32, m: i32, shift: i32) -> i32 {
    // One unsigned comparison tests -2^20 < x < 2^20.
    let in_range = (x.wrapping_add(FAST_ACCUMULATOR_LIMIT - 1) as u32)
        < (2 * FAST_ACCUMULATOR_LIMIT - 1) as u32;
    if in_range && m >= 0 && shift <= 0 {
        let m0 = m & 0x7ff;
        let m1 = (m >> 11) & 0x7ff;
        let m2 = m >> 22;
        let q0 = (x * m0) >> 11;
        let q1 = (x * m1 + q0) >> 11;
        let t = (x * m2 + (1 << 8) + q1) >> 9;
        rounding_divide_by_pot(t, -shift)
    } else {
        multiply_by_quantized_multiplier(x, m, shift)
    }
}

/// [`multiply_by_quantized_multiplier`] with the first rounding as one 64-bit
/// `(x·m + 2^30) >> 31` (what gemmlowp's nudge-and-truncate amounts to), for `m ≥ 0` and
/// `shift ≤ 0`; other inputs take the reference. The kernels' path on targets with a
/// 32×32→64 multiply.
#[cfg_attr(
    all(target_arch = "arm", not(target_has_atomic = "32")),
    allow(dead_code)
)]
#[inline]
pub(crate) fn multiply_by_quantized_multiplier_wide(x: i32, m: i32, shift: i32) -> i32 {
    if m >= 0 && shift <= 0 {
        // m ≥ 0 excludes SRDHM's one overflow (x = m = i32::MIN); |x·m + 2^30| < 2^62.
        let t = ((i64::from(x) * i64::from(m) + (1 << 30)) >> 31) as i32;
        rounding_divide_by_pot(t, -shift)
    } else {
        multiply_by_quantized_multiplier(x, m, shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srdhm_is_floor_of_half_up() {
        for (a, b) in [
            (-3, 1 << 30),
            (3, 1 << 30),
            (-1, 1 << 30),
            (1, 1 << 30),
            (i32::MAX, i32::MAX),
            (i32::MIN, i32::MAX),
            (i32::MIN + 1, i32::MIN),
            (-1995, 1717986918),
        ] {
            let expect = ((i64::from(a) * i64::from(b) + (1 << 30)) >> 31) as i32;
            assert_eq!(
                saturating_rounding_doubling_high_mul(a, b),
                expect,
                "{a} {b}"
            );
        }
    }

    #[test]
    fn fast_path_limbs_cover_the_multiplier() {
        let m = 1717986918i32;
        assert_eq!(
            ((m >> 22) << 22) + (((m >> 11) & 0x7ff) << 11) + (m & 0x7ff),
            m
        );
    }
}
