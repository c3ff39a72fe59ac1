//! `Sigmoid`, `Tanh` and `LeakyRelu`: accuracy against float64, stability at ±100, ±1e4,
//! ±∞ and NaN, pinned bits, output caches, and validated slopes.

mod common;

use common::Fnv1a;
use constnn::{Backward, Batch, Error, Hyperparameter, LeakyRelu, Module, Sigmoid, Tanh, Zeroed};

/// Inputs spread over every scale: ±(1e-30 … 1e4), 0 and the values near the functions'
/// case boundaries.
fn sweep() -> Vec<f32> {
    let mut v = vec![
        0.0, -0.0, 0.25, 0.5493, 0.2554, 9.0, 10.0, 87.0, 88.8, 104.0,
    ];
    let mut x = 1e-30f32;
    while x < 1e4 {
        v.push(x);
        x *= 1.013;
    }
    let neg: Vec<f32> = v.iter().map(|&x| -x).collect();
    v.extend(neg);
    v
}

/// `|got − want| ≤ rel·|want|`, or within two subnormal steps where `want` is subnormal.
#[track_caller]
fn assert_accurate(what: &str, x: f32, got: f32, want: f64, rel: f64) {
    let err = (f64::from(got) - want).abs();
    let ok = if want.abs() < f64::from(f32::MIN_POSITIVE) {
        err <= 2.0 * f64::from(f32::from_bits(1))
    } else {
        err <= rel * want.abs()
    };
    assert!(
        ok,
        "{what}({x:e}) = {got:e}, float64 {want:e}, |diff| {err:e}"
    );
}

fn sigmoid64(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        x.exp() / (1.0 + x.exp())
    }
}

#[test]
fn accurate_against_float64() {
    for x in sweep() {
        let s = Sigmoid.forward(&[[x]])[0][0];
        // expf is within 1 ulp, and the division adds half of one.
        assert_accurate(
            "sigmoid",
            x,
            s,
            sigmoid64(f64::from(x)),
            3.0 * f64::from(f32::EPSILON),
        );
        let t = Tanh.forward(&[[x]])[0][0];
        assert_accurate(
            "tanh",
            x,
            t,
            f64::from(x).tanh(),
            2.0 * f64::from(f32::EPSILON),
        );
        let l = LeakyRelu::new(0.01).unwrap().forward(&[[x]])[0][0];
        let want = if x > 0.0 {
            f64::from(x)
        } else {
            f64::from(0.01f32) * f64::from(x)
        };
        assert_accurate("leaky_relu", x, l, want, 0.5 * f64::from(f32::EPSILON));
    }
}

/// No overflow, no NaN from a finite input, and the saturated values exactly.
#[test]
fn stable_at_large_inputs() {
    let x = [[
        -1e4,
        -100.0,
        100.0,
        1e4,
        f32::NEG_INFINITY,
        f32::INFINITY,
        -f32::MAX,
        f32::MAX,
    ]];
    let s = Sigmoid.forward(&x)[0];
    assert_eq!(
        [s[0], s[2], s[3], s[4], s[5], s[6], s[7]],
        [0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    );
    assert!(
        s[1] > 0.0 && s[1] < 1e-43,
        "σ(−100) = {:e} is resolved",
        s[1]
    );
    let t = Tanh.forward(&x)[0];
    assert_eq!(t, [-1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0]);
    let l = LeakyRelu::new(0.01).unwrap().forward(&x)[0];
    assert_eq!(l[..4], [-100.0, -1.0, 100.0, 1e4]);
    assert!(l.iter().all(|v| !v.is_nan()));

    // The gradients through the saturated outputs are finite (zero or tiny), never NaN.
    let dy = [[1.0f32; 8]];
    let mut sig = Sigmoid;
    let mut cache = Zeroed::ZERO;
    sig.forward_train(&x, &mut cache);
    let ds = sig.backward_input(&cache, &dy)[0];
    assert!(
        ds.iter().all(|v| v.is_finite() && *v >= 0.0 && *v < 1e-40),
        "{ds:?}"
    );
    let mut tanh = Tanh;
    tanh.forward_train(&x, &mut cache);
    assert_eq!(tanh.backward_input(&cache, &dy), [[0.0; 8]]);
    let mut leaky = LeakyRelu::new(0.01).unwrap();
    let mut mask = Zeroed::ZERO;
    leaky.forward_train(&x, &mut mask);
    let dl = leaky.backward_input(&mask, &dy)[0];
    assert_eq!(dl, [0.01, 0.01, 1.0, 1.0, 0.01, 1.0, 0.01, 1.0]);
}

#[test]
fn nan_propagates() {
    let x = [[f32::NAN, 1.0]];
    assert!(Sigmoid.forward(&x)[0][0].is_nan());
    assert!(Tanh.forward(&x)[0][0].is_nan());
    let mut leaky = LeakyRelu::new(0.2).unwrap();
    assert!(leaky.forward(&x)[0][0].is_nan());
    // As Relu: a NaN passes its gradient through unchanged.
    let mut mask = Zeroed::ZERO;
    leaky.forward_train(&x, &mut mask);
    assert_eq!(leaky.backward_input(&mask, &[[3.0, 3.0]]), [[3.0, 3.0]]);
    let mut sig = Sigmoid;
    let mut cache = Zeroed::ZERO;
    sig.forward_train(&x, &mut cache);
    assert!(sig.backward_input(&cache, &[[1.0, 1.0]])[0][0].is_nan());
    assert!(sig.backward_input(&cache, &[[1.0, 1.0]])[0][1].is_finite());
}

/// The caches hold the outputs (no second exponential in the backward pass), and the
/// derivatives are the documented ones of those outputs.
#[test]
fn caches_hold_outputs() {
    let x: Batch<2, 3> = [[-2.0, 0.0, 0.5], [3.0, -0.25, 8.0]];
    let mut sig = Sigmoid;
    let mut cache = Zeroed::ZERO;
    let y = sig.forward_train(&x, &mut cache);
    assert_eq!(cache, y);
    assert_eq!(y, Sigmoid.forward(&x));
    let dx = sig.backward_input(&cache, &[[2.0; 3]; 2]);
    for (d, &s) in dx.as_flattened().iter().zip(y.as_flattened()) {
        assert_eq!(*d, 2.0 * (s * (1.0 - s)));
    }
    let mut tanh = Tanh;
    let y = tanh.forward_train(&x, &mut cache);
    assert_eq!(cache, y);
    let dx = tanh.backward_input(&cache, &[[2.0; 3]; 2]);
    for (d, &t) in dx.as_flattened().iter().zip(y.as_flattened()) {
        assert_eq!(*d, 2.0 * (1.0 - t * t));
    }
    assert_eq!(size_of_val(&cache), 4 * 6);
}

/// The outputs' bits are pinned: software `expf` (the crate's, libm's algorithm) and
/// `libm::tanhf`, so they are the same on every target; a change here is a change of results.
#[test]
fn bits_are_pinned() {
    let mut h = Fnv1a::<u32>::new();
    for x in sweep() {
        for v in [
            Sigmoid.forward(&[[x]])[0][0],
            Tanh.forward(&[[x]])[0][0],
            LeakyRelu::new(0.01).unwrap().forward(&[[x]])[0][0],
        ] {
            h.write(&v.to_bits().to_le_bytes());
        }
    }
    assert_eq!(h.0, PINNED_FNV, "{:#010x}", h.0);
}

const PINNED_FNV: u32 = 0xc98e_1f55;

#[test]
fn slopes_are_validated() {
    let err = Err(Error::InvalidHyperparameter(Hyperparameter::NegativeSlope));
    for bad in [-0.01, 1.0, 2.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        assert_eq!(LeakyRelu::new(bad), err, "slope {bad}");
    }
    assert_eq!(LeakyRelu::new(0.0).unwrap().slope(), 0.0);
    assert_eq!(LeakyRelu::ZERO.slope(), 0.01);
    assert_eq!(LeakyRelu::default(), LeakyRelu::ZERO);
    assert_eq!(
        Error::InvalidHyperparameter(Hyperparameter::NegativeSlope).to_string(),
        "the leaky ReLU negative slope must be in [0, 1)"
    );
    // Slope 0 is a ReLU, bit for bit.
    let x = [[-1.5, 0.0, 2.0, -0.0]];
    assert_eq!(
        LeakyRelu::new(0.0).unwrap().forward(&x),
        [[-0.0, 0.0, 2.0, -0.0]]
    );
}
