//! Bounded randomized mutation tests of the three loaders, on stable (the long runs are the
//! cargo-fuzz targets in fuzz/): 100 000 mutated inputs per loader from a seeded XorShift,
//! starting from valid files. No input may panic; every accepted input must satisfy the
//! format's invariants and survive a write-and-reparse round trip unchanged.

use constnn::XorShiftRng;
use constnn::format::Dtype;
use constnn::format::container::{Blob, CRC_LEN, Encoder, blob_len_f32};
use constnn::format::crc32;
use constnn::format::npy::{Npy, len_f32, write_f32};
use constnn::format::safetensors::{SafeTensors, TensorSpec, Writer, write_len};
use constnn::rand_core::{Rng, SeedableRng};

const RUNS: usize = 100_000;

/// Bytes that matter to the parsers: JSON and Python-literal punctuation, digits, escapes,
/// whitespace, and extremes.
const INTERESTING: &[u8] =
    b"{}[]()\"':,. -+0123456789eETFnul\\/bfrtu\t\n\r\x00\x7f\x80\xc3\xed\xff";

fn below(rng: &mut XorShiftRng, n: usize) -> usize {
    (rng.next_u64() % n.max(1) as u64) as usize
}

/// One to four random edits of `seed`.
fn mutate(rng: &mut XorShiftRng, seed: &[u8]) -> Vec<u8> {
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

fn container_seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for (p, s, cp) in [
        (0usize, 0usize, false),
        (3, 0, false),
        (5, 3, true),
        (1, 0, true),
        (16, 8, true),
    ] {
        let mut buf = vec![0u8; blob_len_f32(p, s)];
        let mut enc = if cp {
            Encoder::checkpoint(&mut buf, 0xABCD, p, s, 77).unwrap()
        } else {
            Encoder::new(&mut buf, 0xABCD, p).unwrap()
        };
        let v: Vec<f32> = (0..p + s).map(|k| k as f32 * 0.5 - 1.0).collect();
        enc.push(&v);
        enc.finish().unwrap();
        seeds.push(buf);
    }
    seeds
}

#[test]
fn container_mutations() {
    let seeds = container_seeds();
    let mut rng = XorShiftRng::seed_from_u64(0xC0_47A1);
    let mut accepted = 0;
    for run in 0..RUNS {
        let mut m = mutate(&mut rng, &seeds[run % seeds.len()]);
        // Half the time, fix the checksum so the header checks are what decides.
        if run % 2 == 0 && m.len() >= CRC_LEN {
            let end = m.len() - CRC_LEN;
            let crc = crc32(&m[..end]);
            m[end..].copy_from_slice(&crc.to_le_bytes());
        }
        let strict = Blob::parse(&m, 0xABCD, 5, Some(3));
        let Ok(blob) = Blob::parse_any(&m) else {
            assert!(strict.is_err());
            continue;
        };
        accepted += 1;
        // Accepted: re-encoding its contents gives the same bytes.
        let (p, s) = (blob.payload_len(), blob.state_len());
        let mut again = vec![0u8; blob_len_f32(p, s)];
        let mut enc = match blob.step() {
            Some(step) => Encoder::checkpoint(&mut again, blob.signature(), p, s, step).unwrap(),
            None => Encoder::new(&mut again, blob.signature(), p).unwrap(),
        };
        enc.push(&blob.payload().collect::<Vec<_>>());
        enc.push(&blob.state().collect::<Vec<_>>());
        assert_eq!(enc.finish().unwrap(), m.len());
        assert_eq!(again, m, "run {run}");
        if let Ok(b) = strict {
            assert_eq!(
                (b.signature(), b.payload_len(), b.state_len()),
                (0xABCD, 5, 3)
            );
        }
    }
    eprintln!("container: {RUNS} mutated, {accepted} accepted and re-encoded identically");
    assert!(
        accepted > 1000,
        "the mutator reaches accepted blobs ({accepted})"
    );
}

fn safetensors_seeds() -> Vec<Vec<u8>> {
    let mut seeds = vec![
        include_bytes!("data/formats/mlp.safetensors").to_vec(),
        include_bytes!("data/formats/mixed.safetensors").to_vec(),
        include_bytes!("data/formats/escaped.safetensors").to_vec(),
        include_bytes!("data/formats/bf16.safetensors").to_vec(),
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

#[test]
fn safetensors_mutations() {
    let seeds = safetensors_seeds();
    let mut rng = XorShiftRng::seed_from_u64(0x5AFE);
    let (mut accepted, mut rewritten) = (0, 0);
    for run in 0..RUNS {
        let m = mutate(&mut rng, &seeds[run % seeds.len()]);
        let Ok(file) = SafeTensors::<16>::parse(&m) else {
            continue;
        };
        accepted += 1;
        // The data tiles the file; every tensor is found by its (decoded) name.
        let mut end = 0;
        let mut names = Vec::new();
        let mut shapes = Vec::new();
        let mut all_f32 = true;
        for t in file.iter() {
            assert_eq!(t.data_offsets().0, end);
            end = t.data_offsets().1;
            assert_eq!(t.data().len() * 8, t.elements() * t.dtype().bits());
            let name: String = t.name().chars().collect();
            assert_eq!(file.get(&name).unwrap().data_offsets(), t.data_offsets());
            if t.dtype().reads_as_f32() {
                let mut v = vec![0.0; t.elements()];
                t.read_f32(&mut v).unwrap();
            }
            all_f32 &= t.dtype() == Dtype::F32;
            names.push(name);
            shapes.push(t.shape().to_vec());
        }
        assert_eq!(file.data_start() + end, m.len());
        if !all_f32 {
            continue;
        }
        // All F32: write it back with constnn's writer and compare.
        let meta: Vec<(String, String)> = file
            .metadata_iter()
            .map(|(k, v)| (k.chars().collect(), v.chars().collect()))
            .collect();
        let meta_refs: Vec<(&str, &str)> =
            meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let specs: Vec<TensorSpec> = names
            .iter()
            .zip(&shapes)
            .map(|(name, shape)| TensorSpec { name, shape })
            .collect();
        let mut out = vec![0u8; write_len(&specs, &meta_refs)];
        let mut w = Writer::new(&mut out, &specs, &meta_refs).unwrap();
        for t in file.iter() {
            let mut v = vec![0.0; t.elements()];
            t.read_f32(&mut v).unwrap();
            w.push(&v);
        }
        w.finish().unwrap();
        let again = SafeTensors::<16>::parse(&out).unwrap();
        assert_eq!(again.len(), file.len());
        for t in file.iter() {
            let name: String = t.name().chars().collect();
            let u = again.get(&name).unwrap();
            assert_eq!((u.shape(), u.data()), (t.shape(), t.data()), "run {run}");
        }
        for (k, v) in &meta {
            assert!(again.metadata(k).unwrap() == v.as_str());
        }
        rewritten += 1;
    }
    eprintln!(
        "safetensors: {RUNS} mutated, {accepted} accepted, {rewritten} rewritten identically"
    );
    assert!(
        accepted > 1000 && rewritten > 100,
        "accepted {accepted}, rewritten {rewritten}"
    );
}

fn npy_seeds() -> Vec<Vec<u8>> {
    // Keys in another order, no spaces, double quotes: not numpy's layout, still valid.
    let header = b"{\"shape\":(2,),'fortran_order':False,'descr':'<f4'}\n";
    let mut odd = b"\x93NUMPY\x01\x00".to_vec();
    odd.extend_from_slice(&(header.len() as u16).to_le_bytes());
    odd.extend_from_slice(header);
    odd.extend_from_slice(&[0; 8]);
    vec![
        odd,
        include_bytes!("data/formats/f32_2d.npy").to_vec(),
        include_bytes!("data/formats/f32_scalar.npy").to_vec(),
        include_bytes!("data/formats/f64_1d.npy").to_vec(),
        include_bytes!("data/formats/v2.npy").to_vec(),
        include_bytes!("data/formats/v3.npy").to_vec(),
        include_bytes!("data/formats/i32.npy").to_vec(),
        include_bytes!("data/formats/f32_empty.npy").to_vec(),
    ]
}

#[test]
fn npy_mutations() {
    let seeds = npy_seeds();
    assert!(seeds.iter().all(|s| Npy::parse(s).is_ok()));
    let mut rng = XorShiftRng::seed_from_u64(0x0_9E7);
    let (mut accepted, mut rewritten) = (0, 0);
    for run in 0..RUNS {
        let m = mutate(&mut rng, &seeds[run % seeds.len()]);
        let Ok(npy) = Npy::parse(&m) else {
            continue;
        };
        accepted += 1;
        let size = npy.elements() * npy.dtype().bits() / 8;
        assert_eq!(npy.data().len(), size);
        assert!(m.ends_with(npy.data()));
        if npy.dtype().reads_as_f32() {
            let mut v = vec![0.0; npy.elements()];
            npy.read_f32(&mut v).unwrap();
            if npy.dtype() == Dtype::F32 {
                let mut out = vec![0u8; len_f32(npy.shape())];
                write_f32(&mut out, npy.shape(), &v).unwrap();
                let again = Npy::parse(&out).unwrap();
                assert_eq!(
                    (again.shape(), again.data()),
                    (npy.shape(), npy.data()),
                    "run {run}"
                );
                rewritten += 1;
            }
        }
    }
    eprintln!("npy: {RUNS} mutated, {accepted} accepted, {rewritten} rewritten identically");
    assert!(
        accepted > 1000 && rewritten > 100,
        "accepted {accepted}, rewritten {rewritten}"
    );
}
