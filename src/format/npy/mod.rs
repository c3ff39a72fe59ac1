//! numpy's `.npy` arrays: a strict, allocation-free reader ([`Npy`], format versions 1.0, 2.0
//! and 3.0) and a writer of `'<f4'` arrays ([`write_f32`], version 1.0, byte for byte what
//! `numpy.save` writes).
//!
//! A file is: the magic `\x93NUMPY`; the version (two bytes, major and minor); the header
//! length (u16 LE in 1.0, u32 LE in 2.0 and 3.0); the header, a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` padded with spaces and a final
//! newline so the data starts on a 64-byte boundary; then the data, row-major (C order).

mod reader;
mod writer;

pub use reader::{MAX_HEADER_LEN, Npy};
pub use writer::{len_f32, write_f32};

/// The six bytes every `.npy` file starts with.
pub const MAGIC: [u8; 6] = *b"\x93NUMPY";
