//! `const_model!` and `ConstWeights`: models built from a blob at compile time equal
//! `load_weights`'s bit for bit, for every layer kind with stored values, and the run-time
//! check `ConstWeights::verify` reports exactly what `load_weights` reports on every
//! corruption and truncation.

use constnn::format::ConstWeights;
use constnn::rand_core::SeedableRng;
use constnn::{
    BatchNorm1d, Frozen, Linear, Module, Params, Relu, Sigmoid, Tanh, XorShiftRng, Zeroed,
    const_model, load_weights, save_weights, weights_len,
};

type Mlp = (Linear<4, 8>, Relu, Linear<8, 3>);
const BLOB: [u8; weights_len::<Mlp>()] = constnn::format::const_load::example_blob();
static MLP: Mlp = const_model!(&BLOB => (Linear, Relu, Linear));

/// The same structure, written as a nested tuple: another signature, so its own blob.
type Nested = ((Linear<4, 8>, Relu), Linear<8, 3>);

/// Every layer kind with stored values, frozen and nested.
type Mixed = (
    Linear<3, 5>,
    BatchNorm1d<5>,
    Tanh,
    Frozen<(Linear<5, 4>, Sigmoid)>,
    Linear<4, 2>,
);

fn bits<P: Params>(p: &P) -> Vec<u32> {
    let mut v = Vec::new();
    p.visit(&mut |s: &[f32]| v.extend(s.iter().map(|x| x.to_bits())));
    v
}

/// Every stored value set to a distinct random number (running statistics included).
fn random<P: Params + Zeroed>(seed: u64) -> P {
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let mut p = P::ZERO;
    p.visit_mut(&mut |s: &mut [f32]| {
        for v in s {
            *v = constnn::standard_normal(&mut rng);
        }
    });
    p
}

fn blob_of<P: Params>(p: &P) -> Vec<u8> {
    let mut b = vec![0u8; weights_len::<P>()];
    save_weights(p, &mut b).unwrap();
    b
}

#[test]
fn the_static_equals_load_weights_bit_for_bit() {
    let mut loaded = Mlp::ZERO;
    load_weights(&mut loaded, &BLOB).unwrap();
    assert_eq!(bits(&MLP), bits(&loaded));
    // And it is the model: the same outputs.
    let x = [[0.5, -1.0, 2.0, 0.25]];
    assert_eq!(MLP.forward(&x), loaded.forward(&x));
    // Non-trivial values (not all zero).
    assert!(bits(&MLP).iter().filter(|&&b| b != 0).count() > 60);
}

#[test]
fn every_layer_kind_at_run_time_equals_load_weights() {
    let model: Mixed = random(7);
    let blob = blob_of(&model);
    let built: Mixed = const_model!(&blob[..] =>
        (Linear, BatchNorm1d, Tanh, Frozen((Linear, Sigmoid)), Linear));
    let mut loaded: Mixed = Zeroed::ZERO;
    load_weights(&mut loaded, &blob).unwrap();
    assert_eq!(bits(&built), bits(&loaded));
    assert_eq!(bits(&built), bits(&model));
    assert_eq!(built, loaded); // eps, momentum and evaluation mode are the defaults of both

    let nested: Nested = random(8);
    let blob = blob_of(&nested);
    let built: Nested = const_model!(&blob[..] => ((Linear, Relu), Linear));
    assert_eq!(bits(&built), bits(&nested));
}

#[test]
fn a_layer_given_as_an_expression() {
    type Net = (Linear<2, 2>, constnn::LeakyRelu, Linear<2, 1>);
    let model: (Linear<2, 2>, Linear<2, 1>) = random(9);
    let net: Net = (model.0, constnn::LeakyRelu::new(0.25).unwrap(), model.1);
    let blob = blob_of(&net);
    let slope = net.1;
    let built: Net = const_model!(&blob[..] => (Linear, { slope }, Linear));
    assert_eq!(built, net);
}

#[test]
fn verify_reports_what_load_weights_reports() {
    let model: Mixed = random(3);
    let blob = blob_of(&model);
    let same = |bytes: &[u8], what: &str| {
        let mut m: Mixed = Zeroed::ZERO;
        let want = load_weights(&mut m, bytes);
        let got = ConstWeights::verify::<Mixed>(bytes).map(|_| ());
        assert_eq!(got, want, "{what}");
        want.is_ok()
    };
    assert!(same(&blob, "valid"));
    // Every bit of the header and of the checksum, and every byte of the payload.
    for at in 0..blob.len() {
        let masks: &[u8] = if at < 32 || at >= blob.len() - 4 {
            &[1, 2, 4, 8, 16, 32, 64, 128]
        } else {
            &[0x41]
        };
        for &m in masks {
            let mut b = blob.clone();
            b[at] ^= m;
            assert!(!same(&b, &format!("byte {at} ^ {m:#x}")));
        }
    }
    for len in 0..blob.len() {
        assert!(!same(&blob[..len], &format!("truncated to {len}")));
    }
    let mut longer = blob.clone();
    longer.push(0);
    assert!(!same(&longer, "one byte more"));
    // Another model's valid blob.
    assert!(!same(&blob_of(&random::<Mlp>(1)), "another model"));
}

#[test]
fn verify_reads_in_place_and_finish_accepts_the_right_model() {
    let model: Mixed = random(5);
    let blob = blob_of(&model);
    let mut w = ConstWeights::verify::<Mixed>(&blob).unwrap();
    assert_eq!(w.remaining(), Mixed::NUM_STORED);
    assert_eq!(w.signature(), Mixed::SIGNATURE);
    let first = w.next_f32();
    assert_eq!(first.to_bits(), model.0.weight[0][0].to_bits());
    assert_eq!(w.remaining(), Mixed::NUM_STORED - 1);
}

#[test]
fn new_panics_on_a_bad_blob_and_finish_on_another_model() {
    let mut bad = BLOB;
    bad[40] ^= 1;
    let r = std::panic::catch_unwind(|| ConstWeights::new(&bad));
    let msg = *r.unwrap_err().downcast::<&str>().unwrap_or(Box::new("?"));
    assert!(msg.contains("CRC-32") || msg == "?", "{msg}");

    // A valid blob read as another model of the same size: `finish` refuses it.
    let r = std::panic::catch_unwind(|| {
        let mut w = ConstWeights::new(&BLOB);
        let m: (Linear<4, 8>, Tanh, Linear<8, 3>) = (
            Linear::from_weights(&mut w),
            Tanh,
            Linear::from_weights(&mut w),
        );
        w.finish(m)
    });
    assert!(r.is_err());
    // A model that reads too little.
    let r = std::panic::catch_unwind(|| {
        let mut w = ConstWeights::new(&BLOB);
        let m: (Linear<4, 8>, Relu, Linear<8, 3>) =
            (Linear::from_weights(&mut w), Relu, Linear::ZERO);
        w.finish(m)
    });
    assert!(r.is_err());
}

#[test]
fn reading_past_the_end_gives_zero_and_never_panics() {
    let mut w = ConstWeights::verify::<Mlp>(&BLOB).unwrap();
    for _ in 0..Mlp::NUM_STORED {
        w.next_f32();
    }
    assert_eq!(w.remaining(), 0);
    assert_eq!(w.next_f32(), 0.0);
    let mut out = [1.0; 4];
    w.fill(&mut out);
    assert_eq!(out, [0.0; 4]);
}
