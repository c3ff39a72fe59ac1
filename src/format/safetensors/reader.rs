//! The strict `safetensors` reader.

use core::fmt;

use super::json::{Chars, Cursor, JStr};
use crate::Error;
use crate::format::dtype;
use crate::format::{Dtype, MAX_RANK};

/// The largest header the reference implementation accepts (bytes).
pub const MAX_HEADER_LEN: usize = 100_000_000;

/// One tensor's entry, as validated.
#[derive(Debug, Clone, Copy)]
struct Entry {
    name: JStr,
    dtype: Dtype,
    shape: [usize; MAX_RANK],
    rank: u8,
    /// Data offsets, relative to the start of the data area.
    begin: usize,
    end: usize,
}

impl Entry {
    const EMPTY: Entry = Entry {
        name: JStr::EMPTY,
        dtype: Dtype::F32,
        shape: [0; MAX_RANK],
        rank: 0,
        begin: 0,
        end: 0,
    };
}

/// A validated `safetensors` file: up to `MAX` tensors (and up to `MAX` metadata entries),
/// borrowed from the input.
///
/// [`parse`](Self::parse) checks the whole file before returning: the 8-byte header length
/// (at most [`MAX_HEADER_LEN`] and within the file); the header's JSON syntax (strings and
/// their escapes, `\uXXXX` surrogate pairs included, numbers, structure); that it is an
/// object starting right at byte 8, followed only by whitespace (the padding); each tensor
/// entry has exactly `"dtype"` (a known name), `"shape"` (non-negative integers, at most
/// [`MAX_RANK`]) and `"data_offsets"` (two integers), no other field, and a byte range equal
/// to its shape times its dtype's size; no key appears twice (names are compared after
/// unescaping); `"__metadata__"`, if present, is `null` or an object of strings; and the
/// byte ranges, in offset order, tile the data area exactly from 0 to the end of the input
/// (no hole, no overlap, nothing beyond).
///
/// The storage is fixed: `MAX` entries of about 15 words each (plus `MAX` metadata pairs of
/// 6 words), so pick `MAX` to suit the stack; more tensors is [`Error::TooManyTensors`].
///
/// # Examples
///
/// ```
/// use constnn::format::Dtype;
/// use constnn::format::safetensors::{SafeTensors, TensorSpec, Writer, write_len};
///
/// // A file with one 2×3 weight (written by constnn's writer here; PyTorch's work the same).
/// const SPECS: [TensorSpec; 1] = [TensorSpec { name: "0.weight", shape: &[2, 3] }];
/// let mut buf = [0u8; write_len(&SPECS, &[])];
/// let mut w = Writer::new(&mut buf, &SPECS, &[])?;
/// w.push(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// w.finish()?;
///
/// let file = SafeTensors::<4>::parse(&buf)?;
/// let t = file.get("0.weight").unwrap();
/// assert_eq!((t.dtype(), t.shape()), (Dtype::F32, &[2, 3][..]));
/// // PyTorch's [out, in] into constnn's weight[i][o]:
/// let mut w_io = [0.0f32; 6];
/// t.read_f32_transposed(2, 3, &mut w_io)?;
/// assert_eq!(w_io, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
/// # Ok::<(), constnn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SafeTensors<'a, const MAX: usize = 64> {
    bytes: &'a [u8],
    data_start: usize,
    entries: [Entry; MAX],
    len: usize,
    metadata: [(JStr, JStr); MAX],
    metadata_len: usize,
}

/// Whether two validated strings of `buf` are equal once unescaped.
fn jstr_eq(buf: &[u8], a: JStr, b: JStr) -> bool {
    if !a.escaped && !b.escaped {
        return buf[a.start..a.end] == buf[b.start..b.end];
    }
    name_of(buf, a).chars().eq(name_of(buf, b).chars())
}

fn name_of(buf: &[u8], s: JStr) -> Name<'_> {
    Name {
        raw: core::str::from_utf8(&buf[s.start..s.end]).unwrap_or(""),
        escaped: s.escaped,
    }
}

impl<'a, const MAX: usize> SafeTensors<'a, MAX> {
    /// Validates a whole `safetensors` file.
    ///
    /// # Errors
    ///
    /// The first problem found, in file order: [`Error::Truncated`] (shorter than 8 bytes,
    /// than its header length, or than its tensors' data), [`Error::TooLarge`] (header over
    /// [`MAX_HEADER_LEN`]), [`Error::MalformedHeader`] (bad JSON or a header not starting with
    /// `{`), [`Error::WrongType`], [`Error::NumberOverflow`], [`Error::DuplicateKey`],
    /// [`Error::UnknownField`], [`Error::MissingField`], [`Error::UnknownDtype`],
    /// [`Error::TooManyTensors`], [`Error::TooManyDims`], [`Error::ShapeOverflow`],
    /// [`Error::MisalignedTensor`], [`Error::InvalidOffsets`], [`Error::TensorSizeMismatch`],
    /// then, over the sorted ranges, [`Error::OffsetsOverlap`], [`Error::OffsetsHole`] and
    /// [`Error::TrailingBytes`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let mut file = Self {
            bytes,
            data_start: 0,
            entries: [Entry::EMPTY; MAX],
            len: 0,
            metadata: [(JStr::EMPTY, JStr::EMPTY); MAX],
            metadata_len: 0,
        };
        let Some((len_bytes, _)) = bytes.split_first_chunk::<8>() else {
            return Err(Error::Truncated {
                needed: 8,
                available: bytes.len(),
            });
        };
        let header_len = u64::from_le_bytes(*len_bytes);
        if header_len > MAX_HEADER_LEN as u64 {
            return Err(Error::TooLarge {
                limit: MAX_HEADER_LEN,
                found: usize::try_from(header_len).unwrap_or(usize::MAX),
            });
        }
        // Below 10⁸, so it fits in usize on every target.
        let header_end = 8 + header_len as usize;
        if header_end > bytes.len() {
            return Err(Error::Truncated {
                needed: header_end,
                available: bytes.len(),
            });
        }
        file.data_start = header_end;
        let mut cur = Cursor {
            buf: bytes,
            pos: 8,
            end: header_end,
        };
        file.parse_header(&mut cur)?;
        file.check_layout()?;
        Ok(file)
    }

    fn parse_header(&mut self, cur: &mut Cursor<'a>) -> Result<(), Error> {
        // The spec requires the header to start with `{`: no leading whitespace.
        cur.expect(b'{')?;
        cur.skip_ws();
        let mut seen_metadata = false;
        if cur.peek() == Some(b'}') {
            cur.pos += 1;
        } else {
            loop {
                if cur.peek() != Some(b'"') {
                    return Err(cur.malformed());
                }
                let key = cur.string()?;
                cur.skip_ws();
                cur.expect(b':')?;
                cur.skip_ws();
                if name_of(self.bytes, key) == "__metadata__" {
                    if seen_metadata {
                        return Err(Error::DuplicateKey { offset: key.quote });
                    }
                    seen_metadata = true;
                    self.parse_metadata(cur)?;
                } else {
                    let bytes = self.bytes;
                    if self.entries[..self.len]
                        .iter()
                        .any(|e| jstr_eq(bytes, e.name, key))
                    {
                        return Err(Error::DuplicateKey { offset: key.quote });
                    }
                    if self.len == MAX {
                        return Err(Error::TooManyTensors { capacity: MAX });
                    }
                    let entry = parse_entry(cur, key)?;
                    self.entries[self.len] = entry;
                    self.len += 1;
                }
                if cur.separator(b'}')? {
                    break;
                }
            }
        }
        // Only whitespace (the padding) may follow the object.
        cur.skip_ws();
        if cur.pos != cur.end {
            return Err(cur.malformed());
        }
        Ok(())
    }

    fn parse_metadata(&mut self, cur: &mut Cursor<'a>) -> Result<(), Error> {
        if cur.eat_literal(b"null") {
            return Ok(());
        }
        if cur.peek() != Some(b'{') {
            return Err(cur.wrong_value());
        }
        cur.pos += 1;
        cur.skip_ws();
        if cur.peek() == Some(b'}') {
            cur.pos += 1;
            return Ok(());
        }
        loop {
            if cur.peek() != Some(b'"') {
                return Err(cur.malformed());
            }
            let key = cur.string()?;
            let bytes = self.bytes;
            if self.metadata[..self.metadata_len]
                .iter()
                .any(|&(k, _)| jstr_eq(bytes, k, key))
            {
                return Err(Error::DuplicateKey { offset: key.quote });
            }
            if self.metadata_len == MAX {
                return Err(Error::TooManyTensors { capacity: MAX });
            }
            cur.skip_ws();
            cur.expect(b':')?;
            cur.skip_ws();
            if cur.peek() != Some(b'"') {
                return Err(cur.wrong_value());
            }
            let value = cur.string()?;
            self.metadata[self.metadata_len] = (key, value);
            self.metadata_len += 1;
            if cur.separator(b'}')? {
                return Ok(());
            }
        }
    }

    /// Sorts the entries by data offsets and checks they tile the data area exactly.
    fn check_layout(&mut self) -> Result<(), Error> {
        let entries = &mut self.entries[..self.len];
        // Insertion sort: stable, no allocation, `MAX` is small.
        for i in 1..entries.len() {
            let mut j = i;
            while j > 0
                && (entries[j - 1].begin, entries[j - 1].end) > (entries[j].begin, entries[j].end)
            {
                entries.swap(j - 1, j);
                j -= 1;
            }
        }
        let mut expected = 0usize;
        for e in entries.iter() {
            if e.begin < expected {
                return Err(Error::OffsetsOverlap {
                    expected,
                    found: e.begin,
                });
            }
            if e.begin > expected {
                return Err(Error::OffsetsHole {
                    expected,
                    found: e.begin,
                });
            }
            expected = e.end;
        }
        let data_len = self.bytes.len() - self.data_start;
        let total = self.data_start.saturating_add(expected);
        if expected > data_len {
            return Err(Error::Truncated {
                needed: total,
                available: self.bytes.len(),
            });
        }
        if expected < data_len {
            return Err(Error::TrailingBytes {
                expected: total,
                found: self.bytes.len(),
            });
        }
        Ok(())
    }

    /// The number of tensors.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the file holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The offset of the data area (8 + the header length).
    pub fn data_start(&self) -> usize {
        self.data_start
    }

    /// The tensors, in the order of their data in the file.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = TensorView<'a>> + '_ {
        self.entries[..self.len].iter().map(|e| self.view(e))
    }

    /// The tensor named `name` (compared with the unescaped header key).
    pub fn get(&self, name: &str) -> Option<TensorView<'a>> {
        self.entries[..self.len]
            .iter()
            .find(|e| name_of(self.bytes, e.name) == name)
            .map(|e| self.view(e))
    }

    /// The tensor named `name`, or [`Error::MissingTensor`].
    ///
    /// # Errors
    ///
    /// [`Error::MissingTensor`] if the file has no tensor of that name.
    pub fn require(&self, name: &str) -> Result<TensorView<'a>, Error> {
        self.get(name).ok_or(Error::MissingTensor)
    }

    /// The `__metadata__` value of `key`, if any.
    pub fn metadata(&self, key: &str) -> Option<Name<'a>> {
        self.metadata[..self.metadata_len]
            .iter()
            .find(|&&(k, _)| name_of(self.bytes, k) == key)
            .map(|&(_, v)| name_of(self.bytes, v))
    }

    /// The `__metadata__` entries `(key, value)`, in header order.
    pub fn metadata_iter(&self) -> impl ExactSizeIterator<Item = (Name<'a>, Name<'a>)> + '_ {
        self.metadata[..self.metadata_len]
            .iter()
            .map(|&(k, v)| (name_of(self.bytes, k), name_of(self.bytes, v)))
    }

    fn view(&self, e: &Entry) -> TensorView<'a> {
        let data = self
            .bytes
            .get(self.data_start + e.begin..self.data_start + e.end)
            .unwrap_or(&[]);
        TensorView {
            name: name_of(self.bytes, e.name),
            dtype: e.dtype,
            shape: e.shape,
            rank: e.rank as usize,
            data,
            offsets: (e.begin, e.end),
        }
    }
}

/// Parses one tensor entry `{"dtype": …, "shape": […], "data_offsets": [b, e]}` and checks
/// its size.
fn parse_entry(cur: &mut Cursor<'_>, name: JStr) -> Result<Entry, Error> {
    let object = cur.pos;
    if cur.peek() != Some(b'{') {
        return Err(cur.wrong_value());
    }
    cur.pos += 1;
    let mut entry = Entry {
        name,
        ..Entry::EMPTY
    };
    let (mut dtype, mut shape_at, mut offsets) = (None, None, false);
    cur.skip_ws();
    if cur.peek() == Some(b'}') {
        return Err(Error::MissingField { offset: object });
    }
    loop {
        if cur.peek() != Some(b'"') {
            return Err(cur.malformed());
        }
        let key = cur.string()?;
        let key_name = name_of(cur.buf, key);
        cur.skip_ws();
        cur.expect(b':')?;
        cur.skip_ws();
        if key_name == "dtype" {
            if dtype.is_some() {
                return Err(Error::DuplicateKey { offset: key.quote });
            }
            if cur.peek() != Some(b'"') {
                return Err(cur.wrong_value());
            }
            let s = cur.string()?;
            let found = if s.escaped {
                // Decode (an escaped dtype name is odd, but valid JSON).
                let mut buf = [0u8; 16];
                let mut n = 0;
                let mut fits = true;
                for c in name_of(cur.buf, s).chars() {
                    let mut tmp = [0u8; 4];
                    let enc = c.encode_utf8(&mut tmp).as_bytes();
                    if n + enc.len() > buf.len() {
                        fits = false;
                        break;
                    }
                    buf[n..n + enc.len()].copy_from_slice(enc);
                    n += enc.len();
                }
                if fits {
                    Dtype::from_safetensors_name(&buf[..n])
                } else {
                    None
                }
            } else {
                Dtype::from_safetensors_name(&cur.buf[s.start..s.end])
            };
            dtype = Some(found.ok_or(Error::UnknownDtype { offset: s.quote })?);
        } else if key_name == "shape" {
            if shape_at.is_some() {
                return Err(Error::DuplicateKey { offset: key.quote });
            }
            shape_at = Some(cur.pos);
            let mut rank = 0;
            parse_usize_array(cur, |i, v| {
                if i >= MAX_RANK {
                    return Err(Error::TooManyDims { capacity: MAX_RANK });
                }
                entry.shape[i] = v;
                rank = i + 1;
                Ok(())
            })?;
            entry.rank = rank as u8;
        } else if key_name == "data_offsets" {
            if offsets {
                return Err(Error::DuplicateKey { offset: key.quote });
            }
            offsets = true;
            let at = cur.pos;
            let mut pair = [0usize; 2];
            let n = parse_usize_array(cur, |i, v| {
                if let Some(p) = pair.get_mut(i) {
                    *p = v;
                }
                Ok(())
            })?;
            if n != 2 {
                return Err(Error::WrongType { offset: at });
            }
            [entry.begin, entry.end] = pair;
        } else {
            return Err(Error::UnknownField { offset: key.quote });
        }
        if cur.separator(b'}')? {
            break;
        }
    }
    let (Some(dtype), Some(shape_at), true) = (dtype, shape_at, offsets) else {
        return Err(Error::MissingField { offset: object });
    };
    entry.dtype = dtype;
    let overflow = Error::ShapeOverflow { offset: shape_at };
    let elements = entry.shape[..entry.rank as usize]
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or(overflow)?;
    let bits = elements.checked_mul(dtype.bits()).ok_or(overflow)?;
    if !bits.is_multiple_of(8) {
        return Err(Error::MisalignedTensor { offset: name.quote });
    }
    if entry.end < entry.begin {
        return Err(Error::InvalidOffsets {
            begin: entry.begin,
            end: entry.end,
        });
    }
    if entry.end - entry.begin != bits / 8 {
        return Err(Error::TensorSizeMismatch {
            expected: bits / 8,
            found: entry.end - entry.begin,
        });
    }
    Ok(entry)
}

/// Parses `[n, n, …]` of non-negative integers, handing each to `f` with its index; returns
/// the count.
fn parse_usize_array(
    cur: &mut Cursor<'_>,
    mut f: impl FnMut(usize, usize) -> Result<(), Error>,
) -> Result<usize, Error> {
    if cur.peek() != Some(b'[') {
        return Err(cur.wrong_value());
    }
    cur.pos += 1;
    cur.skip_ws();
    if cur.peek() == Some(b']') {
        cur.pos += 1;
        return Ok(0);
    }
    let mut n = 0;
    loop {
        let v = cur.usize()?;
        f(n, v)?;
        n += 1;
        if cur.separator(b']')? {
            return Ok(n);
        }
    }
}

/// A tensor name or metadata string of a validated file, borrowed as written in the header.
///
/// Most names hold no JSON escape and are plain `&str` ([`as_str`](Self::as_str)); an escaped
/// one (`"\u00e9"`, `"a\"b"`) is decoded on demand by [`chars`](Self::chars), `==` and
/// `Display`, without allocating.
#[derive(Debug, Clone, Copy)]
pub struct Name<'a> {
    raw: &'a str,
    escaped: bool,
}

impl<'a> Name<'a> {
    /// The string as written in the header, escapes included.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The string, if it holds no escape (then it is the raw text).
    pub fn as_str(&self) -> Option<&'a str> {
        (!self.escaped).then_some(self.raw)
    }

    /// The string's characters, escapes decoded.
    pub fn chars(&self) -> Chars<'a> {
        Chars::new(self.raw)
    }
}

impl PartialEq<str> for Name<'_> {
    fn eq(&self, other: &str) -> bool {
        if self.escaped {
            self.chars().eq(other.chars())
        } else {
            self.raw == other
        }
    }
}

impl PartialEq<&str> for Name<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.escaped {
            self.chars().try_for_each(|c| fmt::Write::write_char(f, c))
        } else {
            f.write_str(self.raw)
        }
    }
}

/// One tensor of a validated file: its name, dtype, shape and data (little-endian).
#[derive(Debug, Clone, Copy)]
pub struct TensorView<'a> {
    name: Name<'a>,
    dtype: Dtype,
    shape: [usize; MAX_RANK],
    rank: usize,
    data: &'a [u8],
    offsets: (usize, usize),
}

impl<'a> TensorView<'a> {
    /// The tensor's name.
    pub fn name(&self) -> Name<'a> {
        self.name
    }

    /// The element type.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// The dimensions (empty for a scalar).
    pub fn shape(&self) -> &[usize] {
        &self.shape[..self.rank]
    }

    /// The number of elements (the product of the dimensions; 1 for a scalar).
    pub fn elements(&self) -> usize {
        self.shape().iter().product()
    }

    /// The raw little-endian data.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The `data_offsets` (relative to the data area).
    pub fn data_offsets(&self) -> (usize, usize) {
        self.offsets
    }

    /// `Ok` if the shape is `expected`.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] or [`Error::ShapeMismatch`] (the first axis that differs).
    pub fn expect_shape(&self, expected: &[usize]) -> Result<(), Error> {
        dtype::check_shape(self.shape(), expected)
    }

    /// Copies the values into `out` as `f32` (row-major, as stored): exact from `F32`, `F16`
    /// and `BF16`, rounded to nearest from `F64`.
    ///
    /// # Errors
    ///
    /// [`Error::WrongDtype`] for another dtype, [`Error::LengthMismatch`] unless `out` holds
    /// [`elements`](Self::elements) values; `out` is untouched on error.
    pub fn read_f32(&self, out: &mut [f32]) -> Result<(), Error> {
        dtype::read_f32(self.dtype, self.data, self.elements(), out)
    }

    /// Copies a `[rows, cols]` tensor into `out` transposed, `out[c·rows + r] = t[r][c]`:
    /// PyTorch's `Linear.weight` (`[out, in]`) into constnn's `weight[i][o]` with
    /// `rows = OUT`, `cols = IN`.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] or [`Error::ShapeMismatch`] unless the shape is `[rows, cols]`,
    /// then as [`read_f32`](Self::read_f32).
    pub fn read_f32_transposed(
        &self,
        rows: usize,
        cols: usize,
        out: &mut [f32],
    ) -> Result<(), Error> {
        dtype::read_f32_transposed(self.dtype, self.data, self.shape(), rows, cols, out)
    }
}
