//! What every binary of this crate needs from the board besides its `main`: the exit, the
//! panic and HardFault handlers, which print a line and exit with a failure, the one-entry
//! interrupt table, and the measurement-only stack high-water mark.

use core::panic::PanicInfo;

use cortex_m_rt::{ExceptionFrame, exception};
use cortex_m_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};
use cortex_m_semihosting::hio;

/// Ends the run: QEMU exits with status 0 if it `passed`, 1 otherwise.
#[inline(always)] // as a call of its own it costs code in every binary
pub fn exit(passed: bool) -> ! {
    debug::exit(if passed { EXIT_SUCCESS } else { EXIT_FAILURE });
    // Not reached under QEMU; on a board without a debugger, stay here.
    loop {
        cortex_m::asm::wfi();
    }
}

/// Prints `stack_high_water_bytes=N` (`--features stack-paint` only; `measure.sh` reads it).
#[cfg(feature = "stack-paint")]
#[allow(dead_code)] // the fine-tuning binary is measured by its static bound only
pub fn print_stack_high_water(out: &mut hio::HostStream) {
    crate::line::Line::new(out)
        .str("stack_high_water_bytes=")
        .dec(stack_high_water())
        .end();
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    // The message is not printed: formatting it would pull in `core::fmt`.
    fail(b"panic FAIL\n")
}

#[allow(unsafe_code)] // cortex-m-rt requires the HardFault handler to be an `unsafe fn`
#[exception]
unsafe fn HardFault(_: &ExceptionFrame) -> ! {
    fail(b"HardFault FAIL\n")
}

/// Prints `message` and exits with a failure (the end of the panic and HardFault handlers).
///
/// `Line` is not used, so that a panic handler cannot panic again (and the static stack bound
/// stays exact).
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

/// The device-specific part of the vector table (IRQ 0 onwards): a single entry, IRQ 0 to
/// cortex-m-rt's `DefaultHandler` (an endless loop).
///
/// The firmware enables no interrupt, so no entry is ever used; without cortex-m-rt's `device`
/// feature the table would have an entry for every interrupt the architecture allows, 240 on
/// the Cortex-M4F (960 bytes of flash) and 32 on the Cortex-M0 (128 bytes). cortex-m-rt's
/// `link.x` places this table right after the 16 core exception vectors and requires at least
/// one entry.
#[allow(unsafe_code)] // `link_section` and `no_mangle`: the section and symbol link.x expects
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
static __INTERRUPTS: [unsafe extern "C" fn(); 1] = [DefaultHandler];

#[allow(unsafe_code)] // declares cortex-m-rt's handler, for its address only: never called here
unsafe extern "C" {
    /// cortex-m-rt's default exception handler (`DefaultHandler_` unless the program defines
    /// its own); the core exceptions the firmware does not handle use it too.
    fn DefaultHandler();
}

/// The stack's high-water mark in bytes (`--features stack-paint` only).
///
/// cortex-m-rt's `paint-stack` fills the stack region, from `_stack_end` (the end of the
/// statics) up to `_stack_start` (the top of RAM), with `0xCCCC_CCCC` at reset; the lowest word
/// that lost the paint is the deepest the stack has reached. A lower bound on the worst case
/// (only the executed paths), to set beside the static bound of `measure.sh`.
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
