//! The int8 firmware's run on the host, bit for bit.
//!
//! `examples/cortex-m`'s binary `int8` classifies the 450 test images with the int8 model in
//! its flash, with the code of `examples/common/int8_run.rs`, included here unchanged. These
//! tests produce that model on the host the way it was made (the Cortex-M4F training
//! firmware's run, `digits_run::m4f::RUN`, then `int8_run::quantize`), check that it has the
//! bytes of the committed `examples/common/digits_int8.bin`, and pin what the run over the test
//! split ends with (`int8_run::EXPECT`), which each board must print; `.ci/embedded.sh` also
//! compares the lines both print.
//!
//! `CONSTNN_WRITE_INT8_MODEL=1 cargo test --test int8_on_device_run` rewrites the model file
//! (after a change to the training run or to the quantization).

// Both shared runs include the data parser and the FNV helper (each is complete on its own,
// for its firmware); here they meet, and the int8 run's `Split` is built from the parsed
// slices.
#![allow(clippy::duplicate_mod)]

#[path = "../examples/common/digits_run.rs"]
mod digits_run;
#[path = "../examples/common/int8_run.rs"]
mod int8_run;

use std::sync::OnceLock;

use constnn::quant::quantize_batch;
use constnn::{Module, argmax};
use digits_run::data::{self, Digits};
use digits_run::{DigitsTrainer, Workspace, m4f};
use int8_run::{Int8Digits, MODEL_BYTES, MODEL_FILE, Split};

const CSV: &str = include_str!("../data/digits.csv");
const SPLIT: &str = include_str!("../data/digits_split.txt");

fn digits() -> &'static Digits {
    static DIGITS: OnceLock<Box<Digits>> = OnceLock::new();
    DIGITS.get_or_init(|| {
        let mut digits = Box::new(Digits::ZERO);
        data::parse_digits(CSV, SPLIT, &mut digits).expect("data/ is malformed");
        digits
    })
}

fn train_split() -> Split<'static> {
    let d = digits();
    Split {
        pixels: &d.train_pixels,
        labels: &d.train_labels,
    }
}

fn test_split() -> Split<'static> {
    let d = digits();
    Split {
        pixels: &d.test_pixels,
        labels: &d.test_labels,
    }
}

/// The Cortex-M4F training firmware's model (its pinned run), and the float test count.
fn trained() -> &'static (int8_run::Mlp, u16) {
    static TRAINED: OnceLock<(int8_run::Mlp, u16)> = OnceLock::new();
    TRAINED.get_or_init(|| {
        let run = m4f::RUN;
        let mut ws = Box::new(Workspace::ZERO);
        let mut trainer = Box::new(DigitsTrainer::<{ m4f::BATCH }>::new(run.sgd));
        digits_run::train(
            &mut ws,
            &mut trainer,
            digits().train(),
            &run,
            digits_run::step,
            |_, _| {},
        )
        .expect("training failed");
        assert_eq!(digits_run::weights_fnv(&ws.model), run.expect.weights_fnv);
        let correct = digits_run::count_correct(&mut ws.model, &mut trainer, digits().test());
        (ws.model, correct)
    })
}

/// The host's quantization of that model.
fn quantized() -> Int8Digits {
    int8_run::quantize(&trained().0, train_split()).expect("quantization failed")
}

#[test]
fn the_committed_model_is_the_hosts_quantization() {
    let q = quantized();
    let bytes = int8_run::encode(&q);
    if std::env::var_os("CONSTNN_WRITE_INT8_MODEL").is_some() {
        std::fs::write(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/common/digits_int8.bin"
            ),
            bytes,
        )
        .unwrap();
        return;
    }
    assert!(
        bytes == *MODEL_FILE,
        "examples/common/digits_int8.bin is not the host's quantization (rewrite it with \
         CONSTNN_WRITE_INT8_MODEL=1)"
    );
    // The firmware's compile-time decoding gives the same model back.
    assert_eq!(int8_run::decode(MODEL_FILE), Ok(q));
    assert_eq!(MODEL_BYTES, 2782);
}

/// The host's run of the committed model, printed in the firmware's format, against the pinned
/// outcome.
#[test]
fn int8_run_ends_with_the_pinned_values() {
    let model = int8_run::decode(MODEL_FILE).expect("bad model file");
    let got = int8_run::evaluate(&model, test_split());
    println!(
        "host int8: test_correct={}/450 test_accuracy_permille={} logits_fnv={:#010x}",
        got.test_correct,
        got.accuracy_permille(),
        got.logits_fnv
    );
    assert_eq!(got, int8_run::EXPECT);
    assert!(got.passes());
}

/// The input table is TFLite's `QUANTIZE` of the normalized pixels: every test image's int8
/// logits through the table equal those through the float path (normalize, then
/// `quantize_batch`). And the int8 model agrees with the float model it came from.
#[test]
fn table_input_is_the_float_quantization_and_int8_tracks_f32() {
    let q = int8_run::decode(MODEL_FILE).expect("bad model file");
    let (float, f32_correct) = trained();
    let test = test_split();
    let mut agree = 0;
    let mut int8_correct = 0;
    for (pixels, &label) in test.pixels.iter().zip(test.labels) {
        let mut x = [[0.0; 64]];
        data::normalize(pixels, &mut x[0]);
        let via_float = q.model.forward(&quantize_batch(&x, q.model.input))[0];
        let (class, logits) = q.classify(pixels);
        assert_eq!(logits, via_float);
        let f = argmax(&float.forward(&x)[0]);
        agree += usize::from(f == class);
        int8_correct += u16::from(class == usize::from(label));
    }
    println!("f32 {f32_correct}/450, int8 {int8_correct}/450, same class {agree}/450");
    // Within 0.5 percentage points (2 images of 450), and 99 % agreement.
    assert!(int8_correct.abs_diff(*f32_correct) <= 2);
    assert!(agree * 100 >= 99 * 450);
}
