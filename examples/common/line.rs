//! One line of output, formatted without `core::fmt`.
//!
//! `core::fmt` (and above all float formatting) costs kilobytes of flash, so the firmware prints
//! only text, decimal integers and hex bit patterns, formatted by hand. Each piece goes to the
//! host as soon as it is formatted (one semihosting write each): no line buffer to clear and
//! copy into, which is less flash and less stack than assembling the line first.
//!
//! Board-independent: each firmware implements [`Sink`] for its semihosting stream
//! (`examples/cortex-m/src/line.rs`, `examples/riscv/src/main.rs`).

/// Where a line's bytes go: the firmware's semihosting stdout.
pub trait Sink {
    /// Writes all of `bytes`, ignoring errors: there is nowhere to report them, and the
    /// firmware's exit status still tells the result.
    fn write_all_bytes(&mut self, bytes: &[u8]);
}

/// A line being written to a [`Sink`] (the host's stdout); [`Line::end`] ends it.
pub struct Line<'a, W: Sink>(&'a mut W);

/// The powers of ten a `u32` can hold, from the highest: the decimal digits of [`Line::dec`].
const POWERS_OF_TEN: [u32; 10] = [
    1_000_000_000,
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

impl<'a, W: Sink> Line<'a, W> {
    /// A new line on `out`.
    pub fn new(out: &'a mut W) -> Self {
        Self(out)
    }

    /// Writes bytes.
    #[inline(never)]
    fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.write_all_bytes(bytes);
        self
    }

    /// Writes a string.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// Writes `v` in decimal, without leading zeros.
    ///
    /// Each digit is found by subtracting its power of ten, at most 9 times: no division, which
    /// a Cortex-M0 does not have in hardware (its software division is 400 bytes of flash).
    pub fn dec(&mut self, mut v: u32) -> &mut Self {
        let mut started = false;
        for &p in &POWERS_OF_TEN {
            let mut digit = b'0';
            while v >= p {
                v -= p;
                digit += 1;
            }
            // From the first nonzero digit on, and the last digit always.
            started |= digit != b'0' || p == 1;
            if started {
                self.bytes(&[digit]);
            }
        }
        self
    }

    /// Writes `v` as `0x` and eight lowercase hex digits (e.g. an `f32`'s `to_bits`).
    pub fn hex(&mut self, v: u32) -> &mut Self {
        let mut digits = *b"0x00000000";
        for (k, d) in digits[2..].iter_mut().enumerate() {
            let nibble = (v >> (28 - 4 * k)) & 0xf;
            *d = b"0123456789abcdef"[nibble as usize];
        }
        self.bytes(&digits)
    }

    /// Ends the line (a newline).
    pub fn end(&mut self) {
        self.bytes(b"\n");
    }
}
