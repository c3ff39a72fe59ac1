//! The logistic sigmoid.

use crate::exp::expf;
use crate::module::{Backward, Batch, Module, Zeroed};
use crate::optim::Update;

/// `y = σ(x) = 1 / (1 + e^(−x))` elementwise, for any batch and width.
///
/// Numerically stable for every input: `e^(−|x|)` is all that is ever computed, so nothing
/// overflows (`σ(−1e4) = 0`, `σ(1e4) = 1`, and `σ(−100) ≈ 3.7e-44` is still resolved as a
/// subnormal):
/// - `x ≥ 0`: `y = 1 / (1 + e^(−x))`;
/// - `x < 0`: `y = e^x / (1 + e^x)`.
///
/// The exponential is the crate's own `expf` (libm's algorithm, the same bits on every
/// target) and the rest is IEEE arithmetic, so the outputs are bit-identical everywhere. A NaN
/// input gives a NaN output and a NaN gradient.
///
/// Backward: `dx = dy · y · (1 − y)`. The training cache is the *output* `y` (`4·B·N` bytes),
/// from which the derivative needs no second exponential.
///
/// # Examples
///
/// ```
/// use constnn::{Module, Sigmoid};
///
/// let y = Sigmoid.forward(&[[0.0, 1e4, -1e4, 2.0]]);
/// assert_eq!(y[0][..3], [0.5, 1.0, 0.0]);
/// assert!((y[0][3] - 0.880797).abs() < 1e-6);
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sigmoid;

impl Zeroed for Sigmoid {
    const ZERO: Self = Sigmoid;
}

crate::layers::stateless_params!(Sigmoid, "Sigmoid");

/// `σ(x)`, with `e^(−|x|)` only (see [`Sigmoid`]).
#[inline]
fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + expf(-x))
    } else {
        // Also NaN's branch (`NaN >= 0` is false): expf(NaN) is NaN, and so is the result.
        let e = expf(x);
        e / (1.0 + e)
    }
}

impl<const B: usize, const N: usize> Module<Batch<B, N>> for Sigmoid {
    type Output = Batch<B, N>;

    fn forward(&self, x: &Batch<B, N>) -> Batch<B, N> {
        let mut y = *x;
        for v in y.as_flattened_mut() {
            *v = sigmoid(*v);
        }
        y
    }
}

impl<const B: usize, const N: usize> Backward<Batch<B, N>> for Sigmoid {
    /// The output `y = σ(x)`.
    type Cache = Batch<B, N>;

    fn forward_train(&mut self, x: &Batch<B, N>, y: &mut Batch<B, N>) -> Batch<B, N> {
        *y = self.forward(x);
        *y
    }

    fn backward(&self, y: &Batch<B, N>, dy: &Batch<B, N>, _: &mut ()) -> Batch<B, N> {
        self.backward_input(y, dy)
    }

    fn backward_params(&self, _: &Batch<B, N>, _: &Batch<B, N>, _: &mut ()) {}

    fn backward_input(&self, y: &Batch<B, N>, dy: &Batch<B, N>) -> Batch<B, N> {
        let mut dx = *dy;
        for (d, &s) in dx.as_flattened_mut().iter_mut().zip(y.as_flattened()) {
            *d *= s * (1.0 - s);
        }
        dx
    }

    fn backward_step<U: Update>(
        &mut self,
        y: &Batch<B, N>,
        dy: &Batch<B, N>,
        _: &U,
        _: &mut (),
    ) -> Batch<B, N> {
        self.backward_input(y, dy)
    }

    fn backward_step_params<U: Update>(
        &mut self,
        _: &Batch<B, N>,
        _: &Batch<B, N>,
        _: &U,
        _: &mut (),
    ) {
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_and_saturating() {
        for x in [0.25f32, 1.0, 3.5, 17.0, 80.0, 100.0, 1e4, f32::MAX] {
            // σ(−x) = 1 − σ(x) exactly where 1 − σ(x) is representable.
            let (p, n) = (sigmoid(x), sigmoid(-x));
            assert!(p.is_finite() && n.is_finite() && (0.0..=1.0).contains(&n));
            assert!((p + n - 1.0).abs() <= f32::EPSILON, "{x}: {p} + {n}");
        }
        assert_eq!(sigmoid(f32::INFINITY), 1.0);
        assert_eq!(sigmoid(f32::NEG_INFINITY), 0.0);
        assert!(sigmoid(-100.0) > 0.0); // a subnormal, not flushed
    }
}
