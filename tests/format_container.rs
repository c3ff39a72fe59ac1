//! The constnn container: round trips, every header field corrupted, every truncation,
//! every single-bit flip, and encoder misuse; each failure asserted as its own variant.

use constnn::format::Dtype;
use constnn::format::container::{
    Blob, CRC_LEN, Encoder, HEADER_LEN, SIGNATURE_SEED, blob_len, blob_len_f32, mix_signature,
};
use constnn::format::crc32;
use constnn::rand_core::SeedableRng;
use constnn::{Error, Linear, Params, Relu, XorShiftRng};

type Mlp = (Linear<3, 4>, Relu, Linear<4, 2>);
const SIG: u64 = 0x0123_4567_89AB_CDEF;
const N: usize = <Mlp as Params>::NUM_PARAMS;

fn model(seed: u64) -> Mlp {
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let mut m: Mlp = (Linear::ZERO, Relu, Linear::ZERO);
    m.init(&mut rng);
    // Non-zero biases so every parameter is distinct.
    m.0.bias = [0.5, -0.25, 1.0e-3, 7.0];
    m.2.bias = [-3.0, 2.0];
    m
}

fn params(m: &Mlp) -> Vec<u32> {
    let mut v = Vec::new();
    m.visit(&mut |s: &[f32]| v.extend(s.iter().map(|x| x.to_bits())));
    v
}

fn save(m: &Mlp) -> Vec<u8> {
    let mut buf = vec![0u8; blob_len_f32(N, 0)];
    let mut enc = Encoder::new(&mut buf, SIG, N).unwrap();
    m.visit(&mut |s: &[f32]| enc.push(s));
    assert_eq!(enc.finish().unwrap(), buf.len());
    buf
}

/// A checkpoint of 3 parameters and 2 state values, step 99.
fn checkpoint() -> Vec<u8> {
    let mut buf = vec![0u8; blob_len_f32(3, 2)];
    let mut enc = Encoder::checkpoint(&mut buf, SIG, 3, 2, 99).unwrap();
    enc.push(&[1.0, 2.0]);
    enc.push(&[3.0]);
    enc.push(&[-0.5, 0.25]);
    enc.finish().unwrap();
    buf
}

/// Rewrites the checksum so a deliberately changed header reaches its own check.
fn reseal(b: &mut [u8]) {
    let end = b.len() - CRC_LEN;
    let crc = crc32(&b[..end]);
    b[end..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn layout_is_the_documented_one() {
    let b = checkpoint();
    assert_eq!(b.len(), 32 + 12 + 8 + 4);
    assert_eq!(&b[0..4], b"CNNW");
    assert_eq!(u16::from_le_bytes([b[4], b[5]]), 1);
    assert_eq!(b[6], 1); // f32
    assert_eq!(b[7], 1); // checkpoint
    assert_eq!(u64::from_le_bytes(b[8..16].try_into().unwrap()), SIG);
    assert_eq!(u32::from_le_bytes(b[16..20].try_into().unwrap()), 12);
    assert_eq!(u32::from_le_bytes(b[20..24].try_into().unwrap()), 8);
    assert_eq!(u64::from_le_bytes(b[24..32].try_into().unwrap()), 99);
    let floats: Vec<f32> = b[32..52]
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(floats, [1.0, 2.0, 3.0, -0.5, 0.25]);
    assert_eq!(
        u32::from_le_bytes(b[52..].try_into().unwrap()),
        crc32(&b[..52])
    );
    assert_eq!(HEADER_LEN, 32);
    assert_eq!(blob_len(12, 8), b.len());
    const STATIC_LEN: usize = blob_len_f32(N, 0);
    assert_eq!(STATIC_LEN, 36 + 4 * 26);
}

#[test]
fn model_round_trip_is_bit_exact_and_copies_only_after_validation() {
    let a = model(1);
    let blob = save(&a);
    let mut b = model(2);
    assert_ne!(params(&a), params(&b));
    let parsed = Blob::parse(&blob, SIG, N, None).unwrap();
    assert_eq!(parsed.payload_len(), N);
    assert_eq!(parsed.state_len(), 0);
    assert_eq!(parsed.step(), None);
    assert!(!parsed.is_checkpoint());
    assert_eq!(parsed.signature(), SIG);
    let mut values = parsed.payload();
    assert_eq!(values.len(), N);
    b.visit_mut(&mut |s: &mut [f32]| {
        assert_eq!(values.fill(s), s.len());
    });
    assert_eq!(values.next(), None);
    assert_eq!(params(&a), params(&b));
}

#[test]
fn special_values_keep_their_bits() {
    let bits = [
        0u32,
        0x8000_0000,
        0x7F80_0000,
        0xFF80_0000,
        1,
        0x7F7F_FFFF,
        0x7FC0_0001,
        0xFFBF_FFFF,
    ];
    let values: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();
    let mut buf = [0u8; blob_len_f32(8, 0)];
    let mut enc = Encoder::new(&mut buf, 5, 8).unwrap();
    enc.push(&values);
    enc.finish().unwrap();
    let mut out = [0.0f32; 8];
    Blob::parse(&buf, 5, 8, None)
        .unwrap()
        .read_payload(&mut out)
        .unwrap();
    assert_eq!(out.map(f32::to_bits), bits);
}

#[test]
fn checkpoint_round_trip() {
    let b = checkpoint();
    let blob = Blob::parse(&b, SIG, 3, Some(2)).unwrap();
    assert_eq!(blob.step(), Some(99));
    let mut p = [0.0; 3];
    let mut s = [0.0; 2];
    blob.read_payload(&mut p).unwrap();
    blob.read_state(&mut s).unwrap();
    assert_eq!((p, s), ([1.0, 2.0, 3.0], [-0.5, 0.25]));
    // Weights only from a checkpoint: the state is skipped.
    let weights = Blob::parse(&b, SIG, 3, None).unwrap();
    assert_eq!(weights.payload().collect::<Vec<_>>(), [1.0, 2.0, 3.0]);
    // A checkpoint asked of a weights-only blob.
    let plain = save(&model(1));
    assert_eq!(
        Blob::parse(&plain, SIG, N, Some(0)),
        Err(Error::NotACheckpoint)
    );
    // A checkpoint with no optimizer state (plain SGD) but a step count.
    let mut buf = [0u8; blob_len_f32(1, 0)];
    let mut enc = Encoder::checkpoint(&mut buf, 1, 1, 0, 7).unwrap();
    enc.push(&[4.0]);
    enc.finish().unwrap();
    assert_eq!(Blob::parse(&buf, 1, 1, Some(0)).unwrap().step(), Some(7));
}

#[test]
fn read_into_a_slice_of_the_wrong_length() {
    let b = checkpoint();
    let blob = Blob::parse(&b, SIG, 3, Some(2)).unwrap();
    let mut p = [9.0f32; 4];
    assert_eq!(
        blob.read_payload(&mut p),
        Err(Error::LengthMismatch {
            expected: 3,
            found: 4
        })
    );
    assert_eq!(p, [9.0; 4]);
    assert_eq!(
        blob.read_state(&mut p[..1]),
        Err(Error::LengthMismatch {
            expected: 2,
            found: 1
        })
    );
}

fn parse(b: &[u8]) -> Result<Blob<'_>, Error> {
    Blob::parse(b, SIG, 3, Some(2))
}

#[test]
fn every_header_field_corrupted() {
    let good = checkpoint();
    let with = |at: usize, bytes: &[u8], reseal_crc: bool| {
        let mut b = good.clone();
        b[at..at + bytes.len()].copy_from_slice(bytes);
        if reseal_crc {
            reseal(&mut b);
        }
        b
    };
    for i in 0..4 {
        let mut b = good.clone();
        b[i] ^= 0x20;
        assert_eq!(parse(&b), Err(Error::BadMagic), "magic byte {i}");
    }
    assert_eq!(
        parse(&with(4, &2u16.to_le_bytes(), false)),
        Err(Error::UnsupportedVersion { found: 2 })
    );
    assert_eq!(
        parse(&with(4, &0u16.to_le_bytes(), false)),
        Err(Error::UnsupportedVersion { found: 0 })
    );
    assert_eq!(
        parse(&with(6, &[2], false)),
        Err(Error::WrongDtype {
            expected: Dtype::F32,
            found: Dtype::I8
        })
    );
    assert_eq!(
        parse(&with(6, &[Dtype::F64.code()], false)),
        Err(Error::WrongDtype {
            expected: Dtype::F32,
            found: Dtype::F64
        })
    );
    for code in [0u8, 23, 200, 255] {
        assert_eq!(
            parse(&with(6, &[code], false)),
            Err(Error::UnknownDtype { offset: 6 })
        );
    }
    for flags in [2u8, 3, 0x80] {
        assert_eq!(
            parse(&with(7, &[flags], false)),
            Err(Error::UnknownFlags { found: flags })
        );
    }
    // Checkpoint flag cleared: not a checkpoint; and as weights, its state is inconsistent.
    let cleared = with(7, &[0], true);
    assert_eq!(parse(&cleared), Err(Error::NotACheckpoint));
    assert_eq!(
        Blob::parse(&cleared, SIG, 3, None),
        Err(Error::StateLengthMismatch {
            expected: 0,
            found: 8
        })
    );
    for bit in 0..64 {
        let sig = SIG ^ (1 << bit);
        assert_eq!(
            parse(&with(8, &sig.to_le_bytes(), false)),
            Err(Error::SignatureMismatch {
                expected: SIG,
                found: sig
            }),
            "signature bit {bit}"
        );
    }
    for len in [0u32, 8, 13, 16, u32::MAX] {
        assert_eq!(
            parse(&with(16, &len.to_le_bytes(), false)),
            Err(Error::PayloadLengthMismatch {
                expected: 12,
                found: len as usize
            })
        );
    }
    for len in [0u32, 4, 9, 12, u32::MAX] {
        assert_eq!(
            parse(&with(20, &len.to_le_bytes(), false)),
            Err(Error::StateLengthMismatch {
                expected: 8,
                found: len as usize
            })
        );
    }
    // The step count is covered by the checksum only (any value is valid).
    assert!(matches!(
        parse(&with(24, &100u64.to_le_bytes(), false)),
        Err(Error::ChecksumMismatch { .. })
    ));
    // A weights-only blob must have a zero step count.
    let mut plain = save(&model(1));
    plain[24] = 1;
    reseal(&mut plain);
    assert_eq!(
        Blob::parse(&plain, SIG, N, None),
        Err(Error::MalformedHeader { offset: 24 })
    );
    // The stored checksum itself.
    let end = good.len() - 4;
    let stored = u32::from_le_bytes(good[end..].try_into().unwrap());
    for i in 0..4 {
        let mut b = good.clone();
        b[end + i] ^= 0x01;
        let found = u32::from_le_bytes(b[end..].try_into().unwrap());
        assert_eq!(
            parse(&b),
            Err(Error::ChecksumMismatch {
                expected: stored,
                found
            })
        );
    }
}

#[test]
fn parse_any_checks_lengths_are_whole_floats() {
    let good = checkpoint();
    assert!(Blob::parse_any(&good).is_ok());
    let mut b = good.clone();
    b[16..20].copy_from_slice(&13u32.to_le_bytes());
    assert_eq!(
        Blob::parse_any(&b),
        Err(Error::MalformedHeader { offset: 16 })
    );
    let mut b = good.clone();
    b[20..24].copy_from_slice(&7u32.to_le_bytes());
    assert_eq!(
        Blob::parse_any(&b),
        Err(Error::MalformedHeader { offset: 20 })
    );
}

#[test]
fn every_single_bit_flip_is_rejected() {
    for good in [checkpoint(), save(&model(3))] {
        let (n, state) = if good.len() == blob_len_f32(3, 2) {
            (3, Some(2))
        } else {
            (N, None)
        };
        assert!(Blob::parse(&good, SIG, n, state).is_ok());
        let mut rejected = 0;
        for byte in 0..good.len() {
            for bit in 0..8 {
                let mut b = good.clone();
                b[byte] ^= 1 << bit;
                let err = Blob::parse(&b, SIG, n, state).unwrap_err();
                if byte >= HEADER_LEN {
                    // Payload, state or checksum: only the CRC can tell.
                    assert!(
                        matches!(err, Error::ChecksumMismatch { .. }),
                        "{byte}.{bit}: {err:?}"
                    );
                }
                rejected += 1;
            }
        }
        assert_eq!(rejected, 8 * good.len());
    }
}

#[test]
fn truncated_at_every_length_and_trailing_bytes() {
    let good = checkpoint();
    for len in 0..good.len() {
        let expected = if len < HEADER_LEN {
            Error::Truncated {
                needed: 36,
                available: len,
            }
        } else {
            Error::Truncated {
                needed: good.len(),
                available: len,
            }
        };
        assert_eq!(
            Blob::parse(&good[..len], SIG, 3, Some(2)),
            Err(expected),
            "len {len}"
        );
        assert_eq!(Blob::parse_any(&good[..len]), Err(expected), "len {len}");
    }
    let mut long = good.clone();
    long.push(0);
    assert_eq!(
        Blob::parse(&long, SIG, 3, Some(2)),
        Err(Error::TrailingBytes {
            expected: good.len(),
            found: good.len() + 1
        })
    );
}

#[test]
fn another_models_blob_is_a_signature_mismatch_whatever_its_size() {
    // A different model (other signature, other size) stored in this model's buffer.
    let other_sig = mix_signature(SIGNATURE_SEED, 42);
    let mut small = vec![0u8; blob_len_f32(2, 0)];
    let mut enc = Encoder::new(&mut small, other_sig, 2).unwrap();
    enc.push(&[1.0, 2.0]);
    enc.finish().unwrap();
    assert_eq!(
        Blob::parse(&small, SIG, N, None),
        Err(Error::SignatureMismatch {
            expected: SIG,
            found: other_sig
        })
    );
    // Same signature, other parameter count (a bug in the signature scheme would show here).
    assert_eq!(
        Blob::parse(&save(&model(1)), SIG, N + 1, None),
        Err(Error::PayloadLengthMismatch {
            expected: 4 * (N + 1),
            found: 4 * N
        })
    );
}

#[test]
fn encoder_misuse() {
    let mut small = [0u8; 40];
    assert_eq!(
        Encoder::new(&mut small, SIG, 2).unwrap_err(),
        Error::BufferTooSmall {
            needed: 44,
            available: 40
        }
    );
    assert_eq!(small, [0; 40], "nothing written on error");
    assert_eq!(
        Encoder::checkpoint(&mut small, SIG, 1, 1, 0).unwrap_err(),
        Error::BufferTooSmall {
            needed: 44,
            available: 40
        }
    );
    #[cfg(target_pointer_width = "64")]
    assert_eq!(
        Encoder::new(&mut small, SIG, 1 << 30).unwrap_err(),
        Error::TooLarge {
            limit: u32::MAX as usize,
            found: 1 << 32
        }
    );
    // Too few, too many values.
    let mut buf = [0u8; blob_len_f32(3, 0)];
    let mut enc = Encoder::new(&mut buf, SIG, 3).unwrap();
    enc.push(&[1.0, 2.0]);
    assert_eq!(enc.pushed(), 2);
    assert_eq!(
        enc.finish(),
        Err(Error::LengthMismatch {
            expected: 3,
            found: 2
        })
    );
    assert!(
        Blob::parse(&buf, SIG, 3, None).is_err(),
        "an unfinished blob does not parse"
    );
    let mut enc = Encoder::new(&mut buf, SIG, 3).unwrap();
    enc.push(&[1.0, 2.0]);
    enc.push(&[3.0, 4.0]);
    assert_eq!(
        enc.finish(),
        Err(Error::LengthMismatch {
            expected: 3,
            found: 4
        })
    );
    // A buffer longer than the blob: only blob_len bytes are used.
    let mut big = [0xAAu8; 64];
    let mut enc = Encoder::new(&mut big, SIG, 1).unwrap();
    enc.push(&[1.0]);
    let n = enc.finish().unwrap();
    assert_eq!(n, blob_len_f32(1, 0));
    assert!(big[n..].iter().all(|&b| b == 0xAA));
    assert!(Blob::parse(&big[..n], SIG, 1, None).is_ok());
}

#[test]
fn signatures_separate_kinds_widths_and_order() {
    const fn layer(h: u64, kind: u64, a: u64, b: u64) -> u64 {
        mix_signature(mix_signature(mix_signature(h, kind), a), b)
    }
    let s = |spec: &[(u64, u64, u64)]| {
        spec.iter()
            .fold(SIGNATURE_SEED, |h, &(k, a, b)| layer(h, k, a, b))
    };
    let sigs = [
        s(&[(1, 64, 32), (2, 0, 0), (1, 32, 10)]),
        s(&[(1, 32, 64), (2, 0, 0), (1, 32, 10)]),
        s(&[(1, 64, 32), (1, 32, 10)]),
        s(&[(1, 64, 32), (1, 32, 10), (2, 0, 0)]),
        s(&[(1, 64, 16), (2, 0, 0), (1, 16, 10)]),
    ];
    for i in 0..sigs.len() {
        for j in 0..i {
            assert_ne!(sigs[i], sigs[j]);
        }
    }
    // FNV-1a 64 (the published algorithm, written out independently) of the value's LE bytes.
    let value = 0x0102_0304_0506_0708u64;
    let mut h: u64 = 0xcbf29ce484222325;
    for b in [8u8, 7, 6, 5, 4, 3, 2, 1] {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    assert_eq!(mix_signature(SIGNATURE_SEED, value), h);
}
