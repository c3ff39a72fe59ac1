//! The one error type of the crate.

use core::fmt;

/// Everything that can go wrong at run time.
///
/// Shapes are types, so there is no shape error: only *data* (labels, targets, the learning
/// rate, a loss that overflowed) can be wrong.
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
    /// Training helpers return this *before* touching the parameters.
    NonFiniteLoss,
    /// The learning rate is not finite and strictly positive.
    InvalidLearningRate,
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
        }
    }
}

impl core::error::Error for Error {}
