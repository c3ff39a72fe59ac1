//! The little JSON the `safetensors` header needs, validated strictly and without allocation:
//! a cursor over the header bytes, strings (escapes checked, borrowed undecoded), non-negative
//! integers, and on-demand decoding of escaped strings for comparisons.
//!
//! The header's structure is fixed (an object of objects of scalars and flat arrays), so the
//! parser is a handful of non-recursive loops: no input can exhaust the stack.

use crate::Error;

/// A JSON string in the input: the byte range of its contents (between the quotes), and
/// whether it holds escapes (then it must be decoded to be compared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct JStr {
    /// The offset of the opening quote (reported in errors about this string).
    pub quote: usize,
    pub start: usize,
    pub end: usize,
    pub escaped: bool,
}

impl JStr {
    pub const EMPTY: JStr = JStr {
        quote: 0,
        start: 0,
        end: 0,
        escaped: false,
    };
}

/// A position in the input, with the end of the header (the cursor never reads past it).
pub(super) struct Cursor<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
    pub end: usize,
}

impl<'a> Cursor<'a> {
    pub fn peek(&self) -> Option<u8> {
        if self.pos < self.end {
            Some(self.buf[self.pos])
        } else {
            None
        }
    }

    pub fn malformed(&self) -> Error {
        Error::MalformedHeader { offset: self.pos }
    }

    /// Skips JSON whitespace (space, tab, line feed, carriage return).
    pub fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// After a member of an object or array: skips whitespace, then consumes a `,` (and the
    /// whitespace after it: `Ok(false)`, another member follows) or the `close` byte (`}` or
    /// `]`: `Ok(true)`, the end); anything else is malformed.
    pub fn separator(&mut self, close: u8) -> Result<bool, Error> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.skip_ws();
                Ok(false)
            }
            Some(c) if c == close => {
                self.pos += 1;
                Ok(true)
            }
            _ => Err(self.malformed()),
        }
    }

    /// Consumes `byte` or fails at the current position.
    pub fn expect(&mut self, byte: u8) -> Result<(), Error> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.malformed())
        }
    }

    /// The error for a value that is not what the field needs: [`Error::WrongType`] if a
    /// well-formed JSON value starts here, else [`Error::MalformedHeader`] at the first byte
    /// that cannot be JSON.
    pub fn wrong_value(&self) -> Error {
        let at = self.pos;
        let rest = &self.buf[at..self.end];
        let literal_ok = |lit: &[u8]| rest.len() >= lit.len() && &rest[..lit.len()] == lit;
        match self.peek() {
            Some(b'"' | b'{' | b'[' | b'-' | b'0'..=b'9') => Error::WrongType { offset: at },
            Some(b't') if literal_ok(b"true") => Error::WrongType { offset: at },
            Some(b'f') if literal_ok(b"false") => Error::WrongType { offset: at },
            Some(b'n') if literal_ok(b"null") => Error::WrongType { offset: at },
            _ => self.malformed(),
        }
    }

    /// Consumes `lit` (`null`, …) if it is next.
    pub fn eat_literal(&mut self, lit: &[u8]) -> bool {
        let rest = &self.buf[self.pos..self.end];
        if rest.len() >= lit.len() && &rest[..lit.len()] == lit {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    /// Parses a string at the cursor (which must be on its opening quote).
    pub fn string(&mut self) -> Result<JStr, Error> {
        let quote = self.pos;
        self.expect(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.malformed());
            };
            match b {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                0x00..=0x1F => return Err(self.malformed()),
                0x20..=0x7F => self.pos += 1,
                _ => self.utf8_char()?,
            }
        }
        let end = self.pos;
        self.pos += 1;
        Ok(JStr {
            quote,
            start,
            end,
            escaped,
        })
    }

    /// Validates one escape sequence at the cursor (on its backslash); a `\u` high surrogate
    /// must be followed by a `\u` low surrogate, a low surrogate must not stand alone.
    fn escape(&mut self) -> Result<(), Error> {
        let at = self.pos;
        self.pos += 1;
        match self.peek() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 1;
                Ok(())
            }
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        let second = self.pos;
                        if self.peek() != Some(b'\\') {
                            return Err(Error::MalformedHeader { offset: at });
                        }
                        self.pos += 1;
                        if self.peek() != Some(b'u') {
                            return Err(Error::MalformedHeader { offset: at });
                        }
                        self.pos += 1;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(Error::MalformedHeader { offset: second });
                        }
                        Ok(())
                    }
                    0xDC00..=0xDFFF => Err(Error::MalformedHeader { offset: at }),
                    _ => Ok(()),
                }
            }
            _ => Err(self.malformed()),
        }
    }

    /// Consumes one multi-byte UTF-8 character, or fails on its first byte.
    fn utf8_char(&mut self) -> Result<(), Error> {
        let chunk = &self.buf[self.pos..self.end.min(self.pos + 4)];
        let valid = match core::str::from_utf8(chunk) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(&chunk[..e.valid_up_to()]).unwrap_or(""),
        };
        match valid.chars().next() {
            Some(c) => {
                self.pos += c.len_utf8();
                Ok(())
            }
            None => Err(self.malformed()),
        }
    }

    fn hex4(&mut self) -> Result<u16, Error> {
        let mut v = 0u16;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.malformed()),
            };
            v = (v << 4) | d as u16;
            self.pos += 1;
        }
        Ok(v)
    }

    /// Parses a JSON number that must be a non-negative integer fitting `usize`. The whole
    /// number is checked for JSON syntax first; then a sign, fraction or exponent is
    /// [`Error::WrongType`], too many digits [`Error::NumberOverflow`].
    pub fn usize(&mut self) -> Result<usize, Error> {
        let start = self.pos;
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => {}
            _ => return Err(self.wrong_value()),
        }
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.pos += 1;
                }
            }
            _ => return Err(self.malformed()),
        }
        let int_end = self.pos;
        let mut fractional = false;
        if self.peek() == Some(b'.') {
            fractional = true;
            self.pos += 1;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            fractional = true;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.digits()?;
        }
        if negative || fractional {
            return Err(Error::WrongType { offset: start });
        }
        let mut v: usize = 0;
        for &d in &self.buf[int_start..int_end] {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add((d - b'0') as usize))
                .ok_or(Error::NumberOverflow { offset: start })?;
        }
        Ok(v)
    }

    /// One or more decimal digits.
    fn digits(&mut self) -> Result<(), Error> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.malformed());
        }
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        Ok(())
    }
}

/// The characters of a validated JSON string's contents, escapes decoded.
///
/// Built only over strings the parser accepted; anything unexpected decodes to
/// U+FFFD rather than panicking.
#[derive(Debug, Clone)]
pub struct Chars<'a> {
    rest: core::str::Chars<'a>,
}

impl<'a> Chars<'a> {
    pub(super) fn new(raw: &'a str) -> Self {
        Self { rest: raw.chars() }
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0;
        for _ in 0..4 {
            v = (v << 4) | self.rest.next()?.to_digit(16)?;
        }
        Some(v)
    }

    fn unicode_escape(&mut self) -> Option<char> {
        let unit = self.hex4()?;
        if (0xD800..0xDC00).contains(&unit) {
            if self.rest.next()? != '\\' || self.rest.next()? != 'u' {
                return None;
            }
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return None;
            }
            char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
        } else {
            char::from_u32(unit)
        }
    }
}

impl Iterator for Chars<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let c = self.rest.next()?;
        if c != '\\' {
            return Some(c);
        }
        Some(match self.rest.next() {
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => self.unicode_escape().unwrap_or(char::REPLACEMENT_CHARACTER),
            Some(c @ ('"' | '\\' | '/')) => c,
            _ => char::REPLACEMENT_CHARACTER,
        })
    }
}
