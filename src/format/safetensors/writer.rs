//! The `safetensors` writer: `F32` tensors, header formatted as the reference implementation
//! formats it (compact JSON, `__metadata__` first, padded with spaces to a multiple of 8).

use crate::Error;
use crate::format::dtype::check_shape;
use crate::format::{Dtype, MAX_RANK};

/// An `F32` tensor to write: its name and shape (row-major).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorSpec<'n> {
    /// The key in the header, e.g. `"0.weight"` (any string; escaped as JSON needs).
    pub name: &'n str,
    /// The dimensions, at most [`MAX_RANK`] (empty for a scalar).
    pub shape: &'n [usize],
}

/// The length of `s` as a JSON string body, escaped as `serde_json` escapes (the reference
/// writer's): `\"`, `\\`, the five short control escapes, `\u00XX` for the other controls.
pub(crate) const fn escaped_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut n = 0usize;
    let mut i = 0;
    while i < b.len() {
        n = n.saturating_add(match b[i] {
            b'"' | b'\\' | 0x08 | 0x0C | b'\n' | b'\r' | b'\t' => 2,
            0x00..=0x1F => 6,
            _ => 1,
        });
        i += 1;
    }
    n
}

/// The number of decimal digits of `v`.
pub(crate) const fn digits(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

/// The elements of `shape`, saturating.
const fn elements(shape: &[usize]) -> usize {
    let mut n = 1usize;
    let mut i = 0;
    while i < shape.len() {
        n = n.saturating_mul(shape[i]);
        i += 1;
    }
    n
}

/// The bytes of `"":{"dtype":"F32","shape":[],"data_offsets":[,]}`: one entry without its
/// name, dimensions and offsets.
const ENTRY_FIXED_LEN: usize = 48;

/// The unpadded header length and the data length, saturating.
const fn lengths(tensors: &[TensorSpec<'_>], metadata: &[(&str, &str)]) -> (usize, usize) {
    let mut n = 2usize; // {}
    let mut items = 0usize;
    if !metadata.is_empty() {
        // "__metadata__":{...}
        n = n.saturating_add(14 + 1 + 2);
        let mut i = 0;
        while i < metadata.len() {
            // "k":"v"
            n = n
                .saturating_add(escaped_len(metadata[i].0))
                .saturating_add(escaped_len(metadata[i].1))
                .saturating_add(5);
            if i > 0 {
                n = n.saturating_add(1);
            }
            i += 1;
        }
        items += 1;
    }
    let mut offset = 0usize;
    let mut t = 0;
    while t < tensors.len() {
        let spec = tensors[t];
        let end = offset.saturating_add(elements(spec.shape).saturating_mul(4));
        // "name":{"dtype":"F32","shape":[..],"data_offsets":[b,e]}
        n = n
            .saturating_add(escaped_len(spec.name))
            .saturating_add(ENTRY_FIXED_LEN);
        let mut d = 0;
        while d < spec.shape.len() {
            n = n.saturating_add(digits(spec.shape[d]));
            if d > 0 {
                n = n.saturating_add(1);
            }
            d += 1;
        }
        n = n.saturating_add(digits(offset)).saturating_add(digits(end));
        items += 1;
        offset = end;
        t += 1;
    }
    if items > 1 {
        n = n.saturating_add(items - 1);
    }
    (n, offset)
}

/// The exact length of the file [`Writer`] writes for these tensors and metadata (`const`,
/// so a buffer can be sized at compile time). Saturates at `usize::MAX` for impossible sizes.
pub const fn write_len(tensors: &[TensorSpec<'_>], metadata: &[(&str, &str)]) -> usize {
    let (header, data) = lengths(tensors, metadata);
    let padded = header.saturating_add(7) / 8 * 8;
    8usize.saturating_add(padded).saturating_add(data)
}

/// Writes a `safetensors` file of `F32` tensors: the header at creation, then the values
/// streamed in tensor order with [`push`](Self::push) (or
/// [`push_transposed`](Self::push_transposed) for a weight stored the other way round), then
/// [`finish`](Self::finish).
///
/// The header is the reference implementation's (`safetensors.torch.save_file`'s) format:
/// compact JSON, `__metadata__` first, offsets in the given order, spaces up to a multiple of
/// 8 bytes. PyTorch loads it with `safetensors.torch.load_file` and `load_state_dict`.
///
/// # Examples
///
/// A `Linear<3, 2>` as `nn.Linear(3, 2)`'s `state_dict`: PyTorch's weight is `[out, in]`,
/// constnn's `weight[i][o]`, so the weight is written transposed.
///
/// ```
/// use constnn::format::safetensors::{SafeTensors, TensorSpec, Writer, write_len};
///
/// let weight = [[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]]; // [IN = 3][OUT = 2]
/// let bias = [0.5f32, -0.5];
/// const SPECS: [TensorSpec; 2] = [
///     TensorSpec { name: "0.weight", shape: &[2, 3] },
///     TensorSpec { name: "0.bias", shape: &[2] },
/// ];
/// let mut buf = [0u8; write_len(&SPECS, &[("format", "pt")])];
/// let mut w = Writer::new(&mut buf, &SPECS, &[("format", "pt")])?;
/// w.push_transposed(weight.as_flattened(), 3, 2);
/// w.push(&bias);
/// let n = w.finish()?;
///
/// let file = SafeTensors::<2>::parse(&buf[..n])?;
/// let mut out = [0.0f32; 6];
/// file.get("0.weight").unwrap().read_f32(&mut out)?;
/// assert_eq!(out, [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]); // row o holds weight[..][o]
/// assert!(file.metadata("format").unwrap() == "pt");
/// # Ok::<(), constnn::Error>(())
/// ```
#[derive(Debug)]
pub struct Writer<'o, 't> {
    out: &'o mut [u8],
    tensors: &'t [TensorSpec<'t>],
    /// Where the next value goes.
    pos: usize,
    /// Values pushed (written or not).
    pushed: usize,
    /// Values the header declares.
    expected: usize,
    /// The first misuse seen by `push`/`push_transposed`, reported by `finish`.
    error: Option<Error>,
}

/// Appends bytes to a slice the caller sized exactly.
pub(crate) struct Out<'b> {
    pub(crate) buf: &'b mut [u8],
    pub(crate) pos: usize,
}

impl Out<'_> {
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.pos..self.pos + b.len()) {
            dst.copy_from_slice(b);
        }
        self.pos += b.len();
    }

    pub(crate) fn number(&mut self, v: usize) {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        let mut v = v;
        loop {
            i -= 1;
            tmp[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.bytes(&tmp[i..]);
    }

    pub(crate) fn string(&mut self, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.bytes(b"\"");
        for &c in s.as_bytes() {
            match c {
                b'"' => self.bytes(b"\\\""),
                b'\\' => self.bytes(b"\\\\"),
                0x08 => self.bytes(b"\\b"),
                0x0C => self.bytes(b"\\f"),
                b'\n' => self.bytes(b"\\n"),
                b'\r' => self.bytes(b"\\r"),
                b'\t' => self.bytes(b"\\t"),
                0x00..=0x1F => self.bytes(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(c >> 4) as usize],
                    HEX[(c & 0xF) as usize],
                ]),
                _ => self.bytes(&[c]),
            }
        }
        self.bytes(b"\"");
    }

    /// One tensor's header entry: `"name":{"dtype":…,"shape":[…],"data_offsets":[begin,end]}`.
    pub(crate) fn tensor_entry(
        &mut self,
        name: &str,
        dtype: Dtype,
        shape: &[usize],
        begin: usize,
        end: usize,
    ) {
        self.string(name);
        self.bytes(b":{\"dtype\":\"");
        self.bytes(dtype.safetensors_name().as_bytes());
        self.bytes(b"\",\"shape\":[");
        for (d, &dim) in shape.iter().enumerate() {
            if d > 0 {
                self.bytes(b",");
            }
            self.number(dim);
        }
        self.bytes(b"],\"data_offsets\":[");
        self.number(begin);
        self.bytes(b",");
        self.number(end);
        self.bytes(b"]}");
    }
}

impl<'o, 't> Writer<'o, 't> {
    /// Checks the tensor list and writes the header into `out`.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyDims`] (a shape over [`MAX_RANK`]); [`Error::ReservedName`] (a tensor
    /// named `"__metadata__"`); [`Error::DuplicateName`] (a tensor name, or a metadata key,
    /// given twice; `index` is in its own list); [`Error::ShapeOverflow`] (`offset` = the
    /// tensor's index) or [`Error::TooLarge`] (a header over the 100 MB readers accept) for
    /// impossible sizes; [`Error::BufferTooSmall`] if `out` is shorter than
    /// [`write_len`]. Nothing is written on error.
    pub fn new(
        out: &'o mut [u8],
        tensors: &'t [TensorSpec<'t>],
        metadata: &[(&str, &str)],
    ) -> Result<Self, Error> {
        let mut data = 0usize;
        for (i, t) in tensors.iter().enumerate() {
            if t.shape.len() > MAX_RANK {
                return Err(Error::TooManyDims { capacity: MAX_RANK });
            }
            if t.name == "__metadata__" {
                return Err(Error::ReservedName { index: i });
            }
            if tensors[..i].iter().any(|u| u.name == t.name) {
                return Err(Error::DuplicateName { index: i });
            }
            data = t
                .shape
                .iter()
                .try_fold(4usize, |acc, &d| acc.checked_mul(d))
                .and_then(|bytes| data.checked_add(bytes))
                .ok_or(Error::ShapeOverflow { offset: i })?;
        }
        for (i, (k, _)) in metadata.iter().enumerate() {
            if metadata[..i].iter().any(|(u, _)| u == k) {
                return Err(Error::DuplicateName { index: i });
            }
        }
        let (header, _) = lengths(tensors, metadata);
        if header > super::MAX_HEADER_LEN {
            return Err(Error::TooLarge {
                limit: super::MAX_HEADER_LEN,
                found: header,
            });
        }
        let padded = header.div_ceil(8) * 8;
        let total = 8 + padded + data;
        let available = out.len();
        let Some(out) = out.get_mut(..total) else {
            return Err(Error::BufferTooSmall {
                needed: total,
                available,
            });
        };
        let mut w = Out { buf: out, pos: 0 };
        w.bytes(&(padded as u64).to_le_bytes());
        w.bytes(b"{");
        let mut first = true;
        if !metadata.is_empty() {
            w.bytes(b"\"__metadata__\":{");
            for (i, (k, v)) in metadata.iter().enumerate() {
                if i > 0 {
                    w.bytes(b",");
                }
                w.string(k);
                w.bytes(b":");
                w.string(v);
            }
            w.bytes(b"}");
            first = false;
        }
        let mut offset = 0;
        for t in tensors {
            if !first {
                w.bytes(b",");
            }
            first = false;
            let end = offset + 4 * t.shape.iter().product::<usize>();
            w.tensor_entry(t.name, Dtype::F32, t.shape, offset, end);
            offset = end;
        }
        w.bytes(b"}");
        // `lengths` (the const size) and the text written must agree to the byte.
        debug_assert_eq!(w.pos, 8 + header);
        while w.pos < 8 + padded {
            w.bytes(b" ");
        }
        Ok(Self {
            out,
            tensors,
            pos: 8 + padded,
            pushed: 0,
            expected: data / 4,
            error: None,
        })
    }

    /// Appends `values` (the next values in tensor order; a slice may span tensors). Values
    /// beyond the declared count are counted, not written; [`finish`](Self::finish) fails.
    pub fn push(&mut self, values: &[f32]) {
        let room = (self.out.len() - self.pos) / 4;
        let n = values.len().min(room);
        let stop = self.pos + 4 * n;
        for (dst, v) in self.out[self.pos..stop].chunks_exact_mut(4).zip(values) {
            dst.copy_from_slice(&v.to_le_bytes());
        }
        self.pos = stop;
        self.pushed = self.pushed.saturating_add(values.len());
    }

    /// Appends a whole tensor given transposed: `values` is `rows × cols` row-major and the
    /// next tensor's shape must be `[cols, rows]`; writes `t[c][r] = values[r·cols + c]`
    /// (constnn's `weight[i][o]`, `rows = IN`, `cols = OUT`, as PyTorch's `[out, in]`).
    ///
    /// Misuse (not at the start of a tensor, another shape, `values.len() ≠ rows·cols`) writes
    /// nothing, still counts the values, and makes [`finish`](Self::finish) fail with
    /// [`Error::ShapeMismatch`], [`Error::RankMismatch`] or [`Error::LengthMismatch`].
    pub fn push_transposed(&mut self, values: &[f32], rows: usize, cols: usize) {
        if let Err(e) = self.check_transposed(values.len(), rows, cols) {
            self.error.get_or_insert(e);
            self.pushed = self.pushed.saturating_add(values.len());
            return;
        }
        let base = self.pos;
        for r in 0..rows {
            for c in 0..cols {
                let at = base + 4 * (c * rows + r);
                if let (Some(dst), Some(v)) =
                    (self.out.get_mut(at..at + 4), values.get(r * cols + c))
                {
                    dst.copy_from_slice(&v.to_le_bytes());
                }
            }
        }
        self.pos += 4 * values.len();
        self.pushed += values.len();
    }

    fn check_transposed(&self, len: usize, rows: usize, cols: usize) -> Result<(), Error> {
        if rows.checked_mul(cols) != Some(len) {
            return Err(Error::LengthMismatch {
                expected: rows.saturating_mul(cols),
                found: len,
            });
        }
        // The tensor starting exactly at the pushed count.
        let mut start = 0usize;
        for t in self.tensors {
            if start == self.pushed {
                return check_shape(t.shape, &[cols, rows]);
            }
            if start > self.pushed {
                break;
            }
            start += t.shape.iter().product::<usize>();
        }
        Err(Error::LengthMismatch {
            expected: self.expected,
            found: self.pushed.saturating_add(len),
        })
    }

    /// Checks that every declared value was pushed; returns the file's length.
    ///
    /// # Errors
    ///
    /// The first misuse of [`push_transposed`](Self::push_transposed), else
    /// [`Error::LengthMismatch`] if the number of values pushed is not the number declared.
    pub fn finish(self) -> Result<usize, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.pushed != self.expected {
            return Err(Error::LengthMismatch {
                expected: self.expected,
                found: self.pushed,
            });
        }
        Ok(self.out.len())
    }
}
