//! The safetensors reader and writer: files written by the official `safetensors` package
//! (tests/data/formats, see make_format_fixtures.py), the writer's bytes against the reference
//! writer's, and every malformed header asserted as its own error.

use constnn::Error;
use constnn::format::Dtype;
use constnn::format::safetensors::{MAX_HEADER_LEN, SafeTensors, TensorSpec, Writer, write_len};

const MLP: &[u8] = include_bytes!("data/formats/mlp.safetensors");
const MIXED: &[u8] = include_bytes!("data/formats/mixed.safetensors");
const ESCAPED: &[u8] = include_bytes!("data/formats/escaped.safetensors");
const BF16: &[u8] = include_bytes!("data/formats/bf16.safetensors");
const EXPECTED: &str = include_str!("data/formats/expected.json");

/// The values make_format_fixtures.py recorded for `key`, as f64.
fn expected(key: &str) -> (Vec<usize>, Vec<f64>) {
    let all: serde_json::Value = serde_json::from_str(EXPECTED).unwrap();
    let e = &all[key];
    assert!(e.is_object(), "no expected values for {key}");
    let shape = e["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize);
    let values = e["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| match v.as_str() {
            Some("inf") => f64::INFINITY,
            Some("-inf") => f64::NEG_INFINITY,
            Some(other) => panic!("{other}"),
            None => v.as_f64().unwrap(),
        });
    (shape.collect(), values.collect())
}

fn read<const M: usize>(file: &SafeTensors<'_, M>, name: &str) -> Vec<f32> {
    let t = file.get(name).unwrap_or_else(|| panic!("no tensor {name}"));
    let mut out = vec![0.0; t.elements()];
    t.read_f32(&mut out).unwrap();
    out
}

#[test]
fn reads_the_reference_writers_state_dict() {
    let file = SafeTensors::<8>::parse(MLP).unwrap();
    assert_eq!(file.len(), 4);
    assert!(file.metadata("format").unwrap() == "pt");
    assert_eq!(file.metadata_iter().count(), 1);
    for name in ["0.weight", "0.bias", "2.weight", "2.bias"] {
        let (shape, values) = expected(&format!("mlp/{name}"));
        let t = file.get(name).unwrap();
        assert_eq!(t.shape(), &shape[..]);
        assert_eq!(t.dtype(), Dtype::F32);
        let got = read(&file, name);
        let want: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        assert_eq!(got, want, "{name}");
    }
    // In data order: the reference writer sorts same-dtype tensors by name.
    let names: Vec<String> = file.iter().map(|t| t.name().to_string()).collect();
    assert_eq!(names, ["0.bias", "0.weight", "2.bias", "2.weight"]);
    assert!(file.get("1.weight").is_none());
    assert_eq!(file.require("1.weight").unwrap_err(), Error::MissingTensor);
}

#[test]
fn transposes_pytorch_weights() {
    let file = SafeTensors::<8>::parse(MLP).unwrap();
    let (_, w) = expected("mlp/0.weight"); // [out = 4, in = 3]
    let t = file.get("0.weight").unwrap();
    let mut w_io = [0.0f32; 12]; // constnn's weight[i][o], IN = 3, OUT = 4
    t.read_f32_transposed(4, 3, &mut w_io).unwrap();
    for i in 0..3 {
        for o in 0..4 {
            assert_eq!(w_io[i * 4 + o], w[o * 3 + i] as f32);
        }
    }
    assert_eq!(
        t.read_f32_transposed(3, 4, &mut w_io),
        Err(Error::ShapeMismatch {
            axis: 0,
            expected: 3,
            found: 4
        })
    );
    assert_eq!(
        file.get("0.bias")
            .unwrap()
            .read_f32_transposed(4, 1, &mut w_io[..4]),
        Err(Error::RankMismatch {
            expected: 2,
            found: 1
        })
    );
    assert_eq!(t.expect_shape(&[4, 3]), Ok(()));
    assert_eq!(
        t.read_f32(&mut w_io[..11]),
        Err(Error::LengthMismatch {
            expected: 12,
            found: 11
        })
    );
}

#[test]
fn reads_every_dtype_the_reference_writes() {
    let file = SafeTensors::<8>::parse(MIXED).unwrap();
    assert_eq!(file.len(), 8);
    assert!(file.metadata("format").is_none());
    // F64 rounded to nearest f32; F16 exact.
    for (name, key) in [
        ("f64", "mixed/f64"),
        ("f16", "mixed/f16"),
        ("scalar", "mixed/scalar"),
    ] {
        let (shape, values) = expected(key);
        assert_eq!(file.get(name).unwrap().shape(), &shape[..]);
        let want: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        assert_eq!(read(&file, name), want, "{name}");
    }
    assert_eq!(file.get("f16").unwrap().dtype(), Dtype::F16);
    assert_eq!(read(&file, "f16")[4], f32::INFINITY);
    let scalar = file.get("scalar").unwrap();
    assert_eq!((scalar.shape(), scalar.elements()), (&[][..], 1));
    let empty = file.get("empty").unwrap();
    assert_eq!(
        (empty.shape(), empty.elements(), empty.data().len()),
        (&[0, 3][..], 0, 0)
    );
    assert_eq!(read(&file, "empty"), Vec::<f32>::new());
    let (_, naive) = expected("mixed/naïve.weight");
    assert_eq!(
        read(&file, "naïve.weight"),
        naive.iter().map(|&v| v as f32).collect::<Vec<_>>()
    );
    // Integer and boolean tensors are validated and readable as bytes, not as f32.
    let i32s = file.get("i32").unwrap();
    assert_eq!(
        i32s.data(),
        [1i32, -2, 3].map(i32::to_le_bytes).as_flattened()
    );
    assert_eq!(
        i32s.read_f32(&mut [0.0; 3]),
        Err(Error::WrongDtype {
            expected: Dtype::F32,
            found: Dtype::I32
        })
    );
    assert_eq!(file.get("u8").unwrap().data(), [0, 1, 254, 255]);
    assert_eq!(file.get("flags").unwrap().dtype(), Dtype::Bool);
}

#[test]
fn reads_escaped_names_and_bf16() {
    let file = SafeTensors::<8>::parse(ESCAPED).unwrap();
    for name in ["naïve", "emoji\u{1F600}", "quo\"te", "tab\tname"] {
        let (_, values) = expected(&format!("escaped/{name}"));
        let t = file.get(name).unwrap();
        assert!(t.name() == name);
        assert_eq!(t.name().as_str(), None, "escaped in the file");
        assert_eq!(t.name().to_string(), name);
        assert_eq!(t.name().chars().collect::<String>(), name);
        assert_eq!(
            read(&file, name),
            values.iter().map(|&v| v as f32).collect::<Vec<_>>()
        );
    }
    assert_eq!(file.get("emoji").map(|t| t.elements()), None);
    let file = SafeTensors::<1>::parse(BF16).unwrap();
    let (_, values) = expected("bf16/bf");
    assert_eq!(file.get("bf").unwrap().dtype(), Dtype::Bf16);
    assert_eq!(
        read(&file, "bf"),
        values.iter().map(|&v| v as f32).collect::<Vec<_>>()
    );
}

#[test]
fn writer_reproduces_the_reference_writers_bytes() {
    let file = SafeTensors::<8>::parse(MLP).unwrap();
    let names: Vec<String> = file.iter().map(|t| t.name().to_string()).collect();
    let shapes: Vec<Vec<usize>> = file.iter().map(|t| t.shape().to_vec()).collect();
    let specs: Vec<TensorSpec> = names
        .iter()
        .zip(&shapes)
        .map(|(n, s)| TensorSpec { name: n, shape: s })
        .collect();
    let meta = [("format", "pt")];
    let len = write_len(&specs, &meta);
    assert_eq!(len, MLP.len());
    let mut buf = vec![0u8; len];
    let mut w = Writer::new(&mut buf, &specs, &meta).unwrap();
    for name in &names {
        w.push(&read(&file, name));
    }
    assert_eq!(w.finish().unwrap(), MLP.len());
    assert_eq!(buf, MLP, "byte-identical to safetensors.numpy.save_file");
}

#[test]
fn writer_round_trips_escaped_names_and_transposed_weights() {
    let names = [
        "quo\"te",
        "tab\tname",
        "back\\slash",
        "naïve",
        "emoji\u{1F600}",
        "ctrl\u{1}",
        "/",
    ];
    let shapes: [&[usize]; 7] = [
        &[],
        &[2],
        &[3, 1],
        &[0],
        &[1, 1, 1, 1, 1, 1, 1, 2],
        &[2, 3],
        &[1],
    ];
    let specs: Vec<TensorSpec> = names
        .iter()
        .zip(shapes)
        .map(|(name, shape)| TensorSpec { name, shape })
        .collect();
    let meta = [("k\"ey", "va\nlue"), ("format", "pt")];
    let mut buf = vec![0u8; write_len(&specs, &meta)];
    let mut w = Writer::new(&mut buf, &specs, &meta).unwrap();
    let mut k = 0.0;
    let mut next = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                k += 1.0;
                k
            })
            .collect()
    };
    for (i, s) in shapes.iter().enumerate() {
        let n = s.iter().product();
        if i == 5 {
            // [2, 3] from a 3×2 (constnn [IN][OUT]) source.
            w.push_transposed(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, 2);
        } else {
            w.push(&next(n));
        }
    }
    let n = w.finish().unwrap();
    assert_eq!(n, buf.len());
    // The header is padded so the data starts on an 8-byte boundary.
    let file = SafeTensors::<8>::parse(&buf).unwrap();
    assert_eq!(file.data_start() % 8, 0);
    assert_eq!(file.len(), 7);
    assert!(file.metadata("k\"ey").unwrap() == "va\nlue");
    for (name, shape) in names.iter().zip(shapes) {
        assert_eq!(file.get(name).unwrap().shape(), shape, "{name:?}");
    }
    assert_eq!(read(&file, "quo\"te"), [1.0]);
    assert_eq!(read(&file, "emoji\u{1F600}"), [7.0, 8.0]);
    assert_eq!(read(&file, "ctrl\u{1}"), [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
    assert_eq!(read(&file, "/"), [9.0]);
}

#[test]
fn writer_misuse() {
    let a = TensorSpec {
        name: "a",
        shape: &[2],
    };
    let b = TensorSpec {
        name: "b",
        shape: &[1, 2],
    };
    let mut buf = [0u8; 256];
    assert_eq!(
        Writer::new(&mut buf, &[a, b, a], &[]).unwrap_err(),
        Error::DuplicateName { index: 2 }
    );
    assert_eq!(
        Writer::new(
            &mut buf,
            &[
                a,
                TensorSpec {
                    name: "__metadata__",
                    shape: &[]
                }
            ],
            &[]
        )
        .unwrap_err(),
        Error::ReservedName { index: 1 }
    );
    assert_eq!(
        Writer::new(&mut buf, &[a], &[("x", "1"), ("x", "2")]).unwrap_err(),
        Error::DuplicateName { index: 1 }
    );
    assert_eq!(
        Writer::new(
            &mut buf,
            &[TensorSpec {
                name: "r",
                shape: &[1; 9]
            }],
            &[]
        )
        .unwrap_err(),
        Error::TooManyDims { capacity: 8 }
    );
    assert_eq!(
        Writer::new(
            &mut buf,
            &[TensorSpec {
                name: "r",
                shape: &[usize::MAX, 2]
            }],
            &[]
        )
        .unwrap_err(),
        Error::ShapeOverflow { offset: 0 }
    );
    let need = write_len(&[a, b], &[]);
    assert_eq!(
        Writer::new(&mut buf[..need - 1], &[a, b], &[]).unwrap_err(),
        Error::BufferTooSmall {
            needed: need,
            available: need - 1
        }
    );
    assert!(buf.iter().all(|&x| x == 0), "nothing written on error");
    // Too few / too many values.
    let specs = [a, b];
    let mut w = Writer::new(&mut buf, &specs, &[]).unwrap();
    w.push(&[1.0; 3]);
    assert_eq!(
        w.finish(),
        Err(Error::LengthMismatch {
            expected: 4,
            found: 3
        })
    );
    let mut w = Writer::new(&mut buf, &specs, &[]).unwrap();
    w.push(&[1.0; 5]);
    assert_eq!(
        w.finish(),
        Err(Error::LengthMismatch {
            expected: 4,
            found: 5
        })
    );
    // push_transposed: wrong shape, wrong length, not at a tensor's start.
    let mut w = Writer::new(&mut buf, &specs, &[]).unwrap();
    w.push(&[1.0, 2.0]);
    w.push_transposed(&[1.0, 2.0], 1, 2); // b is [1, 2]: needs rows = 2, cols = 1
    assert_eq!(
        w.finish(),
        Err(Error::ShapeMismatch {
            axis: 0,
            expected: 2,
            found: 1
        })
    );
    let mut w = Writer::new(&mut buf, &specs, &[]).unwrap();
    w.push(&[1.0, 2.0]);
    w.push_transposed(&[1.0, 2.0, 3.0], 2, 1);
    assert_eq!(
        w.finish(),
        Err(Error::LengthMismatch {
            expected: 2,
            found: 3
        })
    );
    let mut w = Writer::new(&mut buf, &specs, &[]).unwrap();
    w.push(&[1.0]);
    w.push_transposed(&[1.0, 2.0], 2, 1);
    assert_eq!(
        w.finish(),
        Err(Error::LengthMismatch {
            expected: 4,
            found: 3
        })
    );
    // The right way.
    let mut w = Writer::new(&mut buf, &specs, &[]).unwrap();
    w.push(&[1.0, 2.0]);
    w.push_transposed(&[3.0, 4.0], 2, 1);
    let n = w.finish().unwrap();
    let file = SafeTensors::<2>::parse(&buf[..n]).unwrap();
    assert_eq!(read(&file, "b"), [3.0, 4.0]);
    // An empty file is valid.
    let mut w = Writer::new(&mut buf, &[], &[]).unwrap();
    w.push(&[]);
    let n = w.finish().unwrap();
    assert_eq!(&buf[..n], b"\x08\0\0\0\0\0\0\0{}      ");
    assert!(SafeTensors::<1>::parse(&buf[..n]).unwrap().is_empty());
}

/// A file: the header text, then `data` bytes of zeros.
fn file(header: &[u8], data: usize) -> Vec<u8> {
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header);
    f.resize(f.len() + data, 0);
    f
}

/// The error for `header` (followed by `data` bytes), and the file offset of the first
/// occurrence of `at` in it (plus `plus`).
fn err(header: &str, data: usize) -> Error {
    SafeTensors::<4>::parse(&file(header.as_bytes(), data)).unwrap_err()
}

fn at(header: &str, needle: &str) -> usize {
    8 + header
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in {header}"))
}

const T: &str = r#"{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#;

#[test]
fn accepts_the_valid_edge_cases() {
    for (header, data) in [
        ("{}".to_string(), 0),
        ("{}   ".to_string(), 0),
        ("{ }\n\t\r ".to_string(), 0),
        (format!(r#"{{"a":{T}}}"#), 8),
        (format!(r#"{{ "a" : {T} , "__metadata__" : null }}"#), 8),
        (format!(r#"{{"__metadata__":{{}},"a":{T}}}"#), 8),
        (format!(r#"{{"__metadata__":{{"x":"\u00e9\n","y":""}},"":{T}}}"#), 8),
        (r#"{"a":{"data_offsets":[0,0],"shape":[0,5],"dtype":"I64"}}"#.to_string(), 0),
        (r#"{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}"#.to_string(), 1),
        (r#"{"\u0061":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#.to_string(), 4),
        (r#"{"a":{"\u0064type":"F32","shape":[],"data_offsets":[0,4]}}"#.to_string(), 4),
        (r#"{"a":{"dtype":"\u0046\u0033\u0032","shape":[],"data_offsets":[0,4]}}"#.to_string(), 4),
        (r#"{"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#.to_string(), 2),
        (r#"{"z":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"y":{"dtype":"U8","shape":[0],"data_offsets":[1,1]}}"#.to_string(), 1),
    ] {
        let f = file(header.as_bytes(), data);
        let parsed = SafeTensors::<4>::parse(&f);
        assert!(parsed.is_ok(), "{header}: {parsed:?}");
    }
    let f = file(
        r#"{"\u0061":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#.as_bytes(),
        4,
    );
    assert!(SafeTensors::<1>::parse(&f).unwrap().get("a").is_some());
}

#[test]
fn json_syntax_errors() {
    let cases: Vec<(String, usize)> = vec![
        (String::new(), 8),                                // empty header
        (" {}".into(), 8),     // leading whitespace (the spec: starts with `{`)
        ("[]".into(), 8),      // non-object root
        ("\"a\"".into(), 8),   // non-object root
        ("{".into(), 9),       // unterminated object
        ("{} x".into(), 11),   // garbage after the object
        ("{}\0".into(), 10),   // NUL padding
        ("{}{}".into(), 10),   // two objects
        (r#"{"a"#.into(), 11), // unterminated string
        (r#"{"a\x":1}"#.into(), 12), // bad escape
        (r#"{"a\u12G4":1}"#.into(), 15), // bad \u digit
        (r#"{"a\u12"#.into(), 15), // \u cut short
        (r#"{"\ud800":1}"#.into(), 10), // lone high surrogate
        (r#"{"\ud800\u0041":1}"#.into(), 16), // high surrogate + non-low
        (r#"{"\udc00":1}"#.into(), 10), // lone low surrogate
        ("{\"a\nb\":1}".into(), 11), // raw control character in a string
        (r#"{"a" {"#.into(), 13), // missing colon
        (r#"{"__metadata__":{}"b":{}}"#.into(), 26), // missing comma
        (r#"{a:1}"#.into(), 9), // unquoted key
        (r#"{'a':1}"#.into(), 9), // single quotes
        (format!(r#"{{"a":{T},}}"#), 8 + 5 + T.len() + 1), // trailing comma
        (
            r#"{"a":{"dtype":"F32","shape":[2,],"data_offsets":[0,8]}}"#.into(),
            8 + 31,
        ), // trailing comma in a list
        (
            r#"{"a":{"dtype":"F32","shape":[2] "data_offsets":[0,8]}}"#.into(),
            8 + 32,
        ), // missing comma in an entry
        (
            r#"{"a":{"dtype":"F32","shape":[01],"data_offsets":[0,4]}}"#.into(),
            8 + 30,
        ), // leading zero
        (
            r#"{"a":{"dtype":"F32","shape":[1.],"data_offsets":[0,4]}}"#.into(),
            8 + 31,
        ), // digits after the point missing
        (
            r#"{"a":{"dtype":"F32","shape":[1e],"data_offsets":[0,4]}}"#.into(),
            8 + 31,
        ), // exponent digits missing
        (
            r#"{"a":{"dtype":"F32","shape":[-],"data_offsets":[0,4]}}"#.into(),
            8 + 30,
        ), // a lone minus
        (
            r#"{"a":{"dtype":"F32","shape":[+1],"data_offsets":[0,4]}}"#.into(),
            8 + 29,
        ), // a plus sign
        (r#"{"__metadata__":tru}"#.into(), 8 + 16), // bad literal
        (r#"{"__metadata__":{"a":"b",}}"#.into(), 8 + 25), // trailing comma in metadata
    ];
    for (header, offset) in cases {
        assert_eq!(
            err(&header, 0),
            Error::MalformedHeader { offset },
            "{header:?}"
        );
    }
    // Invalid UTF-8 inside a string, and outside.
    let mut bad = br#"{"a"#.to_vec();
    bad.extend_from_slice(&[0xC3, 0x28]);
    bad.extend_from_slice(br#"":1}"#);
    assert_eq!(
        SafeTensors::<1>::parse(&file(&bad, 0)).unwrap_err(),
        Error::MalformedHeader { offset: 11 }
    );
    let overlong = [b'{', b'"', 0xC0, 0x80, b'"', b':', b'1', b'}'];
    assert_eq!(
        SafeTensors::<1>::parse(&file(&overlong, 0)).unwrap_err(),
        Error::MalformedHeader { offset: 10 }
    );
    let surrogate_utf8 = [b'{', b'"', 0xED, 0xA0, 0x80, b'"', b':', b'1', b'}'];
    assert_eq!(
        SafeTensors::<1>::parse(&file(&surrogate_utf8, 0)).unwrap_err(),
        Error::MalformedHeader { offset: 10 }
    );
    let cut = [b'{', b'"', 0xE2, 0x82];
    assert_eq!(
        SafeTensors::<1>::parse(&file(&cut, 0)).unwrap_err(),
        Error::MalformedHeader { offset: 10 }
    );
    assert_eq!(
        SafeTensors::<1>::parse(&file(&[b'{', 0xFF], 0)).unwrap_err(),
        Error::MalformedHeader { offset: 9 }
    );
}

#[test]
fn wrong_types() {
    let entry = |dtype: &str, shape: &str, offsets: &str| {
        format!(r#"{{"a":{{"dtype":{dtype},"shape":{shape},"data_offsets":{offsets}}}}}"#)
    };
    let cases = [
        (r#"{"a":5}"#.to_string(), "5"),
        (r#"{"a":"x"}"#.to_string(), "\"x\""),
        (
            r#"{"a":[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]}"#.to_string(),
            "[",
        ),
        (r#"{"a":null}"#.to_string(), "null"),
        (entry("5", "[2]", "[0,8]"), "5"),
        (
            entry("[[[[[[[[[[[[[[[[\"F32\"]]]]]]]]]]]]]]]]", "[2]", "[0,8]"),
            "[[[[",
        ),
        (entry("\"F32\"", "\"2\"", "[0,8]"), "\"2\""),
        (entry("\"F32\"", "{}", "[0,8]"), "{}"),
        (entry("\"F32\"", "[true]", "[0,8]"), "true"),
        (entry("\"F32\"", "[[2]]", "[0,8]"), "[2]]"),
        (entry("\"F32\"", "[\"2\"]", "[0,8]"), "\"2\""),
        (entry("\"F32\"", "[-1]", "[0,8]"), "-1"),
        (entry("\"F32\"", "[-0]", "[0,8]"), "-0"),
        (entry("\"F32\"", "[2.0]", "[0,8]"), "2.0"),
        (entry("\"F32\"", "[2e0]", "[0,8]"), "2e0"),
        (entry("\"F32\"", "[2E+0]", "[0,8]"), "2E+0"),
        (entry("\"F32\"", "[2]", "{}"), "{}"),
        (entry("\"F32\"", "[2]", "[0]"), "[0]"),
        (entry("\"F32\"", "[2]", "[0,8,8]"), "[0,8,8]"),
        (entry("\"F32\"", "[2]", "[]"), "[]"),
        (entry("\"F32\"", "[2]", "[0,8.5]"), "8.5"),
        (r#"{"__metadata__":[]}"#.to_string(), "[]"),
        (r#"{"__metadata__":"x"}"#.to_string(), "\"x\""),
        (r#"{"__metadata__":{"a":1}}"#.to_string(), "1}"),
        (r#"{"__metadata__":{"a":null}}"#.to_string(), "null"),
        (r#"{"__metadata__":{"a":{}}}"#.to_string(), "{}}"),
    ];
    for (header, needle) in cases {
        let offset = header.rfind(needle).map(|i| 8 + i).unwrap();
        // The first occurrence for the nested-list cases.
        let offset = if needle.starts_with('[') {
            at(&header, needle)
        } else {
            offset
        };
        assert_eq!(err(&header, 8), Error::WrongType { offset }, "{header}");
    }
}

#[test]
fn numbers_too_big() {
    let h = r#"{"a":{"dtype":"F32","shape":[99999999999999999999999],"data_offsets":[0,4]}}"#;
    assert_eq!(
        err(h, 0),
        Error::NumberOverflow {
            offset: at(h, "999")
        }
    );
    let h = format!(
        r#"{{"a":{{"dtype":"F32","shape":[1],"data_offsets":[0,{}0]}}}}"#,
        usize::MAX
    );
    assert_eq!(
        err(&h, 0),
        Error::NumberOverflow {
            offset: at(&h, &usize::MAX.to_string())
        }
    );
    // usize::MAX itself parses (then fails the size check).
    let h = format!(
        r#"{{"a":{{"dtype":"U8","shape":[1],"data_offsets":[0,{}]}}}}"#,
        usize::MAX
    );
    assert_eq!(
        err(&h, 0),
        Error::TensorSizeMismatch {
            expected: 1,
            found: usize::MAX
        }
    );
    // Shape products that overflow: elements, then bits.
    let h = r#"{"a":{"dtype":"U8","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}"#;
    if usize::BITS == 64 {
        assert_eq!(
            err(h, 0),
            Error::ShapeOverflow {
                offset: at(h, "[4294967296")
            }
        );
        let h = r#"{"a":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,0]}}"#;
        assert_eq!(
            err(h, 0),
            Error::ShapeOverflow {
                offset: at(h, "[2305")
            }
        );
    }
    // A zero dimension makes any product zero, without overflow.
    let h = r#"{"a":{"dtype":"F32","shape":[0,18446744073709551615,18446744073709551615],"data_offsets":[0,0]}}"#;
    if usize::BITS == 64 {
        assert!(SafeTensors::<1>::parse(&file(h.as_bytes(), 0)).is_ok());
    }
}

#[test]
fn duplicate_unknown_and_missing_keys() {
    let h = format!(r#"{{"a":{T},"a":{T}}}"#);
    assert_eq!(
        err(&h, 16),
        Error::DuplicateKey {
            offset: 8 + h.rfind("\"a\"").unwrap()
        }
    );
    let h = format!(r#"{{"a":{T},"\u0061":{T}}}"#);
    assert_eq!(
        err(&h, 16),
        Error::DuplicateKey {
            offset: at(&h, "\"\\u0061")
        }
    );
    let h = r#"{"__metadata__":{},"__metadata__":{}}"#;
    assert_eq!(
        err(h, 0),
        Error::DuplicateKey {
            offset: 8 + h.rfind("\"__").unwrap()
        }
    );
    let h = r#"{"__metadata__":{},"\u005f_metadata__":{}}"#;
    assert_eq!(
        err(h, 0),
        Error::DuplicateKey {
            offset: at(h, "\"\\u005f")
        }
    );
    let h = r#"{"__metadata__":{"k":"1","k":"2"}}"#;
    assert_eq!(
        err(h, 0),
        Error::DuplicateKey {
            offset: 8 + h.rfind("\"k\"").unwrap()
        }
    );
    let h = r#"{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    assert_eq!(
        err(h, 8),
        Error::DuplicateKey {
            offset: 8 + h.rfind("\"dtype\"").unwrap()
        }
    );
    let h = r#"{"a":{"dtype":"F32","shape":[2],"shape":[2],"data_offsets":[0,8]}}"#;
    assert_eq!(
        err(h, 8),
        Error::DuplicateKey {
            offset: 8 + h.rfind("\"shape\"").unwrap()
        }
    );
    let h = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"data_offsets":[0,8]}}"#;
    assert_eq!(
        err(h, 8),
        Error::DuplicateKey {
            offset: 8 + h.rfind("\"data_offsets\"").unwrap()
        }
    );
    let h = r#"{"a":{"dtype":"F32","shape":[2],"offsets":[0,8]}}"#;
    assert_eq!(
        err(h, 8),
        Error::UnknownField {
            offset: at(h, "\"offsets")
        }
    );
    let h = r#"{"a":{"Dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    assert_eq!(
        err(h, 8),
        Error::UnknownField {
            offset: at(h, "\"Dtype")
        }
    );
    for h in [
        r#"{"a":{}}"#,
        r#"{"a":{"shape":[2],"data_offsets":[0,8]}}"#,
        r#"{"a":{"dtype":"F32","data_offsets":[0,8]}}"#,
        r#"{"a":{"dtype":"F32","shape":[2]}}"#,
    ] {
        assert_eq!(err(h, 8), Error::MissingField { offset: 13 }, "{h}");
    }
}

#[test]
fn dtype_rank_and_capacity() {
    for bad in ["F128", "f32", "float32", "", "F32 ", "C128"] {
        let h = format!(r#"{{"a":{{"dtype":"{bad}","shape":[2],"data_offsets":[0,8]}}}}"#);
        assert_eq!(err(&h, 8), Error::UnknownDtype { offset: 8 + 14 }, "{bad}");
    }
    let h = r#"{"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}"#;
    assert_eq!(err(h, 4), Error::TooManyDims { capacity: 8 });
    let h = r#"{"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}"#;
    assert!(SafeTensors::<1>::parse(&file(h.as_bytes(), 4)).is_ok());
    let three = br#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"c":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}"#;
    assert_eq!(
        SafeTensors::<2>::parse(&file(three, 3)).unwrap_err(),
        Error::TooManyTensors { capacity: 2 }
    );
    assert_eq!(SafeTensors::<3>::parse(&file(three, 3)).unwrap().len(), 3);
    let meta = br#"{"__metadata__":{"a":"","b":""}}"#;
    assert_eq!(
        SafeTensors::<1>::parse(&file(meta, 0)).unwrap_err(),
        Error::TooManyTensors { capacity: 1 }
    );
}

#[test]
fn sizes_and_offsets() {
    let h = r#"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#;
    assert_eq!(err(h, 2), Error::MisalignedTensor { offset: 9 });
    let h = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,4]}}"#;
    assert_eq!(err(h, 8), Error::InvalidOffsets { begin: 8, end: 4 });
    let h = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#;
    assert_eq!(
        err(h, 4),
        Error::TensorSizeMismatch {
            expected: 8,
            found: 4
        }
    );
    let h = r#"{"a":{"dtype":"F64","shape":[2,3],"data_offsets":[0,24]}}"#;
    assert_eq!(
        err(h, 24),
        Error::TensorSizeMismatch {
            expected: 48,
            found: 24
        }
    );
    // Holes: at the start, between tensors.
    let h = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
    assert_eq!(
        err(h, 8),
        Error::OffsetsHole {
            expected: 0,
            found: 4
        }
    );
    let h = r#"{"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    assert_eq!(
        err(h, 12),
        Error::OffsetsHole {
            expected: 4,
            found: 8
        }
    );
    // Overlaps: the same range twice, a range inside another.
    let h = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    assert_eq!(
        err(h, 4),
        Error::OffsetsOverlap {
            expected: 4,
            found: 0
        }
    );
    let h = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
    assert_eq!(
        err(h, 8),
        Error::OffsetsOverlap {
            expected: 8,
            found: 4
        }
    );
    // Out of the file, and data beyond the last tensor.
    let h = format!(r#"{{"a":{T}}}"#);
    let header_end = 8 + h.len();
    assert_eq!(
        err(&h, 4),
        Error::Truncated {
            needed: header_end + 8,
            available: header_end + 4
        }
    );
    assert_eq!(
        err(&h, 9),
        Error::TrailingBytes {
            expected: header_end + 8,
            found: header_end + 9
        }
    );
    assert_eq!(
        err("{}", 1),
        Error::TrailingBytes {
            expected: 10,
            found: 11
        }
    );
}

#[test]
fn header_length_field() {
    assert_eq!(
        SafeTensors::<1>::parse(&[]).unwrap_err(),
        Error::Truncated {
            needed: 8,
            available: 0
        }
    );
    assert_eq!(
        SafeTensors::<1>::parse(&[2, 0, 0]).unwrap_err(),
        Error::Truncated {
            needed: 8,
            available: 3
        }
    );
    let mut f = file(b"{}", 0);
    f[0] = 3;
    assert_eq!(
        SafeTensors::<1>::parse(&f).unwrap_err(),
        Error::Truncated {
            needed: 11,
            available: 10
        }
    );
    f[0] = 1;
    assert_eq!(
        SafeTensors::<1>::parse(&f).unwrap_err(),
        Error::MalformedHeader { offset: 9 }
    );
    let mut big = f.clone();
    big[..8].copy_from_slice(&(MAX_HEADER_LEN as u64 + 1).to_le_bytes());
    assert_eq!(
        SafeTensors::<1>::parse(&big).unwrap_err(),
        Error::TooLarge {
            limit: MAX_HEADER_LEN,
            found: MAX_HEADER_LEN + 1
        }
    );
    big[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        SafeTensors::<1>::parse(&big).unwrap_err(),
        Error::TooLarge { .. }
    ));
}

#[test]
fn truncated_at_every_length() {
    let header_end = 8 + u64::from_le_bytes(MLP[..8].try_into().unwrap()) as usize;
    for len in 0..MLP.len() {
        let e = SafeTensors::<8>::parse(&MLP[..len]).unwrap_err();
        let needed = if len < 8 {
            8
        } else if len < header_end {
            header_end
        } else {
            MLP.len()
        };
        assert_eq!(
            e,
            Error::Truncated {
                needed,
                available: len
            },
            "len {len}"
        );
    }
}

#[test]
fn every_header_byte_changed_is_handled() {
    // Each header byte replaced by each of a set of JSON-significant bytes: never a panic,
    // and an accepted file still satisfies the layout invariants.
    let header_end = 8 + u64::from_le_bytes(MLP[..8].try_into().unwrap()) as usize;
    let mut accepted = 0;
    for i in 8..header_end {
        for &b in b"{}[]\":, 0129-.eE\\ua\x00\xff" {
            let mut f = MLP.to_vec();
            f[i] = b;
            if let Ok(file) = SafeTensors::<8>::parse(&f) {
                accepted += 1;
                let mut end = 0;
                for t in file.iter() {
                    assert_eq!(t.data_offsets().0, end);
                    end = t.data_offsets().1;
                    assert_eq!(t.data().len() * 8, t.elements() * t.dtype().bits());
                }
                assert_eq!(file.data_start() + end, f.len());
            }
        }
    }
    // Padding spaces changed to other whitespace, digits of equal-size changes, … are valid.
    assert!(accepted > 0);
}
