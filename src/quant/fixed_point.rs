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
        // |t| ≤ |x| < 2^20: the nudge cannot overflow.
        round_shift(t, shift.unsigned_abs().min(31))
    } else {
        multiply_by_quantized_multiplier(x, m, shift)
    }
}

/// [`rounding_divide_by_pot`] as one add and one shift: `(t + 2^(e−1) − [t < 0]) >> e`, and `t`
/// for `e = 0`, for `e` in `0..=31`.
///
/// For `t ≥ 0` that is `floor(t/2^e + 1/2)` (half up, i.e. away from zero); for `t < 0`,
/// `floor((t + 2^(e−1) − 1) / 2^e)` rounds a tie down, again away from zero, and everything
/// else to nearest: the same as TFLite's remainder-and-threshold form. Exact whenever the sum
/// does not overflow (`t ≤ i32::MAX − 2^(e−1)`, e.g. `|t| ≤ 2^30`).
#[inline(always)]
pub(crate) fn round_shift(t: i32, e: u32) -> i32 {
    let nudge = ((1u32 << e) >> 1) as i32;
    let neg = i32::from(t < 0) & i32::from(e > 0);
    (t + nudge - neg) >> e
}

/// The kernels' output stage on targets with a 32×32→64 multiply:
/// `clamp(zp + MBQM(acc, m, shift), lo, hi)` as an int8, equal to the same expression with
/// [`multiply_by_quantized_multiplier`] for every input with `m ≥ 0` (a `QLinear`'s
/// multipliers always are: 0 or in `[2^30, 2^31)`).
///
/// For `shift ≤ 0` and `|acc| ≤ 2^30` (every layer of a calibrated model in practice) the
/// first rounding is `floor((acc·m + 2^30) / 2^31)` (what gemmlowp's nudge-and-truncate
/// amounts to), computed as the rounded high word of `2·acc·m`, and the second is
/// [`round_shift`]. Other inputs take the reference.
#[cfg_attr(
    all(target_arch = "arm", not(target_has_atomic = "32")),
    allow(dead_code)
)]
#[inline(always)]
pub(crate) fn requantize_wide(acc: i32, m: i32, shift: i32, zp: i32, lo: i32, hi: i32) -> i8 {
    let e = shift.wrapping_neg() as u32;
    // −2^30 ≤ acc < 2^30 (the sign bit of acc + 2^30); e = −shift in 0..=31.
    let v = if acc.wrapping_add(1 << 30) >= 0 && e <= 31 {
        // floor((acc·m + 2^30) / 2^31) = (2·acc·m + 2^31) >> 32: the high word of a rounded
        // product (one `smmulr` on a Cortex-M4); 2·acc does not overflow here.
        let t = ((i64::from(acc << 1) * i64::from(m) + (1 << 31)) >> 32) as i32;
        // |t| ≤ |acc| ≤ 2^30 (m < 2^31): neither the rounding nor the zero point overflows.
        let nudge = ((1u32 << e) >> 1) as i32;
        let neg = if nudge != 0 { t >> 31 } else { 0 };
        ((t + nudge + neg) >> e) + zp
    } else {
        multiply_by_quantized_multiplier(acc, m, shift).saturating_add(zp)
    };
    // `max` then `min`, not `clamp`, which panics if lo > hi.
    v.max(lo).min(hi) as i8
}

/// The kernels' output stage on targets without a 32×32→64 multiply:
/// `clamp(zp + MBQM(acc, m, shift), lo, hi)` with [`multiply_by_quantized_multiplier_fast`].
#[cfg_attr(
    not(all(target_arch = "arm", not(target_has_atomic = "32"))),
    allow(dead_code)
)]
#[inline(always)]
pub(crate) fn requantize_narrow(acc: i32, m: i32, shift: i32, zp: i32, lo: i32, hi: i32) -> i8 {
    // −2^20 ≤ acc < 2^20 (one shift, no constant to load); e = −shift in 0..=31.
    let in_range = (((acc >> 20) + 1) as u32) < 2;
    let e = shift.wrapping_neg() as u32;
    let v = if in_range && m >= 0 && e <= 31 {
        let m0 = m & 0x7ff;
        let m1 = (m >> 11) & 0x7ff;
        let m2 = m >> 22;
        // |acc·m₀| < 2^31 and, at acc = −2^20, acc·m₁ + q₀ ≥ −2^31: no overflow.
        let q0 = (acc * m0) >> 11;
        let q1 = (acc * m1 + q0) >> 11;
        let t = (acc * m2 + (1 << 8) + q1) >> 9;
        // |t| ≤ 2^20: no overflow below, nor in the zero point's addition.
        let nudge = ((1u32 << e) >> 1) as i32;
        let neg = if nudge != 0 { t >> 31 } else { 0 };
        ((t + nudge + neg) >> e) + zp
    } else {
        multiply_by_quantized_multiplier(acc, m, shift).saturating_add(zp)
    };
    v.max(lo).min(hi) as i8
}

/// The output stage by the book: `clamp(zp + MBQM(acc, m, shift), lo, hi)` with
/// [`multiply_by_quantized_multiplier`], as TFLite's reference `FullyConnected` ends.
#[cfg(test)]
pub(crate) fn requantize_reference(acc: i32, m: i32, shift: i32, zp: i32, lo: i32, hi: i32) -> i8 {
    let v = multiply_by_quantized_multiplier(acc, m, shift);
    v.saturating_add(zp).max(lo).min(hi) as i8
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

    struct Xs(u64);
    impl Xs {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 16) as u32
        }
    }

    #[test]
    fn round_shift_equals_rounding_divide_by_pot() {
        let mut rng = Xs(7);
        for e in 0..=31u32 {
            for t in (-70_000..=70_000).chain([i32::MIN / 2, (1 << 30) - 1, -(1 << 30)]) {
                assert_eq!(
                    round_shift(t, e),
                    rounding_divide_by_pot(t, e as i32),
                    "{t} {e}"
                );
            }
            for _ in 0..20_000 {
                let t = (rng.next() as i32) >> 2; // |t| < 2^30
                assert_eq!(
                    round_shift(t, e),
                    rounding_divide_by_pot(t, e as i32),
                    "{t} {e}"
                );
            }
        }
    }

    #[test]
    fn output_stages_equal_the_reference() {
        let mut rng = Xs(8);
        let specials = [
            i32::MIN,
            i32::MIN + 1,
            -1,
            0,
            1,
            i32::MAX,
            1 << 30,
            -(1 << 30),
        ];
        for k in 0..3_000_000u32 {
            let acc = match k % 3 {
                0 => rng.next() as i32,
                1 => (rng.next() as i32) >> (rng.next() % 32),
                _ => specials[rng.next() as usize % specials.len()],
            };
            let m = match k % 5 {
                0 => 0,
                1 => i32::MAX,
                _ => (1 << 30) | (rng.next() >> 2) as i32,
            };
            // The wide stage needs m ≥ 0; the narrow one also takes negative multipliers.
            let m_any = if k % 7 == 0 { rng.next() as i32 } else { m };
            let shift = (rng.next() % 40) as i32 - 33;
            let zp = (rng.next() % 256) as i32 - 128;
            let lo = if k % 2 == 0 { -128 } else { zp };
            let want = requantize_reference(acc, m, shift, zp, lo, 127);
            assert_eq!(
                requantize_wide(acc, m, shift, zp, lo, 127),
                want,
                "{acc} {m} {shift}"
            );
            let want_any = requantize_reference(acc, m_any, shift, zp, lo, 127);
            assert_eq!(requantize_narrow(acc, m_any, shift, zp, lo, 127), want_any);
        }
    }

    #[test]
    fn narrow_stage_is_exact_over_its_whole_window() {
        let mut rng = Xs(9);
        let mut cases = [
            (i32::MAX, 0),
            (1 << 30, -31),
            (1717986918, -3),
            (0, 0),
            (0, 0),
            (0, 0),
        ];
        for c in &mut cases[4..] {
            *c = (
                (1 << 30) | (rng.next() >> 2) as i32,
                -((rng.next() % 32) as i32),
            );
        }
        for (m, shift) in cases {
            for acc in -(1 << 20) - 2..(1 << 20) + 2 {
                let want = requantize_reference(acc, m, shift, 3, -128, 127);
                assert_eq!(
                    requantize_narrow(acc, m, shift, 3, -128, 127),
                    want,
                    "{acc} {m} {shift}"
                );
            }
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
