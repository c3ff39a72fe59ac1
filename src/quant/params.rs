//! The affine int8 quantization of one tensor: `real = scale · (q − zero_point)`.

use crate::error::Error;

/// Affine int8 quantization parameters: `real = scale · (q − zero_point)`, `q` in `−128..=127`.
///
/// Activations use this asymmetric form; weights are symmetric (zero point 0, see
/// [`QLinear`](crate::quant::QLinear)). The real value 0 is exactly representable: it is the
/// integer `zero_point`.
///
/// # Examples
///
/// ```
/// use constnn::quant::QParams;
///
/// let q = QParams::from_range(-1.0, 3.0)?;
/// assert_eq!((q.scale, q.zero_point), (4.0 / 255.0, -64));
/// assert_eq!(q.quantize(0.0), -64);
/// assert_eq!(q.quantize(100.0), 127); // saturates
/// assert_eq!(q.dequantize(q.quantize(1.0)), 64.0 * (4.0 / 255.0));
/// # Ok::<(), constnn::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QParams {
    /// The real size of one integer step; finite and `> 0`.
    pub scale: f32,
    /// The integer that stands for the real value 0.
    pub zero_point: i8,
}

impl QParams {
    /// The parameters chosen for a range of width 0 (every calibration value was 0): scale 1
    /// and zero point −128, so 0 is exact and the parameters stay usable (TFLite's converter
    /// would give scale 0, which no kernel can use).
    pub const DEGENERATE: Self = Self {
        scale: 1.0,
        zero_point: -128,
    };

    /// TFLite's activation quantization of an observed range `[min, max]` (its converter's
    /// `GetAsymmetricQuantizationParams`, in `f32` as there):
    ///
    /// 1. the range is widened to contain 0: `min ← min(min, 0)`, `max ← max(max, 0)`;
    /// 2. `scale = (max − min) / 255`;
    /// 3. the zero point is nudged to an integer: `zp = round(−128 − min / scale)` (half away
    ///    from zero), clamped to `−128..=127`; so 0 is representable exactly, and a range
    ///    starting at 0 (a ReLU's output) gets `zp = −128`.
    ///
    /// A range of width 0 (`[0, 0]` after step 1), or one so narrow that `scale` rounds to 0,
    /// gives [`QParams::DEGENERATE`].
    ///
    /// # Errors
    ///
    /// [`Error::QuantizationNotFinite`] if `min` or `max` is NaN or infinite, or the width
    /// overflows.
    pub fn from_range(min: f32, max: f32) -> Result<Self, Error> {
        if !(min.is_finite() && max.is_finite()) {
            return Err(Error::QuantizationNotFinite);
        }
        let min = if min < 0.0 { min } else { 0.0 };
        let max = if max > 0.0 { max } else { 0.0 };
        let scale = (max - min) / 255.0;
        if !scale.is_finite() {
            return Err(Error::QuantizationNotFinite);
        }
        if scale == 0.0 {
            return Ok(Self::DEGENERATE);
        }
        let zp = -128.0 - min / scale;
        let zero_point = if zp < -128.0 {
            -128
        } else if zp > 127.0 {
            127
        } else {
            libm::roundf(zp) as i8
        };
        Ok(Self { scale, zero_point })
    }

    /// Checks that `scale` is finite and `> 0`.
    ///
    /// # Errors
    ///
    /// [`Error::ScaleOutOfRange`] otherwise.
    pub fn validate(self) -> Result<Self, Error> {
        if self.scale.is_finite() && self.scale > 0.0 {
            Ok(self)
        } else {
            Err(Error::ScaleOutOfRange)
        }
    }

    /// `clamp(round(v / scale) + zero_point, −128, 127)`: TFLite's `QUANTIZE` of one value
    /// (a division, not a multiplication by `1 / scale`, to round as TFLite does). NaN maps to
    /// the zero point, `±∞` to the ends of the range.
    #[inline]
    pub fn quantize(self, v: f32) -> i8 {
        // `as i32` saturates (and maps NaN to 0), so the sum cannot overflow.
        let q = (libm::roundf(v / self.scale) as i32).saturating_add(i32::from(self.zero_point));
        q.clamp(-128, 127) as i8
    }

    /// `scale · (q − zero_point)`: TFLite's `DEQUANTIZE` of one value (the integer difference is
    /// exact in `f32`, so the product is rounded once, as TFLite's `double` product cast to
    /// `float` is).
    #[inline]
    pub fn dequantize(self, q: i8) -> f32 {
        (i32::from(q) - i32::from(self.zero_point)) as f32 * self.scale
    }
}
