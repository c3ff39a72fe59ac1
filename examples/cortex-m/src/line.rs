//! One line of output, formatted without `core::fmt`.
//!
//! `core::fmt` (and above all float formatting) costs kilobytes of flash, so the firmware prints
//! only text, decimal integers and hex bit patterns, written into a fixed buffer by hand.

use cortex_m_semihosting::hio::HostStream;

/// A line being built; [`Line::print`] sends it to the host's stdout (semihosting).
pub struct Line {
    buf: [u8; 200],
    len: usize,
}

impl Line {
    /// An empty line.
    pub const fn new() -> Self {
        Self {
            buf: [0; 200],
            len: 0,
        }
    }

    /// Appends bytes; what does not fit is cut (the lines printed here are shorter).
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        let n = bytes.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
        self
    }

    /// Appends a string.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// Appends `v` in decimal.
    pub fn dec(&mut self, mut v: u32) -> &mut Self {
        let mut digits = [0; 10];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.bytes(&digits[start..])
    }

    /// Appends `v` as `0x` and eight lowercase hex digits (e.g. an `f32`'s `to_bits`).
    pub fn hex(&mut self, v: u32) -> &mut Self {
        let mut digits = *b"0x00000000";
        for (k, d) in digits[2..].iter_mut().enumerate() {
            let nibble = (v >> (28 - 4 * k)) & 0xf;
            *d = b"0123456789abcdef"[nibble as usize];
        }
        self.bytes(&digits)
    }

    /// Writes the line and a newline to `out` (errors are ignored: there is nowhere to report
    /// them, and the exit status still tells the result).
    pub fn print(&mut self, out: &mut HostStream) {
        self.bytes(b"\n");
        let _ = out.write_all(&self.buf[..self.len]);
    }
}
