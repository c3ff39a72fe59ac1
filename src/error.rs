//! The one error type of the crate.

use core::fmt;

/// Everything that can go wrong at run time.
///
/// Shapes are types, so there is no shape error: only *data* (labels, targets, inputs,
/// hyperparameters, a loss or an update that overflowed) can be wrong.
///
/// # Examples
///
/// ```
/// use constnn::{Error, cross_entropy_with_logits};
///
/// let logits = [[0.0f32, 1.0, 2.0]];
/// let err = cross_entropy_with_logits(&logits, &[3]).unwrap_err();
/// assert_eq!(err, Error::LabelOutOfRange { row: 0, label: 3, classes: 3 });
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// A class label is not below the number of classes.
    LabelOutOfRange {
        /// The batch row holding the label.
        row: usize,
        /// The label found.
        label: usize,
        /// The number of classes (the model's output width).
        classes: usize,
    },
    /// A target distribution (e.g. one-hot) row holds a negative or non-finite value.
    InvalidTarget {
        /// The batch row holding the bad target.
        row: usize,
    },
    /// The loss is NaN or infinite: a NaN logit, an infinite logit on the label or a `+∞`
    /// anywhere, or finite logits so far apart that the loss overflows (diverged training).
    /// Training steps return this before updating the parameters.
    NonFiniteLoss,
    /// The learning rate is not finite and strictly positive.
    InvalidLearningRate,
    /// A hyperparameter other than the learning rate is out of its documented range.
    InvalidHyperparameter(Hyperparameter),
    /// An input batch row holds a NaN or an infinity (checked before anything is written).
    NonFiniteInput {
        /// The batch row.
        row: usize,
    },
    /// A gradient is NaN or infinite (buffered step: nothing was updated).
    NonFiniteGradient,
    /// The update would make (buffered step: nothing was updated) or has made (fused step)
    /// a parameter NaN or infinite.
    NonFiniteParameters,
    // quantization
    /// Quantization was asked for before any calibration data was observed.
    CalibrationEmpty,
    /// A calibration value (the model's input or a layer's output), a weight or a bias is NaN
    /// or infinite, so no quantization range can be chosen.
    QuantizationNotFinite,
    /// A quantization scale is not finite and strictly positive, or a requantization
    /// multiplier `s_in·s_w / s_out` is too large for TFLite's fixed-point form (≥ 2^30).
    ScaleOutOfRange,
    /// A `Relu` to quantize does not follow a `Linear`: the int8 ReLU exists only as the
    /// preceding layer's clamp, so its input must have zero point −128 (all values ≥ 0).
    ReluNotFused,
}

/// Which hyperparameter [`Error::InvalidHyperparameter`] is about.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hyperparameter {
    /// Momentum factor: `0 ≤ momentum < 1`.
    Momentum,
    /// Dampening: `0 ≤ dampening ≤ 1`, and 0 with Nesterov momentum.
    Dampening,
    /// Nesterov momentum needs `momentum > 0` and no dampening.
    Nesterov,
    /// Weight decay: finite, `≥ 0`.
    WeightDecay,
    /// Adam's first-moment decay: `0 ≤ β1 < 1`.
    Beta1,
    /// Adam's second-moment decay: `0 ≤ β2 < 1`.
    Beta2,
    /// Epsilon: finite, `> 0`.
    Epsilon,
    /// RMSprop's smoothing constant: `0 ≤ alpha < 1`.
    Alpha,
    /// Gradient clipping norm: finite, `> 0`.
    MaxNorm,
    // layers
    /// [`Dropout`](crate::Dropout)'s drop probability: `0 ≤ p < 1`.
    DropRate,
    /// [`LeakyRelu`](crate::LeakyRelu)'s negative slope: `0 ≤ slope < 1`.
    NegativeSlope,
    /// [`BatchNorm1d`](crate::BatchNorm1d)'s running-statistics momentum: `0 ≤ momentum ≤ 1`.
    NormMomentum,
}

impl Hyperparameter {
    /// The hyperparameter's name and valid range, as the documentation states them.
    pub const fn describe(self) -> &'static str {
        match self {
            Hyperparameter::Momentum => "momentum must be in [0, 1)",
            Hyperparameter::Dampening => {
                "dampening must be in [0, 1], and 0 with Nesterov momentum"
            }
            Hyperparameter::Nesterov => "Nesterov momentum needs momentum > 0 and no dampening",
            Hyperparameter::WeightDecay => "weight decay must be finite and >= 0",
            Hyperparameter::Beta1 => "beta1 must be in [0, 1)",
            Hyperparameter::Beta2 => "beta2 must be in [0, 1)",
            Hyperparameter::Epsilon => "eps must be finite and > 0",
            Hyperparameter::Alpha => "alpha must be in [0, 1)",
            Hyperparameter::MaxNorm => "the maximum gradient norm must be finite and > 0",
            // layers
            Hyperparameter::DropRate => "the dropout drop probability must be in [0, 1)",
            Hyperparameter::NegativeSlope => "the leaky ReLU negative slope must be in [0, 1)",
            Hyperparameter::NormMomentum => "the batch-norm momentum must be in [0, 1]",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::LabelOutOfRange {
                row,
                label,
                classes,
            } => write!(
                f,
                "label {label} in batch row {row} is out of range: the model has {classes} classes"
            ),
            Error::InvalidTarget { row } => write!(
                f,
                "target row {row} holds a negative or non-finite probability"
            ),
            Error::NonFiniteLoss => {
                f.write_str("the loss is not finite (NaN or infinite logits, or an overflow)")
            }
            Error::InvalidLearningRate => {
                f.write_str("the learning rate must be finite and greater than zero")
            }
            Error::InvalidHyperparameter(h) => f.write_str(h.describe()),
            Error::NonFiniteInput { row } => {
                write!(f, "input batch row {row} holds a NaN or an infinity")
            }
            Error::NonFiniteGradient => f.write_str("a gradient is NaN or infinite"),
            Error::NonFiniteParameters => {
                f.write_str("the update overflows: a parameter would be NaN or infinite")
            }
            // quantization
            Error::CalibrationEmpty => f.write_str("no calibration data was observed"),
            Error::QuantizationNotFinite => f.write_str(
                "a calibration value, weight or bias is NaN or infinite: it cannot be quantized",
            ),
            Error::ScaleOutOfRange => f.write_str(
                "a quantization scale is not finite and positive, or a requantization multiplier is out of range",
            ),
            Error::ReluNotFused => f.write_str(
                "a Relu can only be quantized right after a Linear (as that layer's clamp)",
            ),
        }
    }
}

impl core::error::Error for Error {}
