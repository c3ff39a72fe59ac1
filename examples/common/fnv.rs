//! FNV-1a, the one checksum of the examples and tests: of bytes, and of a model's parameter
//! bits.
//!
//! `no_std` (it needs only `core` and constnn's `Params`), so the firmware uses it too. Included
//! with `#[path]` by `tests/common/mod.rs`, `examples/bench.rs` and
//! `examples/common/digits_run.rs` (the firmware's run and the host test that pins its
//! result). Two widths: [`Fnv1a<u32>`] (offset basis `0x811c9dc5`, prime `0x01000193`) and
//! [`Fnv1a<u64>`] (`0xcbf29ce484222325`, `0x100000001b3`).

// Each crate that includes this module uses a different part of it.
#![allow(dead_code)]

use constnn::Params;

/// An FNV hash width: its offset basis, its prime and one round, `(h ^ v) · prime`.
pub trait Width: Copy {
    /// The hash of the empty input.
    const OFFSET: Self;
    /// One round: `(self ^ v) · prime`, wrapping.
    fn round(self, v: u32) -> Self;
}

impl Width for u32 {
    const OFFSET: Self = 0x811c_9dc5;
    #[inline]
    fn round(self, v: u32) -> Self {
        (self ^ v).wrapping_mul(0x0100_0193)
    }
}

impl Width for u64 {
    const OFFSET: Self = 0xcbf2_9ce4_8422_2325;
    #[inline]
    fn round(self, v: u32) -> Self {
        (self ^ u64::from(v)).wrapping_mul(0x100_0000_01b3)
    }
}

/// An FNV-1a hash in progress; [`Fnv1a::new`] is the empty input's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fnv1a<W>(pub W);

impl<W: Width> Fnv1a<W> {
    /// The hash of the empty input (the offset basis).
    pub const fn new() -> Self {
        Self(W::OFFSET)
    }

    /// Continues with `bytes`, one round per byte (FNV-1a proper).
    pub fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.round(u32::from(byte));
        }
    }

    /// Continues with the little-endian bytes of each value's `to_bits`.
    ///
    /// Not inlined: [`params`] calls it once per parameter slice, and one copy of the loop is
    /// less flash on a microcontroller.
    #[inline(never)]
    pub fn write_f32s(&mut self, values: &[f32]) {
        for v in values {
            self.write(&v.to_bits().to_le_bytes());
        }
    }

    /// Continues with one round on a whole 32-bit word (not FNV-1a proper, which takes bytes:
    /// a cheaper fingerprint of a sequence of `f32` bits, as `examples/bench.rs` prints it).
    pub fn write_word(&mut self, word: u32) {
        self.0 = self.0.round(word);
    }
}

/// FNV-1a over the little-endian bytes of every stored parameter's `to_bits`, in
/// `Params::visit` order.
pub fn params<W: Width, M: Params>(model: &M) -> W {
    let mut h = Fnv1a::<W>::new();
    model.visit(&mut |p: &[f32]| h.write_f32s(p));
    h.0
}
