//! The input mutator shared by the format tests (tests/format_mutation.rs,
//! tests/format_interop.rs, tests/format_quantized.rs); each uses a subset.
#![allow(dead_code)]

use constnn::XorShiftRng;
use constnn::format::safetensors::{TensorSpec, Writer, write_len};
use constnn::rand_core::Rng;

/// Bytes that matter to the parsers: JSON and Python-literal punctuation, digits, escapes,
/// whitespace, and extremes.
pub const INTERESTING: &[u8] =
    b"{}[]()\"':,. -+0123456789eETFnul\\/bfrtu\t\n\r\x00\x7f\x80\xc3\xed\xff";

/// A uniform index below `n` (modulo bias is irrelevant here).
pub fn below(rng: &mut XorShiftRng, n: usize) -> usize {
    (rng.next_u64() % n.max(1) as u64) as usize
}

/// One to four random edits of `seed`.
pub fn mutate(rng: &mut XorShiftRng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + below(rng, 4) {
        let len = b.len();
        match below(rng, 10) {
            0 if len > 0 => {
                let i = below(rng, len);
                b[i] ^= 1 << below(rng, 8);
            }
            1 if len > 0 => {
                let i = below(rng, len);
                b[i] = rng.next_u32() as u8;
            }
            2 | 3 if len > 0 => {
                let i = below(rng, len);
                b[i] = INTERESTING[below(rng, INTERESTING.len())];
            }
            4 => {
                let i = below(rng, len + 1);
                b.insert(i, INTERESTING[below(rng, INTERESTING.len())]);
            }
            5 if len > 0 => {
                b.remove(below(rng, len));
            }
            6 => b.truncate(below(rng, len + 1)),
            7 if len > 1 => {
                // Duplicate a chunk somewhere else (repeats keys, entries, digits).
                let start = below(rng, len);
                let end = (start + 1 + below(rng, 16)).min(len);
                let chunk = b[start..end].to_vec();
                let at = below(rng, len + 1);
                b.splice(at..at, chunk);
            }
            8 if len >= 4 => {
                // An aligned little-endian integer field set to an extreme.
                let i = below(rng, len - 3) & !3;
                let v: u32 = match below(rng, 5) {
                    0 => 0,
                    1 => 1,
                    2 => u32::MAX,
                    3 => len as u32,
                    _ => rng.next_u32(),
                };
                b[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            _ if len > 0 => {
                // A small change of a decimal digit or ASCII number.
                let i = below(rng, len);
                b[i] = b[i].wrapping_add(if rng.next_u32() & 1 == 0 { 1 } else { 255 });
            }
            _ => b.push(rng.next_u32() as u8),
        }
    }
    b
}

/// Valid safetensors files to mutate: the fixtures and one from constnn's writer.
pub fn safetensors_seeds() -> Vec<Vec<u8>> {
    let mut seeds = vec![
        include_bytes!("../data/formats/mlp.safetensors").to_vec(),
        include_bytes!("../data/formats/mixed.safetensors").to_vec(),
        include_bytes!("../data/formats/escaped.safetensors").to_vec(),
        include_bytes!("../data/formats/bf16.safetensors").to_vec(),
    ];
    let specs = [
        TensorSpec {
            name: "a\"b",
            shape: &[2, 1],
        },
        TensorSpec {
            name: "",
            shape: &[],
        },
        TensorSpec {
            name: "c",
            shape: &[0],
        },
    ];
    let meta = [("k", "v\u{1}"), ("format", "pt")];
    let mut buf = vec![0u8; write_len(&specs, &meta)];
    let mut w = Writer::new(&mut buf, &specs, &meta).unwrap();
    w.push(&[1.0, 2.0, 3.0]);
    w.finish().unwrap();
    seeds.push(buf);
    seeds
}

/// Valid `.npy` files to mutate: fixtures and one with an unusual (valid) header.
pub fn npy_seeds() -> Vec<Vec<u8>> {
    // Keys in another order, no spaces, double quotes: not numpy's layout, still valid.
    let header = b"{\"shape\":(2,),'fortran_order':False,'descr':'<f4'}\n";
    let mut odd = b"\x93NUMPY\x01\x00".to_vec();
    odd.extend_from_slice(&(header.len() as u16).to_le_bytes());
    odd.extend_from_slice(header);
    odd.extend_from_slice(&[0; 8]);
    vec![
        odd,
        include_bytes!("../data/formats/f32_2d.npy").to_vec(),
        include_bytes!("../data/formats/f32_scalar.npy").to_vec(),
        include_bytes!("../data/formats/f64_1d.npy").to_vec(),
        include_bytes!("../data/formats/v2.npy").to_vec(),
        include_bytes!("../data/formats/v3.npy").to_vec(),
        include_bytes!("../data/formats/i32.npy").to_vec(),
        include_bytes!("../data/formats/f32_empty.npy").to_vec(),
    ]
}
