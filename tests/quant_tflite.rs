//! Int8 inference byte for byte against TFLite Micro's own interpreter (the `tflite-micro`
//! package), on the fixtures of `tests/data/quant/make_quant_fixtures.py` (see
//! `tests/data/quant/README.md`).
//!
//! TFLite Micro, like CMSIS-NN, requantizes with the double rounding by default, as constnn
//! does. The fixtures also hold the outputs of LiteRT (`ai-edge-litert`, desktop TFLite), whose
//! build uses TFLite's single rounding: those may differ by one step in a few near-half-way
//! cases, which the tests bound.

use constnn::quant::{Calibration, QLinear, QParams, QRelu, quantized_bytes};
use constnn::{Linear, Module, Relu, Zeroed};
use serde_json::Value;

const KERNEL: &str = include_str!("data/quant/tflite_kernel.json");
const PTQ: &str = include_str!("data/quant/tflite_ptq.json");

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_i64().expect("integer"))
        .collect()
}

fn matrix(v: &Value) -> Vec<Vec<i64>> {
    v.as_array().expect("array").iter().map(ints).collect()
}

fn floats(v: &Value) -> Vec<f32> {
    ints(v)
        .into_iter()
        .map(|b| f32::from_bits(b as u32))
        .collect()
}

fn float_matrix(v: &Value) -> Vec<Vec<f32>> {
    v.as_array().expect("array").iter().map(floats).collect()
}

fn i8_rows<const N: usize>(m: &[Vec<i64>]) -> Vec<[i8; N]> {
    m.iter()
        .map(|r| core::array::from_fn(|i| i8::try_from(r[i]).expect("int8")))
        .collect()
}

fn qparams(v: &Value) -> QParams {
    QParams {
        scale: f32::from_bits(v["scale_bits"].as_u64().expect("bits") as u32),
        zero_point: v["zero_point"].as_i64().expect("zero point") as i8,
    }
}

fn array<T: Copy, const N: usize>(v: &[T]) -> [T; N] {
    v.try_into().expect("length")
}

fn multipliers(v: &Value) -> Vec<(i32, i32)> {
    matrix(v)
        .into_iter()
        .map(|p| (p[0] as i32, p[1] as i32))
        .collect()
}

fn check_multipliers<const IN: usize, const OUT: usize>(q: &QLinear<IN, OUT>, expect: &Value) {
    let got: Vec<(i32, i32)> = q
        .multiplier()
        .iter()
        .zip(q.shift())
        .map(|(&m, &s)| (m, i32::from(s)))
        .collect();
    assert_eq!(got, multipliers(expect));
}

#[test]
fn kernel_matches_tflite_byte_for_byte() {
    let f: Value = serde_json::from_str(KERNEL).expect("fixture");
    assert!(f["reference"].as_str().unwrap().starts_with("tflite-micro"));
    let (input, hidden, output) = (
        qparams(&f["input"]),
        qparams(&f["hidden"]),
        qparams(&f["output"]),
    );
    let w1: Vec<[i8; 64]> = i8_rows(&matrix(&f["w1"]));
    let w2: Vec<[i8; 32]> = i8_rows(&matrix(&f["w2"]));
    let b1: Vec<i32> = ints(&f["b1"]).into_iter().map(|b| b as i32).collect();
    let b2: Vec<i32> = ints(&f["b2"]).into_iter().map(|b| b as i32).collect();
    let l1 = QLinear::<64, 32>::from_quantized(
        array(&w1),
        array(&b1),
        &array(&floats(&f["w1_scale_bits"])),
        input,
        hidden,
        true,
    )
    .unwrap();
    let l2 = QLinear::<32, 10>::from_quantized(
        array(&w2),
        array(&b2),
        &array(&floats(&f["w2_scale_bits"])),
        hidden,
        output,
        false,
    )
    .unwrap();
    check_multipliers(&l1, &f["multipliers1"]);
    check_multipliers(&l2, &f["multipliers2"]);
    // The fixture covers a left shift and the clamp at the hidden zero point.
    assert!(l1.shift().iter().any(|&s| s > 0));
    assert_eq!(l1.activation_range(), (hidden.zero_point, 127));
    assert_eq!(l1.bias().to_vec(), b1);

    let x: Vec<[i8; 64]> = i8_rows(&matrix(&f["x"]));
    let want_h: Vec<[i8; 32]> = i8_rows(&matrix(&f["tflm_hidden"]));
    let want_y: Vec<[i8; 10]> = i8_rows(&matrix(&f["tflm_y"]));
    let model = (l1, QRelu, l2);
    let mut saturated = 0;
    for (r, xr) in x.iter().enumerate() {
        let h = l1.forward(&[*xr]);
        assert_eq!(h[0], want_h[r], "hidden row {r}");
        let y = model.forward(&[*xr]);
        assert_eq!(y[0], want_y[r], "output row {r}");
        saturated += y[0].iter().filter(|&&v| v == -128 || v == 127).count();
    }
    assert!(saturated > 0, "the fixture should reach the int8 limits");
    // The whole batch at once gives the same bytes.
    let batch: [[i8; 64]; 64] = array(&x);
    let y = model.forward(&batch);
    assert_eq!(y.to_vec(), want_y);
    let single = i8_rows::<10>(&matrix(&f["litert_y"]));
    assert_off_by_one_rarely(y.as_flattened(), single.as_flattened());
}

/// The outputs of a single-rounding build differ from the double rounding's by at most one
/// step, and rarely (a tie of the first rounding must meet a near-tie of the second).
fn assert_off_by_one_rarely(double: &[i8], single: &[i8]) {
    let mut differ = 0;
    for (&a, &b) in double.iter().zip(single) {
        assert!((i32::from(a) - i32::from(b)).abs() <= 1, "{a} vs {b}");
        differ += usize::from(a != b);
    }
    assert!(
        differ * 20 <= double.len(),
        "{differ} of {} differ",
        double.len()
    );
}

type Small = (Linear<16, 24>, Relu, Linear<24, 6>);

#[test]
fn post_training_quantization_matches_tflite() {
    let f: Value = serde_json::from_str(PTQ).expect("fixture");
    let mut model = Small::ZERO;
    for (row, bits) in model.0.weight.iter_mut().zip(float_matrix(&f["w1_bits"])) {
        *row = array(&bits);
    }
    model.0.bias = array(&floats(&f["b1_bits"]));
    for (row, bits) in model.2.weight.iter_mut().zip(float_matrix(&f["w2_bits"])) {
        *row = array(&bits);
    }
    model.2.bias = array(&floats(&f["b2_bits"]));
    let cal: Vec<[f32; 16]> = float_matrix(&f["calibration_bits"])
        .iter()
        .map(|r| array(r))
        .collect();
    let cal: [[f32; 16]; 32] = array(&cal);

    let mut calibration = Calibration::<Small>::new();
    // Two halves: ranges accumulate over batches.
    calibration.observe(&model, &array::<_, 16>(&cal[..16]));
    calibration.observe(&model, &array::<_, 16>(&cal[16..]));
    let ranges = &f["ranges"];
    let r = calibration.input_range();
    assert_eq!(vec![r.min(), r.max()], floats(&ranges["input"]));
    let (r1, (), r2) = calibration.ranges();
    assert_eq!(vec![r1.min(), r1.max()], floats(&ranges["linear1"]));
    assert_eq!(vec![r2.min(), r2.max()], floats(&ranges["linear2"]));

    let q = calibration.quantize(&model).unwrap();
    let (l1, QRelu, l2) = q.layers;
    assert_eq!(q.input, qparams(&f["input"]));
    assert_eq!(l1.input(), qparams(&f["input"]));
    assert_eq!(l1.output(), qparams(&f["hidden"]));
    assert_eq!(
        l1.output().zero_point,
        -128,
        "ReLU fused: the hidden range starts at 0"
    );
    assert_eq!(l2.input(), qparams(&f["hidden"]));
    assert_eq!(q.output, qparams(&f["output"]));
    assert_eq!(l1.weight().to_vec(), i8_rows::<16>(&matrix(&f["q_w1"])));
    assert_eq!(l2.weight().to_vec(), i8_rows::<24>(&matrix(&f["q_w2"])));
    let as_i64 = |b: &[i32]| b.iter().map(|&v| i64::from(v)).collect::<Vec<_>>();
    assert_eq!(as_i64(&l1.bias()), ints(&f["q_b1"]));
    assert_eq!(as_i64(&l2.bias()), ints(&f["q_b2"]));
    check_multipliers(&l1, &f["multipliers1"]);
    check_multipliers(&l2, &f["multipliers2"]);

    let x = float_matrix(&f["x_bits"]);
    let want_x: Vec<[i8; 16]> = i8_rows(&matrix(&f["tflm_x"]));
    let want_y: Vec<[i8; 6]> = i8_rows(&matrix(&f["tflm_y"]));
    let want_yf = float_matrix(&f["tflm_y_float_bits"]);
    assert_eq!(want_x, i8_rows::<16>(&matrix(&f["litert_x"])));
    let mut ys = Vec::new();
    for (r, xr) in x.iter().enumerate() {
        let xq = q.quantize_input(&[array::<f32, 16>(xr)]);
        assert_eq!(xq[0], want_x[r], "QUANTIZE row {r}");
        let y = q.forward(&xq);
        assert_eq!(y[0], want_y[r], "logits row {r}");
        let yf = q.dequantize_output(&y);
        let got: Vec<u32> = yf[0].iter().map(|v| v.to_bits()).collect();
        let want: Vec<u32> = want_yf[r].iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want, "DEQUANTIZE row {r}");
        ys.extend_from_slice(&y[0]);
    }
    let single = i8_rows::<6>(&matrix(&f["litert_y"]));
    assert_off_by_one_rarely(&ys, single.as_flattened());
    assert_eq!(size_of_val(&q), quantized_bytes::<Small>());
}
