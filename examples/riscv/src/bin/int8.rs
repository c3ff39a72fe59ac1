//! Int8 inference only: classifies the 450 test images with the quantized digits model in
//! flash and checks the result against the values pinned by the host test.
//!
//! ```text
//! cargo run --release --bin int8                                        # RV32IMAC, QEMU virt
//! cargo run --release --bin int8 --target riscv32imc-unknown-none-elf   # RV32IMC
//! ```
//!
//! The model is `examples/common/digits_int8.bin`, the one the Cortex-M int8 firmware runs
//! (the Cortex-M4F training firmware's model, quantized on the host; the host test
//! `tests/int8_on_device_run.rs` checks the host produces these bytes and pins the run's
//! result). Integer arithmetic only: the same logits on every core. The run, its output and
//! markers are `examples/common/int8_firmware.rs`; `board.rs` is the RISC-V part.

#![no_std]
#![no_main]
// Not `forbid`: the marker functions need `no_mangle` and the exception handler
// `export_name`; each is allowed where it stands.
#![deny(unsafe_code)]

#[path = "../board.rs"]
mod board;
#[path = "../../../common/int8_firmware.rs"]
mod int8_firmware;
#[path = "../../../common/int8_run.rs"]
mod int8_run;
#[path = "../../../common/line.rs"]
mod line;

#[riscv_rt::entry]
fn main() -> ! {
    board::run_and_exit(|out| int8_firmware::run(out, board::BOARD))
}
