//! The `.npy` writer: version 1.0, `'<f4'`, C order, byte for byte as `numpy.save`.

use crate::Error;

/// numpy pads the preamble and header to a multiple of this, so the data is aligned.
const ALIGN: usize = 64;
/// numpy leaves room after the dict for the first dimension to grow to this many digits
/// (so an array can be appended to in place).
const GROWTH_AXIS_MAX_DIGITS: usize = 21;
/// Magic (6), version (2), header length (2).
const PREAMBLE_LEN: usize = 10;

const fn digits(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

/// The length of numpy's dict text, `{'descr': '<f4', 'fortran_order': False, 'shape': (…), }`,
/// plus its growth spaces, before the padding.
const fn dict_len(shape: &[usize]) -> usize {
    // `{'descr': '<f4', 'fortran_order': False, 'shape': (` and `), }`
    let mut n = 51 + 4;
    let mut i = 0;
    while i < shape.len() {
        n += digits(shape[i]);
        if i > 0 {
            n += 2; // ", "
        }
        i += 1;
    }
    if shape.len() == 1 {
        n += 1; // the one-tuple's comma: `(3,)`
    }
    if !shape.is_empty() && digits(shape[0]) < GROWTH_AXIS_MAX_DIGITS {
        n += GROWTH_AXIS_MAX_DIGITS - digits(shape[0]);
    }
    n
}

/// The header length field: the dict, spaces, `\n`, so preamble + header is a multiple of 64
/// (numpy adds a whole 64 when it already is one; reproduced, though no `'<f4'` shape numpy
/// accepts gets there).
const fn header_len(shape: &[usize]) -> usize {
    let hlen = dict_len(shape) + 1;
    hlen + ALIGN - (PREAMBLE_LEN + hlen) % ALIGN
}

/// The exact length of the `.npy` file [`write_f32`] writes for `shape` (`const`, so a buffer
/// can be sized at compile time). Saturates at `usize::MAX` for impossible sizes.
pub const fn len_f32(shape: &[usize]) -> usize {
    let mut elements = 1usize;
    let mut i = 0;
    while i < shape.len() {
        elements = elements.saturating_mul(shape[i]);
        i += 1;
    }
    (PREAMBLE_LEN + header_len(shape)).saturating_add(elements.saturating_mul(4))
}

/// Writes `values` as a C-order `'<f4'` array of `shape` into `out`, in format version 1.0;
/// returns the file's length ([`len_f32`]). The bytes are those `numpy.save` writes for the
/// same `float32` array.
///
/// # Errors
///
/// [`Error::LengthMismatch`] unless `values` has the shape's number of elements;
/// [`Error::ShapeOverflow`] (`offset` 0) if 4 bytes times the non-zero dimensions exceed
/// `isize::MAX` (numpy's limit, which applies to empty arrays too); [`Error::TooLarge`] if the
/// header does not fit version 1.0's 64 KiB; [`Error::BufferTooSmall`] if `out` is shorter
/// than [`len_f32`]. Nothing is written on error.
///
/// # Examples
///
/// ```
/// use constnn::format::npy::{len_f32, write_f32};
///
/// let mut buf = [0u8; len_f32(&[3])];
/// assert_eq!(write_f32(&mut buf, &[3], &[0.5, 1.5, 2.5])?, 128 + 12);
/// # Ok::<(), constnn::Error>(())
/// ```
pub fn write_f32(out: &mut [u8], shape: &[usize], values: &[f32]) -> Result<usize, Error> {
    // numpy refuses an array whose non-zero dimensions times the item size exceed isize::MAX,
    // even an empty one; such a shape is refused here too, so numpy loads every file written.
    let mut bytes_if_full = 4usize;
    for &d in shape.iter().filter(|&&d| d != 0) {
        bytes_if_full = bytes_if_full
            .checked_mul(d)
            .filter(|&n| n <= isize::MAX as usize)
            .ok_or(Error::ShapeOverflow { offset: 0 })?;
    }
    let elements = if shape.contains(&0) {
        0
    } else {
        bytes_if_full / 4
    };
    if elements != values.len() {
        return Err(Error::LengthMismatch {
            expected: elements,
            found: values.len(),
        });
    }
    // A rank beyond what fits 64 KiB of digits makes the header too long for version 1.0.
    let header = if shape.len() > u16::MAX as usize / 3 {
        usize::MAX
    } else {
        header_len(shape)
    };
    if header > u16::MAX as usize {
        return Err(Error::TooLarge {
            limit: u16::MAX as usize,
            found: header,
        });
    }
    let data_start = PREAMBLE_LEN + header;
    let total = (4 * elements)
        .checked_add(data_start)
        .ok_or(Error::ShapeOverflow { offset: 0 })?;
    let available = out.len();
    let Some(out) = out.get_mut(..total) else {
        return Err(Error::BufferTooSmall {
            needed: total,
            available,
        });
    };
    let (head, data) = out.split_at_mut(data_start);
    head.fill(b' ');
    head[..6].copy_from_slice(&super::MAGIC);
    head[6..8].copy_from_slice(&[1, 0]);
    head[8..10].copy_from_slice(&(header as u16).to_le_bytes());
    let mut pos = PREAMBLE_LEN;
    let mut put = |b: &[u8]| {
        head[pos..pos + b.len()].copy_from_slice(b);
        pos += b.len();
    };
    put(b"{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (i, &d) in shape.iter().enumerate() {
        if i > 0 {
            put(b", ");
        }
        let mut tmp = [0u8; 20];
        let mut k = tmp.len();
        let mut v = d;
        loop {
            k -= 1;
            tmp[k] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        put(&tmp[k..]);
    }
    if shape.len() == 1 {
        put(b",");
    }
    put(b"), }");
    // The growth spaces and the padding are already spaces.
    head[data_start - 1] = b'\n';
    for (dst, v) in data.chunks_exact_mut(4).zip(values) {
        dst.copy_from_slice(&v.to_le_bytes());
    }
    Ok(total)
}
