//! constnn's own weights container: a checked, versioned blob of `f32` parameters, optionally
//! followed by an optimizer state and a step count (a *checkpoint*).
//!
//! # Byte layout (format version 1)
//!
//! All integers and floats are little-endian on every target.
//!
//! | offset | size | field | value |
//! |---:|---:|---|---|
//! | 0 | 4 | magic | `b"CNNW"` |
//! | 4 | 2 | format version | `1` (u16) |
//! | 6 | 1 | dtype | `1` = `f32` ([`Dtype::F32`]); `2` = an int8 model ([`Dtype::I8`], [`save_quantized`](crate::format::save_quantized); never a checkpoint) |
//! | 7 | 1 | flags | bit 0 = checkpoint (optimizer state and step count present); other bits 0 |
//! | 8 | 8 | model signature | u64, computed from the model's layer kinds and widths |
//! | 16 | 4 | payload length *P* | u32, bytes of parameters (4 × the parameter count for `f32`) |
//! | 20 | 4 | state length *S* | u32, bytes of optimizer state; 0 unless a checkpoint |
//! | 24 | 8 | step count | u64, optimizer steps taken; 0 unless a checkpoint |
//! | 32 | *P* | payload | the parameters, `f32` LE, in the model's fixed visit order (an int8 model: the layout of [`QuantizedParams`](crate::format::QuantizedParams)) |
//! | 32 + *P* | *S* | optimizer state | `f32` LE, in the optimizer's fixed order, then the model's generator states (a [`Dropout`](crate::Dropout)'s 4 words), `u32` LE, in layer order |
//! | 32 + *P* + *S* | 4 | CRC-32 | zlib's CRC-32 ([`crc32`](super::crc32)) of bytes `0 .. 32 + P + S` |
//!
//! The total length is [`blob_len`]`(P, S)` = 36 + *P* + *S*, a `const fn`, so a buffer can be a
//! `static [u8; N]`.
//!
//! # Validation
//!
//! [`Blob::parse`] checks, in this order, and returns the first error: the magic
//! ([`BadMagic`](Error::BadMagic)), the version ([`UnsupportedVersion`](Error::UnsupportedVersion)),
//! that the 32-byte header is there ([`Truncated`](Error::Truncated)), the dtype
//! ([`WrongDtype`](Error::WrongDtype), or [`UnknownDtype`](Error::UnknownDtype) for a code no
//! [`Dtype`] has), the flags ([`UnknownFlags`](Error::UnknownFlags)), the signature
//! ([`SignatureMismatch`](Error::SignatureMismatch)), the payload length
//! ([`PayloadLengthMismatch`](Error::PayloadLengthMismatch)), the checkpoint part
//! ([`NotACheckpoint`](Error::NotACheckpoint),
//! [`StateLengthMismatch`](Error::StateLengthMismatch), a non-zero step count in a blob that is
//! not a checkpoint: [`MalformedHeader`](Error::MalformedHeader) at 24), the total length
//! ([`Truncated`](Error::Truncated), [`TrailingBytes`](Error::TrailingBytes)) and last the
//! checksum ([`ChecksumMismatch`](Error::ChecksumMismatch)). The header fields come first so a
//! blob of another model is reported as such even when its length differs; a bit flip in the
//! header is reported by the field it lands in, one anywhere else by the checksum. Only a
//! blob that passes every check is returned, so a caller that copies values out of a
//! [`Blob`] never copies from an invalid one.

use super::Dtype;
use super::crc32::Crc32;
use crate::Error;

/// The first four bytes of every blob.
pub const MAGIC: [u8; 4] = *b"CNNW";
/// The format version this crate writes and reads.
pub const VERSION: u16 = 1;
/// The header's length in bytes (the payload starts here).
pub const HEADER_LEN: usize = 32;
/// The checksum's length in bytes (at the very end).
pub const CRC_LEN: usize = 4;
/// Flags bit 0: the blob is a checkpoint (holds an optimizer state and a step count).
pub const FLAG_CHECKPOINT: u8 = 1;

pub(crate) const OFFSET_VERSION: usize = 4;
pub(crate) const OFFSET_DTYPE: usize = 6;
pub(crate) const OFFSET_FLAGS: usize = 7;
pub(crate) const OFFSET_SIGNATURE: usize = 8;
pub(crate) const OFFSET_PAYLOAD_LEN: usize = 16;
pub(crate) const OFFSET_STATE_LEN: usize = 20;
pub(crate) const OFFSET_STEP: usize = 24;
/// The largest payload or state a u32 length field can declare.
const MAX_SECTION: usize = u32::MAX as usize;

/// The exact length of a blob with `payload_bytes` of parameters and `state_bytes` of
/// optimizer state: header + payload + state + checksum. Saturates at `usize::MAX` (such a
/// blob cannot exist; the encoder then reports [`Error::TooLarge`]).
///
/// # Examples
///
/// ```
/// use constnn::format::container::{blob_len, blob_len_f32};
///
/// // 2080 parameters (a Linear<64, 32>), weights only: a static buffer of the exact size.
/// static BLOB: [u8; blob_len_f32(2080, 0)] = [0; blob_len_f32(2080, 0)];
/// assert_eq!(BLOB.len(), 32 + 4 * 2080 + 4);
/// assert_eq!(blob_len(8, 4), 48);
/// ```
pub const fn blob_len(payload_bytes: usize, state_bytes: usize) -> usize {
    HEADER_LEN
        .saturating_add(payload_bytes)
        .saturating_add(state_bytes)
        .saturating_add(CRC_LEN)
}

/// [`blob_len`] for `f32` values: `payload_floats` parameters and `state_floats` state values.
pub const fn blob_len_f32(payload_floats: usize, state_floats: usize) -> usize {
    blob_len(
        payload_floats.saturating_mul(4),
        state_floats.saturating_mul(4),
    )
}

/// The starting value of a model signature: FNV-1a's 64-bit offset basis.
pub const SIGNATURE_SEED: u64 = 0xCBF2_9CE4_8422_2325;

/// Folds `value` into a model signature: FNV-1a (64-bit) over `value`'s eight little-endian
/// bytes. A model's signature is `SIGNATURE_SEED` folded with one tag per layer kind and
/// each of its widths, in layer order; any change of kind, width or order changes it.
///
/// # Examples
///
/// ```
/// use constnn::format::container::{SIGNATURE_SEED, mix_signature};
///
/// const LINEAR: u64 = 1;
/// const fn linear(h: u64, inputs: u64, outputs: u64) -> u64 {
///     mix_signature(mix_signature(mix_signature(h, LINEAR), inputs), outputs)
/// }
/// const A: u64 = linear(SIGNATURE_SEED, 64, 32);
/// const B: u64 = linear(SIGNATURE_SEED, 32, 64);
/// assert_ne!(A, B);
/// ```
pub const fn mix_signature(hash: u64, value: u64) -> u64 {
    let bytes = value.to_le_bytes();
    let mut h = hash;
    let mut i = 0;
    while i < 8 {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
        i += 1;
    }
    h
}

/// Writes a blob into a byte buffer: the header at creation, then the values streamed in
/// with [`push`](Self::push) (parameters first, then the optimizer state), then the checksum
/// at [`finish`](Self::finish).
///
/// `push` takes slices, so a model's `Params::visit` feeds it directly with no copy of the
/// parameters: `model.visit(&mut |p| enc.push(p))`. It cannot fail in the middle of a visit;
/// too many values are counted, not written, and `finish` reports the miscount.
///
/// # Examples
///
/// ```
/// use constnn::format::container::{Blob, Encoder, blob_len_f32};
///
/// const SIG: u64 = 0x1234;
/// let weights = [1.0f32, -2.0, 0.5];
/// let bias = [0.25f32];
/// let mut buf = [0u8; blob_len_f32(4, 0)];
/// let mut enc = Encoder::new(&mut buf, SIG, 4)?;
/// enc.push(&weights);
/// enc.push(&bias);
/// assert_eq!(enc.finish()?, buf.len());
///
/// let blob = Blob::parse(&buf, SIG, 4, None)?;
/// let mut back = [0.0f32; 4];
/// blob.read_payload(&mut back)?;
/// assert_eq!(back, [1.0, -2.0, 0.5, 0.25]);
/// # Ok::<(), constnn::Error>(())
/// ```
#[derive(Debug)]
pub struct Encoder<'a> {
    /// The blob, exactly [`blob_len`] bytes (the caller's buffer cut to size).
    out: &'a mut [u8],
    /// Where the next value goes.
    pos: usize,
    /// The end of the values (the checksum's offset).
    end: usize,
    /// The checksum of `out[..pos]`.
    crc: Crc32,
    /// Values pushed so far (written or not).
    pushed: usize,
    /// Values the header declares.
    expected: usize,
}

impl<'a> Encoder<'a> {
    /// Starts a weights-only blob of `payload_floats` parameters for the model with
    /// `signature`, writing its header into `out`.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] if the payload exceeds 4 GiB; [`Error::BufferTooSmall`] if `out`
    /// is shorter than [`blob_len_f32`]`(payload_floats, 0)` (bytes beyond it are not touched).
    pub fn new(out: &'a mut [u8], signature: u64, payload_floats: usize) -> Result<Self, Error> {
        Self::start(out, Dtype::F32, signature, payload_floats, None)
    }

    /// Starts a weights blob of dtype [`Dtype::I8`] (an int8 model,
    /// [`save_quantized`](crate::format::save_quantized)): a payload of `payload_bytes` bytes,
    /// pushed with [`push_bytes`](Self::push_bytes) and counted in bytes.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn new_i8(out: &'a mut [u8], signature: u64, payload_bytes: usize) -> Result<Self, Error> {
        Self::start(out, Dtype::I8, signature, payload_bytes, None)
    }

    /// Starts a checkpoint: `payload_floats` parameters, then `state_floats` optimizer-state
    /// values, and the optimizer's `step` count.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), for [`blob_len_f32`]`(payload_floats, state_floats)`.
    pub fn checkpoint(
        out: &'a mut [u8],
        signature: u64,
        payload_floats: usize,
        state_floats: usize,
        step: u64,
    ) -> Result<Self, Error> {
        Self::start(
            out,
            Dtype::F32,
            signature,
            payload_floats,
            Some((state_floats, step)),
        )
    }

    /// `payload_values` of `dtype` (4 or 1 bytes each) and, for a checkpoint, `state_values`
    /// 4-byte words.
    fn start(
        out: &'a mut [u8],
        dtype: Dtype,
        signature: u64,
        payload_values: usize,
        checkpoint: Option<(usize, u64)>,
    ) -> Result<Self, Error> {
        let unit = dtype.bits() / 8;
        let (state_values, step) = checkpoint.unwrap_or((0, 0));
        let mut sizes = [0usize; 2];
        for (size, (values, unit)) in sizes
            .iter_mut()
            .zip([(payload_values, unit), (state_values, 4)])
        {
            *size = match values.checked_mul(unit) {
                Some(b) if u32::try_from(b).is_ok() => b,
                _ => {
                    return Err(Error::TooLarge {
                        limit: MAX_SECTION,
                        found: values.saturating_mul(unit),
                    });
                }
            };
        }
        let [payload_bytes, state_bytes] = sizes;
        let total = blob_len(payload_bytes, state_bytes);
        let available = out.len();
        let Some(out) = out.get_mut(..total) else {
            return Err(Error::BufferTooSmall {
                needed: total,
                available,
            });
        };
        let mut header = [0u8; HEADER_LEN];
        header[..4].copy_from_slice(&MAGIC);
        header[OFFSET_VERSION..OFFSET_VERSION + 2].copy_from_slice(&VERSION.to_le_bytes());
        header[OFFSET_DTYPE] = dtype.code();
        header[OFFSET_FLAGS] = if checkpoint.is_some() {
            FLAG_CHECKPOINT
        } else {
            0
        };
        header[OFFSET_SIGNATURE..OFFSET_SIGNATURE + 8].copy_from_slice(&signature.to_le_bytes());
        header[OFFSET_PAYLOAD_LEN..OFFSET_PAYLOAD_LEN + 4]
            .copy_from_slice(&(payload_bytes as u32).to_le_bytes());
        header[OFFSET_STATE_LEN..OFFSET_STATE_LEN + 4]
            .copy_from_slice(&(state_bytes as u32).to_le_bytes());
        header[OFFSET_STEP..OFFSET_STEP + 8].copy_from_slice(&step.to_le_bytes());
        out[..HEADER_LEN].copy_from_slice(&header);
        Ok(Self {
            out,
            pos: HEADER_LEN,
            end: total - CRC_LEN,
            crc: Crc32::new().update(&header),
            pushed: 0,
            expected: payload_values + state_values,
        })
    }

    /// Appends `values` (little-endian). Values beyond the declared count are counted but not
    /// written; [`finish`](Self::finish) then fails.
    pub fn push(&mut self, values: &[f32]) {
        self.push_le(values, f32::to_le_bytes);
    }

    /// Appends `words` as `u32` LE (a generator state, in a checkpoint's state section); counts
    /// like [`push`](Self::push), one value per word.
    pub fn push_words(&mut self, words: &[u32]) {
        self.push_le(words, u32::to_le_bytes);
    }

    /// Appends raw bytes (the payload of an [`I8`](Dtype::I8) blob); counts one value per
    /// byte. Bytes beyond the declared length are counted but not written.
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        self.pushed = self.pushed.saturating_add(bytes.len());
        let n = bytes.len().min(self.end - self.pos);
        let (start, stop) = (self.pos, self.pos + n);
        self.out[start..stop].copy_from_slice(&bytes[..n]);
        self.crc = self.crc.update(&bytes[..n]);
        self.pos = stop;
    }

    fn push_le<T: Copy>(&mut self, values: &[T], le: fn(T) -> [u8; 4]) {
        self.pushed = self.pushed.saturating_add(values.len());
        let room = (self.end - self.pos) / 4;
        let n = values.len().min(room);
        let start = self.pos;
        let stop = start + 4 * n;
        for (dst, &v) in self.out[start..stop].chunks_exact_mut(4).zip(values) {
            dst.copy_from_slice(&le(v));
        }
        self.crc = self.crc.update(&self.out[start..stop]);
        self.pos = stop;
    }

    /// The number of values pushed so far.
    pub fn pushed(&self) -> usize {
        self.pushed
    }

    /// Writes the checksum and returns the blob's length.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] if the number of values pushed is not the number declared
    /// (parameters plus state); the checksum is then not written, so the bytes do not parse.
    pub fn finish(self) -> Result<usize, Error> {
        if self.pushed != self.expected {
            return Err(Error::LengthMismatch {
                expected: self.expected,
                found: self.pushed,
            });
        }
        let crc = self.crc.finish().to_le_bytes();
        self.out[self.end..].copy_from_slice(&crc);
        Ok(self.end + CRC_LEN)
    }
}

/// A blob that passed every check of [`Blob::parse`]: its values can be copied out.
///
/// # Examples
///
/// A checkpoint: parameters, optimizer state and step count.
///
/// ```
/// use constnn::Error;
/// use constnn::format::container::{Blob, Encoder, blob_len_f32};
///
/// let mut buf = [0u8; blob_len_f32(2, 2)];
/// let mut enc = Encoder::checkpoint(&mut buf, 7, 2, 2, 1000)?;
/// enc.push(&[1.0, 2.0]); // parameters
/// enc.push(&[0.1, 0.2]); // optimizer state (e.g. momentum)
/// enc.finish()?;
///
/// let blob = Blob::parse(&buf, 7, 2, Some(2))?;
/// assert_eq!(blob.step(), Some(1000));
/// assert_eq!(blob.state().collect::<Vec<_>>(), [0.1, 0.2]);
/// // Another model's signature, or a corrupt byte, and nothing is returned.
/// assert_eq!(
///     Blob::parse(&buf, 8, 2, Some(2)).unwrap_err(),
///     Error::SignatureMismatch { expected: 8, found: 7 }
/// );
/// buf[33] ^= 1;
/// assert!(matches!(Blob::parse(&buf, 7, 2, Some(2)), Err(Error::ChecksumMismatch { .. })));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blob<'a> {
    dtype: Dtype,
    payload: &'a [u8],
    state: &'a [u8],
    signature: u64,
    step: u64,
    checkpoint: bool,
}

/// What the caller expects of a blob.
#[derive(Clone, Copy)]
pub(crate) struct Expect {
    pub(crate) dtype: Dtype,
    pub(crate) signature: u64,
    /// Values of `dtype` (bytes for `I8`).
    pub(crate) payload_values: usize,
    pub(crate) state_floats: Option<usize>,
}

const fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

const fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

const fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    let mut i = 0;
    while i < 8 {
        w[i] = b[at + i];
        i += 1;
    }
    u64::from_le_bytes(w)
}

impl<'a> Blob<'a> {
    /// Validates `bytes` as the blob of the model with `signature` and `payload_floats`
    /// parameters. `state_floats`: `Some(n)` to require a checkpoint with `n` optimizer-state
    /// values, `None` to accept weights only or any checkpoint (its state is then skipped).
    /// `bytes` must be exactly the blob ([`blob_len`] bytes).
    ///
    /// # Errors
    ///
    /// The first check that fails, in the order of the [module documentation](self).
    pub fn parse(
        bytes: &'a [u8],
        signature: u64,
        payload_floats: usize,
        state_floats: Option<usize>,
    ) -> Result<Self, Error> {
        Self::parse_with(
            bytes,
            Some(Expect {
                dtype: Dtype::F32,
                signature,
                payload_values: payload_floats,
                state_floats,
            }),
        )
    }

    /// Validates `bytes` as the [`I8`](Dtype::I8) blob (an int8 model, never a checkpoint)
    /// with `signature` and a payload of `payload_bytes` bytes; checks as [`parse`](Self::parse).
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse); an `f32` blob is [`Error::WrongDtype`].
    pub fn parse_i8(bytes: &'a [u8], signature: u64, payload_bytes: usize) -> Result<Self, Error> {
        Self::parse_with(
            bytes,
            Some(Expect {
                dtype: Dtype::I8,
                signature,
                payload_values: payload_bytes,
                state_floats: None,
            }),
        )
    }

    /// Validates `bytes` as a blob of any model: the structure, lengths and checksum, but not
    /// the signature or sizes (for tools that inspect blobs).
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse), less the model checks; a payload or state length that is
    /// not a multiple of 4 is [`Error::MalformedHeader`] at its field.
    pub fn parse_any(bytes: &'a [u8]) -> Result<Self, Error> {
        Self::parse_with(bytes, None)
    }

    /// The one implementation of the checks: a `const fn`, so that
    /// [`const_load`](super::const_load) runs the same checks at compile time.
    pub(crate) const fn parse_with(bytes: &'a [u8], expect: Option<Expect>) -> Result<Self, Error> {
        let mut i = 0;
        while i < MAGIC.len() && i < bytes.len() {
            if bytes[i] != MAGIC[i] {
                return Err(Error::BadMagic);
            }
            i += 1;
        }
        if bytes.len() >= OFFSET_VERSION + 2 {
            let version = u16_at(bytes, OFFSET_VERSION);
            if version != VERSION {
                return Err(Error::UnsupportedVersion { found: version });
            }
        }
        if bytes.len() < HEADER_LEN {
            return Err(Error::Truncated {
                needed: blob_len(0, 0),
                available: bytes.len(),
            });
        }
        let wanted = match expect {
            Some(e) => e.dtype,
            None => Dtype::F32,
        };
        let any = expect.is_none();
        let dtype = match Dtype::from_code(bytes[OFFSET_DTYPE]) {
            Some(d) if d.code() == wanted.code() || (any && d.code() == Dtype::I8.code()) => d,
            Some(found) => {
                return Err(Error::WrongDtype {
                    expected: wanted,
                    found,
                });
            }
            None => {
                return Err(Error::UnknownDtype {
                    offset: OFFSET_DTYPE,
                });
            }
        };
        let unit = dtype.bits() / 8;
        let flags = bytes[OFFSET_FLAGS];
        // An int8 model is for inference: it has no optimizer state to checkpoint.
        let allowed = if dtype.code() == Dtype::I8.code() {
            0
        } else {
            FLAG_CHECKPOINT
        };
        if flags & !allowed != 0 {
            return Err(Error::UnknownFlags { found: flags });
        }
        let checkpoint = flags & FLAG_CHECKPOINT != 0;
        let signature = u64_at(bytes, OFFSET_SIGNATURE);
        let payload_len = u32_at(bytes, OFFSET_PAYLOAD_LEN) as usize;
        let state_len = u32_at(bytes, OFFSET_STATE_LEN) as usize;
        let step = u64_at(bytes, OFFSET_STEP);
        if let Some(e) = expect {
            if signature != e.signature {
                return Err(Error::SignatureMismatch {
                    expected: e.signature,
                    found: signature,
                });
            }
            let want = e.payload_values.saturating_mul(unit);
            if payload_len != want {
                return Err(Error::PayloadLengthMismatch {
                    expected: want,
                    found: payload_len,
                });
            }
        } else if !payload_len.is_multiple_of(unit) {
            return Err(Error::MalformedHeader {
                offset: OFFSET_PAYLOAD_LEN,
            });
        }
        let state_floats = match expect {
            Some(e) => e.state_floats,
            None => None,
        };
        match state_floats {
            Some(state_floats) => {
                if !checkpoint {
                    return Err(Error::NotACheckpoint);
                }
                let want = state_floats.saturating_mul(4);
                if state_len != want {
                    return Err(Error::StateLengthMismatch {
                        expected: want,
                        found: state_len,
                    });
                }
            }
            None => {
                if !checkpoint && state_len != 0 {
                    return Err(Error::StateLengthMismatch {
                        expected: 0,
                        found: state_len,
                    });
                }
                if !state_len.is_multiple_of(4) {
                    return Err(Error::MalformedHeader {
                        offset: OFFSET_STATE_LEN,
                    });
                }
            }
        }
        if !checkpoint && step != 0 {
            return Err(Error::MalformedHeader {
                offset: OFFSET_STEP,
            });
        }
        // Both lengths are below 2³², so the sum fits in u64 on every target.
        let total = (HEADER_LEN + CRC_LEN) as u64 + payload_len as u64 + state_len as u64;
        if (bytes.len() as u64) < total {
            return Err(Error::Truncated {
                needed: if total > usize::MAX as u64 {
                    usize::MAX
                } else {
                    total as usize
                },
                available: bytes.len(),
            });
        }
        if bytes.len() as u64 > total {
            return Err(Error::TrailingBytes {
                expected: total as usize,
                found: bytes.len(),
            });
        }
        let end = bytes.len() - CRC_LEN;
        let (covered, _) = bytes.split_at(end);
        let computed = Crc32::new().update(covered).finish();
        let stored = u32_at(bytes, end);
        if computed != stored {
            return Err(Error::ChecksumMismatch {
                expected: computed,
                found: stored,
            });
        }
        let (_, sections) = covered.split_at(HEADER_LEN);
        let (payload, rest) = sections.split_at(payload_len);
        Ok(Self {
            dtype,
            payload,
            state: rest,
            signature,
            step,
            checkpoint,
        })
    }

    /// The model signature stored in the blob.
    pub const fn signature(&self) -> u64 {
        self.signature
    }

    /// Whether the blob is a checkpoint (holds an optimizer state and a step count).
    pub fn is_checkpoint(&self) -> bool {
        self.checkpoint
    }

    /// The optimizer's step count, for a checkpoint.
    pub fn step(&self) -> Option<u64> {
        self.checkpoint.then_some(self.step)
    }

    /// The number of parameters: `f32` values, or bytes of an [`I8`](Dtype::I8) blob.
    pub fn payload_len(&self) -> usize {
        self.payload.len() / (self.dtype.bits() / 8)
    }

    /// The blob's dtype: [`Dtype::F32`] (a model or checkpoint) or [`Dtype::I8`] (an int8
    /// model).
    pub const fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// The payload's bytes, as stored (little-endian values).
    pub const fn payload_bytes(&self) -> &'a [u8] {
        self.payload
    }

    /// The number of optimizer-state values (0 unless a checkpoint).
    pub fn state_len(&self) -> usize {
        self.state.len() / 4
    }

    /// The parameters, in order.
    pub fn payload(&self) -> F32s<'a> {
        F32s {
            bytes: self.payload,
        }
    }

    /// The optimizer-state values, in order.
    pub fn state(&self) -> F32s<'a> {
        F32s { bytes: self.state }
    }

    /// Copies the parameters into `out`.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `out` holds exactly [`payload_len`](Self::payload_len)
    /// values (`out` is then untouched).
    pub fn read_payload(&self, out: &mut [f32]) -> Result<(), Error> {
        read_exact(self.payload, out)
    }

    /// Copies the optimizer state into `out`.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `out` holds exactly [`state_len`](Self::state_len)
    /// values (`out` is then untouched).
    pub fn read_state(&self, out: &mut [f32]) -> Result<(), Error> {
        read_exact(self.state, out)
    }
}

fn read_exact(bytes: &[u8], out: &mut [f32]) -> Result<(), Error> {
    if bytes.len() / 4 != out.len() {
        return Err(Error::LengthMismatch {
            expected: bytes.len() / 4,
            found: out.len(),
        });
    }
    F32s { bytes }.fill(out);
    Ok(())
}

/// The `f32` values of a validated blob's section, decoded from little-endian as they are read.
///
/// Besides iterating, [`fill`](Self::fill) copies the next values into a slice, which suits
/// `Params::visit_mut`: `model.visit_mut(&mut |p| { values.fill(p); })`.
#[derive(Debug, Clone)]
pub struct F32s<'a> {
    bytes: &'a [u8],
}

impl F32s<'_> {
    /// Copies the next values into `out`, as many as both have; returns how many.
    pub fn fill(&mut self, out: &mut [f32]) -> usize {
        self.fill_le(out, f32::from_le_bytes)
    }

    /// Like [`fill`](Self::fill), for `u32` words (a generator state): copies the next words
    /// into `out` and returns how many there were.
    pub fn fill_words(&mut self, out: &mut [u32]) -> usize {
        self.fill_le(out, u32::from_le_bytes)
    }

    #[inline]
    fn fill_le<T>(&mut self, out: &mut [T], from_le: fn([u8; 4]) -> T) -> usize {
        let n = out.len().min(self.bytes.len() / 4);
        let (head, tail) = self.bytes.split_at(4 * n);
        for (o, b) in out.iter_mut().zip(head.chunks_exact(4)) {
            *o = from_le([b[0], b[1], b[2], b[3]]);
        }
        self.bytes = tail;
        n
    }
}

impl Iterator for F32s<'_> {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        let (b, rest) = self.bytes.split_first_chunk::<4>()?;
        self.bytes = rest;
        Some(f32::from_le_bytes(*b))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.bytes.len() / 4;
        (n, Some(n))
    }
}

impl ExactSizeIterator for F32s<'_> {}
