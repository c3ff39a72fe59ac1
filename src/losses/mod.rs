//! Losses: the [`Loss`] trait and its implementations, one file each.
//!
//! Every loss is *mean*-reduced and returns the exact gradient of the mean it reports.

mod bce;
mod cross_entropy;
mod mse;

pub use bce::BceWithLogits;
pub use cross_entropy::{
    CrossEntropy, SoftCrossEntropy, cross_entropy, cross_entropy_with_logits,
    cross_entropy_with_targets, softmax,
};

pub use mse::Mse;

use crate::error::Error;

/// A loss on a model's output `Y` against a target: the mean loss and its gradient.
///
/// Training checks the target with [`check`](Loss::check) *before* anything is computed or
/// written (a bad label leaves the model, its caches and the optimizer state untouched), then
/// calls [`loss_and_grad_checked`](Loss::loss_and_grad_checked) on the model's output.
///
/// # Examples
///
/// ```
/// use constnn::{Loss, Mse};
///
/// let (loss, grad) = Mse.loss_and_grad(&[[3.0], [5.0]], &[[5.0], [8.0]])?;
/// assert_eq!(loss, (4.0 + 9.0) / 2.0);
/// assert_eq!(grad, [[-2.0], [-3.0]]);
/// # Ok::<(), constnn::Error>(())
/// ```
pub trait Loss<Y> {
    /// What the output is compared with (class labels, a target batch).
    type Target;

    /// Checks the target alone: labels in range, target values valid.
    ///
    /// # Errors
    ///
    /// [`Error::LabelOutOfRange`] or [`Error::InvalidTarget`].
    fn check(&self, target: &Self::Target) -> Result<(), Error>;

    /// The mean loss and its gradient with respect to `y`, for a target already checked.
    ///
    /// # Errors
    ///
    /// [`Error::NonFiniteLoss`] if the loss (or its gradient) is NaN or infinite.
    fn loss_and_grad_checked(&self, y: &Y, target: &Self::Target) -> Result<(f32, Y), Error>;

    /// [`check`](Loss::check), then [`loss_and_grad_checked`](Loss::loss_and_grad_checked).
    ///
    /// # Errors
    ///
    /// As those two.
    fn loss_and_grad(&self, y: &Y, target: &Self::Target) -> Result<(f32, Y), Error> {
        self.check(target)?;
        self.loss_and_grad_checked(y, target)
    }

    /// The mean loss alone (for evaluation), the same bits as
    /// [`loss_and_grad`](Loss::loss_and_grad)'s.
    ///
    /// # Errors
    ///
    /// As [`loss_and_grad`](Loss::loss_and_grad).
    fn loss(&self, y: &Y, target: &Self::Target) -> Result<f32, Error> {
        self.loss_and_grad(y, target).map(|(loss, _)| loss)
    }
}

/// `Ok(loss)` if finite, else [`Error::NonFiniteLoss`].
pub(crate) fn finite(loss: f32) -> Result<f32, Error> {
    if loss.is_finite() {
        Ok(loss)
    } else {
        Err(Error::NonFiniteLoss)
    }
}

/// [`Error::InvalidTarget`] for the first row of `t` holding a value that is not finite or not
/// in `lo..=hi`.
pub(crate) fn check_rows<const B: usize, const N: usize>(
    t: &[[f32; N]; B],
    lo: f32,
    hi: f32,
) -> Result<(), Error> {
    for (row, r) in t.iter().enumerate() {
        if r.iter().any(|&v| !(v.is_finite() && v >= lo && v <= hi)) {
            return Err(Error::InvalidTarget { row });
        }
    }
    Ok(())
}
