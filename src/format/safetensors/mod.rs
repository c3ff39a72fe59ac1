//! `safetensors`, the format PyTorch users save `state_dict`s in: a strict, allocation-free
//! reader ([`SafeTensors`]) and a writer of `F32` tensors ([`Writer`]).
//!
//! A file is: 8 bytes, the header length *N* (u64 LE); *N* bytes of UTF-8 JSON, an object
//! mapping each tensor name to `{"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}`
//! (offsets relative to the data area) plus an optional `"__metadata__"` object of strings,
//! padded with spaces; then the data, each tensor's bytes little-endian and row-major.
//!
//! `nn.Sequential` names parameters `"0.weight"`, `"0.bias"`, `"2.weight"`, … (the index is the
//! layer's position), and `nn.Linear.weight` is `[out, in]`:
//! [`TensorView::read_f32_transposed`] and [`Writer::push_transposed`] convert from and to
//! constnn's `weight[i][o]`.

mod json;
mod reader;
pub(crate) mod writer;

pub use json::Chars;
pub use reader::{MAX_HEADER_LEN, Name, SafeTensors, TensorView};
pub use writer::{TensorSpec, Writer, write_len};
