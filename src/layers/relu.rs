//! The rectified linear unit.

use crate::module::{Backward, Batch, Module, Zeroed};
use crate::optim::Update;

/// `y = max(x, 0)` elementwise, for any batch and width.
///
/// As in the seed notebook, `y = 0` and the gradient is `0` wherever `x ≤ 0` (so also at exactly
/// `x = 0`); a NaN input passes through with gradient 1. Its training cache is a `bool` mask,
/// one byte per activation (a quarter of an `f32` copy).
///
/// # Examples
///
/// ```
/// use constnn::{Module, Relu};
///
/// assert_eq!(Relu.forward(&[[-1.0, 0.0, 2.5]]), [[0.0, 0.0, 2.5]]);
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Relu;

impl Zeroed for Relu {
    const ZERO: Self = Relu;
}

crate::layers::stateless_params!(Relu, "Relu");

#[inline]
fn relu(x: f32) -> f32 {
    if x <= 0.0 { 0.0 } else { x }
}

impl<const B: usize, const N: usize> Module<Batch<B, N>> for Relu {
    type Output = Batch<B, N>;

    fn forward(&self, x: &Batch<B, N>) -> Batch<B, N> {
        // In place on one copy: `x.map(|row| row.map(relu))` would build temporaries costing up
        // to twice the batch on the stack (it matters on a Cortex-M0 with 16 KiB of RAM).
        let mut y = *x;
        for v in y.as_flattened_mut() {
            *v = relu(*v);
        }
        y
    }
}

impl<const B: usize, const N: usize> Backward<Batch<B, N>> for Relu {
    /// `mask[b][n] = !(x[b][n] <= 0)`: where the gradient passes.
    type Cache = [[bool; N]; B];

    fn forward_train(&mut self, x: &Batch<B, N>, mask: &mut [[bool; N]; B]) -> Batch<B, N> {
        for (mr, xr) in mask.iter_mut().zip(x) {
            for (m, &v) in mr.iter_mut().zip(xr) {
                // `x <= 0` is false for NaN, so NaN passes (as in the seed's `where`).
                *m = v > 0.0 || v.is_nan();
            }
        }
        self.forward(x)
    }

    fn backward(&self, mask: &[[bool; N]; B], dy: &Batch<B, N>, _: &mut ()) -> Batch<B, N> {
        let mut dx = *dy;
        if cfg!(target_arch = "x86_64") {
            // A select vectorizes there; a conditional store does not.
            for (d, &m) in dx.as_flattened_mut().iter_mut().zip(mask.as_flattened()) {
                *d = if m { *d } else { 0.0 };
            }
        } else {
            // Without vectors (microcontrollers), storing only the zeros takes fewer
            // instructions.
            for (dr, mr) in dx.iter_mut().zip(mask) {
                for (d, &m) in dr.iter_mut().zip(mr) {
                    if !m {
                        *d = 0.0;
                    }
                }
            }
        }
        dx
    }

    fn backward_params(&self, _: &[[bool; N]; B], _: &Batch<B, N>, _: &mut ()) {}

    fn backward_input(&self, mask: &[[bool; N]; B], dy: &Batch<B, N>) -> Batch<B, N> {
        self.backward(mask, dy, &mut ())
    }

    fn backward_step<U: Update>(
        &mut self,
        mask: &[[bool; N]; B],
        dy: &Batch<B, N>,
        _: &U,
        _: &mut (),
    ) -> Batch<B, N> {
        self.backward(mask, dy, &mut ())
    }

    fn backward_step_params<U: Update>(
        &mut self,
        _: &[[bool; N]; B],
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
    fn zero_is_cut_like_the_seed() {
        let mut mask = [[false; 4]; 1];
        let x = [[-0.0, 0.0, 1e-30, -2.0]];
        let y = Relu.forward_train(&x, &mut mask);
        assert_eq!(y, [[0.0, 0.0, 1e-30, 0.0]]);
        assert_eq!(mask, [[false, false, true, false]]);
        let dx = Relu.backward(&mask, &[[5.0, 5.0, 5.0, 5.0]], &mut ());
        assert_eq!(dx, [[0.0, 0.0, 5.0, 0.0]]);
    }

    #[test]
    fn nan_passes_through() {
        let mut mask = [[false; 1]; 1];
        let y = Relu.forward_train(&[[f32::NAN]], &mut mask);
        assert!(y[0][0].is_nan());
        assert!(mask[0][0]);
    }
}
