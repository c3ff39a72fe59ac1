//! The hyperbolic tangent.

use crate::module::{Backward, Batch, Module, Zeroed};
use crate::optim::Update;

/// `y = tanh(x)` elementwise, for any batch and width.
///
/// `libm::tanhf` (musl's algorithm: `expm1f` of `2|x|`, and `±1` for `|x| > 10`), which is pure
/// software here, so the bits are the same on every target, nothing overflows (`tanh(±1e4) =
/// ±1`), and small inputs keep their full relative precision (`tanh(1e-8) = 1e-8`, which the
/// shortcut `2σ(2x) − 1` would round to 0). A NaN input gives a NaN output and gradient.
///
/// Backward: `dx = dy · (1 − y²)`. The training cache is the *output* `y` (`4·B·N` bytes), so
/// the derivative needs no second `tanh`.
///
/// # Examples
///
/// ```
/// use constnn::{Module, Tanh};
///
/// let y = Tanh.forward(&[[0.0, 1e4, -1e4, 1e-8]]);
/// assert_eq!(y, [[0.0, 1.0, -1.0, 1e-8]]);
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tanh;

impl Zeroed for Tanh {
    const ZERO: Self = Tanh;
}

crate::layers::stateless_params!(Tanh, "Tanh");

impl<const B: usize, const N: usize> Module<Batch<B, N>> for Tanh {
    type Output = Batch<B, N>;

    fn forward(&self, x: &Batch<B, N>) -> Batch<B, N> {
        let mut y = *x;
        for v in y.as_flattened_mut() {
            *v = libm::tanhf(*v);
        }
        y
    }
}

impl<const B: usize, const N: usize> Backward<Batch<B, N>> for Tanh {
    /// The output `y = tanh(x)`.
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
        for (d, &t) in dx.as_flattened_mut().iter_mut().zip(y.as_flattened()) {
            *d *= 1.0 - t * t;
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
