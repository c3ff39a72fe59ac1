//! The constnn container loader: never panics; an accepted blob re-encodes to the same bytes.
//! Each input is also tried with its checksum recomputed, so the fuzzer explores the header
//! checks behind the CRC as well.
#![no_main]

use constnn::format::container::{Blob, CRC_LEN, Encoder, blob_len_f32};
use constnn::format::crc32;
use libfuzzer_sys::fuzz_target;

fn check(data: &[u8]) {
    // With expectations: a small model, with and without a checkpoint asked for.
    let _ = Blob::parse(data, 0xABCD, 5, Some(3));
    let _ = Blob::parse(data, 0xABCD, 5, None);
    let Ok(blob) = Blob::parse_any(data) else {
        return;
    };
    let (p, s) = (blob.payload_len(), blob.state_len());
    let mut again = vec![0u8; blob_len_f32(p, s)];
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
