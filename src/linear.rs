//! The fully connected layer `y = x·W + b`.

use crate::init::he_normal;
use crate::math;
use crate::module::{Backward, Batch, Module, Params, Zeroed};
use crate::optim::Sgd;

/// A fully connected layer: `y = x·W + b`.
///
/// Shapes: `x` is `B × IN`, `W` is `IN × OUT` (`weight[i][o]`, the seed notebook's `w`, so numpy
/// arrays load without a transpose), `b` is `OUT`, `y` is `B × OUT`.
/// Backward: `dW = xᵀ·dy`, `db = Σ_b dy`, `dx = dy·Wᵀ`.
///
/// Memory: `4·(IN·OUT + OUT)` bytes; its training cache is a copy of the input, `4·B·IN` bytes.
///
/// # Examples
///
/// ```
/// use constnn::{Linear, Module, Params};
/// use rand_core::SeedableRng;
///
/// let mut layer = Linear::<3, 2>::ZERO;
/// layer.weight = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
/// layer.bias = [0.5, -0.5];
/// assert_eq!(layer.forward(&[[1.0, 2.0, 3.0]]), [[4.5, 4.5]]);
///
/// layer.init(&mut rand_xorshift::XorShiftRng::seed_from_u64(0)); // He-normal, zero bias
/// assert_eq!(layer.bias, [0.0, 0.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Linear<const IN: usize, const OUT: usize> {
    /// `weight[i][o]`: from input `i` to output `o` (`IN × OUT`, row-major).
    pub weight: [[f32; OUT]; IN],
    /// `bias[o]`, added to every row of the output.
    pub bias: [f32; OUT],
}

impl<const IN: usize, const OUT: usize> Linear<IN, OUT> {
    /// All weights and biases zero (a `const`, usable in `static` items).
    pub const ZERO: Self = Self {
        weight: [[0.0; OUT]; IN],
        bias: [0.0; OUT],
    };

    /// A layer with He-normal weights (`N(0,1)·sqrt(2/IN)`, drawn row by row) and zero bias.
    ///
    /// # Examples
    ///
    /// ```
    /// use constnn::Linear;
    /// use rand_core::SeedableRng;
    ///
    /// let mut rng = rand_xorshift::XorShiftRng::seed_from_u64(1);
    /// let a = Linear::<10, 3>::from_rng(&mut rng);
    /// assert!(a.weight.iter().flatten().all(|w| w.abs() < 3.0));
    /// ```
    pub fn from_rng<R: rand_core::Rng + ?Sized>(rng: &mut R) -> Self {
        let mut layer = Self::ZERO;
        layer.init(rng);
        layer
    }
}

impl<const IN: usize, const OUT: usize> Zeroed for Linear<IN, OUT> {
    const ZERO: Self = Self::ZERO;
}

impl<const IN: usize, const OUT: usize> Default for Linear<IN, OUT> {
    fn default() -> Self {
        Self::ZERO
    }
}

impl<const IN: usize, const OUT: usize> Params for Linear<IN, OUT> {
    type Grads = Self;
    const NUM_PARAMS: usize = IN * OUT + OUT;

    fn init<R: rand_core::Rng + ?Sized>(&mut self, rng: &mut R) {
        const { assert!(IN > 0, "Linear<IN, OUT> needs IN > 0") };
        he_normal(self.weight.as_flattened_mut(), IN, rng);
        self.bias = [0.0; OUT];
    }

    fn visit<F: FnMut(&[f32])>(&self, f: &mut F) {
        f(self.weight.as_flattened());
        f(&self.bias);
    }

    fn visit_mut<F: FnMut(&mut [f32])>(&mut self, f: &mut F) {
        f(self.weight.as_flattened_mut());
        f(&mut self.bias);
    }

    fn visit_with_grads<F: FnMut(&mut [f32], &mut [f32])>(&mut self, grads: &mut Self, f: &mut F) {
        f(
            self.weight.as_flattened_mut(),
            grads.weight.as_flattened_mut(),
        );
        f(&mut self.bias, &mut grads.bias);
    }
}

impl<const B: usize, const IN: usize, const OUT: usize> Module<Batch<B, IN>> for Linear<IN, OUT> {
    type Output = Batch<B, OUT>;

    fn forward(&self, x: &Batch<B, IN>) -> Batch<B, OUT> {
        math::affine(x, &self.weight, &self.bias)
    }
}

impl<const B: usize, const IN: usize, const OUT: usize> Backward<Batch<B, IN>> for Linear<IN, OUT> {
    /// The input batch.
    type Cache = Batch<B, IN>;

    fn forward_train(&mut self, x: &Batch<B, IN>, cache: &mut Batch<B, IN>) -> Batch<B, OUT> {
        *cache = *x;
        self.forward(x)
    }

    fn backward(&self, x: &Batch<B, IN>, dy: &Batch<B, OUT>, grads: &mut Self) -> Batch<B, IN> {
        self.backward_params(x, dy, grads);
        math::input_grad(dy, &self.weight)
    }

    fn backward_params(&self, x: &Batch<B, IN>, dy: &Batch<B, OUT>, grads: &mut Self) {
        math::weight_grad(x, dy, &mut grads.weight);
        math::col_sums(dy, &mut grads.bias);
    }

    fn backward_step(&mut self, x: &Batch<B, IN>, dy: &Batch<B, OUT>, sgd: &Sgd) -> Batch<B, IN> {
        let dx = math::input_grad(dy, &self.weight);
        self.backward_step_params(x, dy, sgd);
        dx
    }

    fn backward_step_params(&mut self, x: &Batch<B, IN>, dy: &Batch<B, OUT>, sgd: &Sgd) {
        math::weight_grad_step(x, dy, &mut self.weight, sgd);
        let mut g = [0.0; OUT];
        math::col_sums(dy, &mut g);
        sgd.update(&mut self.bias, &g);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_step_equals_buffered_step() {
        let mut a = Linear::<3, 2> {
            weight: [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]],
            bias: [0.01, -0.02],
        };
        let mut b = a;
        let x = [[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]];
        let dy = [[0.3, -0.7], [-0.1, 0.9]];
        let sgd = Sgd::new(0.05).unwrap();
        let mut grads = Linear::ZERO;
        let dx_a = a.backward(&x, &dy, &mut grads);
        sgd.step(&mut a, &mut grads);
        let dx_b = b.backward_step(&x, &dy, &sgd);
        assert_eq!(dx_a, dx_b);
        assert_eq!(a, b);
    }
}
