//! Calibration: the observed range of the model's input and of every layer's output.
//!
//! Runs the float model with [`Module::forward`] on calibration batches and records minima
//! and maxima in fixed-size [`Range`]s: no allocation, no float formatting, so it runs on a
//! microcontroller too.

use crate::error::Error;
use crate::layers::Linear;
use crate::layers::Relu;
use crate::module::{Batch, Module};
use crate::quant::convert::{QModel, Quantize};
use crate::quant::params::QParams;

/// The observed range of one tensor: its minimum and maximum over all calibration values,
/// and whether a NaN or infinity was seen.
///
/// # Examples
///
/// ```
/// use constnn::quant::Range;
///
/// let mut r = Range::EMPTY;
/// r.observe(&[0.5, -2.0, 3.0]);
/// assert_eq!((r.min(), r.max()), (-2.0, 3.0));
/// r.observe(&[f32::NAN]);
/// assert!(r.qparams().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    min: f32,
    max: f32,
    non_finite: bool,
}

impl Range {
    /// Nothing observed yet (`min = +∞`, `max = −∞`).
    pub const EMPTY: Self = Self {
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
        non_finite: false,
    };

    /// Widens the range to every finite value of `values`, and notes any NaN or infinity.
    pub fn observe(&mut self, values: &[f32]) {
        for &v in values {
            if !v.is_finite() {
                self.non_finite = true;
            } else {
                if v < self.min {
                    self.min = v;
                }
                if v > self.max {
                    self.max = v;
                }
            }
        }
    }

    /// The smallest finite value observed (`+∞` if none).
    pub fn min(&self) -> f32 {
        self.min
    }

    /// The largest finite value observed (`−∞` if none).
    pub fn max(&self) -> f32 {
        self.max
    }

    /// Whether a NaN or an infinity was observed.
    pub fn saw_non_finite(&self) -> bool {
        self.non_finite
    }

    /// `(min, max)`, checked.
    ///
    /// # Errors
    ///
    /// [`Error::QuantizationNotFinite`] if a NaN or infinity was observed,
    /// [`Error::CalibrationEmpty`] if nothing was.
    pub fn bounds(&self) -> Result<(f32, f32), Error> {
        if self.non_finite {
            Err(Error::QuantizationNotFinite)
        } else if self.min > self.max {
            Err(Error::CalibrationEmpty)
        } else {
            Ok((self.min, self.max))
        }
    }

    /// The int8 quantization of this range ([`QParams::from_range`]).
    ///
    /// # Errors
    ///
    /// As [`Range::bounds`] and [`QParams::from_range`].
    pub fn qparams(&self) -> Result<QParams, Error> {
        let (min, max) = self.bounds()?;
        QParams::from_range(min, max)
    }
}

/// A model (or layer) that records its activation ranges while running on input `X`.
///
/// Implemented for [`Linear`] (its output range), [`Relu`] (nothing: it is fused into the
/// preceding `Linear`, whose range it takes), and tuples of up to 8 of them. Use it through
/// [`Calibration`].
pub trait Calibrate<X>: Quantize + Module<X> {
    /// [`Module::forward`], also widening `ranges` to the activations seen.
    fn observe(&self, x: &X, ranges: &mut Self::Ranges) -> Self::Output;
}

impl<const B: usize, const IN: usize, const OUT: usize> Calibrate<Batch<B, IN>>
    for Linear<IN, OUT>
{
    fn observe(&self, x: &Batch<B, IN>, range: &mut Range) -> Batch<B, OUT> {
        let y = self.forward(x);
        range.observe(y.as_flattened());
        y
    }
}

impl<const B: usize, const N: usize> Calibrate<Batch<B, N>> for Relu {
    fn observe(&self, x: &Batch<B, N>, _: &mut ()) -> Batch<B, N> {
        self.forward(x)
    }
}

/// The calibration state of model `M`: the range of its input and of each layer's output.
///
/// Fixed-size (`size_of::<Range>()` = 12 bytes per `Linear`), `const`-constructible, fed one
/// batch at a time with [`observe`](Calibration::observe); then
/// [`quantize`](Calibration::quantize) converts the float model.
///
/// # Examples
///
/// ```
/// use constnn::quant::Calibration;
/// use constnn::{Linear, Module, Params, Relu, XorShiftRng, Zeroed};
/// use constnn::rand_core::SeedableRng;
///
/// type Mlp = (Linear<4, 8>, Relu, Linear<8, 3>);
/// let mut model = Mlp::ZERO;
/// model.init(&mut XorShiftRng::seed_from_u64(0));
///
/// let mut calibration = Calibration::<Mlp>::new();
/// calibration.observe(&model, &[[0.5, -1.0, 2.0, 0.0], [1.0, 1.0, -1.0, 3.0]]);
/// let q = calibration.quantize(&model)?; // QModel<(QLinear<4, 8>, QRelu, QLinear<8, 3>)>
///
/// let x = q.quantize_input(&[[0.5, -1.0, 2.0, 0.0]]);
/// let logits = q.dequantize_output(&q.forward(&x));
/// let float = model.forward(&[[0.5, -1.0, 2.0, 0.0]]);
/// for (a, b) in logits[0].iter().zip(&float[0]) {
///     assert!((a - b).abs() < 0.1, "{a} vs {b}");
/// }
/// # Ok::<(), constnn::Error>(())
/// ```
pub struct Calibration<M: Quantize> {
    input: Range,
    ranges: M::Ranges,
}

impl<M: Quantize> core::fmt::Debug for Calibration<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Calibration")
            .field("input", &self.input)
            .field("ranges", &self.ranges)
            .finish()
    }
}

impl<M: Quantize> Clone for Calibration<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: Quantize> Copy for Calibration<M> {}

impl<M: Quantize> Default for Calibration<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Quantize> Calibration<M> {
    /// Nothing observed yet.
    pub const fn new() -> Self {
        Self {
            input: Range::EMPTY,
            ranges: M::EMPTY_RANGES,
        }
    }

    /// Runs `model` on a calibration batch and widens every range to what it sees.
    pub fn observe<const B: usize, const N: usize>(&mut self, model: &M, x: &Batch<B, N>)
    where
        M: Calibrate<Batch<B, N>>,
    {
        self.input.observe(x.as_flattened());
        model.observe(x, &mut self.ranges);
    }

    /// The range of the model's input.
    pub fn input_range(&self) -> &Range {
        &self.input
    }

    /// The range of each layer's output (a tuple mirroring the model; `()` for a `Relu`).
    pub fn ranges(&self) -> &M::Ranges {
        &self.ranges
    }

    /// Converts `model` with the observed ranges (see [`Quantize`]).
    ///
    /// # Errors
    ///
    /// [`Error::CalibrationEmpty`] if nothing was observed, [`Error::QuantizationNotFinite`] if
    /// a NaN or infinity was seen (in the data, an activation or the parameters),
    /// [`Error::ReluNotFused`] for a `Relu` that does not follow a `Linear`, and
    /// [`Error::ScaleOutOfRange`] if a requantization multiplier is out of range.
    pub fn quantize(&self, model: &M) -> Result<QModel<M::Quantized>, Error> {
        let input = self.input.qparams()?;
        let (layers, output) = model.quantize_with(&self.ranges, input, false)?;
        Ok(QModel {
            layers,
            input,
            output,
        })
    }
}
