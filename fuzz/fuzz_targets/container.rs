//! The constnn container loader and the int8 model loader: never panic; an accepted blob
//! re-encodes to the same bytes, a refused one leaves the model untouched.
//! Each input is also tried with its checksum recomputed, so the fuzzer explores the header
//! checks behind the CRC as well.
#![no_main]

use constnn::format::Dtype;
use constnn::format::container::{Blob, CRC_LEN, Encoder, blob_len};
use constnn::format::crc32;
use constnn::format::{load_quantized, save_quantized};
use constnn::quant::{QLinear, QModel, QParams, QRelu};
use libfuzzer_sys::fuzz_target;

fn check(data: &[u8]) {
    // With expectations: a small model, with and without a checkpoint asked for.
    let _ = Blob::parse(data, 0xABCD, 5, Some(3));
    let _ = Blob::parse(data, 0xABCD, 5, None);
    // The int8 model loader: the container, then every stored constant's range.
    let mut q = QModel {
        layers: (QLinear::<3, 2>::from_quantized(
            [[1, 2, 3], [4, 5, 6]],
            [7, 8],
            &[0.5, 0.25],
            QParams::DEGENERATE,
            QParams::DEGENERATE,
            true,
        )
        .unwrap(), QRelu),
        input: QParams::DEGENERATE,
        output: QParams::DEGENERATE,
    };
    let before = q;
    match load_quantized(&mut q, data) {
        Ok(()) => {
            let mut again = vec![0u8; data.len()];
            assert_eq!(save_quantized(&q, &mut again), Ok(data.len()));
            assert_eq!(again, data);
        }
        Err(_) => assert_eq!(q, before),
    }
    let Ok(blob) = Blob::parse_any(data) else {
        return;
    };
    let (p, s) = (blob.payload_len(), blob.state_len());
    let mut again = vec![0u8; blob_len(blob.payload_bytes().len(), 4 * s)];
    if blob.dtype() == Dtype::I8 {
        let mut enc = Encoder::new_i8(&mut again, blob.signature(), p).unwrap();
        enc.push_bytes(blob.payload_bytes());
        assert_eq!(enc.finish().unwrap(), data.len());
        assert_eq!(again, data);
        return;
    }
    let mut enc = match blob.step() {
        Some(step) => Encoder::checkpoint(&mut again, blob.signature(), p, s, step).unwrap(),
        None => Encoder::new(&mut again, blob.signature(), p).unwrap(),
    };
    let mut values = vec![0.0f32; p];
    blob.read_payload(&mut values).unwrap();
    enc.push(&values);
    let mut state = blob.state();
    let mut values = vec![0.0f32; s];
    assert_eq!(state.fill(&mut values), s);
    enc.push(&values);
    assert_eq!(enc.finish().unwrap(), data.len());
    assert_eq!(again, data);
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() >= CRC_LEN {
        let mut sealed = data.to_vec();
        let end = sealed.len() - CRC_LEN;
        let crc = crc32(&sealed[..end]);
        sealed[end..].copy_from_slice(&crc.to_le_bytes());
        check(&sealed);
    }
});
