//! The digits training firmware's board-independent part: the data in flash, the run, its
//! output lines and the instruction-count markers.
//!
//! Compiled into each training firmware (`examples/cortex-m`, `examples/riscv`) as the module
//! `digits_firmware`; the firmware's own `main.rs` adds only what depends on the core: the
//! entry point, the semihosting stream (a [`Sink`]), exit, and the fault handlers. The crate
//! must have a `line` module (the shared printer, `examples/common/line.rs`) and a
//! `digits_run` module (`examples/common/digits_run.rs`), and its `build.rs` must write the
//! four data files (`examples/common/digits_flash.rs`).
//!
//! Output: a header, one line per epoch, and the result as the last line:
//! `test_correct=…/450 test_accuracy_permille=… loss_bits=0x… weights_fnv=0x… PASS`.
//! [`run`] returns true only if the test accuracy is at least 0.95 *and* the three values
//! equal the host's.

use core::hint::black_box;

use constnn::Error;

#[path = "markers.rs"]
#[macro_use]
mod markers;

use crate::digits_run::{
    self, DigitsTrainer, Mlp, Outcome, PIXELS, Run, Split, TEST_ROWS, TRAIN_ROWS, Workspace,
};
use crate::line::{Line, Sink};

// The data, in flash, from build.rs. The array types check the sizes at compile time.
static TRAIN_PIXELS: [u8; TRAIN_ROWS * PIXELS] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/train_pixels.bin"));
static TRAIN_LABELS: [u8; TRAIN_ROWS] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/train_labels.bin"));
static TEST_PIXELS: [u8; TEST_ROWS * PIXELS] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/test_pixels.bin"));
static TEST_LABELS: [u8; TEST_ROWS] = *include_bytes!(concat!(env!("OUT_DIR"), "/test_labels.bin"));

/// The training split.
pub static TRAIN: Split<'static> = Split {
    pixels: TRAIN_PIXELS.as_chunks().0,
    labels: &TRAIN_LABELS,
};

/// The notebook's test split.
pub static TEST: Split<'static> = Split {
    pixels: TEST_PIXELS.as_chunks().0,
    labels: &TEST_LABELS,
};

/// Trains `ws.model` with `run` on [`TRAIN`] in batches of `B`, evaluates it on [`TEST`],
/// prints the header, the epochs and the result (`board` names the board in the header), and
/// returns whether the run passed. `before_result` may print lines of its own before the
/// result line (the Cortex-M firmware's painted stack).
pub fn run<W: Sink, const B: usize>(
    out: &mut W,
    board: &str,
    run: &Run,
    ws: &mut Workspace,
    before_result: impl FnOnce(&mut W),
) -> bool {
    // The trainer (the caches, 4 kB at batch 10) is on the stack: its learning rate makes it
    // non-zero, so as a `static` it would be in `.data`, its initial value in flash.
    let mut trainer = DigitsTrainer::<B>::new(run.sgd);
    print_header::<W, B>(out, board, run);

    train_begin();
    let trained = digits_run::train(ws, &mut trainer, TRAIN, run, marked_step, |epoch, loss| {
        print_epoch(out, epoch, loss);
    });
    train_end();
    let loss = match trained {
        Ok(loss) => loss,
        Err(e) => {
            Line::new(out)
                .str("training failed: ")
                .str(error_name(e))
                .str(" FAIL")
                .end();
            return false;
        }
    };

    infer_begin();
    black_box(digits_run::correct_in_batch(
        &mut ws.model,
        &mut trainer,
        black_box(&TEST.pixels[..B]),
        &TEST.labels[..B],
    ));
    infer_end();

    let got = Outcome {
        test_correct: digits_run::count_correct(&mut ws.model, &mut trainer, TEST),
        loss_bits: loss.to_bits(),
        weights_fnv: digits_run::weights_fnv(&ws.model),
    };
    before_result(out);
    print_result(out, &got, &run.expect)
}

// The printing is in functions of their own (`inline(never)`), so their digit buffers are on
// the stack only while a line is printed, never during a training step.

#[inline(never)]
fn print_header<W: Sink, const B: usize>(out: &mut W, board: &str, run: &Run) {
    Line::new(out)
        .str("constnn digits trainer on ")
        .str(board)
        .str(": batch=")
        .dec(B as u32)
        .str(" epochs=")
        .dec(run.epochs.into())
        .str(" lr_bits=")
        .hex(run.sgd.lr().to_bits())
        .end();
}

#[inline(never)]
fn print_epoch<W: Sink>(out: &mut W, epoch: u16, loss: f32) {
    Line::new(out)
        .str("epoch=")
        .dec(epoch.into())
        .str(" loss_bits=")
        .hex(loss.to_bits())
        .end();
}

/// Prints the last line and returns whether the run passed: accuracy ≥ 0.95 and the host's
/// exact values.
#[inline(never)]
fn print_result<W: Sink>(out: &mut W, got: &Outcome, expect: &Outcome) -> bool {
    let mut line = Line::new(out);
    line.str("test_correct=")
        .dec(got.test_correct.into())
        .str("/")
        .dec(TEST_ROWS as u32)
        .str(" test_accuracy_permille=")
        .dec(got.accuracy_permille())
        .str(" loss_bits=")
        .hex(got.loss_bits)
        .str(" weights_fnv=")
        .hex(got.weights_fnv);
    let passed = got.passes() && got == expect;
    line.str(if passed {
        " PASS"
    } else if got != expect {
        // The host's values are in `digits_run.rs` and in the host test's output
        // (.ci/embedded.sh prints both lines).
        " FAIL: not the host's values"
    } else {
        " FAIL: test accuracy below 0.95"
    });
    line.end();
    passed
}

/// One training step (the device's step function), between the instruction-count markers.
#[inline(never)]
fn marked_step<const B: usize>(
    model: &mut Mlp,
    trainer: &mut DigitsTrainer<B>,
    labels: &[usize; B],
) -> Result<f32, Error> {
    step_begin();
    let loss = digits_run::step(model, trainer, labels);
    step_end();
    loss
}

fn error_name(e: Error) -> &'static str {
    match e {
        Error::NonFiniteLoss => "non-finite loss",
        Error::LabelOutOfRange { .. } => "label out of range",
        _ => "error",
    }
}

markers! {
    /// Before the whole training (init, shuffles, batch gathering, every step).
    train_begin = 1u8;
    /// After the whole training.
    train_end = 2u8;
    /// Before one training step (forward, loss, fused backward and update).
    step_begin = 3u8;
    /// After one training step.
    step_end = 4u8;
    /// Before the inference of one batch of `B` test images (normalize, forward, argmax and
    /// compare, as the evaluation does for each batch).
    infer_begin = 5u8;
    /// After it.
    infer_end = 6u8;
}
