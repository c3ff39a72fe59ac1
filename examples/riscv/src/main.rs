//! Trains constnn's 64-32-10 digits model on a RISC-V core, evaluates it, and checks the result
//! against the bits pinned by the host test.
//!
//! ```text
//! cargo run --release                                         # RV32IMAC, QEMU virt
//! cargo run --release --target riscv32imc-unknown-none-elf    # RV32IMC (the ESP32-C3's ISA)
//! ```
//!
//! Both are soft-float cores, so the run is the Cortex-M0's (`digits_run::m0`: batch 4, 6
//! epochs) and must end with the Cortex-M0's bits, which the host test `tests/on_device_run.rs`
//! pins. Everything but the entry point and `board.rs` (output stream, exit, fault handlers) is
//! shared with the Cortex-M firmware: the run in `examples/common/digits_run.rs`, its output and
//! markers in `examples/common/digits_firmware.rs`, the line printer in
//! `examples/common/line.rs`.
//!
//! Output (semihosting): a header, one line per epoch, and the result as the last line:
//! `test_correct=…/450 test_accuracy_permille=… loss_bits=0x… weights_fnv=0x… PASS`. The exit
//! status is 0 only if the test accuracy is at least 0.95 *and* the three values equal the
//! host's.

#![no_std]
#![no_main]
// Not `forbid`: the marker functions need `no_mangle`, the exception handler `export_name`, and
// the workspace is a `static mut` taken once; each is allowed where it stands.
#![deny(unsafe_code)]

mod board;
#[path = "../../common/digits_firmware.rs"]
mod digits_firmware;
#[path = "../../common/digits_run.rs"]
mod digits_run;
#[path = "../../common/line.rs"]
mod line;

use digits_run::Workspace;
// Soft-float like the Cortex-M0: its configuration, and its bits.
use digits_run::m0 as config;

/// The batch size.
const BATCH: usize = config::BATCH;

/// The model and the order of the training rows: all zero, so in `.bss`, zeroed by riscv-rt
/// at reset with no code of its own.
#[allow(unsafe_code)] // a `static mut`, borrowed once in `main`
static mut WORKSPACE: Workspace = Workspace::ZERO;

#[riscv_rt::entry]
fn main() -> ! {
    // SAFETY: `main` is entered once, on the only hart (riscv-rt's `single-hart`), with no
    // interrupt enabled, and nothing else names `WORKSPACE`: this is the one reference to it
    // for the whole program (what cortex-m-rt's `#[entry]` makes of a `static mut` in `main`).
    #[allow(unsafe_code)]
    let ws = unsafe { &mut *core::ptr::addr_of_mut!(WORKSPACE) };
    board::run_and_exit(|out| {
        digits_firmware::run::<_, BATCH>(out, board::BOARD, &config::RUN, ws, |_| {})
    })
}
