//! The strict `.npy` reader.

use crate::Error;
use crate::format::dtype;
use crate::format::{Dtype, MAX_RANK};

/// The `descr` strings read, and their dtypes: little-endian (or single-byte) numbers, as
/// `numpy.save` writes them on a little-endian machine.
const DESCRS: [(&[u8], Dtype); 13] = [
    (b"<f4", Dtype::F32),
    (b"<f8", Dtype::F64),
    (b"<f2", Dtype::F16),
    (b"|i1", Dtype::I8),
    (b"|u1", Dtype::U8),
    (b"|b1", Dtype::Bool),
    (b"<i2", Dtype::I16),
    (b"<u2", Dtype::U16),
    (b"<i4", Dtype::I32),
    (b"<u4", Dtype::U32),
    (b"<i8", Dtype::I64),
    (b"<u8", Dtype::U64),
    (b"<c8", Dtype::C64),
];

/// The longest header `numpy.load` reads by default (its `max_header_size`); longer ones are
/// refused as [`Error::TooLarge`] so that every file accepted here loads in numpy.
pub const MAX_HEADER_LEN: usize = 10_000;

/// A validated `.npy` file, borrowed from the input.
///
/// [`parse`](Self::parse) checks the magic, the version (1.0, 2.0 or 3.0), the header length
/// (at most [`MAX_HEADER_LEN`]), the header (a Python dict literal with exactly the keys `'descr'`, `'fortran_order'` and
/// `'shape'`, in any order, each once, led by spaces or tabs only and followed by spaces or
/// tabs and at most one newline; strings in single or
/// double quotes without escapes; `True`/`False`; a tuple of non-negative decimal integers,
/// at most [`MAX_RANK`]), the dtype (little-endian numbers as listed by
/// [`Dtype`]; big-endian or structured dtypes are [`Error::UnknownDtype`]), C order
/// ([`Error::FortranOrder`] otherwise) and that the data is exactly the shape's size.
///
/// # Examples
///
/// ```
/// use constnn::format::npy::{Npy, len_f32, write_f32};
///
/// let mut buf = [0u8; len_f32(&[2, 3])];
/// write_f32(&mut buf, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// assert!(buf.starts_with(b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
///
/// let npy = Npy::parse(&buf)?;
/// assert_eq!(npy.shape(), &[2, 3]);
/// let mut out = [0.0f32; 6];
/// npy.read_f32(&mut out)?;
/// assert_eq!(out[5], 6.0);
/// # Ok::<(), constnn::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Npy<'a> {
    version: (u8, u8),
    dtype: Dtype,
    shape: [usize; MAX_RANK],
    rank: usize,
    data: &'a [u8],
}

/// A cursor over the header.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        if self.pos < self.end {
            Some(self.buf[self.pos])
        } else {
            None
        }
    }

    fn malformed(&self) -> Error {
        Error::MalformedHeader { offset: self.pos }
    }

    /// Spaces and tabs (the only whitespace allowed before and after the dict).
    fn skip_blanks(&mut self) {
        while let Some(b' ' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// Python's whitespace between tokens inside the dict, where line breaks and indentation
    /// do not count (no comments, no line continuations).
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0C) = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), Error> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.malformed())
        }
    }

    /// A Python name (`True`, `None`, …) at the cursor, if any, without consuming it.
    fn name_len(&self) -> usize {
        self.buf[self.pos..self.end]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count()
    }

    /// A string literal without prefix or escapes; returns its contents' range.
    fn string(&mut self) -> Result<(usize, usize), Error> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(self.malformed()),
        };
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                Some(c) if c == quote => break,
                Some(b'\\' | b'\n' | b'\r') | None => return Err(self.malformed()),
                Some(c) if !(0x20..0x7F).contains(&c) => return Err(self.malformed()),
                Some(_) => self.pos += 1,
            }
        }
        let end = self.pos;
        self.pos += 1;
        Ok((start, end))
    }

    /// The error for a value of the wrong kind: [`Error::WrongType`] where a Python literal
    /// starts, [`Error::MalformedHeader`] otherwise.
    fn wrong_value(&self) -> Error {
        match self.peek() {
            Some(b'\'' | b'"' | b'(' | b'[' | b'{' | b'-' | b'+' | b'0'..=b'9') => {
                Error::WrongType { offset: self.pos }
            }
            Some(c) if c.is_ascii_alphabetic() => Error::WrongType { offset: self.pos },
            _ => self.malformed(),
        }
    }

    /// A non-negative decimal integer (no sign, no underscore, no leading zero).
    fn usize(&mut self) -> Result<usize, Error> {
        let start = self.pos;
        match self.peek() {
            Some(b'0'..=b'9') => {}
            _ => return Err(self.wrong_value()),
        }
        let mut v: usize = 0;
        let mut overflow = false;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            if self.pos > start && self.buf[start] == b'0' {
                return Err(self.malformed());
            }
            match v
                .checked_mul(10)
                .and_then(|v| v.checked_add((c - b'0') as usize))
            {
                Some(n) => v = n,
                None => overflow = true,
            }
            self.pos += 1;
        }
        match self.peek() {
            // A float, a complex, an underscore-separated or a suffixed literal.
            Some(b'.' | b'e' | b'E' | b'j' | b'J') => {
                return Err(Error::WrongType { offset: start });
            }
            Some(c) if c.is_ascii_alphanumeric() || c == b'_' => return Err(self.malformed()),
            _ => {}
        }
        if overflow {
            return Err(Error::NumberOverflow { offset: start });
        }
        Ok(v)
    }
}

impl<'a> Npy<'a> {
    /// Validates a whole `.npy` file.
    ///
    /// # Errors
    ///
    /// [`Error::BadMagic`], [`Error::UnsupportedVersion`] (`major × 256 + minor`),
    /// [`Error::TooLarge`] (a header over [`MAX_HEADER_LEN`]), [`Error::Truncated`] (in the preamble, the header or the data),
    /// [`Error::MalformedHeader`], [`Error::WrongType`], [`Error::NumberOverflow`],
    /// [`Error::DuplicateKey`], [`Error::UnknownField`], [`Error::MissingField`],
    /// [`Error::UnknownDtype`], [`Error::TooManyDims`], [`Error::FortranOrder`],
    /// [`Error::ShapeOverflow`], [`Error::TrailingBytes`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let magic = &super::MAGIC;
        let n = bytes.len().min(magic.len());
        if bytes[..n] != magic[..n] {
            return Err(Error::BadMagic);
        }
        if bytes.len() < 8 {
            return Err(Error::Truncated {
                needed: 10,
                available: bytes.len(),
            });
        }
        let version = (bytes[6], bytes[7]);
        let len_size = match version {
            (1, 0) => 2,
            (2, 0) | (3, 0) => 4,
            (major, minor) => {
                return Err(Error::UnsupportedVersion {
                    found: u16::from_be_bytes([major, minor]),
                });
            }
        };
        let header_start = 8 + len_size;
        if bytes.len() < header_start {
            return Err(Error::Truncated {
                needed: header_start,
                available: bytes.len(),
            });
        }
        let header_len = if len_size == 2 {
            u16::from_le_bytes([bytes[8], bytes[9]]) as u64
        } else {
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as u64
        };
        if header_len > MAX_HEADER_LEN as u64 {
            return Err(Error::TooLarge {
                limit: MAX_HEADER_LEN,
                found: header_len as usize,
            });
        }
        let header_end = header_start as u64 + header_len;
        if header_end > bytes.len() as u64 {
            return Err(Error::Truncated {
                needed: usize::try_from(header_end).unwrap_or(usize::MAX),
                available: bytes.len(),
            });
        }
        let header_end = header_end as usize;
        let mut cur = Cursor {
            buf: bytes,
            pos: header_start,
            end: header_end,
        };
        let mut npy = Npy {
            version,
            dtype: Dtype::F32,
            shape: [0; MAX_RANK],
            rank: 0,
            data: &[],
        };
        let fortran = npy.parse_header(&mut cur)?;
        if fortran {
            return Err(Error::FortranOrder);
        }
        // numpy's rule (it refuses to create the array otherwise): the item size times every
        // non-zero dimension must stay below `isize::MAX`, even when a zero makes it empty.
        let mut bytes_if_full = npy.dtype.bits() / 8;
        for &d in &npy.shape[..npy.rank] {
            if d != 0 {
                bytes_if_full = bytes_if_full
                    .checked_mul(d)
                    .filter(|&n| n <= isize::MAX as usize)
                    .ok_or(Error::ShapeOverflow {
                        offset: header_start,
                    })?;
            }
        }
        let size = if npy.shape[..npy.rank].contains(&0) {
            0
        } else {
            bytes_if_full
        };
        let data = &bytes[header_end..];
        let total = header_end.saturating_add(size);
        if data.len() < size {
            return Err(Error::Truncated {
                needed: total,
                available: bytes.len(),
            });
        }
        if data.len() > size {
            return Err(Error::TrailingBytes {
                expected: total,
                found: bytes.len(),
            });
        }
        npy.data = data;
        Ok(npy)
    }

    /// Parses the dict; returns `fortran_order`.
    fn parse_header(&mut self, cur: &mut Cursor<'_>) -> Result<bool, Error> {
        let dict = cur.pos;
        // Python rejects an indented first line, so only spaces and tabs may lead.
        cur.skip_blanks();
        if cur.peek() != Some(b'{') {
            return Err(cur.wrong_value());
        }
        cur.pos += 1;
        let (mut descr, mut fortran, mut shape) = (None, None, false);
        loop {
            cur.skip_ws();
            if cur.peek() == Some(b'}') {
                cur.pos += 1;
                break;
            }
            let key_at = cur.pos;
            if !matches!(cur.peek(), Some(b'\'' | b'"')) {
                return Err(cur.malformed());
            }
            let (ks, ke) = cur.string()?;
            let key = &cur.buf[ks..ke];
            cur.skip_ws();
            cur.expect(b':')?;
            cur.skip_ws();
            match key {
                b"descr" => {
                    if descr.is_some() {
                        return Err(Error::DuplicateKey { offset: key_at });
                    }
                    let at = cur.pos;
                    if !matches!(cur.peek(), Some(b'\'' | b'"')) {
                        return Err(cur.wrong_value());
                    }
                    let (s, e) = cur.string()?;
                    let found = DESCRS
                        .iter()
                        .find(|(d, _)| *d == &cur.buf[s..e])
                        .map(|&(_, t)| t);
                    descr = Some(found.ok_or(Error::UnknownDtype { offset: at })?);
                }
                b"fortran_order" => {
                    if fortran.is_some() {
                        return Err(Error::DuplicateKey { offset: key_at });
                    }
                    let len = cur.name_len();
                    let value = &cur.buf[cur.pos..cur.pos + len];
                    fortran = Some(match value {
                        b"True" => true,
                        b"False" => false,
                        _ => return Err(cur.wrong_value()),
                    });
                    cur.pos += len;
                }
                b"shape" => {
                    if shape {
                        return Err(Error::DuplicateKey { offset: key_at });
                    }
                    shape = true;
                    self.parse_shape(cur)?;
                }
                _ => return Err(Error::UnknownField { offset: key_at }),
            }
            cur.skip_ws();
            match cur.peek() {
                Some(b',') => cur.pos += 1,
                Some(b'}') => {
                    cur.pos += 1;
                    break;
                }
                _ => return Err(cur.malformed()),
            }
        }
        // After the dict: spaces and tabs, then at most one final newline (`ast.literal_eval`
        // fails on an indented last line, e.g. "}\n  ").
        cur.skip_blanks();
        if cur.peek() == Some(b'\n') {
            cur.pos += 1;
        }
        if cur.pos != cur.end {
            return Err(cur.malformed());
        }
        let (Some(descr), Some(fortran), true) = (descr, fortran, shape) else {
            return Err(Error::MissingField { offset: dict });
        };
        self.dtype = descr;
        Ok(fortran)
    }

    /// `(d0, d1, …)`, `(d0,)` or `()`; `(d0)` is an int in Python, so [`Error::WrongType`].
    fn parse_shape(&mut self, cur: &mut Cursor<'_>) -> Result<(), Error> {
        let at = cur.pos;
        if cur.peek() != Some(b'(') {
            return Err(cur.wrong_value());
        }
        cur.pos += 1;
        let mut rank = 0;
        let mut comma_after_last = false;
        loop {
            cur.skip_ws();
            if cur.peek() == Some(b')') {
                cur.pos += 1;
                break;
            }
            let v = cur.usize()?;
            if rank == MAX_RANK {
                return Err(Error::TooManyDims { capacity: MAX_RANK });
            }
            self.shape[rank] = v;
            rank += 1;
            cur.skip_ws();
            match cur.peek() {
                Some(b',') => {
                    cur.pos += 1;
                    comma_after_last = true;
                }
                Some(b')') => {
                    cur.pos += 1;
                    comma_after_last = false;
                    break;
                }
                _ => return Err(cur.malformed()),
            }
        }
        if rank == 1 && !comma_after_last {
            return Err(Error::WrongType { offset: at });
        }
        self.rank = rank;
        Ok(())
    }

    /// The format version `(major, minor)`.
    pub fn version(&self) -> (u8, u8) {
        self.version
    }

    /// The element type.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// The dimensions (empty for a scalar).
    pub fn shape(&self) -> &[usize] {
        &self.shape[..self.rank]
    }

    /// The number of elements (1 for a scalar).
    pub fn elements(&self) -> usize {
        self.shape().iter().product()
    }

    /// The raw data (little-endian, C order).
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// `Ok` if the shape is `expected`.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] or [`Error::ShapeMismatch`] (the first axis that differs).
    pub fn expect_shape(&self, expected: &[usize]) -> Result<(), Error> {
        dtype::check_shape(self.shape(), expected)
    }

    /// Copies the values into `out` as `f32`: exact from `'<f4'` and `'<f2'`, rounded to
    /// nearest from `'<f8'`.
    ///
    /// # Errors
    ///
    /// [`Error::WrongDtype`] for another dtype, [`Error::LengthMismatch`] unless `out` holds
    /// [`elements`](Self::elements) values; `out` is untouched on error.
    pub fn read_f32(&self, out: &mut [f32]) -> Result<(), Error> {
        dtype::read_f32(self.dtype, self.data, self.elements(), out)
    }

    /// Copies a `(rows, cols)` array into `out` transposed: `out[c·rows + r] = a[r][c]`.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] or [`Error::ShapeMismatch`] unless the shape is
    /// `(rows, cols)`, then as [`read_f32`](Self::read_f32).
    pub fn read_f32_transposed(
        &self,
        rows: usize,
        cols: usize,
        out: &mut [f32],
    ) -> Result<(), Error> {
        dtype::read_f32_transposed(self.dtype, self.data, self.shape(), rows, cols, out)
    }
}
