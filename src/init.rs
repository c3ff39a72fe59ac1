//! Random initialization from any `rand_core` generator, bit-reproducible on every target.

use rand_core::Rng;

/// `sqrt(x)`, correctly rounded: the IEEE 754 square root, so exactly the bits of
/// `libm::sqrtf` (and of a hardware square root) for every `x`.
///
/// The classic bit-by-bit square root of the integer significand (fdlibm's `e_sqrtf.c`),
/// in `u32` arithmetic only. It replaces `libm::sqrtf`, whose table-driven version costs
/// 480 bytes of flash on a Cortex-M4F (224 of code and a 256-byte table) for the two square
/// roots of the He init; this one is 144 bytes there (172 against 520 on a Cortex-M0). Speed
/// does not matter here: it runs once per initial weight. The tests compare it with
/// `libm::sqrtf` bit for bit, on every positive `f32` (an `#[ignore]`d test) and on a sample of
/// all bit patterns.
fn sqrtf(x: f32) -> f32 {
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

/// Draws one standard normal `N(0, 1)` sample (Marsaglia's polar method, in `f32`).
///
/// Draws pairs `u, v` uniform in `[-1, 1)` (24-bit grid, two `u32` draws) until
/// `0 < s = u² + v² < 1` (1.27 pairs on average), then returns `u·sqrt(-2·ln s / s)`. Only
/// `libm::logf` and a square root are needed (no trigonometry, which `libm` computes in `f64`:
/// about 6 kB less flash on a Cortex-M). `libm` is pure software here and the square root is
/// exact, so the same generator state gives the same bits on every platform. (It is not numpy's
/// sampler, so the values differ from `np.random.randn` for the same seed; the distribution is
/// the same.)
///
/// A generator so broken that 64 pairs in a row fall outside the unit disc (probability
/// below 1e-42 for a working one, e.g. a mock returning a constant) gives `0.0` instead of
/// looping forever.
///
/// # Examples
///
/// ```
/// use constnn::standard_normal;
/// use rand_core::SeedableRng;
///
/// let mut rng = rand_xorshift::XorShiftRng::seed_from_u64(7);
/// let n = 10_000;
/// let mean = (0..n).map(|_| standard_normal(&mut rng)).sum::<f32>() / n as f32;
/// assert!(mean.abs() < 0.05);
/// ```
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    const SCALE: f32 = 1.0 / (1u32 << 23) as f32;
    for _ in 0..64 {
        // Exact: a 24-bit integer times 2^-23, minus 1.
        let u = (rng.next_u32() >> 8) as f32 * SCALE - 1.0;
        let v = (rng.next_u32() >> 8) as f32 * SCALE - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            return u * sqrtf(-2.0 * libm::logf(s) / s);
        }
    }
    0.0
}

/// Fills `out` with He-normal samples `N(0, 1)·sqrt(2 / fan_in)`, in slice order.
pub(crate) fn he_normal<R: Rng + ?Sized>(out: &mut [f32], fan_in: usize, rng: &mut R) {
    let scale = sqrtf(2.0 / fan_in as f32);
    for v in out {
        *v = standard_normal(rng) * scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;
    use rand_xorshift::XorShiftRng;

    /// `sqrtf(x)` and `libm::sqrtf(x)`: the same bits, or both NaN.
    fn check_sqrt(x: f32) {
        let (got, want) = (sqrtf(x), libm::sqrtf(x));
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
            assert_eq!(sqrtf(x).to_bits(), libm::sqrtf(x).to_bits(), "sqrt({x:e})");
        }
    }

    #[test]
    fn moments_are_standard_normal() {
        let mut rng = XorShiftRng::seed_from_u64(42);
        let n = 200_000;
        let (mut s1, mut s2, mut s4) = (0.0f64, 0.0f64, 0.0f64);
        for _ in 0..n {
            let z = f64::from(standard_normal(&mut rng));
            assert!(z.is_finite());
            s1 += z;
            s2 += z * z;
            s4 += z * z * z * z;
        }
        let n = f64::from(n);
        assert!((s1 / n).abs() < 0.01, "mean {}", s1 / n);
        assert!((s2 / n - 1.0).abs() < 0.01, "variance {}", s2 / n);
        assert!((s4 / n - 3.0).abs() < 0.05, "fourth moment {}", s4 / n);
    }

    #[test]
    fn degenerate_generator_does_not_hang() {
        struct Stuck;
        impl rand_core::TryRng for Stuck {
            type Error = core::convert::Infallible;
            fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
                Ok(0) // u = v = -1: always outside the unit disc
            }
            fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
                Ok(0)
            }
            fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
                dst.fill(0);
                Ok(())
            }
        }
        assert_eq!(standard_normal(&mut Stuck), 0.0);
    }

    #[test]
    fn he_scale() {
        let mut rng = XorShiftRng::seed_from_u64(3);
        let mut w = [0.0f32; 50_000];
        he_normal(&mut w, 8, &mut rng);
        let var = w.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / w.len() as f64;
        assert!((var - 0.25).abs() < 0.01, "variance {var}, expected 2/8");
    }
}
