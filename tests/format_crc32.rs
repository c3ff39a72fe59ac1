//! CRC-32 against its published check value and Python's `zlib.crc32` (fixtures in
//! tests/data/formats, values in expected.json, written by make_format_fixtures.py).

use constnn::format::{Crc32, crc32};

const EXPECTED: &str = include_str!("data/formats/expected.json");

fn fixture(name: &str) -> &'static [u8] {
    match name {
        "bf16.safetensors" => include_bytes!("data/formats/bf16.safetensors"),
        "big_endian.npy" => include_bytes!("data/formats/big_endian.npy"),
        "escaped.safetensors" => include_bytes!("data/formats/escaped.safetensors"),
        "f16_1d.npy" => include_bytes!("data/formats/f16_1d.npy"),
        "f32_1d.npy" => include_bytes!("data/formats/f32_1d.npy"),
        "f32_2d.npy" => include_bytes!("data/formats/f32_2d.npy"),
        "f32_3d.npy" => include_bytes!("data/formats/f32_3d.npy"),
        "f32_empty.npy" => include_bytes!("data/formats/f32_empty.npy"),
        "f32_scalar.npy" => include_bytes!("data/formats/f32_scalar.npy"),
        "f64_1d.npy" => include_bytes!("data/formats/f64_1d.npy"),
        "fortran.npy" => include_bytes!("data/formats/fortran.npy"),
        "i32.npy" => include_bytes!("data/formats/i32.npy"),
        "mixed.safetensors" => include_bytes!("data/formats/mixed.safetensors"),
        "mlp.safetensors" => include_bytes!("data/formats/mlp.safetensors"),
        "v2.npy" => include_bytes!("data/formats/v2.npy"),
        "v3.npy" => include_bytes!("data/formats/v3.npy"),
        other => panic!("no fixture {other}"),
    }
}

#[test]
fn check_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
    const AT_COMPILE_TIME: u32 = crc32(b"123456789");
    assert_eq!(AT_COMPILE_TIME, 0xCBF4_3926);
}

#[test]
fn matches_zlib_on_strings_and_fixture_files() {
    let expected: serde_json::Value = serde_json::from_str(EXPECTED).unwrap();
    let strings = expected["crc32_strings"].as_object().unwrap();
    assert_eq!(strings.len(), 4);
    for (s, crc) in strings {
        assert_eq!(crc32(s.as_bytes()) as u64, crc.as_u64().unwrap(), "{s:?}");
    }
    let files = expected["crc32"].as_object().unwrap();
    assert_eq!(files.len(), 16);
    for (name, crc) in files {
        assert_eq!(crc32(fixture(name)) as u64, crc.as_u64().unwrap(), "{name}");
    }
}

#[test]
fn incremental_equals_one_shot_at_every_split() {
    let data = fixture("mixed.safetensors");
    let whole = crc32(data);
    for split in 0..=data.len() {
        let (a, b) = data.split_at(split);
        assert_eq!(
            Crc32::new().update(a).update(b).finish(),
            whole,
            "split {split}"
        );
    }
    // Many small pieces (exercising the byte-wise tail of every call).
    let mut c = Crc32::default();
    for piece in data.chunks(3) {
        c = c.update(piece);
    }
    assert_eq!(c.finish(), whole);
}
