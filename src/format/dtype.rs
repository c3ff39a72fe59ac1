//! The element types the formats can declare, and their conversion to `f32`.

/// An element type, as a `safetensors` header or a `.npy` `descr` names it.
///
/// The discriminants are the codes of the constnn container's dtype byte ([`code`](Self::code)):
/// `F32 = 1` and `I8 = 2` are the container's (the second reserved for int8 models); the rest
/// only number the other formats' types for [`Error::WrongDtype`](crate::Error::WrongDtype).
///
/// Readers convert [`F32`](Self::F32), [`F64`](Self::F64) (rounded to nearest),
/// [`F16`](Self::F16) and [`Bf16`](Self::Bf16) (both exactly) to `f32`; any other type is
/// reported as [`Error::WrongDtype`](crate::Error::WrongDtype) when read as `f32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Dtype {
    /// IEEE 754 binary32, little-endian (`"F32"`, `'<f4'`).
    F32 = 1,
    /// Signed 8-bit integer (`"I8"`, `'|i1'`).
    I8 = 2,
    /// IEEE 754 binary64, little-endian (`"F64"`, `'<f8'`).
    F64 = 3,
    /// IEEE 754 binary16, little-endian (`"F16"`, `'<f2'`).
    F16 = 4,
    /// bfloat16: the top half of a binary32, little-endian (`"BF16"`; numpy has none).
    Bf16 = 5,
    /// Unsigned 8-bit integer (`"U8"`, `'|u1'`).
    U8 = 6,
    /// Signed 16-bit integer (`"I16"`, `'<i2'`).
    I16 = 7,
    /// Unsigned 16-bit integer (`"U16"`, `'<u2'`).
    U16 = 8,
    /// Signed 32-bit integer (`"I32"`, `'<i4'`).
    I32 = 9,
    /// Unsigned 32-bit integer (`"U32"`, `'<u4'`).
    U32 = 10,
    /// Signed 64-bit integer (`"I64"`, `'<i8'`).
    I64 = 11,
    /// Unsigned 64-bit integer (`"U64"`, `'<u8'`).
    U64 = 12,
    /// Boolean, one byte (`"BOOL"`, `'|b1'`).
    Bool = 13,
    /// Complex of two binary32 (`"C64"`, `'<c8'`).
    C64 = 14,
    /// 8-bit float, 5-bit exponent (`"F8_E5M2"`).
    F8E5M2 = 15,
    /// 8-bit float, 4-bit exponent (`"F8_E4M3"`).
    F8E4M3 = 16,
    /// 8-bit exponent-only scale (`"F8_E8M0"`).
    F8E8M0 = 17,
    /// 8-bit float, 4-bit exponent, finite, unsigned zero (`"F8_E4M3FNUZ"`).
    F8E4M3Fnuz = 18,
    /// 8-bit float, 5-bit exponent, finite, unsigned zero (`"F8_E5M2FNUZ"`).
    F8E5M2Fnuz = 19,
    /// 4-bit float, two per byte (`"F4"`).
    F4 = 20,
    /// 6-bit float, 2-bit exponent (`"F6_E2M3"`).
    F6E2M3 = 21,
    /// 6-bit float, 3-bit exponent (`"F6_E3M2"`).
    F6E3M2 = 22,
}

/// Every dtype with its `safetensors` name, in one place for the parser and the writer.
const SAFETENSORS_NAMES: [(Dtype, &str); 22] = [
    (Dtype::F32, "F32"),
    (Dtype::I8, "I8"),
    (Dtype::F64, "F64"),
    (Dtype::F16, "F16"),
    (Dtype::Bf16, "BF16"),
    (Dtype::U8, "U8"),
    (Dtype::I16, "I16"),
    (Dtype::U16, "U16"),
    (Dtype::I32, "I32"),
    (Dtype::U32, "U32"),
    (Dtype::I64, "I64"),
    (Dtype::U64, "U64"),
    (Dtype::Bool, "BOOL"),
    (Dtype::C64, "C64"),
    (Dtype::F8E5M2, "F8_E5M2"),
    (Dtype::F8E4M3, "F8_E4M3"),
    (Dtype::F8E8M0, "F8_E8M0"),
    (Dtype::F8E4M3Fnuz, "F8_E4M3FNUZ"),
    (Dtype::F8E5M2Fnuz, "F8_E5M2FNUZ"),
    (Dtype::F4, "F4"),
    (Dtype::F6E2M3, "F6_E2M3"),
    (Dtype::F6E3M2, "F6_E3M2"),
];

impl Dtype {
    /// The type's code (its discriminant): the constnn container's dtype byte for
    /// [`F32`](Self::F32) and [`I8`](Self::I8).
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The dtype with this [`code`](Self::code), if any.
    pub const fn from_code(code: u8) -> Option<Dtype> {
        let mut i = 0;
        while i < SAFETENSORS_NAMES.len() {
            if SAFETENSORS_NAMES[i].0 as u8 == code {
                return Some(SAFETENSORS_NAMES[i].0);
            }
            i += 1;
        }
        None
    }

    /// The size of one element in bits (4 and 6 for the sub-byte floats).
    pub const fn bits(self) -> usize {
        match self {
            Dtype::F4 => 4,
            Dtype::F6E2M3 | Dtype::F6E3M2 => 6,
            Dtype::I8
            | Dtype::U8
            | Dtype::Bool
            | Dtype::F8E5M2
            | Dtype::F8E4M3
            | Dtype::F8E8M0
            | Dtype::F8E4M3Fnuz
            | Dtype::F8E5M2Fnuz => 8,
            Dtype::F16 | Dtype::Bf16 | Dtype::I16 | Dtype::U16 => 16,
            Dtype::F32 | Dtype::I32 | Dtype::U32 => 32,
            Dtype::F64 | Dtype::I64 | Dtype::U64 | Dtype::C64 => 64,
        }
    }

    /// The name a `safetensors` header uses (`"F32"`, `"BF16"`, …).
    pub const fn safetensors_name(self) -> &'static str {
        let mut i = 0;
        while i < SAFETENSORS_NAMES.len() {
            if SAFETENSORS_NAMES[i].0 as u8 == self as u8 {
                return SAFETENSORS_NAMES[i].1;
            }
            i += 1;
        }
        // Unreachable: every variant is in the table (checked by a unit test).
        ""
    }

    /// The dtype a `safetensors` header names with these bytes (case-sensitive, as the
    /// reference implementation).
    pub fn from_safetensors_name(name: &[u8]) -> Option<Dtype> {
        SAFETENSORS_NAMES
            .iter()
            .find(|(_, n)| n.as_bytes() == name)
            .map(|&(d, _)| d)
    }

    /// Whether readers convert this type to `f32` (`F32`, `F64`, `F16`, `BF16`).
    pub const fn reads_as_f32(self) -> bool {
        matches!(self, Dtype::F32 | Dtype::F64 | Dtype::F16 | Dtype::Bf16)
    }
}

/// binary16 bits to the `f32` of the same value (every binary16 value is exact in `f32`;
/// NaN payloads are kept, shifted into the top of the `f32` mantissa).
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h as u32) & 0x8000) << 16;
    let exp = ((h >> 10) & 0x1F) as u32;
    let mant = (h & 0x3FF) as u32;
    if exp == 0 {
        // Zero or subnormal: mant · 2⁻²⁴, exact (mant < 2¹⁰).
        let mag = mant as f32 * (1.0 / 16_777_216.0);
        f32::from_bits(mag.to_bits() | sign)
    } else if exp == 31 {
        f32::from_bits(sign | 0x7F80_0000 | (mant << 13))
    } else {
        f32::from_bits(sign | ((exp + 112) << 23) | (mant << 13))
    }
}

/// Element `i` of little-endian `data` holding `dtype` values, as an `f32`. The caller has
/// checked the type ([`Dtype::reads_as_f32`]) and that `data` holds the element; anything
/// else gives 0.0 rather than a panic.
fn element_f32(dtype: Dtype, data: &[u8], i: usize) -> f32 {
    let size = dtype.bits() / 8;
    let Some(b) = data.get(i * size..i * size + size) else {
        return 0.0;
    };
    match dtype {
        Dtype::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        Dtype::F64 => f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32,
        Dtype::F16 => f16_to_f32(u16::from_le_bytes([b[0], b[1]])),
        Dtype::Bf16 => f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16),
        _ => 0.0,
    }
}

/// Copies `elements` values of `dtype` from `data` into `out`, converted to `f32`.
pub(crate) fn read_f32(
    dtype: Dtype,
    data: &[u8],
    elements: usize,
    out: &mut [f32],
) -> Result<(), crate::Error> {
    check_f32_read(dtype, elements, out.len())?;
    if dtype == Dtype::F32 {
        for (o, b) in out.iter_mut().zip(data.chunks_exact(4)) {
            *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
    } else {
        for (i, o) in out.iter_mut().enumerate() {
            *o = element_f32(dtype, data, i);
        }
    }
    Ok(())
}

/// Copies a `rows × cols` (row-major) tensor into `out` transposed: `out[c·rows + r] = t[r][c]`.
pub(crate) fn read_f32_transposed(
    dtype: Dtype,
    data: &[u8],
    shape: &[usize],
    rows: usize,
    cols: usize,
    out: &mut [f32],
) -> Result<(), crate::Error> {
    check_shape(shape, &[rows, cols])?;
    check_f32_read(dtype, rows.saturating_mul(cols), out.len())?;
    for r in 0..rows {
        for c in 0..cols {
            if let Some(o) = out.get_mut(c * rows + r) {
                *o = element_f32(dtype, data, r * cols + c);
            }
        }
    }
    Ok(())
}

fn check_f32_read(dtype: Dtype, elements: usize, out_len: usize) -> Result<(), crate::Error> {
    if !dtype.reads_as_f32() {
        return Err(crate::Error::WrongDtype {
            expected: Dtype::F32,
            found: dtype,
        });
    }
    if elements != out_len {
        return Err(crate::Error::LengthMismatch {
            expected: elements,
            found: out_len,
        });
    }
    Ok(())
}

/// `Ok` if `shape` is `expected`; otherwise the rank or the first axis that differs.
pub(crate) fn check_shape(shape: &[usize], expected: &[usize]) -> Result<(), crate::Error> {
    if shape.len() != expected.len() {
        return Err(crate::Error::RankMismatch {
            expected: expected.len(),
            found: shape.len(),
        });
    }
    for (axis, (&f, &e)) in shape.iter().zip(expected).enumerate() {
        if f != e {
            return Err(crate::Error::ShapeMismatch {
                axis,
                expected: e,
                found: f,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_cover_every_variant() {
        for &(d, n) in SAFETENSORS_NAMES.iter() {
            assert_eq!(d.safetensors_name(), n);
            assert_eq!(Dtype::from_safetensors_name(n.as_bytes()), Some(d));
            assert_eq!(Dtype::from_code(d.code()), Some(d));
        }
        assert_eq!(Dtype::from_code(0), None);
        assert_eq!(Dtype::from_code(23), None);
    }

    #[test]
    fn f16_conversion_is_exact() {
        assert_eq!(f16_to_f32(0x3C00), 1.0);
        assert_eq!(f16_to_f32(0xC000), -2.0);
        assert_eq!(f16_to_f32(0x7BFF), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03FF), 1023.0 * 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x0400), 2f32.powi(-14));
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000);
        assert_eq!(f16_to_f32(0x7C00), f32::INFINITY);
        assert_eq!(f16_to_f32(0xFC00), f32::NEG_INFINITY);
        assert!(f16_to_f32(0x7E00).is_nan());
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
    }
}
