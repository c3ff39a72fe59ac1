//! PyTorch `state_dict`s in and out (`constnn::format::torch`).
//!
//! - Fixtures written by PyTorch (`safetensors.torch.save_file` of real `nn.Sequential`,
//!   `BatchNorm1d` and named-submodule `state_dict`s, by
//!   `tests/data/formats/make_torch_fixtures.py`) load, with every value bit for bit, and
//!   constnn's forward pass gives PyTorch's eval-mode outputs.
//! - constnn's re-saves of those models are written into `$CONSTNN_TORCH_OUT` (a temporary
//!   directory when unset) for `make_torch_fixtures.py --check`, which loads them with
//!   `load_state_dict(strict=True)`.
//! - Every layer kind round-trips bit for bit; wrong shape, missing key, extra key, wrong
//!   dtype, too long a prefix each give their error and leave the model unchanged.

use std::path::PathBuf;

use constnn::format::Dtype;
use constnn::format::safetensors::SafeTensors;
use constnn::format::torch::{
    Layout, MAX_KEY_LEN, for_each_tensor, load_safetensors_lenient, load_safetensors_with,
    safetensors_len_with, save_safetensors_with,
};
use constnn::rand_core::SeedableRng;
use constnn::{
    BatchNorm1d, DropRate, Dropout, Error, Frozen, LeakyRelu, Linear, Module, Params, Relu,
    Sigmoid, StateDict, Tanh, XorShiftRng, Zeroed, load_safetensors, safetensors_len,
    save_safetensors, sequential,
};

const MLP: &[u8] = include_bytes!("data/formats/torch_mlp.safetensors");
const BN: &[u8] = include_bytes!("data/formats/torch_bn.safetensors");
const NAMED: &[u8] = include_bytes!("data/formats/torch_named.safetensors");
const F64: &[u8] = include_bytes!("data/formats/torch_f64.safetensors");
const EXPECTED: &str = include_str!("data/formats/torch_expected.json");

type Mlp = (Linear<4, 8>, Relu, Linear<8, 3>);
type Bn = (Linear<4, 6>, BatchNorm1d<6>, Relu, Linear<6, 2>);

sequential! {
    /// The fixture's `Body` module: named submodules `hidden`, `act`, `out`.
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Body {
        hidden: Linear<4, 5>,
        act: Tanh,
        out: Linear<5, 2>,
    }
}

fn expected() -> serde_json::Value {
    serde_json::from_str(EXPECTED).unwrap()
}

fn inputs() -> [[f32; 4]; 5] {
    let e = expected();
    core::array::from_fn(|r| core::array::from_fn(|c| e["x"][r][c].as_f64().unwrap() as f32))
}

/// constnn's outputs against PyTorch's: different summation orders, so not bit-identical,
/// but a transposed or misplaced weight would be off by far more than 1e-6.
fn assert_outputs<const O: usize>(got: &[[f32; O]; 5], name: &str) {
    let e = expected();
    let mut max = 0f32;
    for (r, row) in got.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            let want = e[name][r][c].as_f64().unwrap() as f32;
            max = max.max((v - want).abs());
        }
    }
    assert!(max <= 1e-6, "{name}: max |Δ| = {max:e}");
}

/// Every tensor of `file` equals, bit for bit, what `model` holds for that key (in PyTorch's
/// layout), so the loader put each value where PyTorch had it.
fn assert_same_bits<M: StateDict>(model: &M, file: &[u8], prefix: &str) {
    let parsed = SafeTensors::<16>::parse(file).unwrap();
    let mut seen = 0;
    for_each_tensor(model, prefix, |key, layout, values| {
        let t = parsed
            .get(key)
            .unwrap_or_else(|| panic!("{key} not in the file"));
        if layout == Layout::Counter {
            return Ok(());
        }
        let mut raw = vec![0f32; t.elements()];
        t.read_f32(&mut raw).unwrap();
        let ours: Vec<f32> = match layout {
            Layout::Transposed { rows, cols } => (0..rows * cols)
                .map(|at| values[(at % cols) * rows + at / cols])
                .collect(),
            _ => values.to_vec(),
        };
        assert_eq!(
            ours.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            raw.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{key}"
        );
        seen += 1;
        Ok(())
    })
    .unwrap();
    assert!(seen > 0);
}

fn out_dir() -> PathBuf {
    let dir = match std::env::var_os("CONSTNN_TORCH_OUT") {
        Some(d) => PathBuf::from(d),
        None => std::env::temp_dir().join(format!("constnn-torch-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn resave<M: StateDict>(model: &M, name: &str, prefix: &str) -> Vec<u8> {
    let mut buf = vec![0u8; safetensors_len_with::<M>(prefix)];
    let n = save_safetensors_with(model, &mut buf, prefix).unwrap();
    assert_eq!(n, buf.len());
    std::fs::write(out_dir().join(format!("constnn_{name}.safetensors")), &buf).unwrap();
    buf
}

#[test]
fn pytorch_sequential_mlp_loads_and_runs() {
    let mut m = Mlp::ZERO;
    load_safetensors(&mut m, MLP).unwrap();
    assert_same_bits(&m, MLP, "");
    let x = inputs();
    assert_outputs(&m.forward(&x), "mlp");
    let again = resave(&m, "mlp", "");
    let mut back = Mlp::ZERO;
    load_safetensors(&mut back, &again).unwrap();
    assert_eq!(back, m);
}

#[test]
fn pytorch_batchnorm_loads_with_running_stats() {
    let mut m = Bn::ZERO;
    load_safetensors(&mut m, BN).unwrap();
    assert_same_bits(&m, BN, "");
    // Trained in PyTorch: nothing is at its initial value any more.
    assert!(m.1.gamma.iter().all(|&g| g != 1.0));
    assert!(m.1.running_var.iter().all(|&v| v != 1.0));
    assert_outputs(&m.forward(&inputs()), "bn");
    let again = resave(&m, "bn", "");
    let parsed = SafeTensors::<16>::parse(&again).unwrap();
    let counter = parsed.get("1.num_batches_tracked").unwrap();
    assert_eq!(
        (counter.dtype(), counter.shape(), counter.data()),
        (Dtype::I64, &[][..], &[0u8; 8][..])
    );
    assert_eq!(counter.data_offsets().0 % 8, 0);
    let mut back = Bn::ZERO;
    load_safetensors(&mut back, &again).unwrap();
    assert_eq!(back, m);
}

#[test]
fn pytorch_named_submodules_load_into_a_sequential_struct_under_a_prefix() {
    let mut m = Body::ZERO;
    load_safetensors_with(&mut m, NAMED, "net.").unwrap();
    assert_same_bits(&m, NAMED, "net.");
    assert_outputs(&m.forward(&inputs()), "named");
    // Without the prefix nothing matches.
    let mut other = Body::ZERO;
    assert_eq!(
        load_safetensors(&mut other, NAMED),
        Err(Error::MissingTensor)
    );
    assert_eq!(other, Body::ZERO);
    let again = resave(&m, "named", "net.");
    let mut back = Body::ZERO;
    load_safetensors_with(&mut back, &again, "net.").unwrap();
    assert_eq!(back, m);
}

#[test]
fn float64_state_dict_loads_rounded_to_the_same_f32() {
    let (mut a, mut b) = (Mlp::ZERO, Mlp::ZERO);
    load_safetensors(&mut a, MLP).unwrap();
    load_safetensors(&mut b, F64).unwrap();
    // The f64 values are the f32 ones widened: rounding back is exact.
    assert_eq!(a, b);
}

type Everything = (
    Frozen<(Linear<3, 4>, Tanh)>,
    (BatchNorm1d<4>, LeakyRelu, Dropout),
    Sigmoid,
    Linear<4, 2>,
);

fn everything() -> Everything {
    let mut m = Everything::ZERO;
    m.1.1 = LeakyRelu::new(0.1).unwrap();
    m.1.2 = Dropout::new(DropRate::new(0.25).unwrap());
    let mut rng = XorShiftRng::seed_from_u64(5);
    m.init(&mut rng);
    // Distinct values everywhere (running statistics included), with special bit patterns.
    let mut k = 0u32;
    m.visit_mut(&mut |p: &mut [f32]| {
        for v in p {
            k += 1;
            *v = match k {
                3 => -0.0,
                7 => f32::from_bits(1),
                11 => f32::MAX,
                _ => (k as f32).sin() * 3.0,
            };
        }
    });
    m
}

#[test]
fn every_layer_kind_round_trips_bit_for_bit() {
    let m = everything();
    let mut keys = Vec::new();
    for_each_tensor(&m, "", |key, layout, _| {
        keys.push((key.to_string(), layout));
        Ok(())
    })
    .unwrap();
    let v4 = Layout::Vector(4);
    let names: Vec<(&str, Layout)> = keys.iter().map(|(k, l)| (k.as_str(), *l)).collect();
    assert_eq!(
        names,
        [
            ("0.0.weight", Layout::Transposed { rows: 4, cols: 3 }),
            ("0.0.bias", v4),
            ("1.0.weight", v4),
            ("1.0.bias", v4),
            ("1.0.running_mean", v4),
            ("1.0.running_var", v4),
            ("1.0.num_batches_tracked", Layout::Counter),
            ("3.weight", Layout::Transposed { rows: 2, cols: 4 }),
            ("3.bias", Layout::Vector(2)),
        ]
    );
    for prefix in ["", "net.", "a\"b\\c."] {
        let mut buf = vec![0u8; safetensors_len_with::<Everything>(prefix)];
        assert_eq!(save_safetensors_with(&m, &mut buf, prefix), Ok(buf.len()));
        let parsed = SafeTensors::<16>::parse(&buf).unwrap();
        assert_eq!(parsed.len(), 9);
        assert!(parsed.metadata("format").unwrap() == "pt");
        let mut back = Everything::ZERO;
        back.1.1 = m.1.1;
        back.1.2 = m.1.2;
        load_safetensors_with(&mut back, &buf, prefix).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        m.visit(&mut |p: &[f32]| a.extend(p.iter().map(|v| v.to_bits())));
        back.visit(&mut |p: &[f32]| b.extend(p.iter().map(|v| v.to_bits())));
        assert_eq!(a, b, "prefix {prefix:?}");
        assert_same_bits(&back, &buf, prefix);
    }
    // A sequential! struct and a lone layer too.
    let mut body = Body::ZERO;
    body.init(&mut XorShiftRng::seed_from_u64(9));
    let mut buf = [0u8; safetensors_len::<Body>()];
    save_safetensors(&body, &mut buf).unwrap();
    assert!(
        SafeTensors::<8>::parse(&buf)
            .unwrap()
            .get("out.bias")
            .is_some()
    );
    let mut back = Body::ZERO;
    load_safetensors(&mut back, &buf).unwrap();
    assert_eq!(back, body);
    let mut buf = [0u8; safetensors_len::<Relu>()];
    save_safetensors(&Relu, &mut buf).unwrap();
    assert_eq!(SafeTensors::<1>::parse(&buf).unwrap().len(), 0);
    load_safetensors(&mut Relu, &buf).unwrap();
}

#[test]
fn a_short_buffer_is_refused_untouched() {
    let m = everything();
    let need = safetensors_len::<Everything>();
    let mut buf = vec![0xAAu8; need - 1];
    assert_eq!(
        save_safetensors(&m, &mut buf),
        Err(Error::BufferTooSmall {
            needed: need,
            available: need - 1
        })
    );
    assert!(buf.iter().all(|&b| b == 0xAA));
}

/// A safetensors file with these `(name, dtype, shape)` tensors, values `k / 8`.
fn file(tensors: &[(&str, &str, &[usize])]) -> Vec<u8> {
    let mut header = String::from("{");
    let mut data = Vec::new();
    for (i, (name, dtype, shape)) in tensors.iter().enumerate() {
        let n: usize = shape.iter().product();
        let size = match *dtype {
            "F64" | "I64" => 8,
            "F16" => 2,
            _ => 4,
        };
        let begin = data.len();
        for k in 0..n {
            match *dtype {
                "F64" => data.extend((k as f64 / 8.0).to_le_bytes()),
                "I64" => data.extend((k as i64).to_le_bytes()),
                "I32" => data.extend((k as i32).to_le_bytes()),
                _ => data.extend((k as f32 / 8.0).to_le_bytes()),
            }
        }
        assert_eq!(data.len() - begin, n * size);
        if i > 0 {
            header.push(',');
        }
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        header.push_str(&format!(
            "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{begin},{}]}}",
            dims.join(","),
            data.len()
        ));
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

const GOOD: [(&str, &str, &[usize]); 5] = [
    ("0.weight", "F32", &[3, 2]),
    ("0.bias", "F32", &[3]),
    ("1.weight", "F32", &[3]),
    ("1.bias", "F32", &[3]),
    ("1.running_mean", "F32", &[3]),
];

fn with_var(extra: &[(&'static str, &'static str, &'static [usize])]) -> Vec<u8> {
    let mut t = GOOD.to_vec();
    t.push(("1.running_var", "F32", &[3]));
    t.extend_from_slice(extra);
    file(&t)
}

type Small = (Linear<2, 3>, BatchNorm1d<3>);

fn small() -> Small {
    let mut m = Small::ZERO;
    m.init(&mut XorShiftRng::seed_from_u64(2));
    m
}

/// `bytes` must give `err`, with the model untouched.
fn refused(bytes: &[u8], err: Error) {
    let mut m = small();
    assert_eq!(load_safetensors(&mut m, bytes), Err(err));
    assert_eq!(m, small());
}

#[test]
fn a_handmade_file_loads_with_the_expected_values() {
    let mut m = small();
    load_safetensors(&mut m, &with_var(&[])).unwrap();
    // PyTorch's weight [out = 3, in = 2], t[o][i] = (2o + i) / 8, lands in weight[i][o].
    for i in 0..2 {
        for o in 0..3 {
            assert_eq!(m.0.weight[i][o], (2 * o + i) as f32 / 8.0);
        }
    }
    assert_eq!(m.1.running_var, [0.0, 0.125, 0.25]);
    // num_batches_tracked, when present, is an I64 scalar whose value is ignored.
    let mut n = small();
    load_safetensors(&mut n, &with_var(&[("1.num_batches_tracked", "I64", &[])])).unwrap();
    assert_eq!(n, m);
    // F64 and F16 are read as f32.
    let f64_file = file(&[
        ("0.weight", "F64", &[3, 2]),
        ("0.bias", "F32", &[3]),
        ("1.weight", "F64", &[3]),
        ("1.bias", "F32", &[3]),
        ("1.running_mean", "F32", &[3]),
        ("1.running_var", "F64", &[3]),
    ]);
    let mut d = small();
    load_safetensors(&mut d, &f64_file).unwrap();
    assert_eq!(d, m);
}

#[test]
fn every_wrong_file_is_refused_and_the_model_untouched() {
    // Missing key.
    refused(&file(&GOOD), Error::MissingTensor);
    // Extra key (strict), reported at its position in the file.
    refused(
        &with_var(&[("2.weight", "F32", &[1])]),
        Error::UnexpectedTensor { index: 6 },
    );
    // Wrong shape: rank, then a dimension (the transposed layout [in, out] is wrong).
    let mut t = GOOD.to_vec();
    t[1] = ("0.bias", "F32", &[3, 1]);
    t.push(("1.running_var", "F32", &[3]));
    refused(
        &file(&t),
        Error::RankMismatch {
            expected: 1,
            found: 2,
        },
    );
    t[1] = ("0.bias", "F32", &[3]);
    t[0] = ("0.weight", "F32", &[2, 3]);
    refused(
        &file(&t),
        Error::ShapeMismatch {
            axis: 0,
            expected: 3,
            found: 2,
        },
    );
    // Wrong dtype, for a float tensor and for the counter.
    t[0] = ("0.weight", "I32", &[3, 2]);
    refused(
        &file(&t),
        Error::WrongDtype {
            expected: Dtype::F32,
            found: Dtype::I32,
        },
    );
    refused(
        &with_var(&[("1.num_batches_tracked", "F32", &[])]),
        Error::WrongDtype {
            expected: Dtype::I64,
            found: Dtype::F32,
        },
    );
    refused(
        &with_var(&[("1.num_batches_tracked", "I64", &[1])]),
        Error::RankMismatch {
            expected: 0,
            found: 1,
        },
    );
    // A malformed file: the parser's error.
    let mut bad = with_var(&[]);
    bad[8] = b'[';
    let mut m = small();
    assert!(load_safetensors(&mut m, &bad).is_err());
    assert_eq!(m, small());
    // Truncated at every length.
    let good = with_var(&[]);
    for len in 0..good.len() {
        let mut m = small();
        assert!(load_safetensors(&mut m, &good[..len]).is_err(), "{len}");
        assert_eq!(m, small());
    }
    // Lenient loading ignores the extra key, and only it.
    let mut m = small();
    load_safetensors_lenient(&mut m, &with_var(&[("2.weight", "F32", &[1])]), "").unwrap();
    let mut n = small();
    load_safetensors(&mut n, &with_var(&[])).unwrap();
    assert_eq!(m, n);
    let mut m = small();
    assert_eq!(
        load_safetensors_lenient(&mut m, &file(&GOOD), ""),
        Err(Error::MissingTensor)
    );
    assert_eq!(m, small());
}

#[test]
fn too_long_a_key_is_an_error() {
    let prefix = "p".repeat(MAX_KEY_LEN - 5);
    let m = small();
    let mut buf = vec![0u8; safetensors_len_with::<Small>(&prefix)];
    assert_eq!(
        save_safetensors_with(&m, &mut buf, &prefix),
        Err(Error::KeyTooLong {
            capacity: MAX_KEY_LEN
        })
    );
    let mut n = small();
    assert_eq!(
        load_safetensors_with(&mut n, &with_var(&[]), &prefix),
        Err(Error::KeyTooLong {
            capacity: MAX_KEY_LEN
        })
    );
    assert_eq!(n, small());
    // Small's longest key is "1.num_batches_tracked": with this prefix it is 128 bytes.
    let prefix = "p".repeat(MAX_KEY_LEN - "1.num_batches_tracked".len());
    let mut buf = vec![0u8; safetensors_len_with::<Small>(&prefix)];
    save_safetensors_with(&m, &mut buf, &prefix).unwrap();
}
