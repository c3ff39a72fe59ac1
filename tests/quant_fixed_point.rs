//! TFLite's fixed-point requantization: reference values, rounding edge cases, limits, and the
//! 32-bit fast path against the 64-bit reference (exhaustively over its whole range for a set
//! of multipliers and shifts, and on random inputs everywhere).

use constnn::quant::fixed_point::FAST_ACCUMULATOR_LIMIT;
use constnn::quant::{
    multiply_by_quantized_multiplier as mbqm, multiply_by_quantized_multiplier_fast as fast,
    quantize_multiplier, rounding_divide_by_pot as rdbpot,
    saturating_rounding_doubling_high_mul as srdhm,
};
use constnn::rand_core::{Rng, SeedableRng};
use constnn::{Error, XorShiftRng};

/// The same product with one rounding (`TFLITE_SINGLE_ROUNDING`): round half up of
/// `x·m·2^(shift−31)`, in i128. Only used to show where the two conventions part.
fn single_rounding(x: i32, m: i32, shift: i32) -> i32 {
    let total = 31 - shift;
    let p = i128::from(x) * i128::from(m);
    ((p + (1i128 << (total - 1))) >> total) as i32
}

#[test]
fn quantize_multiplier_reference_values() {
    for (real, want) in [
        (0.5, (1073741824, 0)),
        (0.25, (1073741824, -1)),
        (0.1, (1717986918, -3)),
        (0.75, (1610612736, 0)),
        (1.5, (1610612736, 1)),
        (0.0123, (1690499128, -6)),
        (0.0, (0, 0)),
        (1.0, (1073741824, 1)),
        // Rounds up to 2^31: renormalized to 2^30 with one more shift.
        (1.0 - 1e-12, (1073741824, 1)),
        // Below 2^-32 the shift would be < -31: flushed to zero.
        (1e-12, (0, 0)),
    ] {
        assert_eq!(quantize_multiplier(real), Ok(want), "{real}");
    }
    // Every realistic multiplier lands in [2^30, 2^31).
    let (m, s) = quantize_multiplier(0.000_731).unwrap();
    assert!((1 << 30..=i32::MAX).contains(&m) && s < 0);
    // The largest shift TFLite accepts is 30.
    assert_eq!(
        quantize_multiplier(2f64.powi(29) * 1.5).map(|p| p.1),
        Ok(30)
    );
    for bad in [2f64.powi(30), -0.5, f64::NAN, f64::INFINITY] {
        assert_eq!(
            quantize_multiplier(bad),
            Err(Error::ScaleOutOfRange),
            "{bad}"
        );
    }
}

#[test]
fn double_rounding_reference_value() {
    // 0.8·2^31 with shift −3: ×0.1. −1995·0.1 = −199.5 (−199.49999998 exactly): the first
    // rounding gives −1596 = −199.5·8, the second rounds −199.5 away from zero.
    assert_eq!(srdhm(-1995, 1717986918), -1596);
    assert_eq!(rdbpot(-1596, 3), -200);
    assert_eq!(mbqm(-1995, 1717986918, -3), -200);
    assert_eq!(single_rounding(-1995, 1717986918, -3), -199);
    assert_eq!(fast(-1995, 1717986918, -3), -200);
    // The positive twin rounds the same way.
    assert_eq!(mbqm(1995, 1717986918, -3), 200);
    assert_eq!(single_rounding(1995, 1717986918, -3), 199);
}

#[test]
fn srdhm_limits_and_ties() {
    assert_eq!(srdhm(i32::MIN, i32::MIN), i32::MAX);
    assert_eq!(srdhm(i32::MIN, i32::MAX), -i32::MAX);
    assert_eq!(srdhm(i32::MAX, i32::MAX), i32::MAX - 1);
    assert_eq!(srdhm(i32::MIN + 1, i32::MIN), i32::MAX);
    assert_eq!(srdhm(0, i32::MIN), 0);
    // ×0.5: ties go toward +∞ for both signs (gemmlowp's nudge then truncation).
    assert_eq!(srdhm(1, 1 << 30), 1); // 0.5 → 1
    assert_eq!(srdhm(-1, 1 << 30), 0); // −0.5 → 0
    assert_eq!(srdhm(3, 1 << 30), 2); // 1.5 → 2
    assert_eq!(srdhm(-3, 1 << 30), -1); // −1.5 → −1
    assert_eq!(srdhm(-5, 1 << 30), -2); // −2.5 → −2
}

#[test]
fn rdbpot_negative_half_way_and_near_half_way() {
    // Exactly half-way: away from zero.
    assert_eq!(rdbpot(-4, 3), -1); // −0.5
    assert_eq!(rdbpot(4, 3), 1);
    assert_eq!(rdbpot(-12, 3), -2); // −1.5
    assert_eq!(rdbpot(-20, 3), -3); // −2.5
    // Just inside: toward the nearer integer.
    assert_eq!(rdbpot(-3, 3), 0); // −0.375
    assert_eq!(rdbpot(-5, 3), -1); // −0.625
    assert_eq!(rdbpot(-11, 3), -1); // −1.375
    assert_eq!(rdbpot(-13, 3), -2); // −1.625
    assert_eq!(rdbpot(3, 3), 0);
    assert_eq!(rdbpot(5, 3), 1);
    // Exponent 0 and the limits.
    assert_eq!(rdbpot(-7, 0), -7);
    assert_eq!(rdbpot(i32::MIN, 31), -1);
    assert_eq!(rdbpot(i32::MAX, 31), 1);
    assert_eq!(rdbpot(i32::MIN, 1), -(1 << 30));
    assert_eq!(rdbpot(i32::MAX, 1), 1 << 30);
    // Against exact rational rounding (half away from zero) on a grid.
    for e in 1..=12 {
        for x in -5000..=5000 {
            let d = f64::from(1u32 << e);
            let want = (f64::from(x) / d).round() as i32; // f64 round: half away from zero
            assert_eq!(rdbpot(x, e), want, "{x} / 2^{e}");
        }
    }
}

#[test]
fn mbqm_near_half_way_accumulators() {
    // m = 2^30 (0.5) with shift −1 (×0.25): the first rounding is exact for even x, so the
    // result is x/4 rounded half away from zero; odd x shows the double rounding: 0.25·x
    // first becomes (x+1)/2 (half up) and is then halved again.
    for x in -64..=64 {
        let exact = f64::from(x) / 4.0;
        let got = mbqm(x, 1 << 30, -1);
        assert!(
            (f64::from(got) - exact).abs() <= 0.75,
            "{x}: {got} vs {exact}"
        );
        if x % 2 == 0 {
            assert_eq!(got, exact.round() as i32, "{x}");
        }
    }
    assert_eq!(mbqm(-2, 1 << 30, -1), -1); // −0.5 → −1 (away from zero)
    assert_eq!(mbqm(-1, 1 << 30, -1), 0); // −0.25: −0.5 → 0, then 0
    assert_eq!(mbqm(-3, 1 << 30, -1), -1); // −0.75: −1.5 → −1, then −0.5 → −1
    // A left shift: 0.75·2^1 = ×1.5. With no right shift only the first rounding acts, and
    // its ties go toward +∞: 10.5 → 11, −10.5 → −10.
    assert_eq!(mbqm(7, 1610612736, 1), 11);
    assert_eq!(mbqm(-7, 1610612736, 1), -10);
    assert_eq!(mbqm(-8, 1610612736, 1), -12);
    // int32 limits do not panic (the left shift wraps like TFLite's C++ on hardware).
    for &x in &[i32::MIN, i32::MAX, i32::MIN + 1, -1, 0, 1] {
        for &(m, s) in &[
            (i32::MAX, -31),
            (1 << 30, 0),
            (i32::MAX, 30),
            (i32::MIN, 5),
            (0, 0),
        ] {
            let _ = mbqm(x, m, s);
            assert_eq!(fast(x, m, s), mbqm(x, m, s), "{x} {m} {s}");
        }
    }
    assert_eq!(mbqm(i32::MAX, i32::MAX, 0), i32::MAX - 1);
    assert_eq!(mbqm(i32::MIN, i32::MAX, 0), -i32::MAX);
}

#[test]
fn fast_path_is_exact_over_its_whole_range() {
    let lim = FAST_ACCUMULATOR_LIMIT;
    let mut rng = XorShiftRng::seed_from_u64(11);
    let mut cases: Vec<(i32, i32)> = vec![
        (1 << 30, 0),
        (i32::MAX, 0),
        (1717986918, -3),
        (1690499128, -6),
        (1 << 30, -31),
        (i32::MAX, -31),
        (1073741825, -7),
        (2147481599, -11), // low limbs all ones
        (1 << 30 | 0x7ff, -9),
        (0, 0),
    ];
    for _ in 0..6 {
        let m = (1 << 30) | (rng.next_u32() >> 2) as i32;
        cases.push((m, -((rng.next_u32() % 20) as i32)));
    }
    for (m, shift) in cases {
        for x in -(lim - 1)..lim {
            assert_eq!(
                fast(x, m, shift),
                mbqm(x, m, shift),
                "x={x} m={m} shift={shift}"
            );
        }
    }
}

#[test]
fn fast_path_is_exact_on_random_inputs() {
    let mut rng = XorShiftRng::seed_from_u64(12);
    for _ in 0..2_000_000 {
        let x = match rng.next_u32() % 4 {
            0 => rng.next_u32() as i32,         // anywhere (slow path)
            1 => (rng.next_u32() as i32) >> 11, // the fast range
            2 => (rng.next_u32() as i32) >> (rng.next_u32() % 32), // every magnitude
            _ => [i32::MIN, i32::MAX, 1 << 20, -(1 << 20), (1 << 20) - 1]
                [rng.next_u32() as usize % 5],
        };
        let m = match rng.next_u32() % 3 {
            0 => (1 << 30) | (rng.next_u32() >> 2) as i32,
            1 => rng.next_u32() as i32, // also negative: slow path
            _ => (rng.next_u32() >> 1) as i32,
        };
        let shift = (rng.next_u32() % 63) as i32 - 31;
        assert_eq!(
            fast(x, m, shift),
            mbqm(x, m, shift),
            "x={x} m={m} shift={shift}"
        );
    }
}

#[test]
fn double_and_single_rounding_part_exactly_at_the_near_ties() {
    // ×0.1 as 1717986918·2^−34 is a hair below 0.1, so x·0.1 for x ≡ 5 (mod 10) is a hair
    // inside a half-way point: the single rounding goes toward zero, the double rounding
    // (first to 1/8, which lands on the tie, then away from zero) does not. Nowhere else.
    let (m, shift) = quantize_multiplier(0.1).unwrap();
    for x in -100_000..=100_000 {
        let (d, s) = (mbqm(x, m, shift), single_rounding(x, m, shift));
        if x % 10 == 5 || x % 10 == -5 {
            assert_eq!(d - s, x.signum(), "{x}");
        } else {
            assert_eq!(d, s, "{x}");
        }
    }
}
