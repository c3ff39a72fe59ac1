//! Between the float world and the int8 model: quantize inputs, dequantize outputs, and the
//! int8 argmax.

use crate::module::Batch;
use crate::quant::params::QParams;

/// Quantizes a float batch with `q` ([`QParams::quantize`] on every value): TFLite's
/// `QUANTIZE` on the model input.
///
/// # Examples
///
/// ```
/// use constnn::quant::{QParams, quantize_batch};
///
/// let q = QParams { scale: 0.5, zero_point: -1 };
/// assert_eq!(quantize_batch(&[[0.0, 1.0, -0.76, 1e9]], q), [[-1, 1, -3, 127]]);
/// ```
pub fn quantize_batch<const B: usize, const N: usize>(x: &Batch<B, N>, q: QParams) -> [[i8; N]; B] {
    let mut y = [[0; N]; B];
    for (yr, xr) in y.iter_mut().zip(x) {
        for (v, &r) in yr.iter_mut().zip(xr) {
            *v = q.quantize(r);
        }
    }
    y
}

/// Dequantizes an int8 batch with `q` ([`QParams::dequantize`] on every value): TFLite's
/// `DEQUANTIZE`, e.g. of the logits.
///
/// # Examples
///
/// ```
/// use constnn::quant::{QParams, dequantize_batch};
///
/// let q = QParams { scale: 0.5, zero_point: -1 };
/// assert_eq!(dequantize_batch(&[[-1i8, 1, 127]], q), [[0.0, 1.0, 64.0]]);
/// ```
pub fn dequantize_batch<const B: usize, const N: usize>(
    y: &[[i8; N]; B],
    q: QParams,
) -> Batch<B, N> {
    let mut x = [[0.0; N]; B];
    for (xr, yr) in x.iter_mut().zip(y) {
        for (r, &v) in xr.iter_mut().zip(yr) {
            *r = q.dequantize(v);
        }
    }
    x
}

/// The index of the largest int8 value (the first one on ties), with no float operation.
///
/// Dequantization is increasing (the scale is positive), so this is the class that
/// [`argmax`](crate::argmax) of the dequantized logits picks, ties included. An empty row
/// gives 0.
///
/// # Examples
///
/// ```
/// assert_eq!(constnn::quant::argmax_i8(&[-5, 7, 7, -128]), 1);
/// ```
pub fn argmax_i8(row: &[i8]) -> usize {
    let mut best = 0;
    let mut max = i8::MIN;
    for (i, &v) in row.iter().enumerate() {
        if v > max || i == 0 {
            max = v;
            best = i;
        }
    }
    best
}
