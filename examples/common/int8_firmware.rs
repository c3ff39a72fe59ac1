//! The int8 inference firmware's board-independent part: the model and the test split in
//! flash, the run, its output lines and the instruction-count markers.
//!
//! Compiled into the RISC-V int8 firmware (`examples/riscv`, binary `int8`) as the module
//! `int8_firmware`; the binary adds only what depends on the core (entry point, semihosting
//! stream, exit, fault handlers). The crate must have a `line` module (the shared printer,
//! `examples/common/line.rs`) and an `int8_run` module (`examples/common/int8_run.rs`, which
//! decides the result and which the host test `tests/int8_on_device_run.rs` runs too), and its
//! `build.rs` must write the test split (`examples/common/digits_flash.rs`).
//!
//! Output: a header and the result as the last line,
//! `test_correct=…/450 test_accuracy_permille=… logits_fnv=0x… PASS`; [`run`] returns true
//! only if the accuracy is at least 0.95 *and* both values equal the host's
//! (`int8_run::EXPECT`).

use core::hint::black_box;

use crate::int8_run::{self, Int8Digits, MODEL_BYTES, Outcome, PIXELS, Split, TEST_ROWS};
use crate::line::{Line, Sink};

#[path = "markers.rs"]
#[macro_use]
mod markers;

/// The int8 model, decoded from its bytes at compile time (a bad file fails the build): it is
/// in flash and no code builds it.
static MODEL: Int8Digits = match int8_run::decode(int8_run::MODEL_FILE) {
    Ok(model) => model,
    Err(_) => panic!("examples/common/digits_int8.bin is not a valid model"),
};

// The test split, in flash, from build.rs.
static TEST_PIXELS: [u8; TEST_ROWS * PIXELS] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/test_pixels.bin"));
static TEST_LABELS: [u8; TEST_ROWS] = *include_bytes!(concat!(env!("OUT_DIR"), "/test_labels.bin"));

/// The notebook's test split.
static TEST: Split<'static> = Split {
    pixels: TEST_PIXELS.as_chunks().0,
    labels: &TEST_LABELS,
};

/// Classifies the test split with [`MODEL`], prints the header (`board` names the board) and
/// the result, and returns whether the run passed.
pub fn run<W: Sink>(out: &mut W, board: &str) -> bool {
    Line::new(out)
        .str("constnn int8 digits inference on ")
        .str(board)
        .str(": model_bytes=")
        .dec(MODEL_BYTES as u32)
        .end();

    infer_begin();
    black_box(MODEL.classify(black_box(&TEST.pixels[0])).0);
    infer_end();

    let got = int8_run::evaluate(&MODEL, TEST);
    print_result(out, &got)
}

/// Prints the last line and returns whether the run passed: accuracy ≥ 0.95 and the host's
/// exact values.
#[inline(never)]
fn print_result<W: Sink>(out: &mut W, got: &Outcome) -> bool {
    let mut line = Line::new(out);
    line.str("test_correct=")
        .dec(got.test_correct.into())
        .str("/")
        .dec(TEST_ROWS as u32)
        .str(" test_accuracy_permille=")
        .dec(got.accuracy_permille())
        .str(" logits_fnv=")
        .hex(got.logits_fnv);
    let passed = got.passes() && *got == int8_run::EXPECT;
    line.str(if passed {
        " PASS"
    } else if *got != int8_run::EXPECT {
        " FAIL: not the host's values"
    } else {
        " FAIL: test accuracy below 0.95"
    });
    line.end();
    passed
}

markers! {
    /// Before the int8 inference of one test image: input quantization (the table), the two
    /// int8 layers and the argmax.
    infer_begin = 5u8;
    /// After it.
    infer_end = 6u8;
}
