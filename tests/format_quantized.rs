//! int8 models in the container: round trips bit for bit (and the same outputs), the dtype and
//! signature keep int8 and float blobs apart, every stored constant is range-checked, every
//! corrupted byte and truncation is refused with the model untouched, and 100 000 mutated
//! blobs never panic.

mod common;
mod format_common;

use common::rand_batch;
use constnn::format::container::{Blob, CRC_LEN, HEADER_LEN};
use constnn::format::{
    Dtype, QuantizedParams, crc32, load_quantized, load_weights, quantized_len, save_quantized,
    save_weights, weights_len,
};
use constnn::quant::{Calibration, QLinear, QModel, QParams, QRelu, QuantizedOf};
use constnn::rand_core::SeedableRng;
use constnn::{Batch, Error, Linear, Module, Params, Relu, XorShiftRng, Zeroed};
use format_common::mutate;

type Mlp = (Linear<64, 32>, Relu, Linear<32, 10>);
type QMlp = QuantizedOf<Mlp>;

/// A digits-shaped model quantized from a seeded init and a random calibration batch.
fn quantized(seed: u64) -> QMlp {
    let mut m = Mlp::ZERO;
    m.init(&mut XorShiftRng::seed_from_u64(seed));
    let mut c = Calibration::new();
    let mut rng = XorShiftRng::seed_from_u64(seed + 1);
    c.observe(&m, &rand_batch::<16, 64, _>(&mut rng, -2.0, 2.0));
    c.quantize(&m).unwrap()
}

fn saved(q: &QMlp) -> Vec<u8> {
    let mut blob = vec![0u8; quantized_len::<QMlp>()];
    assert_eq!(save_quantized(q, &mut blob), Ok(blob.len()));
    blob
}

/// Recomputes the checksum, so that a test reaches the checks behind it.
fn seal(blob: &mut [u8]) {
    let end = blob.len() - CRC_LEN;
    let crc = crc32(&blob[..end]);
    blob[end..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn the_layout_has_the_documented_sizes() {
    assert_eq!(<QLinear<64, 32>>::STORED_BYTES, 2048 + 9 * 32 + 12);
    assert_eq!(<QLinear<32, 10>>::STORED_BYTES, 320 + 90 + 12);
    assert_eq!(QRelu::STORED_BYTES, 0);
    assert_eq!(QMlp::STORED_BYTES, 2780);
    assert_eq!(quantized_len::<QMlp>(), 32 + 2780 + 4);
    // Smaller than the f32 weights of the same model.
    assert_eq!(weights_len::<Mlp>(), 32 + 9640 + 4);
}

#[test]
fn a_quantized_model_round_trips_bit_for_bit() {
    for seed in [1, 2, 3] {
        let q = quantized(seed);
        let blob = saved(&q);
        let mut loaded = quantized(seed + 100);
        assert_ne!(loaded, q);
        load_quantized(&mut loaded, &blob).unwrap();
        assert_eq!(loaded, q);
        // Same int8 outputs on data it has not seen.
        let x: Batch<8, 64> = rand_batch(&mut XorShiftRng::seed_from_u64(seed + 7), -3.0, 3.0);
        let xq = q.quantize_input(&x);
        assert_eq!(loaded.forward(&xq), q.forward(&xq));
        // Saving the loaded model gives the same bytes.
        assert_eq!(saved(&loaded), blob);
    }
}

#[test]
fn the_header_says_int8_and_the_values_sit_where_the_layout_says() {
    let q = quantized(4);
    let blob = saved(&q);
    let parsed = Blob::parse_i8(&blob, QMlp::SIGNATURE, QMlp::STORED_BYTES).unwrap();
    assert_eq!(parsed.dtype(), Dtype::I8);
    assert_eq!(blob[6], 2, "dtype byte");
    assert!(!parsed.is_checkpoint());
    let p = parsed.payload_bytes();
    let (l1, QRelu, l2) = q.layers;
    // First layer: weights row by row, then the TFLite bias, multipliers, shifts.
    assert_eq!(p[0] as i8, l1.weight()[0][0]);
    assert_eq!(p[64] as i8, l1.weight()[1][0]);
    let at = |o: usize| i32::from_le_bytes(p[o..o + 4].try_into().unwrap());
    assert_eq!(at(2048), l1.bias()[0]);
    assert_eq!(at(2048 + 4 * 32), l1.multiplier()[0]);
    assert_eq!(p[2048 + 8 * 32] as i8, l1.shift()[0]);
    let scales = 2048 + 9 * 32;
    assert_eq!(
        f32::from_le_bytes(p[scales..scales + 4].try_into().unwrap()),
        l1.input().scale
    );
    assert_eq!(p[scales + 8] as i8, l1.input().zero_point);
    assert_eq!(p[scales + 10] as i8, l1.activation_range().0);
    assert_eq!(p[scales + 11] as i8, 127);
    // Second layer, then the model's bridges.
    let second = <QLinear<64, 32>>::STORED_BYTES;
    assert_eq!(p[second] as i8, l2.weight()[0][0]);
    let bridges = second + <QLinear<32, 10>>::STORED_BYTES;
    assert_eq!(
        f32::from_le_bytes(p[bridges..bridges + 4].try_into().unwrap()),
        q.input.scale
    );
    assert_eq!(p[bridges + 4] as i8, q.input.zero_point);
    assert_eq!(p[bridges + 9] as i8, q.output.zero_point);
}

#[test]
fn int8_and_float_blobs_and_other_shapes_are_kept_apart() {
    let q = quantized(5);
    let blob = saved(&q);
    // An int8 blob into the float model, and float weights into the int8 model.
    let mut f = Mlp::ZERO;
    assert_eq!(
        load_weights(&mut f, &blob),
        Err(Error::WrongDtype {
            expected: Dtype::F32,
            found: Dtype::I8
        })
    );
    let mut weights = vec![0u8; weights_len::<Mlp>()];
    save_weights(&f, &mut weights).unwrap();
    let mut loaded = q;
    assert_eq!(
        load_quantized(&mut loaded, &weights),
        Err(Error::WrongDtype {
            expected: Dtype::I8,
            found: Dtype::F32
        })
    );
    // Another int8 model: refused by its signature.
    type Wider = QModel<(QLinear<64, 10>,)>;
    let mut other = Wider {
        layers: (QLinear::from_quantized(
            [[0; 64]; 10],
            [0; 10],
            &[1.0; 10],
            QParams::DEGENERATE,
            QParams::DEGENERATE,
            false,
        )
        .unwrap(),),
        input: QParams::DEGENERATE,
        output: QParams::DEGENERATE,
    };
    let before = other;
    assert!(matches!(
        load_quantized(&mut other, &blob),
        Err(Error::SignatureMismatch { .. })
    ));
    assert_eq!(other, before);
    assert_ne!(QMlp::SIGNATURE, Mlp::SIGNATURE);
    // The checkpoint flag is not allowed on an int8 blob.
    let mut flagged = blob.clone();
    flagged[7] = 1;
    seal(&mut flagged);
    assert_eq!(
        load_quantized(&mut loaded, &flagged),
        Err(Error::UnknownFlags { found: 1 })
    );
    assert_eq!(loaded, q);
}

#[test]
fn every_stored_constant_is_range_checked() {
    let q = quantized(6);
    let blob = saved(&q);
    let mult = HEADER_LEN + 2048 + 4 * 32;
    let shift = HEADER_LEN + 2048 + 8 * 32;
    let scales = HEADER_LEN + 2048 + 9 * 32;
    let bridges = HEADER_LEN + QMlp::STORED_BYTES - 10;
    let cases: Vec<(usize, Vec<u8>)> = vec![
        (mult, 5i32.to_le_bytes().to_vec()),        // below 2³⁰ and not 0
        (mult + 8, (-7i32).to_le_bytes().to_vec()), // negative
        (shift + 3, vec![31]),                      // shift above 30
        (shift, vec![(-32i8) as u8]),               // shift below −31
        (scales, f32::NAN.to_le_bytes().to_vec()),  // input scale NaN
        (scales + 4, 0.0f32.to_le_bytes().to_vec()), // output scale 0
        (scales, (-1.0f32).to_le_bytes().to_vec()), // negative scale
        (scales + 11, vec![126]),                   // act_max ≠ 127
        (scales + 10, vec![5]),                     // clamp neither −128 nor z_out
        (bridges, f32::INFINITY.to_le_bytes().to_vec()), // the model's input scale
        (bridges + 5, 0.0f32.to_le_bytes().to_vec()), // the model's output scale
    ];
    for (offset, bytes) in cases {
        let mut bad = blob.clone();
        bad[offset..offset + bytes.len()].copy_from_slice(&bytes);
        seal(&mut bad);
        let mut loaded = q;
        assert_eq!(
            load_quantized(&mut loaded, &bad),
            Err(Error::ValueOutOfRange { offset }),
            "offset {offset}"
        );
        assert_eq!(loaded, q, "untouched after the error at {offset}");
    }
    // The values at the edges of their ranges load.
    let mut edge = blob.clone();
    edge[mult..mult + 4].copy_from_slice(&(1i32 << 30).to_le_bytes());
    edge[mult + 4..mult + 8].copy_from_slice(&0i32.to_le_bytes());
    edge[shift] = (-31i8) as u8;
    edge[shift + 1] = 30;
    seal(&mut edge);
    let mut loaded = q;
    load_quantized(&mut loaded, &edge).unwrap();
    assert_eq!(loaded.layers.0.multiplier()[0], 1 << 30);
    assert_eq!(loaded.layers.0.shift()[..2], [-31, 30]);
}

#[test]
fn every_corrupted_byte_and_every_truncation_is_refused_untouched() {
    let q = quantized(7);
    let blob = saved(&q);
    let mut loaded = quantized(8);
    let before = loaded;
    for i in 0..blob.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = blob.clone();
            bad[i] ^= bit;
            assert!(load_quantized(&mut loaded, &bad).is_err(), "byte {i}");
            assert_eq!(loaded, before);
        }
    }
    for n in 0..blob.len() {
        assert!(
            load_quantized(&mut loaded, &blob[..n]).is_err(),
            "length {n}"
        );
        assert_eq!(loaded, before);
    }
    let mut long = blob.clone();
    long.push(0);
    assert!(matches!(
        load_quantized(&mut loaded, &long),
        Err(Error::TrailingBytes { .. })
    ));
    assert_eq!(loaded, before);
}

#[test]
fn mutated_int8_blobs_never_panic_and_what_loads_saves_back_identically() {
    let seeds = [saved(&quantized(9)), saved(&quantized(10))];
    let mut rng = XorShiftRng::seed_from_u64(0x18_B10B);
    let (mut accepted, mut rejected_values) = (0, 0);
    let mut model = quantized(11);
    for run in 0..100_000 {
        let mut m = mutate(&mut rng, &seeds[run % seeds.len()]);
        if run % 2 == 0 && m.len() >= CRC_LEN {
            seal(&mut m);
        }
        let before = model;
        match load_quantized(&mut model, &m) {
            Ok(()) => {
                accepted += 1;
                assert_eq!(saved(&model), m, "run {run}");
            }
            Err(e) => {
                rejected_values += usize::from(matches!(e, Error::ValueOutOfRange { .. }));
                assert_eq!(model, before, "run {run}");
            }
        }
    }
    eprintln!("int8: 100000 mutated, {accepted} accepted, {rejected_values} out of range");
    assert!(
        accepted > 1000,
        "the mutator reaches valid blobs ({accepted})"
    );
    assert!(
        rejected_values > 100,
        "and the value checks ({rejected_values})"
    );
}
