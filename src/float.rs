//! Elementary float functions whose bits are the same on every target.

/// `sqrt(x)`, correctly rounded (IEEE 754), so the same bits on every target (`core` has no
/// square root on stable Rust, and `libm`'s hardware path is left off).
///
/// On 64-bit targets (hardware `f64`) [`f64_sqrtf`], a few `f64` operations; elsewhere
/// [`soft_sqrtf`], in integer arithmetic (no `f64`, which a Cortex-M emulates in software).
#[inline]
pub(crate) fn sqrtf(x: f32) -> f32 {
    if cfg!(target_pointer_width = "64") {
        f64_sqrtf(x)
    } else {
        soft_sqrtf(x)
    }
}

/// `sqrt(x)` for a positive finite `x`, correctly rounded to `f32`, by Newton's method in
/// `f64`; other inputs go to [`soft_sqrtf`].
///
/// Four Newton steps for `1/sqrt(x)` from the classic bit-level estimate (3.5 % off), then one
/// correction of `x·y`, leave an error of a few `f64` ulps (about `2⁻⁵⁰`). The square root of
/// an `f32` is never that close to the midpoint of two `f32`s (if `sqrt(x) = m·(1 + δ)` for a
/// 25-bit midpoint `m`, then `x − m²`, a non-zero multiple of `m`'s last bit squared, makes
/// `|δ| ≥ 2⁻⁴⁹`), so rounding that `f64` to `f32` gives the correctly rounded square root. The
/// tests compare it with `libm::sqrtf` on every positive `f32`.
#[cfg_attr(not(target_pointer_width = "64"), allow(dead_code))]
#[inline]
pub(crate) fn f64_sqrtf(x: f32) -> f32 {
    if !(x > 0.0 && x < f32::INFINITY) {
        return soft_sqrtf(x);
    }
    let d = f64::from(x);
    let mut y = f64::from_bits(0x5fe6_eb50_c7b5_37a9 - (d.to_bits() >> 1));
    for _ in 0..4 {
        y *= 1.5 - 0.5 * d * y * y;
    }
    let s = d * y;
    (s + 0.5 * y * (d - s * s)) as f32
}

/// `sqrt(x)`, correctly rounded, by the classic bit-by-bit square root of the integer
/// significand (fdlibm's `e_sqrtf.c`) in `u32` arithmetic: exactly the bits of `libm::sqrtf`
/// and of a hardware square root for every `x`, with less code than `libm`'s table-driven
/// version. The tests compare it with `libm::sqrtf` on every positive `f32` (an `#[ignore]`d
/// test) and on a sample of all bit patterns.
pub(crate) fn soft_sqrtf(x: f32) -> f32 {
    let bits = x.to_bits();
    if bits == 0 || bits == 0x8000_0000 || bits == 0x7f80_0000 {
        return x; // sqrt(±0) = ±0, sqrt(+inf) = +inf
    }
    if bits > 0x7f80_0000 {
        return f32::NAN; // NaN, or x < 0 (sign bit set)
    }
    // x = m · 2^(e - 150) with the significand m in [2^23, 2^24) (subnormals normalized).
    let (mut e, mut m) = ((bits >> 23) as i32, bits & 0x007f_ffff);
    if e == 0 {
        let shift = m.leading_zeros() - 8;
        m <<= shift;
        e = 1 - shift as i32;
    } else {
        m |= 0x0080_0000;
    }
    e -= 127; // x = (m / 2^23) · 2^e
    if e & 1 != 0 {
        m <<= 1; // make the exponent even: x = (m / 2^23) · 2^(e - 1), m < 2^25
    }
    let half = e >> 1; // sqrt(x) = sqrt(m / 2^23) · 2^half, the first factor in [1, 2)
    // q = ⌊sqrt(m · 2^25)⌋, 25 bits: the result's 24-bit significand and one rounding bit,
    // found bit by bit from the top; `r` is the running remainder, doubled at each step.
    let mut r = m << 1;
    let (mut q, mut s, mut bit) = (0u32, 0u32, 1u32 << 24);
    while bit != 0 {
        let t = s + bit;
        if t <= r {
            s = t + bit;
            r -= t;
            q += bit;
        }
        r <<= 1;
        bit >>= 1;
    }
    // Round to nearest: a remainder left means the exact root lies above q, so round the last
    // bit up if it is set. (With no remainder q is exact and a root is never a tie.)
    if r != 0 {
        q += q & 1;
    }
    // (q >> 1) has its leading bit at 2^23; 126 plus that bit is the exponent bias 127. A
    // rounding carry out of the significand lands in the exponent, as it should.
    f32::from_bits(((q >> 1) + (126 << 23)).wrapping_add((half as u32) << 23))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sqrtf(x)` and `libm::sqrtf(x)`: the same bits, or both NaN.
    fn check_sqrt(x: f32) {
        check_sqrt_with(soft_sqrtf, x);
        check_sqrt_with(f64_sqrtf, x);
    }

    fn check_sqrt_with(f: fn(f32) -> f32, x: f32) {
        let (got, want) = (f(x), libm::sqrtf(x));
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "sqrt({x:e} = {:#010x}): {got:e} ({:#010x}), libm {want:e} ({:#010x})",
            x.to_bits(),
            got.to_bits(),
            want.to_bits()
        );
    }

    /// About a million bit patterns spread over all 2^32 (every sign, subnormals, NaNs), the
    /// ones next to every power of two, and the special values.
    #[test]
    fn sqrt_is_libms_on_a_sample() {
        for bits in (0..=u32::MAX).step_by(4093) {
            check_sqrt(f32::from_bits(bits));
        }
        for e in 0..=255u32 {
            for low in [0, 1, 2, 0x7f_fffe, 0x7f_ffff] {
                check_sqrt(f32::from_bits(e << 23 | low));
                check_sqrt(f32::from_bits(0x8000_0000 | e << 23 | low));
            }
        }
        for x in [
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
        ] {
            check_sqrt(x);
        }
        for x in [
            f32::MIN_POSITIVE,
            f32::MAX,
            f32::EPSILON,
            1e-45,
            2.0,
            0.03125,
            -1.0,
        ] {
            check_sqrt(x);
        }
        assert_eq!(sqrtf(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(sqrtf(4.0), 2.0);
        assert_eq!(sqrtf(f32::INFINITY), f32::INFINITY);
        assert!(sqrtf(-1.0).is_nan() && sqrtf(f32::NAN).is_nan());
    }

    /// Every positive finite `f32`, subnormals included (2^31 - 2^23 values; about 90 s in
    /// release: `cargo test --release -- --ignored`).
    #[test]
    #[ignore = "exhaustive: every positive finite f32; run in release"]
    fn sqrt_is_libms_on_every_positive_f32() {
        for bits in 1..0x7f80_0000 {
            let x = f32::from_bits(bits);
            let want = libm::sqrtf(x).to_bits();
            assert_eq!(soft_sqrtf(x).to_bits(), want, "soft_sqrtf({x:e})");
            assert_eq!(f64_sqrtf(x).to_bits(), want, "f64_sqrtf({x:e})");
        }
    }
}
