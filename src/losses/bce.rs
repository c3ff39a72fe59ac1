//! Binary cross-entropy on logits.

use super::{Loss, check_rows, finite};
use crate::error::Error;
use crate::exp::expf;
use crate::module::Batch;

/// Binary cross-entropy on logits, stable for any logit: PyTorch's
/// `BCEWithLogitsLoss(reduction="mean")`.
///
/// Each output `z` is the logit of an independent probability `σ(z)` with target `t ∈ [0, 1]`:
/// `ℓ = max(z, 0) − z·t + ln(1 + e^{−|z|})` (never overflows; `−ln σ(z)` for `t = 1`), mean over
/// all `B·N` elements; the gradient of the mean is `(σ(z) − t) / (B·N)`, with `σ` computed
/// from `e^{−|z|}` so it is exact to rounding for `|z|` up to and beyond 100.
///
/// # Examples
///
/// ```
/// use constnn::{BceWithLogits, Loss};
///
/// let (loss, grad) = BceWithLogits.loss_and_grad(&[[0.0, 100.0]], &[[1.0, 1.0]])?;
/// assert!((loss - 2.0f32.ln() / 2.0).abs() < 1e-6);
/// assert_eq!(grad, [[-0.25, 0.0]]);
/// # Ok::<(), constnn::Error>(())
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BceWithLogits;

impl<const B: usize, const N: usize> Loss<Batch<B, N>> for BceWithLogits {
    type Target = Batch<B, N>;

    fn check(&self, t: &Batch<B, N>) -> Result<(), Error> {
        check_rows(t, 0.0, 1.0)
    }

    fn loss_and_grad_checked(
        &self,
        z: &Batch<B, N>,
        t: &Batch<B, N>,
    ) -> Result<(f32, Batch<B, N>), Error> {
        const {
            assert!(
                B > 0 && N > 0,
                "a loss needs at least one row and one column"
            )
        };
        let n = (B * N) as f32;
        let mut grad = [[0.0; N]; B];
        let mut total = 0.0f32;
        for ((gr, zr), tr) in grad.iter_mut().zip(z).zip(t) {
            for ((g, &zv), &tv) in gr.iter_mut().zip(zr).zip(tr) {
                // e = exp(−|z|) ∈ (0, 1]: no overflow for any z.
                let e = expf(-zv.abs());
                let relu = if zv > 0.0 { zv } else { 0.0 };
                total += relu - zv * tv + libm::log1pf(e);
                let sigmoid = if zv >= 0.0 {
                    1.0 / (1.0 + e)
                } else {
                    e / (1.0 + e)
                };
                *g = (sigmoid - tv) / n;
            }
        }
        let loss = finite(total / n)?;
        if grad.iter().flatten().all(|g| g.is_finite()) {
            Ok((loss, grad))
        } else {
            Err(Error::NonFiniteLoss)
        }
    }
}
