//! The crate's own `expf`: libm 0.2.16's algorithm, with libm's bits on every input, in a form
//! the compiler can vectorize.
//!
//! The softmax takes one `expf` per logit, a large share of a small model's training step as
//! scalar calls of [`libm::expf`]; vectorized over the batch they cost about half as much
//! (figures in `BENCHMARKS.md`).
//!
//! [`expf`] is FreeBSD's `e_expf.c` as libm 0.2.16 has it (argument reduction by `k·ln 2`, a
//! degree-2 rational approximation, scaling by `2^k`), written out case by case and operation
//! by operation; it is what every target runs for a single value. On x86-64, [`exp_in_place`]
//! runs `exp_common` instead: for |x| < 80, libm's cases computed branch-free (as selections),
//! so that the loop vectorizes; a chunk with any other value goes through [`expf`].
//!
//! Every operation is the same IEEE `f32` operation, on the same operands, in the same order as
//! in libm, so every result has the same bits: the tests compare the two on a sample of every
//! sign and exponent in `cargo test`, and on all 2³² inputs in an ignored test. Owning the
//! function (rather than calling libm on some targets and a copy on others) keeps the bits the
//! same on every target even if a later libm changed its `expf`; such a change would show up
//! as a failure of those tests, not as different bits on different machines.

use crate::module::Batch;

/// `e^x`, with the bits of libm 0.2.16's `expf` for every `x`: libm's code, case by case.
#[inline]
pub(crate) fn expf(x: f32) -> f32 {
    let bits = x.to_bits();
    let negative = bits >> 31 != 0;
    let hx = bits & 0x7fff_ffff;
    if hx >= 0x42ae_ac50 {
        // |x| ≥ 87.33… or NaN.
        if hx > 0x7f80_0000 {
            return x; // NaN
        }
        if !negative && hx >= 0x42b1_7218 {
            return x * f32::from_bits(0x7f00_0000); // x ≥ 88.72…: overflow to +∞ (x · 2¹²⁷)
        }
        if negative && hx >= 0x42cf_f1b5 {
            return 0.0; // x ≤ −103.97…: below half the smallest subnormal
        }
    }
    if hx <= TINY {
        return 1.0 + x;
    }
    let k = if hx > THREE_HALVES_LN2 {
        (INV_LN2 * x + if negative { -0.5 } else { 0.5 }) as i32
    } else if hx > HALF_LN2 {
        if negative { -1 } else { 1 }
    } else {
        0
    };
    scalbn(reduced(x, k as f32), k)
}

/// libm's `scalbnf(y, k)` for the `k` of [`expf`] (−150..=128): `y · 2^k`, where for k > 127
/// libm first multiplies by 2¹²⁷, and for k < −126 by 2⁻¹⁰² (= 2⁻¹²⁶·2²⁴, so that a subnormal
/// result is rounded once); in that range of `k` one such step is all that libm's loop does.
#[inline(always)]
fn scalbn(y: f32, k: i32) -> f32 {
    let (y, k) = if k > 127 {
        (y * f32::from_bits(0x7f00_0000), k - 127)
    } else if k < -126 {
        (y * f32::from_bits(0x0c80_0000), k + 102)
    } else {
        (y, k)
    };
    y * f32::from_bits(((k + 127) as u32) << 23)
}

/// `e[r][c] = expf(z[r][c] − m[r])` for every row `r` and column `c`.
///
/// On x86-64 the shifted values are written first, then [`exp_in_place`] takes the whole
/// batch as one slice; elsewhere each value goes through [`expf`] as it is computed.
#[inline]
pub(crate) fn exp_shifted<const B: usize, const C: usize>(
    z: &Batch<B, C>,
    m: &[f32; B],
    e: &mut Batch<B, C>,
) {
    for ((er, zr), &mr) in e.iter_mut().zip(z).zip(m) {
        for (ev, &zv) in er.iter_mut().zip(zr) {
            *ev = if cfg!(target_arch = "x86_64") {
                zv - mr
            } else {
                expf(zv - mr)
            };
        }
    }
    #[cfg(target_arch = "x86_64")]
    exp_in_place(e.as_flattened_mut());
}

/// `v[i] = expf(v[i])` for every `i`: a vector's worth (one AVX-512 register, two AVX2 ones,
/// four SSE ones) at a time, the common path for all lanes, branch-free, then [`expf`] again
/// for the whole chunk in the rare case that one of its lanes is not on the common path.
#[cfg(target_arch = "x86_64")]
#[inline]
fn exp_in_place(v: &mut [f32]) {
    for chunk in v.chunks_mut(CHUNK) {
        let mut x = [0.0f32; CHUNK];
        x[..chunk.len()].copy_from_slice(chunk);
        let mut y = [0.0f32; CHUNK];
        let mut common = true;
        for (y, &x) in y.iter_mut().zip(&x) {
            let (v, ok) = exp_common(x);
            *y = v;
            common &= ok;
        }
        if common {
            chunk.copy_from_slice(&y[..chunk.len()]);
        } else {
            for (v, &x) in chunk.iter_mut().zip(&x) {
                *v = expf(x);
            }
        }
    }
}

/// Elements per step of [`exp_in_place`] on x86-64.
#[cfg(target_arch = "x86_64")]
const CHUNK: usize = 16;

// libm's case boundaries, as bits of |x| (both `expf` and `exp_common` branch on them):
/// |x| ≤ 2⁻¹⁴: `e^x` is `1 + x`.
const TINY: u32 = 0x3900_0000;
/// |x| ≤ ln 2 / 2: no reduction (`k = 0`).
const HALF_LN2: u32 = 0x3eb1_7218;
/// |x| ≤ 3 ln 2 / 2: `k = ±1`; above, `k = trunc(x / ln 2 ± 1/2)`.
const THREE_HALVES_LN2: u32 = 0x3f85_1592;
/// |x| < 80: the range of `exp_common`, where `scalbnf` is one exact product.
#[cfg(target_arch = "x86_64")]
const COMMON_LIMIT: u32 = 0x42a0_0000;

// libm's constants, by their bits: ln 2 in two parts (the high part has 12 trailing zero bits,
// so `k · LN2_HI` is exact), 1 / ln 2, and the coefficients of the rational approximation.
const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
const LN2_LO: f32 = f32::from_bits(0x35bf_be8e);
const INV_LN2: f32 = f32::from_bits(0x3fb8_aa3b);
const P1: f32 = f32::from_bits(0x3e2a_aa8f);
const P2: f32 = f32::from_bits(0xbb35_5215);
/// 1.5·2²³: `(t + ROUND) − ROUND` is `t` rounded to the nearest integer (ties to even) for
/// |t| < 2²², and the low bits of `t + ROUND` are that integer.
#[cfg(target_arch = "x86_64")]
const ROUND: f32 = 12_582_912.0;

/// libm's reduced computation for a given `k` (as `f32`): `x − k·ln 2` in two parts `hi − lo`,
/// the rational approximation, and `1 + …`, before the scaling by `2^k`.
#[inline(always)]
fn reduced(x: f32, kf: f32) -> f32 {
    let hi = x - kf * LN2_HI;
    let lo = kf * LN2_LO;
    let r = hi - lo;
    let rr = r * r;
    let c = r - rr * (P1 + rr * P2);
    1.0 + (r * c / (2.0 - c) - lo + hi)
}

/// `t` rounded toward zero, as libm's `(t) as i32` (for |t| < 2²²), without the saturating
/// float-to-int conversion of `as`, which LLVM does not vectorize.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn trunc(t: f32) -> f32 {
    let nearest = (t + ROUND) - ROUND;
    let abs = |v: f32| f32::from_bits(v.to_bits() & 0x7fff_ffff);
    if abs(nearest) > abs(t) {
        nearest - if t < 0.0 { -1.0 } else { 1.0 }
    } else {
        nearest
    }
}

/// libm's `expf` for |x| < 80, without branches, and whether `x` is in that range (NaN is
/// not); outside it, the value is meaningless.
///
/// libm's cases, each written as a selection:
/// - |x| ≤ 2⁻¹⁴: `1 + x`;
/// - |x| ≤ ln 2 / 2: `k = 0`, no reduction (the formulas of [`reduced`] give the same values
///   with `k = 0`: `x − 0·LN2_HI = x`, `lo = 0`);
/// - |x| ≤ 3 ln 2 / 2: `k = ±1`;
/// - otherwise `k = trunc(x / ln 2 ± 1/2)`;
/// - then libm's `scalbnf(y, k)`, which for |k| ≤ 115 (as here) is the exact product
///   `y · 2^k`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn exp_common(x: f32) -> (f32, bool) {
    let bits = x.to_bits();
    let negative = bits >> 31 != 0;
    let hx = bits & 0x7fff_ffff;
    let kf = if hx > THREE_HALVES_LN2 {
        trunc(INV_LN2 * x + if negative { -0.5 } else { 0.5 })
    } else if hx > HALF_LN2 {
        if negative { -1.0 } else { 1.0 }
    } else {
        0.0
    };
    let y = reduced(x, kf);
    // 2^k; the `& 0xff` only keeps the exponent field in range on the lanes that are not on
    // the common path (whose values are discarded).
    let k = ((kf + ROUND).to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let scale = f32::from_bits((k.wrapping_add(127) as u32 & 0xff) << 23);
    let v = if hx <= TINY { 1.0 + x } else { y * scale };
    (v, hx < COMMON_LIMIT)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// Checks [`exp_in_place`] and [`expf`] on the bit patterns `start, start + step, …`
    /// below `end`, in slices of 1000 (so both the common path and the fallback run), against
    /// `libm::expf`; returns how many it checked.
    fn check_strided(start: u64, end: u64, step: u64) -> u64 {
        let mut x = [0.0f32; 1000];
        let mut y = [0.0f32; 1000];
        let mut n = 0;
        let mut bits = start;
        let mut checked = 0;
        while bits < end {
            x[n] = f32::from_bits(bits as u32);
            n += 1;
            bits += step;
            if n == x.len() || bits >= end {
                y[..n].copy_from_slice(&x[..n]);
                exp_in_place(&mut y[..n]);
                for (&x, &y) in x[..n].iter().zip(&y[..n]) {
                    let want = libm::expf(x);
                    for got in [y, expf(x)] {
                        assert!(
                            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                            "expf({x:e} = {:#010x}) gave {got:e}, libm gives {want:e}",
                            x.to_bits()
                        );
                    }
                }
                checked += n as u64;
                n = 0;
            }
        }
        checked
    }

    #[test]
    fn exact_on_a_sample_of_all_inputs() {
        // An odd step crosses every exponent of both signs, subnormals, ±0, ±∞ and NaNs.
        assert!(check_strided(0, 1 << 32, 4099) > 1_000_000);
        // Dense around the common path's edges and libm's own case boundaries.
        for edge in [
            TINY,
            HALF_LN2,
            THREE_HALVES_LN2,
            COMMON_LIMIT,
            0x42ae_ac50,
            0x42b1_7218,
            0x42cf_f1b5,
        ] {
            for sign in [0, 0x8000_0000] {
                let centre = u64::from(edge | sign);
                assert_eq!(check_strided(centre - 5000, centre + 5000, 1), 10_000);
            }
        }
        // Every value the common path serves in a softmax: x ≤ 0 down to −80, in steps
        // of about 2⁻¹⁰ relative.
        let mut x = [0.0f32; 8];
        let mut y;
        let mut v = -80.0f32;
        while v < 0.0 {
            for (i, xi) in x.iter_mut().enumerate() {
                *xi = v * (1.0 - i as f32 * 1e-4);
            }
            y = x;
            exp_in_place(&mut y);
            for (&x, &y) in x.iter().zip(&y) {
                assert_eq!(y.to_bits(), libm::expf(x).to_bits(), "expf({x:e})");
            }
            v *= 0.999;
            if v > -1e-30 {
                break;
            }
        }
    }

    /// All 2³² inputs (about a minute in release: `cargo test --release -- --ignored`).
    #[test]
    #[ignore = "exhaustive: run with --release -- --ignored"]
    fn exact_on_every_input() {
        assert_eq!(check_strided(0, 1 << 32, 1), 1 << 32);
    }
}
