//! Int8 inference only: classifies the 450 test images with the quantized digits model in
//! flash and checks the result against the values pinned by the host test.
//!
//! ```text
//! cargo run --release --bin int8                               # Cortex-M4F, QEMU mps2-an386
//! cargo run --release --bin int8 --target thumbv6m-none-eabi   # Cortex-M0, QEMU microbit
//! ```
//!
//! The model is `examples/common/digits_int8.bin` (the Cortex-M4F training firmware's model,
//! quantized on the host by `constnn::quant`; the host test `tests/int8_on_device_run.rs`
//! checks that the host produces exactly these bytes), turned into a `static` at compile time
//! by the `const fn` `int8_run::decode`: the model is in flash and no code builds it. The test
//! split comes from `build.rs`, as for the training firmware. Everything that decides the
//! result is in `examples/common/int8_run.rs`, which the host test runs too.
//!
//! Output (semihosting): a header and the result as the last line,
//! `test_correct=…/450 test_accuracy_permille=… logits_fnv=0x… PASS`. The exit status is 0
//! only if the accuracy is at least 0.95 *and* both values equal the host's.

#![no_std]
#![no_main]
// Not `forbid`: as in src/main.rs, the marker functions need `no_mangle`, cortex-m-rt's
// HardFault handler must be an `unsafe fn`, and the measurement-only stack scan reads raw
// memory; each is allowed where it is. Nothing else is unsafe.
#![deny(unsafe_code)]

#[path = "../../../common/int8_run.rs"]
mod int8_run;
#[path = "../line.rs"]
mod line;

use core::hint::black_box;
use core::panic::PanicInfo;

use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};
use cortex_m_semihosting::hio::{self, HostStream};

use int8_run::{Int8Digits, MODEL_BYTES, Outcome, PIXELS, Split, TEST_ROWS};
use line::Line;

#[cfg(board = "microbit")]
const BOARD: &str = "microbit (Cortex-M0)";
#[cfg(board = "mps2-an386")]
const BOARD: &str = "mps2-an386 (Cortex-M4F)";

/// The int8 model, decoded from its bytes at compile time (a bad file fails the build).
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

#[entry]
fn main() -> ! {
    let passed = hio::hstdout().is_ok_and(|mut out| run(&mut out));
    debug::exit(if passed { EXIT_SUCCESS } else { EXIT_FAILURE });
    // Not reached under QEMU; on a board without a debugger, stay here.
    loop {
        cortex_m::asm::wfi();
    }
}

/// Classifies, prints, and returns whether the run passed.
fn run(out: &mut HostStream) -> bool {
    Line::new(out)
        .str("constnn int8 digits inference on ")
        .str(BOARD)
        .str(": model_bytes=")
        .dec(MODEL_BYTES as u32)
        .end();

    infer_begin();
    black_box(MODEL.classify(black_box(&TEST.pixels[0])).0);
    infer_end();

    let got = int8_run::evaluate(&MODEL, TEST);
    #[cfg(feature = "stack-paint")]
    Line::new(out)
        .str("stack_high_water_bytes=")
        .dec(stack_high_water())
        .end();
    print_result(out, &got)
}

/// Prints the last line and returns whether the run passed: accuracy ≥ 0.95 and the host's
/// exact values.
#[inline(never)]
fn print_result(out: &mut HostStream, got: &Outcome) -> bool {
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

/// The stack's high-water mark in bytes (`--features stack-paint` only); as in src/main.rs.
#[cfg(feature = "stack-paint")]
#[allow(unsafe_code)] // reads the unused part of the stack through raw pointers
fn stack_high_water() -> u32 {
    unsafe extern "C" {
        static _stack_start: u32;
        static _stack_end: u32;
    }
    let top = (&raw const _stack_start).addr();
    let mut p = (&raw const _stack_end).addr();
    // SAFETY: every word from `_stack_end` up to `_stack_start` is RAM of the stack region,
    // 4-byte aligned (cortex-m-rt's linker script asserts both), and nothing else writes it
    // while this runs.
    while p < top && unsafe { (p as *const u32).read_volatile() } == cortex_m_rt::STACK_PAINT_VALUE
    {
        p += 4;
    }
    (top - p) as u32
}

/// Marker functions for the instruction counter, as in src/main.rs.
macro_rules! markers {
    ($($(#[$doc:meta])* $name:ident = $id:literal;)*) => {$(
        $(#[$doc])*
        #[allow(unsafe_code)] // `no_mangle` only: a stable symbol name for the counter
        #[unsafe(no_mangle)]
        #[inline(never)]
        fn $name() {
            black_box($id);
        }
    )*};
}

markers! {
    /// Before the int8 inference of one test image: input quantization (the table), the two
    /// int8 layers and the argmax.
    infer_begin = 5u8;
    /// After it.
    infer_end = 6u8;
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    fail(b"panic FAIL\n")
}

#[allow(unsafe_code)] // cortex-m-rt requires the HardFault handler to be an `unsafe fn`
#[exception]
unsafe fn HardFault(_: &ExceptionFrame) -> ! {
    fail(b"HardFault FAIL\n")
}

/// Prints `message` and exits with a failure (the end of the panic and HardFault handlers).
#[inline(never)]
fn fail(message: &[u8]) -> ! {
    if let Ok(mut out) = hio::hstdout() {
        let _ = out.write_all(message);
    }
    debug::exit(EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

/// The device-specific part of the vector table: one entry, as in src/main.rs.
#[allow(unsafe_code)] // `link_section` and `no_mangle`: the section and symbol link.x expects
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
static __INTERRUPTS: [unsafe extern "C" fn(); 1] = [DefaultHandler];

#[allow(unsafe_code)] // declares cortex-m-rt's handler, for its address only: never called here
unsafe extern "C" {
    /// cortex-m-rt's default exception handler.
    fn DefaultHandler();
}
