//! Random initialization from any `rand_core` generator, bit-reproducible on every target.

use rand_core::Rng;

use crate::float::sqrtf;

/// Draws one standard normal `N(0, 1)` sample (Marsaglia's polar method, in `f32`).
///
/// Draws pairs `u, v` uniform in `[-1, 1)` (24-bit grid, two `u32` draws) until
/// `0 < s = u² + v² < 1` (1.27 pairs on average), then returns `u·sqrt(-2·ln s / s)`. Only
/// `libm::logf` and a square root are needed (no trigonometry, which `libm` computes in `f64`,
/// a large amount of flash on a Cortex-M). `libm` is pure software here and the square root is
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
