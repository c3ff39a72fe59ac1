//! The int8 ReLU: zero-sized, because conversion fuses it into the preceding layer's clamp.

use crate::module::Module;

/// The quantized [`Relu`](crate::Relu): zero bytes, and its `forward` is the identity.
///
/// Conversion ([`Quantize`](crate::quant::Quantize)) builds a `QRelu` only where its input has
/// zero point −128, i.e. where every representable int8 value stands for a real value `≥ 0`,
/// so that `max(x, 0)` changes nothing. That is the case after a
/// [`QLinear`](crate::quant::QLinear) into which the ReLU was fused: that layer's output was
/// quantized from the *ReLU's* range `[0, max]` (zero point −128) and clamps at its zero
/// point. A `Relu` anywhere else is a conversion error ([`Error::ReluNotFused`](crate::Error)).
///
/// # Examples
///
/// ```
/// use constnn::Module;
/// use constnn::quant::QRelu;
///
/// assert_eq!(size_of::<QRelu>(), 0);
/// assert_eq!(QRelu.forward(&[[-128i8, 0, 127]]), [[-128, 0, 127]]);
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QRelu;

impl<const B: usize, const N: usize> Module<[[i8; N]; B]> for QRelu {
    type Output = [[i8; N]; B];

    #[inline]
    fn forward(&self, x: &[[i8; N]; B]) -> [[i8; N]; B] {
        *x
    }
}
