//! Mean squared error.

use super::{Loss, check_rows, finite};
use crate::error::Error;
use crate::module::Batch;

/// Mean squared error: `loss = Σ_{b,n} (y[b][n] − t[b][n])² / (B·N)`, the mean over every
/// element (PyTorch's `MSELoss(reduction="mean")`), with the gradient of that mean,
/// `dy[b][n] = 2·(y[b][n] − t[b][n]) / (B·N)`.
///
/// The sum runs row by row, `n` ascending, from `0.0`. Targets must be finite
/// ([`Error::InvalidTarget`]); an overflowing or NaN output gives [`Error::NonFiniteLoss`].
///
/// # Examples
///
/// The series' regression notebook: `y = w·x + b` on `x = [1, 2]`, `t = [5, 8]`.
///
/// ```
/// use constnn::{Linear, Loss, Module, Mse};
///
/// let model = Linear::<1, 1> { weight: [[2.0]], bias: [1.0] };
/// let y = model.forward(&[[1.0], [2.0]]); // [[3], [5]]
/// let (loss, dy) = Mse.loss_and_grad(&y, &[[5.0], [8.0]])?;
/// assert_eq!(loss, 6.5);
/// assert_eq!(dy, [[-2.0], [-3.0]]);
/// # Ok::<(), constnn::Error>(())
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Mse;

impl<const B: usize, const N: usize> Loss<Batch<B, N>> for Mse {
    type Target = Batch<B, N>;

    fn check(&self, t: &Batch<B, N>) -> Result<(), Error> {
        check_rows(t, f32::MIN, f32::MAX)
    }

    fn loss_and_grad_checked(
        &self,
        y: &Batch<B, N>,
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
        for ((gr, yr), tr) in grad.iter_mut().zip(y).zip(t) {
            for ((g, &yv), &tv) in gr.iter_mut().zip(yr).zip(tr) {
                let d = yv - tv;
                total += d * d;
                *g = 2.0 * d / n;
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
