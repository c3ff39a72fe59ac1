//! Files for the official packages to read back: writes constnn's safetensors, `.npy` and
//! container files into `$CONSTNN_FORMAT_OUT` (a temporary directory when unset), then
//! checks them with constnn's own readers. CI then runs
//! `python3 tests/data/formats/make_format_fixtures.py --check "$CONSTNN_FORMAT_OUT"`, which
//! loads them with `safetensors.numpy.load_file` / `numpy.load` (and PyTorch's
//! `load_state_dict` when torch is installed) and compares every value bit for bit.
//!
//! The values follow `value(k)` on both sides (small multiples of 1/8, exact in `f32`).
//! `mutants/` holds mutated files constnn accepts, for the same readers to accept too.

use std::path::PathBuf;

use constnn::format::Dtype;
use constnn::format::container::{Blob, Encoder, blob_len_f32};
use constnn::format::npy::{Npy, len_f32, write_f32};
use constnn::format::safetensors::{SafeTensors, TensorSpec, Writer, write_len};
use constnn::rand_core::SeedableRng;
use constnn::{Linear, Params, Relu, XorShiftRng};

mod format_common;
use format_common::{mutate, npy_seeds, safetensors_seeds};

fn value(k: usize) -> f32 {
    ((k * 37 % 101) as f32 - 50.0) / 8.0
}

fn values(n: usize, base: usize) -> Vec<f32> {
    (0..n).map(|k| value(base + k)).collect()
}

const SPECIAL_BITS: [u32; 7] = [
    0,
    0x8000_0000,
    0x7F80_0000,
    0xFF80_0000,
    1,
    0x7F7F_FFFF,
    0x7FC0_0000,
];
const ODD_NAMES: [&str; 6] = [
    "quo\"te",
    "tab\tname",
    "back\\slash",
    "naïve",
    "emoji\u{1F600}",
    "ctrl\u{1}",
];

/// `$CONSTNN_FORMAT_OUT/sub` (kept), or a fresh temporary directory (removed by the test).
fn out_dir(sub: &str) -> PathBuf {
    let dir = match std::env::var_os("CONSTNN_FORMAT_OUT") {
        Some(d) => PathBuf::from(d).join(sub),
        None => std::env::temp_dir().join(format!("constnn-format-{}-{sub}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn keep() -> bool {
    std::env::var_os("CONSTNN_FORMAT_OUT").is_some()
}

#[test]
fn write_files_for_the_official_readers() {
    let dir = out_dir("");

    // nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)) as constnn's tuple.
    let mut model: (Linear<3, 4>, Relu, Linear<4, 2>) = (Linear::ZERO, Relu, Linear::ZERO);
    model
        .0
        .weight
        .as_flattened_mut()
        .copy_from_slice(&values(12, 0));
    model.0.bias.copy_from_slice(&values(4, 100));
    model
        .2
        .weight
        .as_flattened_mut()
        .copy_from_slice(&values(8, 200));
    model.2.bias.copy_from_slice(&values(2, 300));
    const SPECS: [TensorSpec; 4] = [
        TensorSpec {
            name: "0.weight",
            shape: &[4, 3],
        },
        TensorSpec {
            name: "0.bias",
            shape: &[4],
        },
        TensorSpec {
            name: "2.weight",
            shape: &[2, 4],
        },
        TensorSpec {
            name: "2.bias",
            shape: &[2],
        },
    ];
    const META: [(&str, &str); 1] = [("format", "pt")];
    let mut buf = [0u8; write_len(&SPECS, &META)];
    let mut w = Writer::new(&mut buf, &SPECS, &META).unwrap();
    w.push_transposed(model.0.weight.as_flattened(), 3, 4);
    w.push(&model.0.bias);
    w.push_transposed(model.2.weight.as_flattened(), 4, 2);
    w.push(&model.2.bias);
    w.finish().unwrap();
    std::fs::write(dir.join("constnn_mlp.safetensors"), buf).unwrap();
    let file = SafeTensors::<4>::parse(&buf).unwrap();
    let mut back: (Linear<3, 4>, Relu, Linear<4, 2>) = (Linear::ZERO, Relu, Linear::ZERO);
    file.get("0.weight")
        .unwrap()
        .read_f32_transposed(4, 3, back.0.weight.as_flattened_mut())
        .unwrap();
    file.get("0.bias")
        .unwrap()
        .read_f32(&mut back.0.bias)
        .unwrap();
    file.get("2.weight")
        .unwrap()
        .read_f32_transposed(2, 4, back.2.weight.as_flattened_mut())
        .unwrap();
    file.get("2.bias")
        .unwrap()
        .read_f32(&mut back.2.bias)
        .unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    model.visit(&mut |s: &[f32]| a.extend_from_slice(s));
    back.visit(&mut |s: &[f32]| b.extend_from_slice(s));
    assert_eq!(a, b);

    // Names that need JSON escapes.
    let shapes: Vec<[usize; 1]> = (0..ODD_NAMES.len()).map(|i| [i + 1]).collect();
    let specs: Vec<TensorSpec> = ODD_NAMES
        .iter()
        .zip(&shapes)
        .map(|(name, shape)| TensorSpec { name, shape })
        .collect();
    let mut buf = vec![0u8; write_len(&specs, &[])];
    let mut w = Writer::new(&mut buf, &specs, &[]).unwrap();
    for i in 0..ODD_NAMES.len() {
        w.push(&values(i + 1, 10 * i));
    }
    w.finish().unwrap();
    std::fs::write(dir.join("constnn_names.safetensors"), &buf).unwrap();
    let file = SafeTensors::<8>::parse(&buf).unwrap();
    for (i, name) in ODD_NAMES.iter().enumerate() {
        let mut v = vec![0.0; i + 1];
        file.get(name).unwrap().read_f32(&mut v).unwrap();
        assert_eq!(v, values(i + 1, 10 * i));
    }

    // .npy arrays of several ranks, and special values.
    for (name, shape) in [
        ("2d", &[3usize, 4][..]),
        ("1d", &[5]),
        ("scalar", &[]),
        ("empty", &[0, 3]),
        ("3d", &[2, 3, 2]),
    ] {
        let n = shape.iter().product();
        let mut buf = vec![0u8; len_f32(shape)];
        write_f32(&mut buf, shape, &values(n, 0)).unwrap();
        std::fs::write(dir.join(format!("constnn_{name}.npy")), &buf).unwrap();
        let npy = Npy::parse(&buf).unwrap();
        assert_eq!(npy.shape(), shape);
    }
    let specials = SPECIAL_BITS.map(f32::from_bits);
    let mut buf = [0u8; len_f32(&[7])];
    write_f32(&mut buf, &[7], &specials).unwrap();
    std::fs::write(dir.join("constnn_specials.npy"), buf).unwrap();
    let mut back = [0.0f32; 7];
    Npy::parse(&buf).unwrap().read_f32(&mut back).unwrap();
    assert_eq!(back.map(f32::to_bits), SPECIAL_BITS);

    // A container checkpoint: 5 parameters, 3 state values, step 12345.
    let mut buf = [0u8; blob_len_f32(5, 3)];
    let mut enc = Encoder::checkpoint(&mut buf, 0xC0FF_EE00, 5, 3, 12345).unwrap();
    enc.push(&values(5, 0));
    enc.push(&values(3, 1000));
    enc.finish().unwrap();
    std::fs::write(dir.join("constnn_checkpoint.cnnw"), buf).unwrap();
    let blob = Blob::parse(&buf, 0xC0FF_EE00, 5, Some(3)).unwrap();
    assert_eq!(blob.state().collect::<Vec<_>>(), values(3, 1000));

    if !keep() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// numpy's `dtype.str` of a dtype `.npy` files can hold.
fn numpy_descr(d: Dtype) -> &'static str {
    match d {
        Dtype::F32 => "<f4",
        Dtype::F64 => "<f8",
        Dtype::F16 => "<f2",
        Dtype::I8 => "|i1",
        Dtype::U8 => "|u1",
        Dtype::Bool => "|b1",
        Dtype::I16 => "<i2",
        Dtype::U16 => "<u2",
        Dtype::I32 => "<i4",
        Dtype::U32 => "<u4",
        Dtype::I64 => "<i8",
        Dtype::U64 => "<u8",
        Dtype::C64 => "<c8",
        other => panic!("no .npy dtype {other:?}"),
    }
}

/// Mutated files that constnn's readers accept, with what constnn read from each, for the
/// `--check` script: the official readers must accept every one and read the same names,
/// dtypes and shapes (constnn may refuse files they accept, never the reverse).
#[test]
fn write_accepted_mutants_for_the_official_readers() {
    const MUTANTS: usize = 50_000;
    let dir = out_dir("mutants");
    let mut rng = XorShiftRng::seed_from_u64(0x1A7E_2024);
    let mut manifest = Vec::new();
    let seeds = npy_seeds();
    for i in 0..MUTANTS {
        let m = mutate(&mut rng, &seeds[i % seeds.len()]);
        if let Ok(npy) = Npy::parse(&m) {
            let file = format!("npy_{i}.npy");
            std::fs::write(dir.join(&file), &m).unwrap();
            manifest.push(serde_json::json!({
                "file": file,
                "dtype": numpy_descr(npy.dtype()),
                "shape": npy.shape(),
            }));
        }
    }
    let seeds = safetensors_seeds();
    for i in 0..MUTANTS {
        let m = mutate(&mut rng, &seeds[i % seeds.len()]);
        if let Ok(st) = SafeTensors::<16>::parse(&m) {
            let file = format!("st_{i}.safetensors");
            std::fs::write(dir.join(&file), &m).unwrap();
            let tensors: Vec<_> = st
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "name": t.name().chars().collect::<String>(),
                        "dtype": t.dtype().safetensors_name(),
                        "shape": t.shape(),
                    })
                })
                .collect();
            let metadata: serde_json::Map<String, serde_json::Value> = st
                .metadata_iter()
                .map(|(k, v)| (k.chars().collect(), v.chars().collect::<String>().into()))
                .collect();
            manifest.push(serde_json::json!({
                "file": file,
                "tensors": tensors,
                "metadata": metadata,
            }));
        }
    }
    let npys = manifest
        .iter()
        .filter(|e| e.get("tensors").is_none())
        .count();
    assert!(
        npys > 500 && manifest.len() - npys > 500,
        "{npys} npy, {} total",
        manifest.len()
    );
    std::fs::write(
        dir.join("mutants.json"),
        serde_json::to_string(&manifest).unwrap(),
    )
    .unwrap();
    if !keep() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
