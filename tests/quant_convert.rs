//! Post-training quantization: the types it computes, ReLU fusion, bad calibration data, and
//! how close the int8 model stays to the float one.

mod common;

use common::rand_batch;
use constnn::quant::{
    Calibration, QLinear, QModel, QParams, QRelu, Quantize, QuantizedOf, argmax_i8, quantized_bytes,
};
use constnn::rand_core::SeedableRng;
use constnn::{Batch, Error, Linear, Module, Params, Relu, XorShiftRng, Zeroed, argmax};

type Mlp = (Linear<64, 32>, Relu, Linear<32, 10>);

fn model<M: Params + Zeroed>(seed: u64) -> M {
    let mut m = M::ZERO;
    m.init(&mut XorShiftRng::seed_from_u64(seed));
    m
}

/// A calibration over `batches` random batches of 16 rows in [-2, 2).
fn calibrate<M: Quantize + constnn::quant::Calibrate<Batch<16, 64>>>(
    m: &M,
    batches: usize,
    seed: u64,
) -> Calibration<M> {
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let mut c = Calibration::new();
    for _ in 0..batches {
        c.observe(m, &rand_batch::<16, 64, _>(&mut rng, -2.0, 2.0));
    }
    c
}

// A calibration state can be a `static`, as on a device.
static EMPTY: Calibration<Mlp> = Calibration::new();
const BYTES: usize = quantized_bytes::<Mlp>();

#[test]
fn the_quantized_type_follows_from_the_float_type() {
    let m: Mlp = model(1);
    // This only compiles if the computed type is exactly this one.
    let q: QModel<(QLinear<64, 32>, QRelu, QLinear<32, 10>)> =
        calibrate(&m, 4, 2).quantize(&m).unwrap();
    let _: &QuantizedOf<Mlp> = &q;
    assert_eq!(size_of::<QRelu>(), 0);
    assert_eq!(size_of::<QLinear<64, 32>>(), 2048 + 9 * 32 + 12);
    assert_eq!(size_of::<QLinear<32, 10>>(), 424);
    assert_eq!(BYTES, 2348 + 424 + 16);
    assert_eq!(size_of_val(&q), BYTES);
    assert_eq!(size_of::<Mlp>(), 9640);
}

#[test]
fn relu_is_fused_into_the_preceding_linear() {
    let m: Mlp = model(3);
    let c = calibrate(&m, 4, 4);
    let q = c.quantize(&m).unwrap();
    let (l1, QRelu, l2) = q.layers;
    // The hidden tensor is quantized from the ReLU's range [0, max]: zero point −128, the
    // clamp at the zero point is the int8 minimum, and every level serves values ≥ 0.
    let (r1, (), r2) = c.ranges();
    assert!(
        r1.min() < 0.0,
        "the pre-activation range includes negatives"
    );
    assert_eq!(l1.output(), QParams::from_range(0.0, r1.max()).unwrap());
    assert_eq!(l1.output().zero_point, -128);
    assert_eq!(l1.activation_range(), (-128, 127));
    assert_eq!(l2.input(), l1.output());
    // The last layer is not followed by a ReLU: the full range, no clamp.
    assert_eq!(
        l2.output(),
        QParams::from_range(r2.min(), r2.max()).unwrap()
    );
    assert_eq!(l2.activation_range(), (-128, 127));
    assert_eq!(q.output, l2.output());

    // Fused by hand, a QLinear clamps at its output zero point.
    let out = QParams {
        scale: 0.1,
        zero_point: -30,
    };
    let layer = QLinear::<1, 1>::from_quantized(
        [[1]],
        [0],
        &[0.01],
        QParams {
            scale: 1.0,
            zero_point: 0,
        },
        out,
        true,
    )
    .unwrap();
    assert_eq!(layer.activation_range(), (-30, 127));
    assert_eq!(layer.forward(&[[-100]]), [[-30]]); // −1 → ReLU → 0 → the zero point
    assert_eq!(layer.forward(&[[100]]), [[-20]]); // 1 → 10 steps above −30
}

#[test]
fn a_relu_that_does_not_follow_a_linear_is_an_error() {
    let m: (Relu, Linear<64, 10>) = model(5);
    assert_eq!(
        calibrate(&m, 2, 6).quantize(&m).unwrap_err(),
        Error::ReluNotFused
    );
    // Two ReLUs in a row are fine: the second one's input is already ≥ 0.
    let m: (Linear<64, 8>, Relu, Relu, Linear<8, 3>) = model(7);
    let q = calibrate(&m, 2, 8).quantize(&m).unwrap();
    let _: &QModel<(QLinear<64, 8>, QRelu, QRelu, QLinear<8, 3>)> = &q;
}

#[test]
fn nested_and_long_tuples_convert() {
    type Deep = (
        Linear<64, 16>,
        Relu,
        Linear<16, 16>,
        Relu,
        Linear<16, 16>,
        Relu,
        Linear<16, 8>,
        Relu,
    );
    let m: Deep = model(9);
    let q = calibrate(&m, 2, 10).quantize(&m).unwrap();
    assert_eq!(
        q.layers.6.output().zero_point,
        -128,
        "fused into the last Linear"
    );
    // A nested model whose inner tuple starts with the ReLU still fuses it.
    type Nested = ((Linear<64, 16>,), (Relu, Linear<16, 4>));
    let n: Nested = model(11);
    let q = calibrate(&n, 2, 12).quantize(&n).unwrap();
    assert_eq!(q.layers.0.0.output().zero_point, -128);
}

#[test]
fn bad_calibration_data() {
    let m: Mlp = model(13);
    assert_eq!(EMPTY.quantize(&m).unwrap_err(), Error::CalibrationEmpty);

    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut c = Calibration::<Mlp>::new();
        let mut x = [[0.5f32; 64]; 2];
        x[1][7] = bad;
        c.observe(&m, &x);
        assert!(c.input_range().saw_non_finite());
        assert_eq!(
            c.quantize(&m).unwrap_err(),
            Error::QuantizationNotFinite,
            "{bad}"
        );
    }

    // All zeros: the input range has width 0 and gets the documented safe parameters (and
    // with a zero input and zero biases, so does every layer); the model still runs.
    let mut c = Calibration::<Mlp>::new();
    c.observe(&m, &[[0.0f32; 64]; 4]);
    let q = c.quantize(&m).unwrap();
    assert_eq!(q.input, QParams::DEGENERATE);
    assert_eq!(q.layers.0.output(), QParams::DEGENERATE);
    assert_eq!(q.quantize_input(&[[0.0; 64]]), [[-128; 64]]);
    let y = q.forward(&q.quantize_input(&[[0.0; 64]]));
    assert_eq!(q.dequantize_output(&y), [[0.0; 10]]);

    // A single repeated value: the range is widened to contain 0, [0, 3].
    let mut c = Calibration::<Mlp>::new();
    c.observe(&m, &[[3.0f32; 64]; 4]);
    let q = c.quantize(&m).unwrap();
    assert_eq!(
        q.input,
        QParams {
            scale: 3.0 / 255.0,
            zero_point: -128
        }
    );
    assert_eq!(q.quantize_input(&[[3.0; 64]]), [[127; 64]]);

    // Non-finite parameters.
    let mut broken = m;
    broken.2.weight[3][4] = f32::NAN;
    let c = calibrate(&m, 2, 14);
    assert_eq!(
        c.quantize(&broken).unwrap_err(),
        Error::QuantizationNotFinite
    );
}

#[test]
fn qparams_nudging() {
    let q = |a, b| QParams::from_range(a, b).unwrap();
    assert_eq!(
        q(-1.0, 3.0),
        QParams {
            scale: 4.0 / 255.0,
            zero_point: -64
        }
    );
    // Ranges always contain 0.
    assert_eq!(
        q(0.5, 2.0),
        QParams {
            scale: 2.0 / 255.0,
            zero_point: -128
        }
    );
    assert_eq!(
        q(-2.0, -0.5),
        QParams {
            scale: 2.0 / 255.0,
            zero_point: 127
        }
    );
    assert_eq!(q(0.0, 0.0), QParams::DEGENERATE);
    assert_eq!(q(-0.0, 0.0), QParams::DEGENERATE);
    // Zero is exact: it quantizes to the zero point and back to 0.
    for (a, b) in [(-0.3, 7.1), (-5.0, 0.01), (-1e-3, 1e-3), (-123.0, 45.0)] {
        let p = q(a, b);
        assert_eq!(p.quantize(0.0), p.zero_point);
        assert_eq!(p.dequantize(p.zero_point), 0.0);
        // The range ends map to the int8 ends, within one step.
        assert!(p.quantize(a) <= -127 || a > 0.0);
        assert!(p.quantize(b) >= 126);
    }
    assert_eq!(
        QParams::from_range(f32::NAN, 1.0),
        Err(Error::QuantizationNotFinite)
    );
    assert_eq!(
        QParams::from_range(-f32::MAX, f32::MAX),
        Err(Error::QuantizationNotFinite)
    );
    assert_eq!(
        QParams {
            scale: 0.0,
            zero_point: 0
        }
        .validate(),
        Err(Error::ScaleOutOfRange)
    );
    assert_eq!(
        QLinear::<1, 1>::from_quantized(
            [[1]],
            [0],
            &[f32::NAN],
            QParams::DEGENERATE,
            QParams::DEGENERATE,
            false
        ),
        Err(Error::ScaleOutOfRange)
    );
}

#[test]
fn int8_model_tracks_the_float_model() {
    let m: Mlp = model(15);
    let c = calibrate(&m, 8, 16);
    let q = c.quantize(&m).unwrap();
    let mut rng = XorShiftRng::seed_from_u64(17);
    let (mut agree, mut rows, mut far, mut sum) = (0, 0, 0, 0.0f64);
    let step = q.output.scale;
    for _ in 0..20 {
        let x = rand_batch::<16, 64, _>(&mut rng, -2.0, 2.0);
        let float = m.forward(&x);
        let xq = q.quantize_input(&x);
        let int8 = q.forward(&xq);
        let deq = q.dequantize_output(&int8);
        let classes = q.classify(&xq);
        for r in 0..16 {
            for (a, b) in deq[r].iter().zip(&float[r]) {
                far += usize::from((a - b).abs() > 3.0 * step);
                sum += f64::from((a - b).abs());
            }
            assert_eq!(classes[r], argmax_i8(&int8[r]));
            agree += usize::from(classes[r] == argmax(&float[r]));
            rows += 1;
        }
    }
    // Rounding errors stay below an output step on average; the few larger ones come from
    // activations beyond the calibrated ranges, which saturate.
    let mean = sum / (rows * 10) as f64;
    assert!(
        mean < 0.5 * f64::from(step),
        "mean logit error {mean}, step {step}"
    );
    assert!(
        far * 100 <= rows * 10,
        "{far} of {} logits off by > 3 steps",
        rows * 10
    );
    assert!(agree * 100 >= rows * 90, "argmax agreement {agree}/{rows}");
}

#[test]
fn inputs_outside_the_calibrated_range_saturate() {
    let m: Mlp = model(18);
    let q = calibrate(&m, 2, 19).quantize(&m).unwrap();
    let x = q.quantize_input(&[[1e30; 64], [-1e30; 64]]);
    assert_eq!(x, [[127; 64], [-128; 64]]);
    let y = q.forward(&x);
    assert!(y.as_flattened().iter().any(|&v| v == 127 || v == -128));
}
