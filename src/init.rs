//! Random initialization from any `rand_core` generator, bit-reproducible on every target.

use rand_core::Rng;

/// Draws one standard normal `N(0, 1)` sample (Box–Muller, cosine branch, in `f32` with `libm`).
///
/// Two `u32` draws per sample: `u1 ∈ (0, 1]` and `u2 ∈ [0, 1)` from the top 24 bits, then
/// `sqrt(-2·ln u1)·cos(2π·u2)`. `libm` is pure software here, so the same generator state gives
/// the same bits on every platform. (It is not numpy's sampler, so the values differ from
/// `np.random.randn` for the same seed; the distribution is the same.)
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
    const SCALE: f32 = 1.0 / (1u32 << 24) as f32;
    let u1 = ((rng.next_u32() >> 8) + 1) as f32 * SCALE;
    let u2 = (rng.next_u32() >> 8) as f32 * SCALE;
    libm::sqrtf(-2.0 * libm::logf(u1)) * libm::cosf(core::f32::consts::TAU * u2)
}

/// Fills `out` with He-normal samples `N(0, 1)·sqrt(2 / fan_in)`, in slice order.
pub(crate) fn he_normal<R: Rng + ?Sized>(out: &mut [f32], fan_in: usize, rng: &mut R) {
    let scale = libm::sqrtf(2.0 / fan_in as f32);
    for v in out {
        *v = standard_normal(rng) * scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;
    use rand_xorshift::XorShiftRng;

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
    fn he_scale() {
        let mut rng = XorShiftRng::seed_from_u64(3);
        let mut w = [0.0f32; 50_000];
        he_normal(&mut w, 8, &mut rng);
        let var = w.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / w.len() as f64;
        assert!((var - 0.25).abs() < 0.01, "variance {var}, expected 2/8");
    }
}
