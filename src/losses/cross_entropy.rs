//! Softmax cross-entropy on logits: with class labels and with target distributions.

use super::{Loss, finite};
use crate::error::Error;
use crate::exp::exp_shifted;
use crate::module::Batch;

/// Softmax statistics of each row `r` of a batch of logits `z`: the maximum `m[r]`, the sum
/// `s[r] = Σ_c exp(z[r][c] − m[r])` (over `c` ascending) and `ln_s[r] = ln s[r]`.
///
/// Computed one phase at a time over the whole batch (all maxima, then all exponentials, all
/// sums, all logarithms) rather than row after row: the phases' independent rows keep the
/// processor busy, and the exponentials of the whole batch are one vectorized loop
/// ([`exp_shifted`]). Each value is the same operation on the same operands as row by row, so
/// the bits are the same.
struct Softmax<const B: usize> {
    m: [f32; B],
    s: [f32; B],
    ln_s: [f32; B],
}

impl<const B: usize> Softmax<B> {
    /// The statistics of `z`, with `e[r][c] = exp(z[r][c] − m[r])` written into `e`.
    #[inline]
    fn new<const C: usize>(z: &Batch<B, C>, e: &mut Batch<B, C>) -> Self {
        const { assert!(C > 0, "a classifier needs at least one class") };
        let m: [f32; B] = core::array::from_fn(|r| {
            let mut m = z[r][0];
            for &v in &z[r][1..] {
                if v > m {
                    m = v;
                }
            }
            m
        });
        exp_shifted(z, &m, e);
        let s: [f32; B] = core::array::from_fn(|r| {
            let mut s = 0.0;
            for &v in &e[r] {
                s += v;
            }
            s
        });
        Self {
            m,
            s,
            ln_s: s.map(libm::logf),
        }
    }

    /// `−ln softmax(z)[r][c] = ln s[r] − (z[r][c] − m[r])`.
    #[inline]
    fn nll<const C: usize>(&self, z: &Batch<B, C>, r: usize, c: usize) -> f32 {
        self.ln_s[r] - (z[r][c] - self.m[r])
    }
}

/// Mean softmax cross-entropy of logits against class labels, and its gradient.
///
/// For each row `b`: `p = softmax(z[b])` (computed stably, from `z − max z`) and
/// `loss_b = ln Σ_c exp(z[b][c]) − z[b][label_b]`. Returns `(Σ_b loss_b / B, dlogits)` with
/// `dlogits[b][c] = (p[b][c] − [c = label_b]) / B`, the exact gradient of that *mean* loss.
///
/// **The seed notebook differs:** its `CELoss.forward` returns the mean, but its
/// `CELoss.backward` returns `p − t` without the `1/B`, the gradient of the *summed* loss, so the
/// seed's gradient is `B ×` this one, and the seed's learning rate `lr` corresponds to `B·lr`
/// here (the digits notebook's `1e-3` at batch 10 is `0.01` here). The seed also computes
/// `log(p + 1e-7)`; this uses the exact log-sum-exp (0.77765827 vs the seed's 0.77765804 on the
/// notebook's batch).
///
/// Logits as large as ±1e4 give a finite loss and gradient.
///
/// # Errors
///
/// - [`Error::LabelOutOfRange`] if a label is `≥ C` (checked before anything is computed);
/// - [`Error::NonFiniteLoss`] if the loss is NaN or infinite (a NaN logit, `+∞`, `−∞` on the
///   label, or an overflow). A `−∞` logit on another class is fine: that class gets
///   probability 0, which masks it.
///
/// # Examples
///
/// ```
/// use constnn::cross_entropy_with_logits;
///
/// let logits = [[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]];
/// let (loss, grad) = cross_entropy_with_logits(&logits, &[0, 2])?;
/// let expected = ((1.0 + 2.0 * (-2.0f32).exp()).ln() + 3.0f32.ln()) / 2.0;
/// assert!((loss - expected).abs() < 1e-6);
/// assert!((grad[1][2] - (1.0 / 3.0 - 1.0) / 2.0).abs() < 1e-6);
/// # Ok::<(), constnn::Error>(())
/// ```
pub fn cross_entropy_with_logits<const B: usize, const C: usize>(
    logits: &Batch<B, C>,
    labels: &[usize; B],
) -> Result<(f32, Batch<B, C>), Error> {
    check_labels::<B, C>(labels)?;
    cross_entropy_checked(logits, labels)
}

/// [`cross_entropy_with_logits`] for labels already known to be `< C`.
pub(crate) fn cross_entropy_checked<const B: usize, const C: usize>(
    logits: &Batch<B, C>,
    labels: &[usize; B],
) -> Result<(f32, Batch<B, C>), Error> {
    let n = B as f32;
    let mut grad = [[0.0; C]; B];
    let sm = Softmax::new(logits, &mut grad);
    let mut total = 0.0f32;
    for (r, &label) in labels.iter().enumerate() {
        total += sm.nll(logits, r, label);
    }
    for ((g, &s), &label) in grad.iter_mut().zip(&sm.s).zip(labels) {
        for (c, gv) in g.iter_mut().enumerate() {
            let t = if c == label { 1.0 } else { 0.0 };
            *gv = (*gv / s - t) / n;
        }
    }
    Ok((finite(total / n)?, grad))
}

/// Mean softmax cross-entropy of logits against class labels, without the gradient (for
/// evaluation).
///
/// The same value, bit for bit, as the loss of [`cross_entropy_with_logits`].
///
/// # Errors
///
/// As [`cross_entropy_with_logits`]: [`Error::LabelOutOfRange`], [`Error::NonFiniteLoss`].
///
/// # Examples
///
/// ```
/// use constnn::{cross_entropy, cross_entropy_with_logits};
///
/// let logits = [[0.3, -1.0, 2.0], [1.5, 0.5, -0.5]];
/// assert_eq!(cross_entropy(&logits, &[2, 1])?, cross_entropy_with_logits(&logits, &[2, 1])?.0);
/// # Ok::<(), constnn::Error>(())
/// ```
pub fn cross_entropy<const B: usize, const C: usize>(
    logits: &Batch<B, C>,
    labels: &[usize; B],
) -> Result<f32, Error> {
    check_labels::<B, C>(labels)?;
    let mut e = [[0.0; C]; B];
    let sm = Softmax::new(logits, &mut e);
    let mut total = 0.0f32;
    for (r, &label) in labels.iter().enumerate() {
        total += sm.nll(logits, r, label);
    }
    finite(total / B as f32)
}

/// [`Error::LabelOutOfRange`] for the first label `≥ C`.
pub(crate) fn check_labels<const B: usize, const C: usize>(
    labels: &[usize; B],
) -> Result<(), Error> {
    for (row, &label) in labels.iter().enumerate() {
        if label >= C {
            return Err(Error::LabelOutOfRange {
                row,
                label,
                classes: C,
            });
        }
    }
    Ok(())
}

/// Mean softmax cross-entropy of logits against target distributions (one-hot or soft), and
/// its gradient.
///
/// `loss_b = Σ_c t[b][c]·(−ln softmax(z[b])[c])`, mean over the batch;
/// `dlogits[b][c] = (p[b][c]·Σ_k t[b][k] − t[b][c]) / B`, which is `(p − t)/B` for a target row
/// that sums to 1. For one-hot rows it gives the same bits as [`cross_entropy_with_logits`]
/// with the matching labels.
///
/// # Errors
///
/// - [`Error::InvalidTarget`] if a target is negative or not finite;
/// - [`Error::NonFiniteLoss`] if the loss is NaN or infinite.
///
/// # Examples
///
/// ```
/// use constnn::{cross_entropy_with_logits, cross_entropy_with_targets};
///
/// let logits = [[0.3, -1.0, 2.0], [1.5, 0.5, -0.5]];
/// let one_hot = [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]];
/// assert_eq!(
///     cross_entropy_with_targets(&logits, &one_hot)?,
///     cross_entropy_with_logits(&logits, &[2, 0])?,
/// );
/// # Ok::<(), constnn::Error>(())
/// ```
pub fn cross_entropy_with_targets<const B: usize, const C: usize>(
    logits: &Batch<B, C>,
    targets: &Batch<B, C>,
) -> Result<(f32, Batch<B, C>), Error> {
    check_distributions(targets)?;
    cross_entropy_targets_checked(logits, targets)
}

/// [`Error::InvalidTarget`] for the first row holding a negative or non-finite value.
fn check_distributions<const B: usize, const C: usize>(targets: &Batch<B, C>) -> Result<(), Error> {
    for (row, t) in targets.iter().enumerate() {
        if t.iter().any(|&v| !(v.is_finite() && v >= 0.0)) {
            return Err(Error::InvalidTarget { row });
        }
    }
    Ok(())
}

/// [`cross_entropy_with_targets`] for targets already checked.
fn cross_entropy_targets_checked<const B: usize, const C: usize>(
    logits: &Batch<B, C>,
    targets: &Batch<B, C>,
) -> Result<(f32, Batch<B, C>), Error> {
    let n = B as f32;
    let mut grad = [[0.0; C]; B];
    let sm = Softmax::new(logits, &mut grad);
    let mut total = 0.0f32;
    for ((g, t), r) in grad.iter_mut().zip(targets).zip(0..) {
        let mut row_loss = 0.0;
        let mut t_sum = 0.0;
        for (c, &tc) in t.iter().enumerate() {
            if tc != 0.0 {
                row_loss += tc * sm.nll(logits, r, c);
            }
            t_sum += tc;
        }
        total += row_loss;
        for (gv, &tc) in g.iter_mut().zip(t) {
            *gv = (*gv / sm.s[r] * t_sum - tc) / n;
        }
    }
    Ok((finite(total / n)?, grad))
}

/// Row-wise softmax probabilities (stable: computed from `z − max z`).
///
/// # Examples
///
/// ```
/// use constnn::softmax;
///
/// let p = softmax(&[[1e4, 0.0], [0.0, 0.0]]);
/// assert_eq!(p, [[1.0, 0.0], [0.5, 0.5]]);
/// ```
pub fn softmax<const B: usize, const C: usize>(logits: &Batch<B, C>) -> Batch<B, C> {
    let mut p = [[0.0; C]; B];
    let sm = Softmax::new(logits, &mut p);
    for (pr, &s) in p.iter_mut().zip(&sm.s) {
        for v in pr {
            *v /= s;
        }
    }
    p
}

/// Softmax cross-entropy against class labels, as a [`Loss`]: [`cross_entropy_with_logits`].
///
/// The target of a batch of `B` rows is `[usize; B]`, each label `< C`.
///
/// # Examples
///
/// ```
/// use constnn::{CrossEntropy, Loss};
///
/// let (loss, grad) = CrossEntropy.loss_and_grad(&[[0.0, 0.0]], &[1])?;
/// assert!((loss - 2.0f32.ln()).abs() < 1e-6);
/// assert_eq!(grad, [[0.5, -0.5]]);
/// # Ok::<(), constnn::Error>(())
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CrossEntropy;

impl<const B: usize, const C: usize> Loss<Batch<B, C>> for CrossEntropy {
    type Target = [usize; B];

    fn check(&self, labels: &[usize; B]) -> Result<(), Error> {
        check_labels::<B, C>(labels)
    }

    fn loss_and_grad_checked(
        &self,
        logits: &Batch<B, C>,
        labels: &[usize; B],
    ) -> Result<(f32, Batch<B, C>), Error> {
        cross_entropy_checked(logits, labels)
    }

    fn loss(&self, logits: &Batch<B, C>, labels: &[usize; B]) -> Result<f32, Error> {
        cross_entropy(logits, labels)
    }
}

/// Softmax cross-entropy against target distributions (one-hot or soft), as a [`Loss`]:
/// [`cross_entropy_with_targets`].
///
/// # Examples
///
/// ```
/// use constnn::{Loss, SoftCrossEntropy};
///
/// let (loss, _) = SoftCrossEntropy.loss_and_grad(&[[0.0, 0.0]], &[[0.5, 0.5]])?;
/// assert!((loss - 2.0f32.ln()).abs() < 1e-6);
/// # Ok::<(), constnn::Error>(())
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SoftCrossEntropy;

impl<const B: usize, const C: usize> Loss<Batch<B, C>> for SoftCrossEntropy {
    type Target = Batch<B, C>;

    fn check(&self, targets: &Batch<B, C>) -> Result<(), Error> {
        check_distributions(targets)
    }

    fn loss_and_grad_checked(
        &self,
        logits: &Batch<B, C>,
        targets: &Batch<B, C>,
    ) -> Result<(f32, Batch<B, C>), Error> {
        cross_entropy_targets_checked(logits, targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_logits_stay_finite() {
        let logits = [[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]];
        let (loss, grad) = cross_entropy_with_logits(&logits, &[1, 2]).unwrap();
        assert!(loss.is_finite());
        // Row 0: label 1 is 2e4 below the max: loss 2e4; row 1: uniform, ln 3.
        assert!((loss - (2e4 + 3.0f32.ln()) / 2.0).abs() < 1e-2);
        assert!(grad.iter().flatten().all(|g| g.is_finite()));
        assert_eq!(grad[0], [0.5, -0.5, 0.0]);
    }

    #[test]
    fn nan_logits_are_an_error() {
        let r = cross_entropy_with_logits(&[[f32::NAN, 0.0]], &[0]);
        assert_eq!(r, Err(Error::NonFiniteLoss));
        let r = cross_entropy_with_logits(&[[f32::INFINITY, 0.0]], &[1]);
        assert_eq!(r, Err(Error::NonFiniteLoss));
    }

    #[test]
    fn bad_targets() {
        let z = [[0.0, 0.0]];
        assert_eq!(
            cross_entropy_with_targets(&z, &[[-0.5, 1.5]]),
            Err(Error::InvalidTarget { row: 0 })
        );
        assert_eq!(
            cross_entropy_with_targets(&z, &[[f32::NAN, 1.0]]),
            Err(Error::InvalidTarget { row: 0 })
        );
    }
}
