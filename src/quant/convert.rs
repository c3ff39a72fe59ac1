//! Post-training quantization: the float model type maps to its int8 model type.
//!
//! [`Quantize`] gives each float layer its quantized type (`Linear<IN, OUT>` →
//! [`QLinear<IN, OUT>`], [`Relu`] → [`QRelu`], a tuple → the tuple of its elements' types), so
//! `<(Linear<64, 32>, Relu, Linear<32, 10>) as Quantize>::Quantized` is
//! `(QLinear<64, 32>, QRelu, QLinear<32, 10>)`, computed by the type system.
//!
//! **ReLU fusion.** A tuple tells each element whether a `Relu` comes right after it
//! (`relu_follows`, from the next element's [`Quantize::IS_RELU`]). A `Linear` followed by a
//! ReLU quantizes its output with the ReLU's range, `[0, max]` (zero point −128, so all 256
//! levels serve values ≥ 0), and clamps at its output zero point, as TFLite's converter fuses
//! `FULLY_CONNECTED` + `RELU`. The `Relu` itself becomes the zero-sized [`QRelu`], the
//! identity, which is exact because its input can only hold values ≥ 0; a `Relu` whose input
//! zero point is not −128 (not after a `Linear`) is [`Error::ReluNotFused`]. Fusing in the
//! tuple rather than in a separate clamp layer keeps the clamp free (it is part of the
//! requantization anyway) and the quantized model as small as the layers' parameters.

use crate::error::Error;
use crate::layers::Linear;
use crate::layers::Relu;
use crate::module::{Batch, Module};
use crate::quant::bridge::{argmax_i8, dequantize_batch, quantize_batch};
use crate::quant::calibrate::{Calibrate, Range};
use crate::quant::params::QParams;
use crate::quant::qlinear::QLinear;
use crate::quant::qrelu::QRelu;

/// A float layer or model that converts to an int8 one.
///
/// Usually driven by [`Calibration::quantize`](crate::quant::Calibration::quantize).
pub trait Quantize {
    /// The int8 layer or model (for a tuple: the tuple of its elements' types).
    type Quantized;
    /// What calibration records for it ([`Range`] of a `Linear`'s output, `()` for a `Relu`,
    /// a tuple for a tuple).
    type Ranges: Copy + core::fmt::Debug;
    /// `Ranges` with nothing observed.
    const EMPTY_RANGES: Self::Ranges;
    /// Whether this layer is a ReLU, which the preceding layer fuses (for a tuple: whether
    /// its first element is).
    const IS_RELU: bool = false;

    /// Converts with the calibrated `ranges`, given the quantization of the input; returns
    /// the int8 layer and the quantization of its output. `relu_follows` asks a layer to
    /// fuse the ReLU that comes next (see the module documentation).
    ///
    /// # Errors
    ///
    /// As [`Calibration::quantize`](crate::quant::Calibration::quantize).
    fn quantize_with(
        &self,
        ranges: &Self::Ranges,
        input: QParams,
        relu_follows: bool,
    ) -> Result<(Self::Quantized, QParams), Error>;
}

/// The int8 model type of float model `M`, with its input and output quantization.
pub type QuantizedOf<M> = QModel<<M as Quantize>::Quantized>;

/// The exact size in bytes of the int8 model of `M`, a constant.
///
/// On Arm targets with a 64-bit multiply-accumulate (ARMv7-M and up) the weights take two
/// bytes each (their kernel's layout, see [`QLinear`]): 5156 bytes for the model below.
///
/// # Examples
///
/// ```
/// use constnn::quant::quantized_bytes;
/// use constnn::{Linear, Relu};
///
/// type Mlp = (Linear<64, 32>, Relu, Linear<32, 10>);
/// // Weights 2368, then per output channel a folded i32 bias, an i32 multiplier and an i8
/// // shift, and the layers' scales, zero points and clamps: 2772 bytes, plus 16 for the
/// // model's input and output quantization. The f32 model takes 9640.
/// const BYTES: usize = quantized_bytes::<Mlp>();
/// # #[cfg(not(all(target_arch = "arm", target_has_atomic = "32")))]
/// assert_eq!(BYTES, 2788);
/// ```
pub const fn quantized_bytes<M: Quantize>() -> usize {
    size_of::<QuantizedOf<M>>()
}

/// An int8 model with the quantization of its float input and of its output.
///
/// It runs as a [`Module`] on int8 batches; the bridges convert from and to `f32`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QModel<Q> {
    /// The int8 layers, e.g. `(QLinear<64, 32>, QRelu, QLinear<32, 10>)`.
    pub layers: Q,
    /// How the float input is quantized.
    pub input: QParams,
    /// The quantization of the int8 output (e.g. the logits).
    pub output: QParams,
}

impl<X, Q: Module<X>> Module<X> for QModel<Q> {
    type Output = Q::Output;

    fn forward(&self, x: &X) -> Q::Output {
        self.layers.forward(x)
    }
}

impl<Q> QModel<Q> {
    /// Quantizes a float input batch for this model ([`quantize_batch`] with `self.input`).
    pub fn quantize_input<const B: usize, const N: usize>(&self, x: &Batch<B, N>) -> [[i8; N]; B] {
        quantize_batch(x, self.input)
    }

    /// Dequantizes an output batch of this model ([`dequantize_batch`] with `self.output`).
    pub fn dequantize_output<const B: usize, const N: usize>(
        &self,
        y: &[[i8; N]; B],
    ) -> Batch<B, N> {
        dequantize_batch(y, self.output)
    }

    /// The predicted class of each row: [`argmax_i8`] of the int8 logits, no float involved.
    pub fn classify<const B: usize, const N: usize, const C: usize>(
        &self,
        x: &[[i8; N]; B],
    ) -> [usize; B]
    where
        Q: Module<[[i8; N]; B], Output = [[i8; C]; B]>,
    {
        let y = self.layers.forward(x);
        core::array::from_fn(|b| argmax_i8(&y[b]))
    }
}

impl<const IN: usize, const OUT: usize> Quantize for Linear<IN, OUT> {
    type Quantized = QLinear<IN, OUT>;
    type Ranges = Range;
    const EMPTY_RANGES: Range = Range::EMPTY;

    /// TFLite's post-training quantization of a fully connected layer:
    ///
    /// - weights per output channel `o`, symmetric: `s_w[o] = max_i |w[i][o]| / 127`,
    ///   `q = round(w · (127 / max_i |w[i][o]|))` clamped to `±127` (in `f32`, as TFLite's
    ///   `SymmetricPerChannelQuantization`); an all-zero channel gets `s_w = 1` (TFLite:
    ///   scale 0, which would also zero its bias);
    /// - bias: `round(b · f32(1 / f64(s_in · s_w[o])))`, saturated to `±(2^31 − 1)` (as
    ///   `SymmetricPerChannelBiasQuantize`);
    /// - output: [`QParams::from_range`] of the observed output range, or with a ReLU fused,
    ///   of `[0, max]`.
    fn quantize_with(
        &self,
        range: &Range,
        input: QParams,
        relu_follows: bool,
    ) -> Result<(QLinear<IN, OUT>, QParams), Error> {
        let input = input.validate()?;
        let (min, max) = range.bounds()?;
        let output = if relu_follows {
            QParams::from_range(0.0, max)?
        } else {
            QParams::from_range(min, max)?
        };
        let finite = |v: &f32| v.is_finite();
        if !(self.weight.as_flattened().iter().all(finite) && self.bias.iter().all(finite)) {
            return Err(Error::QuantizationNotFinite);
        }
        let mut weight = [[0i8; IN]; OUT];
        let mut bias = [0i32; OUT];
        let mut scales = [0f32; OUT];
        for o in 0..OUT {
            let mut half_range = 0.0f32;
            for row in &self.weight {
                let a = row[o].abs();
                if a > half_range {
                    half_range = a;
                }
            }
            let (scale, inv) = if half_range == 0.0 {
                (1.0, 0.0)
            } else {
                (half_range / 127.0, 127.0 / half_range)
            };
            scales[o] = scale;
            for (i, row) in self.weight.iter().enumerate() {
                weight[o][i] = libm::roundf(row[o] * inv).clamp(-127.0, 127.0) as i8;
            }
            let bias_scale = input.scale * scale;
            let bias_inv = if bias_scale == 0.0 {
                0.0
            } else {
                (1.0 / f64::from(bias_scale)) as f32
            };
            // `as i32` saturates; TFLite then clamps to ±(2^31 − 1).
            bias[o] = (libm::roundf(self.bias[o] * bias_inv) as i32).max(-i32::MAX);
        }
        let q = QLinear::from_quantized(weight, bias, &scales, input, output, relu_follows)?;
        Ok((q, output))
    }
}

impl Quantize for Relu {
    type Quantized = QRelu;
    type Ranges = ();
    const EMPTY_RANGES: () = ();
    const IS_RELU: bool = true;

    fn quantize_with(&self, _: &(), input: QParams, _: bool) -> Result<(QRelu, QParams), Error> {
        if input.zero_point == -128 {
            Ok((QRelu, input))
        } else {
            Err(Error::ReluNotFused)
        }
    }
}

/// Implements `Quantize` and `Calibrate` for one tuple size. Each element is
/// `(Type index local follows)`: `follows` is whether a ReLU comes right after that element
/// (the next element's `IS_RELU`, or for the last one the tuple's own `relu_follows`
/// parameter, named by `$rf` so that the expression can see it).
macro_rules! impl_quantize_tuple {
    (
        $rf:ident;
        first: ($F:ident $fi:tt $fl:ident $FY:ident $ffollow:expr);
        rest: [$(($T:ident $ti:tt $tl:ident $TX:ident $TY:ident $tfollow:expr))*];
        out: $Y:ident
    ) => {
        impl<$F: Quantize, $($T: Quantize),*> Quantize for ($F, $($T,)*) {
            type Quantized = ($F::Quantized, $($T::Quantized,)*);
            type Ranges = ($F::Ranges, $($T::Ranges,)*);
            const EMPTY_RANGES: Self::Ranges = ($F::EMPTY_RANGES, $($T::EMPTY_RANGES,)*);
            const IS_RELU: bool = $F::IS_RELU;

            fn quantize_with(
                &self,
                ranges: &Self::Ranges,
                input: QParams,
                $rf: bool,
            ) -> Result<(Self::Quantized, QParams), Error> {
                let ($fl, q) = self.$fi.quantize_with(&ranges.$fi, input, $ffollow)?;
                $(let ($tl, q) = self.$ti.quantize_with(&ranges.$ti, q, $tfollow)?;)*
                Ok((($fl, $($tl,)*), q))
            }
        }

        impl<X, $FY, $($TY,)* $F, $($T),*> Calibrate<X> for ($F, $($T,)*)
        where
            $F: Calibrate<X, Output = $FY>,
            $($T: Calibrate<$TX, Output = $TY>,)*
        {
            fn observe(&self, x: &X, ranges: &mut Self::Ranges) -> $Y {
                let y = self.$fi.observe(x, &mut ranges.$fi);
                $(let y = self.$ti.observe(&y, &mut ranges.$ti);)*
                y
            }
        }
    };
}

impl_quantize_tuple!(rf; first: (A 0 a Y0 rf); rest: []; out: Y0);
impl_quantize_tuple!(rf; first: (A 0 a Y0 B::IS_RELU); rest: [(B 1 b Y0 Y1 rf)]; out: Y1);
impl_quantize_tuple!(
    rf;
    first: (A 0 a Y0 B::IS_RELU);
    rest: [(B 1 b Y0 Y1 C::IS_RELU) (C 2 c Y1 Y2 rf)];
    out: Y2
);
impl_quantize_tuple!(
    rf;
    first: (A 0 a Y0 B::IS_RELU);
    rest: [(B 1 b Y0 Y1 C::IS_RELU) (C 2 c Y1 Y2 D::IS_RELU) (D 3 d Y2 Y3 rf)];
    out: Y3
);
impl_quantize_tuple!(
    rf;
    first: (A 0 a Y0 B::IS_RELU);
    rest: [
        (B 1 b Y0 Y1 C::IS_RELU) (C 2 c Y1 Y2 D::IS_RELU) (D 3 d Y2 Y3 E::IS_RELU)
        (E 4 e Y3 Y4 rf)
    ];
    out: Y4
);
impl_quantize_tuple!(
    rf;
    first: (A 0 a Y0 B::IS_RELU);
    rest: [
        (B 1 b Y0 Y1 C::IS_RELU) (C 2 c Y1 Y2 D::IS_RELU) (D 3 d Y2 Y3 E::IS_RELU)
        (E 4 e Y3 Y4 G::IS_RELU) (G 5 g Y4 Y5 rf)
    ];
    out: Y5
);
impl_quantize_tuple!(
    rf;
    first: (A 0 a Y0 B::IS_RELU);
    rest: [
        (B 1 b Y0 Y1 C::IS_RELU) (C 2 c Y1 Y2 D::IS_RELU) (D 3 d Y2 Y3 E::IS_RELU)
        (E 4 e Y3 Y4 G::IS_RELU) (G 5 g Y4 Y5 H::IS_RELU) (H 6 h Y5 Y6 rf)
    ];
    out: Y6
);
impl_quantize_tuple!(
    rf;
    first: (A 0 a Y0 B::IS_RELU);
    rest: [
        (B 1 b Y0 Y1 C::IS_RELU) (C 2 c Y1 Y2 D::IS_RELU) (D 3 d Y2 Y3 E::IS_RELU)
        (E 4 e Y3 Y4 G::IS_RELU) (G 5 g Y4 Y5 H::IS_RELU) (H 6 h Y5 Y6 I::IS_RELU)
        (I 7 i Y6 Y7 rf)
    ];
    out: Y7
);
