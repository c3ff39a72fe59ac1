//! What depends on the core and the machine, shared by both RISC-V binaries: the board's name,
//! the semihosting output stream, exit, and the panic and exception handlers.

use core::panic::PanicInfo;

use semihosting::io::{self, Write};
use semihosting::process;

use crate::line::Sink;

/// The board, as the header line names it.
#[cfg(target_feature = "a")]
pub const BOARD: &str = "QEMU virt (RV32IMAC)";
/// The board, as the header line names it.
#[cfg(not(target_feature = "a"))]
pub const BOARD: &str = "QEMU virt (RV32IMC)";

/// The semihosting stdout, where the firmware's lines go.
pub type Out = io::Stdout;

impl Sink for Out {
    fn write_all_bytes(&mut self, bytes: &[u8]) {
        let _ = self.write_all(bytes);
    }
}

/// Runs `run` on the host's stdout and exits with status 0 if it returns true, 1 otherwise
/// (QEMU's exit status: semihosting's `SYS_EXIT_EXTENDED`).
pub fn run_and_exit(run: impl FnOnce(&mut Out) -> bool) -> ! {
    let passed = io::stdout().is_ok_and(|mut out| run(&mut out));
    process::exit(if passed { 0 } else { 1 })
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    // The message is not printed: formatting it would pull in `core::fmt`.
    fail(b"panic FAIL\n")
}

/// Every exception (illegal instruction, misaligned or faulting access, …): riscv-rt's default
/// would spin forever.
#[allow(unsafe_code)] // `export_name`: the symbol riscv-rt's trap handler calls
#[unsafe(export_name = "ExceptionHandler")]
fn exception_handler(_: &riscv_rt::TrapFrame) -> ! {
    fail(b"exception FAIL\n")
}

/// Prints `message` and exits with a failure (the end of the panic and exception handlers).
///
/// One `write`, not `Line` or `write_all` (whose slicing can panic), so that a panic handler
/// cannot panic again and the static stack bound stays exact; semihosting writes the whole
/// message at once.
#[inline(never)]
fn fail(message: &[u8]) -> ! {
    if let Ok(mut out) = io::stdout() {
        let _ = out.write(message);
    }
    process::exit(1)
}
