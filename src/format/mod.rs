//! Weights in and out, at the byte level: constnn's own checked container, and readers and
//! writers for `safetensors` (PyTorch's `state_dict` files) and numpy's `.npy`.
//!
//! Everything here is `no_std` and allocation-free: readers borrow the input and validate all
//! of it before returning a view, writers fill a caller's buffer whose exact size a
//! (`const`) function gives. No input makes them panic; every way a file can be wrong is a
//! distinct [`Error`](crate::Error) variant.
//!
//! - [`container`]: constnn's blob (magic, version, dtype, model signature, lengths, the
//!   parameters, an optional optimizer state and step count, CRC-32);
//! - [`safetensors`]: a strict reader (JSON header fully validated) and a writer;
//! - [`npy`]: a reader (format versions 1.0, 2.0, 3.0) and a writer (1.0, `'<f4'`);
//! - [`const_load`]: a model built from a blob at compile time ([`const_model!`](crate::const_model)),
//!   rejected at compile time when invalid, kept in flash; [`ConstWeights`] also checks a blob
//!   found at run time without copying it;
//! - [`Crc32`]: the checksum, usable in `const` contexts;
//! - whole models: [`save_weights`], [`load_weights`], [`weights_len`], and checkpoints of a
//!   trainer ([`Trainer::save_checkpoint`](crate::Trainer::save_checkpoint),
//!   [`load_checkpoint`](crate::Trainer::load_checkpoint), [`checkpoint_len`]);
//! - PyTorch `state_dict`s ([`torch`]): [`load_safetensors`], [`save_safetensors`],
//!   [`safetensors_len`], with `nn.Sequential`'s key names and `[out, in]` weights.
//! - int8 models ([`quantized`]): [`save_quantized`], [`load_quantized`], [`quantized_len`],
//!   dtype [`I8`](Dtype::I8) with every stored constant range-checked.

mod crc32;
mod dtype;

pub mod const_load;
pub mod container;
mod model;
pub mod npy;
pub mod quantized;
pub mod safetensors;
pub mod torch;

pub use const_load::ConstWeights;
pub use crc32::{Crc32, crc32};
pub use dtype::Dtype;
pub use model::{checkpoint_len, load_weights, save_weights, weights_len};
pub use quantized::{QuantizedParams, load_quantized, quantized_len, save_quantized};
pub use torch::{
    StateDict, load_safetensors, load_safetensors_lenient, load_safetensors_with, safetensors_len,
    save_safetensors, save_safetensors_with,
};

/// The most dimensions a tensor read from (or written to) `safetensors` or `.npy` may have.
pub const MAX_RANK: usize = 8;
