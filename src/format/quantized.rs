//! int8 models in constnn's container: dtype [`I8`](super::Dtype::I8), a signature of their
//! own, and a payload every value of which is range-checked on the way in.
//!
//! # Payload layout
//!
//! All values little-endian; layers in order, then the model's float bridges.
//!
//! | part | bytes | values |
//! |---|---:|---|
//! | [`QLinear<IN, OUT>`](QLinear) weights | `OUT·IN` | `i8`, row by row (`weight[o][i]`) |
//! | its bias | `4·OUT` | `i32` at scale `s_in·s_w[o]`, as in a TFLite model (the input zero point is folded in again on load) |
//! | its multipliers | `4·OUT` | `i32` Q0.31, `0` or in `2³⁰ ..= 2³¹−1` ([`quantize_multiplier`](crate::quant::quantize_multiplier)) |
//! | its shifts | `OUT` | `i8` in `−31 ..= 30` |
//! | its input and output scales | 8 | two `f32`, finite and `> 0` |
//! | its input and output zero points | 2 | two `i8` |
//! | its clamp | 2 | `act_min` (`−128`, or the output zero point with a fused ReLU), `act_max` = `127` |
//! | [`QRelu`] | 0 | (the clamp of the layer before) |
//! | [`QModel`]'s input and output quantization | 10 | per side an `f32` scale (finite, `> 0`) and an `i8` zero point |
//!
//! A `QLinear<IN, OUT>` takes `OUT·IN + 9·OUT + 12` bytes: the digits model
//! `QuantizedOf<(Linear<64, 32>, Relu, Linear<32, 10>)>` stores 2 780 bytes, its blob
//! [`quantized_len`] is 2 816.
//!
//! The requantization constants are stored, not recomputed from the scales on load, so a
//! loaded model computes exactly what the saved one did, on every target.

use super::container::{Blob, Encoder, HEADER_LEN, blob_len};
use crate::error::Error;
use crate::quant::{QLinear, QModel, QParams, QRelu};
use crate::signature::{layer_signature, sequence_signature};

/// An int8 model's stored values: their size, a signature, and the checked reader and writer
/// of the layout in the [module documentation](self).
///
/// Implemented by [`QLinear`], [`QRelu`], tuples of them (up to 8) and [`QModel`].
pub trait QuantizedParams: Sized {
    /// The payload bytes (a constant: a buffer can be a `static [u8; N]`).
    const STORED_BYTES: usize;
    /// A fingerprint of the layer kinds and widths: distinct from every `f32` model's, so an
    /// int8 blob never loads as float weights, nor float weights as an int8 model.
    const SIGNATURE: u64;

    /// Appends the stored values to `out`.
    fn store(&self, out: &mut Encoder<'_>);

    /// Reads the stored values and checks every one of them.
    ///
    /// # Errors
    ///
    /// [`Error::ValueOutOfRange`] at the first value outside its range (see the layout).
    fn restore(input: &mut PayloadReader<'_>) -> Result<Self, Error>;
}

/// Reads a payload front to back, knowing each value's byte offset in the blob (for the
/// errors).
#[derive(Debug)]
pub struct PayloadReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> PayloadReader<'a> {
    /// A reader of `payload`, the bytes after the container's header.
    pub fn new(payload: &'a [u8]) -> Self {
        Self {
            bytes: payload,
            pos: 0,
        }
    }

    /// The blob offset of the next value (the payload starts after the header).
    pub fn offset(&self) -> usize {
        HEADER_LEN + self.pos
    }

    /// The next `N` bytes. A payload shorter than its model's [`STORED_BYTES`] cannot reach
    /// here (the container checks the length first); it is reported as truncated anyway.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] if fewer than `N` bytes are left.
    ///
    /// [`STORED_BYTES`]: QuantizedParams::STORED_BYTES
    pub fn take<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let Some(chunk) = self.bytes.get(self.pos..self.pos + N) else {
            return Err(Error::Truncated {
                needed: HEADER_LEN + self.pos + N,
                available: HEADER_LEN + self.bytes.len(),
            });
        };
        self.pos += N;
        let mut out = [0; N];
        out.copy_from_slice(chunk);
        Ok(out)
    }

    /// The next `i8`.
    ///
    /// # Errors
    ///
    /// As [`take`](Self::take).
    pub fn i8(&mut self) -> Result<i8, Error> {
        Ok(i8::from_le_bytes(self.take::<1>()?))
    }

    /// The next `i32`.
    ///
    /// # Errors
    ///
    /// As [`take`](Self::take).
    pub fn i32(&mut self) -> Result<i32, Error> {
        Ok(i32::from_le_bytes(self.take::<4>()?))
    }

    /// The next `f32`.
    ///
    /// # Errors
    ///
    /// As [`take`](Self::take).
    pub fn f32(&mut self) -> Result<f32, Error> {
        Ok(f32::from_le_bytes(self.take::<4>()?))
    }

    /// The next `i8` if `valid` accepts it.
    ///
    /// # Errors
    ///
    /// [`Error::ValueOutOfRange`] at its offset, or as [`take`](Self::take).
    pub fn i8_where(&mut self, valid: impl Fn(i8) -> bool) -> Result<i8, Error> {
        let offset = self.offset();
        let v = self.i8()?;
        if valid(v) {
            Ok(v)
        } else {
            Err(Error::ValueOutOfRange { offset })
        }
    }

    /// The next quantization: an `f32` scale, finite and `> 0`, and an `i8` zero point.
    ///
    /// # Errors
    ///
    /// [`Error::ValueOutOfRange`] at the scale, or as [`take`](Self::take).
    pub fn qparams(&mut self) -> Result<QParams, Error> {
        let scale = self.scale()?;
        Ok(QParams {
            scale,
            zero_point: self.i8()?,
        })
    }

    fn scale(&mut self) -> Result<f32, Error> {
        let offset = self.offset();
        let scale = self.f32()?;
        if scale.is_finite() && scale > 0.0 {
            Ok(scale)
        } else {
            Err(Error::ValueOutOfRange { offset })
        }
    }
}

fn push_qparams(out: &mut Encoder<'_>, q: QParams) {
    out.push_bytes(&q.scale.to_le_bytes());
    out.push_bytes(&q.zero_point.to_le_bytes());
}

impl<const IN: usize, const OUT: usize> QuantizedParams for QLinear<IN, OUT> {
    const STORED_BYTES: usize = OUT * IN + 9 * OUT + 12;
    const SIGNATURE: u64 = layer_signature("QLinear", &[IN as u64, OUT as u64]);

    fn store(&self, out: &mut Encoder<'_>) {
        let weight = self.weight();
        for row in &weight {
            for &w in row {
                out.push_bytes(&w.to_le_bytes());
            }
        }
        for b in self.bias() {
            out.push_bytes(&b.to_le_bytes());
        }
        for m in self.multiplier() {
            out.push_bytes(&m.to_le_bytes());
        }
        for &s in self.shift() {
            out.push_bytes(&s.to_le_bytes());
        }
        let (input, output) = (self.input(), self.output());
        out.push_bytes(&input.scale.to_le_bytes());
        out.push_bytes(&output.scale.to_le_bytes());
        out.push_bytes(&input.zero_point.to_le_bytes());
        out.push_bytes(&output.zero_point.to_le_bytes());
        let (min, max) = self.activation_range();
        out.push_bytes(&min.to_le_bytes());
        out.push_bytes(&max.to_le_bytes());
    }

    fn restore(r: &mut PayloadReader<'_>) -> Result<Self, Error> {
        let mut weight = [[0i8; IN]; OUT];
        for row in &mut weight {
            for w in row {
                *w = r.i8()?;
            }
        }
        let mut bias = [0i32; OUT];
        for b in &mut bias {
            *b = r.i32()?;
        }
        let mut multiplier = [0i32; OUT];
        for m in &mut multiplier {
            let offset = r.offset();
            *m = r.i32()?;
            if *m != 0 && *m < 1 << 30 {
                return Err(Error::ValueOutOfRange { offset });
            }
        }
        let mut shift = [0i8; OUT];
        for s in &mut shift {
            *s = r.i8_where(|s| (-31..=30).contains(&s))?;
        }
        let input_scale = r.scale()?;
        let output_scale = r.scale()?;
        let input = QParams {
            scale: input_scale,
            zero_point: r.i8()?,
        };
        let output = QParams {
            scale: output_scale,
            zero_point: r.i8()?,
        };
        let act_min = r.i8_where(|m| m == -128 || m == output.zero_point)?;
        r.i8_where(|m| m == 127)?;
        // Every value was range-checked above, so `from_parts` accepts them; a fused ReLU is
        // the clamp at the output zero point.
        Self::from_parts(
            weight,
            bias,
            multiplier,
            shift,
            input,
            output,
            act_min == output.zero_point,
        )
    }
}

impl QuantizedParams for QRelu {
    const STORED_BYTES: usize = 0;
    const SIGNATURE: u64 = layer_signature("QRelu", &[]);

    fn store(&self, _: &mut Encoder<'_>) {}

    fn restore(_: &mut PayloadReader<'_>) -> Result<Self, Error> {
        Ok(QRelu)
    }
}

impl<Q: QuantizedParams> QuantizedParams for QModel<Q> {
    const STORED_BYTES: usize = Q::STORED_BYTES + 2 * 5;
    const SIGNATURE: u64 = sequence_signature(&[layer_signature("QModel", &[]), Q::SIGNATURE]);

    fn store(&self, out: &mut Encoder<'_>) {
        self.layers.store(out);
        push_qparams(out, self.input);
        push_qparams(out, self.output);
    }

    fn restore(r: &mut PayloadReader<'_>) -> Result<Self, Error> {
        let layers = Q::restore(r)?;
        let input = r.qparams()?;
        let output = r.qparams()?;
        Ok(Self {
            layers,
            input,
            output,
        })
    }
}

macro_rules! impl_tuple {
    ($($T:ident $i:tt),+) => {
        impl<$($T: QuantizedParams),+> QuantizedParams for ($($T,)+) {
            const STORED_BYTES: usize = 0 $(+ $T::STORED_BYTES)+;
            const SIGNATURE: u64 = sequence_signature(&[$($T::SIGNATURE),+]);

            fn store(&self, out: &mut Encoder<'_>) {
                $(self.$i.store(out);)+
            }

            fn restore(r: &mut PayloadReader<'_>) -> Result<Self, Error> {
                Ok(($($T::restore(r)?,)+))
            }
        }
    };
}

impl_tuple!(A 0);
impl_tuple!(A 0, B 1);
impl_tuple!(A 0, B 1, C 2);
impl_tuple!(A 0, B 1, C 2, D 3);
impl_tuple!(A 0, B 1, C 2, D 3, E 4);
impl_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
impl_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
impl_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// The exact length of the blob [`save_quantized`] writes for `Q`, a `const fn`.
///
/// # Examples
///
/// ```
/// use constnn::format::quantized_len;
/// use constnn::quant::QuantizedOf;
/// use constnn::{Linear, Relu};
///
/// type Q = QuantizedOf<(Linear<64, 32>, Relu, Linear<32, 10>)>;
/// static FLASH: [u8; quantized_len::<Q>()] = [0; quantized_len::<Q>()];
/// assert_eq!(FLASH.len(), 32 + 2780 + 4);
/// ```
pub const fn quantized_len<Q: QuantizedParams>() -> usize {
    blob_len(Q::STORED_BYTES, 0)
}

/// Writes an int8 model (e.g. a [`QModel`]) into `out` as a blob of dtype
/// [`I8`](super::Dtype::I8); returns the bytes written ([`quantized_len`]).
///
/// # Errors
///
/// [`Error::BufferTooSmall`] if `out` is shorter than [`quantized_len::<Q>()`](quantized_len).
pub fn save_quantized<Q: QuantizedParams>(model: &Q, out: &mut [u8]) -> Result<usize, Error> {
    let mut enc = Encoder::new_i8(out, Q::SIGNATURE, Q::STORED_BYTES)?;
    model.store(&mut enc);
    enc.finish()
}

/// Reads a blob of [`save_quantized`] into `model`. The container (magic, version, dtype,
/// signature, lengths, checksum) and then every stored value are checked before `model` is
/// written: on an error it is untouched.
///
/// # Errors
///
/// Those of [`Blob::parse_i8`](super::container::Blob::parse_i8), then
/// [`Error::ValueOutOfRange`] for a value outside its range.
///
/// # Examples
///
/// ```
/// use constnn::format::{load_quantized, quantized_len, save_quantized};
/// use constnn::quant::{QLinear, QModel, QParams};
///
/// let q = QParams { scale: 0.5, zero_point: 0 };
/// let layer = QLinear::<2, 1>::from_quantized([[1, 2]], [4], &[1.0], q, q, false)?;
/// let model = QModel { layers: (layer,), input: q, output: q };
/// let mut blob = [0u8; quantized_len::<QModel<(QLinear<2, 1>,)>>()];
/// save_quantized(&model, &mut blob)?;
///
/// let mut loaded = model;
/// loaded.input.scale = 1.0;
/// load_quantized(&mut loaded, &blob)?;
/// assert_eq!(loaded, model);
/// blob[40] ^= 1; // a flipped bit: refused by the checksum, `loaded` untouched
/// assert!(load_quantized(&mut loaded, &blob).is_err());
/// # Ok::<(), constnn::Error>(())
/// ```
pub fn load_quantized<Q: QuantizedParams>(model: &mut Q, bytes: &[u8]) -> Result<(), Error> {
    let blob = Blob::parse_i8(bytes, Q::SIGNATURE, Q::STORED_BYTES)?;
    *model = Q::restore(&mut PayloadReader::new(blob.payload_bytes()))?;
    Ok(())
}
