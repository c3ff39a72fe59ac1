//! Bounded randomized mutation tests of the three loaders, on stable (the long runs are the
//! cargo-fuzz targets in fuzz/): 100 000 mutated inputs per loader from a seeded XorShift,
//! starting from valid files. No input may panic; every accepted input must satisfy the
//! format's invariants and survive a write-and-reparse round trip unchanged.

mod format_common;

use constnn::XorShiftRng;
use constnn::format::Dtype;
use constnn::format::container::{Blob, CRC_LEN, Encoder, blob_len, blob_len_f32};
use constnn::format::crc32;
use constnn::format::npy::{Npy, len_f32, write_f32};
use constnn::format::safetensors::{SafeTensors, TensorSpec, Writer, write_len};
use constnn::rand_core::SeedableRng;
use format_common::{mutate, npy_seeds, safetensors_seeds};

const RUNS: usize = 100_000;

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
        let mut again = vec![0u8; blob_len(blob.payload_bytes().len(), 4 * s)];
        let mut enc = match (blob.dtype(), blob.step()) {
            (Dtype::I8, _) => Encoder::new_i8(&mut again, blob.signature(), p).unwrap(),
            (_, Some(step)) => {
                Encoder::checkpoint(&mut again, blob.signature(), p, s, step).unwrap()
            }
            (_, None) => Encoder::new(&mut again, blob.signature(), p).unwrap(),
        };
        if blob.dtype() == Dtype::I8 {
            enc.push_bytes(blob.payload_bytes());
        } else {
            enc.push(&blob.payload().collect::<Vec<_>>());
            enc.push(&blob.state().collect::<Vec<_>>());
        }
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
