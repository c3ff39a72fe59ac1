//! The `.npy` reader and writer: files written by `numpy.save` and
//! `numpy.lib.format.write_array` (tests/data/formats, see make_format_fixtures.py), the
//! writer's bytes against numpy's, and every malformed header asserted as its own error.

use constnn::Error;
use constnn::format::Dtype;
use constnn::format::npy::{MAX_HEADER_LEN, Npy, len_f32, write_f32};

const EXPECTED: &str = include_str!("data/formats/expected.json");

fn fixture(name: &str) -> &'static [u8] {
    match name {
        "f32_2d" => include_bytes!("data/formats/f32_2d.npy"),
        "f32_1d" => include_bytes!("data/formats/f32_1d.npy"),
        "f32_3d" => include_bytes!("data/formats/f32_3d.npy"),
        "f32_scalar" => include_bytes!("data/formats/f32_scalar.npy"),
        "f32_empty" => include_bytes!("data/formats/f32_empty.npy"),
        "f64_1d" => include_bytes!("data/formats/f64_1d.npy"),
        "f16_1d" => include_bytes!("data/formats/f16_1d.npy"),
        "i32" => include_bytes!("data/formats/i32.npy"),
        "v2" => include_bytes!("data/formats/v2.npy"),
        "v3" => include_bytes!("data/formats/v3.npy"),
        "fortran" => include_bytes!("data/formats/fortran.npy"),
        "big_endian" => include_bytes!("data/formats/big_endian.npy"),
        other => panic!("no fixture {other}"),
    }
}

fn json() -> serde_json::Value {
    serde_json::from_str(EXPECTED).unwrap()
}

fn expected(name: &str) -> (Vec<usize>, Vec<f64>) {
    let all = json();
    let e = &all[format!("npy/{name}")];
    let shape = e["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize);
    let values = e["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap());
    (shape.collect(), values.collect())
}

fn read(npy: &Npy<'_>) -> Vec<f32> {
    let mut out = vec![0.0; npy.elements()];
    npy.read_f32(&mut out).unwrap();
    out
}

#[test]
fn reads_what_numpy_writes() {
    for (name, dtype, version) in [
        ("f32_2d", Dtype::F32, (1, 0)),
        ("f32_1d", Dtype::F32, (1, 0)),
        ("f32_3d", Dtype::F32, (1, 0)),
        ("f32_scalar", Dtype::F32, (1, 0)),
        ("f32_empty", Dtype::F32, (1, 0)),
        ("f64_1d", Dtype::F64, (1, 0)),
        ("f16_1d", Dtype::F16, (1, 0)),
        ("v2", Dtype::F32, (2, 0)),
        ("v3", Dtype::F32, (3, 0)),
    ] {
        let npy = Npy::parse(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (shape, values) = expected(name);
        assert_eq!(npy.shape(), &shape[..], "{name}");
        assert_eq!((npy.dtype(), npy.version()), (dtype, version), "{name}");
        let want: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        assert_eq!(read(&npy), want, "{name}");
        assert_eq!(npy.expect_shape(&shape), Ok(()));
    }
    let scalar = Npy::parse(fixture("f32_scalar")).unwrap();
    assert_eq!((scalar.shape(), scalar.elements()), (&[][..], 1));
    let i32s = Npy::parse(fixture("i32")).unwrap();
    assert_eq!(i32s.dtype(), Dtype::I32);
    assert_eq!(
        i32s.data(),
        [1i32, 2, 3, 4].map(i32::to_le_bytes).as_flattened()
    );
    assert_eq!(
        i32s.read_f32(&mut [0.0; 4]),
        Err(Error::WrongDtype {
            expected: Dtype::F32,
            found: Dtype::I32
        })
    );
    let m = Npy::parse(fixture("f32_2d")).unwrap();
    let (_, v) = expected("f32_2d");
    let mut t = [0.0f32; 12];
    m.read_f32_transposed(3, 4, &mut t).unwrap();
    for r in 0..3 {
        for c in 0..4 {
            assert_eq!(t[c * 3 + r], v[r * 4 + c] as f32);
        }
    }
    assert_eq!(
        m.read_f32(&mut t[..11]),
        Err(Error::LengthMismatch {
            expected: 12,
            found: 11
        })
    );
    assert_eq!(
        m.expect_shape(&[3, 5]),
        Err(Error::ShapeMismatch {
            axis: 1,
            expected: 5,
            found: 4
        })
    );
}

#[test]
fn rejects_fortran_order_and_big_endian() {
    assert_eq!(
        Npy::parse(fixture("fortran")).unwrap_err(),
        Error::FortranOrder
    );
    let be = fixture("big_endian");
    let at = be.windows(5).position(|w| w == b"'>f4'").unwrap();
    assert_eq!(
        Npy::parse(be).unwrap_err(),
        Error::UnknownDtype { offset: at }
    );
}

#[test]
fn writer_reproduces_numpy_save() {
    for name in [
        "f32_2d",
        "f32_1d",
        "f32_3d",
        "f32_scalar",
        "f32_empty",
        "v2",
    ] {
        let npy = Npy::parse(fixture(name)).unwrap();
        let values = read(&npy);
        let mut buf = vec![0u8; len_f32(npy.shape())];
        let n = write_f32(&mut buf, npy.shape(), &values).unwrap();
        assert_eq!(n, buf.len());
        if name == "v2" {
            // Same array, written as version 1.0: only the preamble differs.
            assert_eq!(&buf[..8], b"\x93NUMPY\x01\x00");
            assert_eq!(Npy::parse(&buf).unwrap().data(), npy.data());
        } else {
            assert_eq!(buf, fixture(name), "{name}: byte-identical to numpy.save");
        }
    }
}

#[test]
fn writer_headers_match_numpy_for_many_shapes() {
    let all = json();
    let headers = all["npy_headers"].as_array().unwrap();
    assert_eq!(headers.len(), 13);
    for h in headers {
        let Some(shape) = h["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| usize::try_from(d.as_u64().unwrap()).ok())
            .collect::<Option<Vec<usize>>>()
        else {
            continue; // a dimension beyond this target's usize
        };
        // The header is latin-1 text in the JSON: one char per byte.
        let want: Vec<u8> = h["header"]
            .as_str()
            .unwrap()
            .chars()
            .map(|c| c as u8)
            .collect();
        let elements: usize = shape.iter().product();
        let values = vec![0.5f32; elements];
        let mut buf = vec![0u8; len_f32(&shape)];
        write_f32(&mut buf, &shape, &values).unwrap();
        assert_eq!(&buf[..want.len()], &want[..], "{shape:?}");
        assert_eq!(buf.len(), want.len() + 4 * elements);
        assert_eq!(want.len() % 64, 0);
        let back = Npy::parse(&buf).unwrap();
        assert_eq!(back.shape(), &shape[..]);
    }
}

#[test]
fn writer_misuse() {
    let mut buf = [0u8; 256];
    assert_eq!(
        write_f32(&mut buf, &[2, 2], &[1.0; 3]),
        Err(Error::LengthMismatch {
            expected: 4,
            found: 3
        })
    );
    assert_eq!(
        write_f32(&mut buf, &[usize::MAX, 2], &[]),
        Err(Error::ShapeOverflow { offset: 0 })
    );
    // Empty, but beyond numpy's size limit: refused like numpy refuses it.
    assert_eq!(
        write_f32(&mut buf, &[0, isize::MAX as usize / 2], &[]),
        Err(Error::ShapeOverflow { offset: 0 })
    );
    assert!(write_f32(&mut [0u8; 256], &[0, isize::MAX as usize / 4], &[]).is_ok());
    assert_eq!(
        write_f32(&mut buf[..130], &[2], &[1.0; 2]),
        Err(Error::BufferTooSmall {
            needed: 136,
            available: 130
        })
    );
    assert!(buf.iter().all(|&b| b == 0), "nothing written on error");
    let many = vec![0usize; 30_000];
    assert!(matches!(
        write_f32(&mut buf, &many, &[]),
        Err(Error::TooLarge { limit: 65535, .. })
    ));
    const LEN: usize = len_f32(&[3, 4]);
    assert_eq!(LEN, 128 + 48);
}

/// A version-1.0 file with this header text (not padded) and `data` zero bytes.
fn npy(header: &str, data: usize) -> Vec<u8> {
    let mut f = b"\x93NUMPY\x01\x00".to_vec();
    f.extend_from_slice(&(header.len() as u16).to_le_bytes());
    f.extend_from_slice(header.as_bytes());
    f.resize(f.len() + data, 0);
    f
}

fn err(header: &str, data: usize) -> Error {
    Npy::parse(&npy(header, data)).unwrap_err()
}

fn at(header: &str, needle: &str) -> usize {
    10 + header
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in {header}"))
}

#[test]
fn accepts_the_valid_variations() {
    for (h, data) in [
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
            12,
        ),
        (
            "{'shape': (3,), 'descr': '<f4', 'fortran_order': False}",
            12,
        ),
        (
            "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3,)}\n",
            12,
        ),
        ("{'descr':'<f8','fortran_order':False,'shape':(2,2)}", 32),
        (
            "  {'descr': '<f4', 'fortran_order': False, 'shape': ( 1 , 2 , ), }\t \n",
            8,
        ),
        (
            "\t{'descr':\n '<f4',\r\n\t'fortran_order': False,\x0c'shape': (2,)\n}",
            8,
        ),
        ("{'descr': '|u1', 'fortran_order': False, 'shape': ()}", 1),
        (
            "{'descr': '<f2', 'fortran_order': False, 'shape': (0, 5)}",
            0,
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1)}",
            4,
        ),
    ] {
        assert!(Npy::parse(&npy(h, data)).is_ok(), "{h}");
    }
}

#[test]
fn preamble_errors() {
    let good = fixture("f32_2d");
    assert_eq!(
        Npy::parse(b"").unwrap_err(),
        Error::Truncated {
            needed: 10,
            available: 0
        }
    );
    for i in 0..6 {
        let mut b = good.to_vec();
        b[i] ^= 0x01;
        assert_eq!(
            Npy::parse(&b).unwrap_err(),
            Error::BadMagic,
            "magic byte {i}"
        );
    }
    assert_eq!(Npy::parse(b"PK\x03\x04").unwrap_err(), Error::BadMagic);
    for (major, minor) in [(0u8, 0u8), (1, 1), (2, 1), (4, 0), (255, 255)] {
        let mut b = good.to_vec();
        b[6] = major;
        b[7] = minor;
        assert_eq!(
            Npy::parse(&b).unwrap_err(),
            Error::UnsupportedVersion {
                found: major as u16 * 256 + minor as u16
            }
        );
    }
    // The header length beyond the file, and beyond numpy's limit, for 1.0 (u16) and 2.0 (u32).
    let mut b = good.to_vec();
    b[8..10].copy_from_slice(&10_000u16.to_le_bytes());
    assert_eq!(
        Npy::parse(&b).unwrap_err(),
        Error::Truncated {
            needed: 10_010,
            available: good.len()
        }
    );
    b[8..10].copy_from_slice(&10_001u16.to_le_bytes());
    assert_eq!(
        Npy::parse(&b).unwrap_err(),
        Error::TooLarge {
            limit: MAX_HEADER_LEN,
            found: 10_001
        }
    );
    b[8..10].copy_from_slice(&0xFFFFu16.to_le_bytes());
    assert_eq!(
        Npy::parse(&b).unwrap_err(),
        Error::TooLarge {
            limit: MAX_HEADER_LEN,
            found: 0xFFFF
        }
    );
    let v2 = fixture("v2");
    let mut b = v2.to_vec();
    b[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        Npy::parse(&b).unwrap_err(),
        Error::TooLarge {
            limit: MAX_HEADER_LEN,
            found: u32::MAX as usize
        }
    );
}

#[test]
fn truncated_at_every_length_and_trailing_bytes() {
    for name in ["f32_2d", "v2", "v3"] {
        let good = fixture(name);
        let header_start = if name == "f32_2d" { 10 } else { 12 };
        let header_end = header_start
            + if name == "f32_2d" {
                u16::from_le_bytes([good[8], good[9]]) as usize
            } else {
                u32::from_le_bytes(good[8..12].try_into().unwrap()) as usize
            };
        for len in 0..good.len() {
            let needed = if len < 8 {
                10
            } else if len < header_start {
                header_start
            } else if len < header_end {
                header_end
            } else {
                good.len()
            };
            assert_eq!(
                Npy::parse(&good[..len]).unwrap_err(),
                Error::Truncated {
                    needed,
                    available: len
                },
                "{name} len {len}"
            );
        }
        let mut long = good.to_vec();
        long.push(0);
        assert_eq!(
            Npy::parse(&long).unwrap_err(),
            Error::TrailingBytes {
                expected: good.len(),
                found: good.len() + 1
            }
        );
    }
}

#[test]
fn header_syntax_errors() {
    let cases = [
        ("", 10),
        ("   ", 13),
        ("{", 11),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } x",
            10 + 58,
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}}",
            10 + 55,
        ),
        (
            "{'descr': '<f4' 'fortran_order': False, 'shape': (3,)}",
            10 + 16,
        ),
        (
            "{'descr' '<f4', 'fortran_order': False, 'shape': (3,)}",
            10 + 9,
        ),
        (
            "{'descr': '<f4', , 'fortran_order': False, 'shape': (3,)}",
            10 + 17,
        ),
        ("{,}", 11),
        ("{descr: '<f4'}", 11),
        ("{'descr: '<f4'}", 10 + 10),
        (
            "{'descr': '<f4\\x', 'fortran_order': False, 'shape': (3,)}",
            10 + 14,
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3 4)}",
            10 + 53,
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,,)}",
            10 + 53,
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (03,)}",
            10 + 52,
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1_0,)}",
            10 + 52,
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3L,)}",
            10 + 52,
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)",
            10 + 54,
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} # comment",
            10 + 56,
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}\0",
            10 + 55,
        ),
        ("{'desc\u{e9}r': 1}", 10 + 6),
        // Whitespace Python's tokenizer refuses around the dict: an indented first or last line.
        (
            "\n{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}",
            10,
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}\n ",
            10 + 56,
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}   \n    \n",
            10 + 59,
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}\n\t",
            10 + 56,
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}\r",
            10 + 55,
        ),
    ];
    for (h, offset) in cases {
        assert_eq!(err(h, 12), Error::MalformedHeader { offset }, "{h:?}");
    }
}

#[test]
fn header_value_errors() {
    let dict = |descr: &str, fortran: &str, shape: &str| {
        format!("{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}}}")
    };
    for (h, needle) in [
        (dict("'<f4'", "False", "(3)"), "(3)"),
        (dict("'<f4'", "False", "[3]"), "[3]"),
        (dict("'<f4'", "False", "3"), "3}"),
        (dict("'<f4'", "False", "'3'"), "'3'"),
        (dict("'<f4'", "False", "(-1,)"), "-1"),
        (dict("'<f4'", "False", "(3.0,)"), "3.0"),
        (dict("'<f4'", "False", "(3e0,)"), "3e0"),
        (dict("'<f4'", "False", "(3j,)"), "3j"),
        (dict("'<f4'", "False", "((3,),)"), "(3,),"),
        (dict("'<f4'", "0", "(3,)"), "0,"),
        (dict("'<f4'", "'False'", "(3,)"), "'False'"),
        (dict("'<f4'", "None", "(3,)"), "None"),
        (dict("'<f4'", "false", "(3,)"), "false"),
        (dict("4", "False", "(3,)"), "4,"),
        (dict("('<f4',)", "False", "(3,)"), "('<f4',)"),
        (dict("[('a', '<f4')]", "False", "(3,)"), "[("),
        ("'descr'".to_string(), "'descr'"),
        ("[]".to_string(), "[]"),
    ] {
        assert_eq!(
            err(&h, 12),
            Error::WrongType {
                offset: at(&h, needle)
            },
            "{h}"
        );
    }
    for bad in [
        "'<f16'", "'>f4'", "'=f4'", "'f4'", "'<U3'", "'|O'", "'<M8[s]'", "''",
    ] {
        let h = dict(bad, "False", "(3,)");
        assert_eq!(
            err(&h, 12),
            Error::UnknownDtype {
                offset: at(&h, bad)
            },
            "{bad}"
        );
    }
    let h = dict("'<f4'", "True", "(3,)");
    assert_eq!(err(&h, 12), Error::FortranOrder);
    let h = dict("'<f4'", "False", "(99999999999999999999999,)");
    assert_eq!(
        err(&h, 0),
        Error::NumberOverflow {
            offset: at(&h, "999")
        }
    );
    let h = dict("'<f4'", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 1)");
    assert_eq!(err(&h, 4), Error::TooManyDims { capacity: 8 });
    if usize::BITS == 64 {
        let h = dict("'<f4'", "False", "(4294967296, 4294967296)");
        assert_eq!(err(&h, 0), Error::ShapeOverflow { offset: 10 });
        // Empty, but numpy still refuses the size of the non-zero dimensions.
        let h = dict("'<f4'", "False", "(0, 4611686018427387904)");
        assert_eq!(err(&h, 0), Error::ShapeOverflow { offset: 10 });
        let h = dict("'<f4'", "False", "(2305843009213693951, 0)");
        assert!(Npy::parse(&npy(&h, 0)).is_ok());
        let h = dict("'<f8'", "False", "(4611686018427387904,)");
        assert_eq!(err(&h, 0), Error::ShapeOverflow { offset: 10 });
    }
    let h = dict("'<f4'", "False", "(3,)");
    assert_eq!(
        err(&h, 8),
        Error::Truncated {
            needed: 10 + h.len() + 12,
            available: 10 + h.len() + 8
        }
    );
}

#[test]
fn header_key_errors() {
    let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'descr': '<f4'}";
    assert_eq!(
        err(h, 12),
        Error::DuplicateKey {
            offset: 10 + h.rfind("'descr'").unwrap()
        }
    );
    let h = "{'descr': '<f4', 'fortran_order': False, 'fortran_order': False, 'shape': (3,)}";
    assert_eq!(
        err(h, 12),
        Error::DuplicateKey {
            offset: 10 + h.rfind("'fortran").unwrap()
        }
    );
    let h = "{'shape': (3,), 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}";
    assert_eq!(
        err(h, 12),
        Error::DuplicateKey {
            offset: 10 + h.rfind("'shape'").unwrap()
        }
    );
    let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}";
    assert_eq!(
        err(h, 12),
        Error::UnknownField {
            offset: at(h, "'extra'")
        }
    );
    let h = "{'Descr': '<f4'}";
    assert_eq!(err(h, 12), Error::UnknownField { offset: 11 });
    for h in [
        "{}",
        "{'fortran_order': False, 'shape': (3,)}",
        "{'descr': '<f4', 'shape': (3,)}",
        "{'descr': '<f4', 'fortran_order': False}",
        "  {'descr': '<f4', 'fortran_order': False}",
    ] {
        assert_eq!(err(h, 12), Error::MissingField { offset: 10 }, "{h}");
    }
}

#[test]
fn every_header_byte_changed_is_handled() {
    let good = fixture("f32_2d");
    let header_end = 10 + u16::from_le_bytes([good[8], good[9]]) as usize;
    let mut accepted = 0;
    for i in 10..header_end {
        for &b in b"{}()[]':, 0123456789-.eTF\\\n\x00\xff" {
            let mut f = good.to_vec();
            f[i] = b;
            if let Ok(npy) = Npy::parse(&f) {
                accepted += 1;
                let size = npy.elements() * npy.dtype().bits() / 8;
                assert_eq!(npy.data().len(), size);
                assert_eq!(header_end + size, f.len());
            }
        }
    }
    assert!(accepted > 0);
}
