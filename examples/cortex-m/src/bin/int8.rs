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
//! result is in `examples/common/int8_run.rs`, which the host test runs too; the run, its
//! output and markers are `examples/common/int8_firmware.rs`, shared with the RISC-V firmware.
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

#[path = "../board.rs"]
mod board;
#[path = "../../../common/int8_firmware.rs"]
mod int8_firmware;
#[path = "../../../common/int8_run.rs"]
mod int8_run;
#[path = "../line.rs"]
mod line;

use cortex_m_rt::entry;
use cortex_m_semihosting::hio;

#[cfg(board = "microbit")]
const BOARD: &str = "microbit (Cortex-M0)";
#[cfg(board = "mps2-an386")]
const BOARD: &str = "mps2-an386 (Cortex-M4F)";

#[entry]
fn main() -> ! {
    board::exit(hio::hstdout().is_ok_and(|mut out| {
        let passed = int8_firmware::run(&mut out, BOARD);
        #[cfg(feature = "stack-paint")]
        board::print_stack_high_water(&mut out);
        passed
    }))
}
