//! The fully connected layer `y = x·W + b`.

use crate::init::he_normal;
use crate::kernels;
use crate::module::{Backward, Batch, InputInCache, Module, Params, Zeroed};
use crate::optim::Update;

/// A fully connected layer: `y = x·W + b`.
///
/// Shapes: `x` is `B × IN`, `W` is `IN × OUT` (`weight[i][o]`, the seed notebook's `w`, so numpy
/// arrays load without a transpose), `b` is `OUT`, `y` is `B × OUT`.
/// Backward: `dW = xᵀ·dy`, `db = Σ_b dy`, `dx = dy·Wᵀ`.
///
/// Memory: `4·(IN·OUT + OUT)` bytes; its training cache is a copy of the input, `4·B·IN` bytes.
///
/// The element type `T` is `f32` for the layer itself; `Linear<IN, OUT, T>` with another `T`
/// is the same shape holding a `T` per parameter ([`Params::Like`]): gradients are
/// `Linear<IN, OUT>` too, and an optimizer's state is `Linear<IN, OUT, [f32; K]>`.
///
/// `IN` and `OUT` must be at least 1: a `Linear<0, OUT>` or `Linear<IN, 0>` fails to compile
/// where it is used (a `const` assertion, checked when the code that runs it is compiled, so
/// `cargo build` reports it, not `cargo check`). A model with an empty first layer does not
/// compile:
///
/// ```compile_fail
/// use constnn::{Batch, Linear, Mse, Relu, Sgd, Trainer, Zeroed};
///
/// const IN: usize = 0;
/// type Net = (Linear<IN, 4>, Relu, Linear<4, 1>);
/// let mut net = Net::ZERO;
/// let mut trainer: Trainer<Net, Batch<2, IN>, Sgd> = Trainer::new(Sgd::new(0.1)?);
/// let x: Batch<2, IN> = Zeroed::ZERO;
/// trainer.step(&mut net, &x, &Mse, &[[1.0], [2.0]])?;
/// # Ok::<(), constnn::Error>(())
/// ```
///
/// and with one input it does:
///
/// ```
/// use constnn::{Batch, Linear, Mse, Relu, Sgd, Trainer, Zeroed};
///
/// const IN: usize = 1;
/// type Net = (Linear<IN, 4>, Relu, Linear<4, 1>);
/// let mut net = Net::ZERO;
/// let mut trainer: Trainer<Net, Batch<2, IN>, Sgd> = Trainer::new(Sgd::new(0.1)?);
/// let x: Batch<2, IN> = Zeroed::ZERO;
/// trainer.step(&mut net, &x, &Mse, &[[1.0], [2.0]])?;
/// # Ok::<(), constnn::Error>(())
/// ```
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
pub struct Linear<const IN: usize, const OUT: usize, T = f32> {
    /// `weight[i][o]`: from input `i` to output `o` (`IN × OUT`, row-major).
    pub weight: [[T; OUT]; IN],
    /// `bias[o]`, added to every row of the output.
    pub bias: [T; OUT],
}

impl<const IN: usize, const OUT: usize, T: Zeroed> Linear<IN, OUT, T> {
    /// All zero (a `const`, usable in `static` items).
    pub const ZERO: Self = Self {
        weight: Zeroed::ZERO,
        bias: Zeroed::ZERO,
    };
}

impl<const IN: usize, const OUT: usize> Linear<IN, OUT> {
    /// Fails to compile for an empty layer: a layer with no input computes nothing but its
    /// bias, and one with no output passes no gradient back, which is always a mistake.
    const NOT_EMPTY: () = assert!(
        IN > 0 && OUT > 0,
        "Linear<IN, OUT> needs IN >= 1 and OUT >= 1"
    );

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

impl<const IN: usize, const OUT: usize, T: Zeroed> Zeroed for Linear<IN, OUT, T> {
    const ZERO: Self = Self::ZERO;
}

impl<const IN: usize, const OUT: usize> Default for Linear<IN, OUT> {
    fn default() -> Self {
        Self::ZERO
    }
}

impl<const IN: usize, const OUT: usize> Params for Linear<IN, OUT> {
    type Like<T: Zeroed + Copy> = Linear<IN, OUT, T>;
    const NUM_PARAMS: usize = IN * OUT + OUT;
    const NUM_STORED: usize = IN * OUT + OUT;
    const SIGNATURE: u64 = crate::layer_signature("Linear", &[IN as u64, OUT as u64]);

    fn init<R: rand_core::Rng + ?Sized>(&mut self, rng: &mut R) {
        let () = Self::NOT_EMPTY;
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

    fn visit_trainable<T: Zeroed + Copy, F: FnMut(&mut [f32], &mut [T])>(
        &mut self,
        like: &mut Linear<IN, OUT, T>,
        f: &mut F,
    ) {
        f(
            self.weight.as_flattened_mut(),
            like.weight.as_flattened_mut(),
        );
        f(&mut self.bias, &mut like.bias);
    }

    fn visit_trainable2<T: Zeroed + Copy, U: Zeroed + Copy, F>(
        &mut self,
        a: &mut Linear<IN, OUT, T>,
        b: &mut Linear<IN, OUT, U>,
        f: &mut F,
    ) where
        F: FnMut(&mut [f32], &mut [T], &mut [U]),
    {
        f(
            self.weight.as_flattened_mut(),
            a.weight.as_flattened_mut(),
            b.weight.as_flattened_mut(),
        );
        f(&mut self.bias, &mut a.bias, &mut b.bias);
    }

    fn visit_like<T: Zeroed + Copy, F: FnMut(&[T])>(like: &Linear<IN, OUT, T>, f: &mut F) {
        f(like.weight.as_flattened());
        f(&like.bias);
    }

    fn visit_like_mut<T: Zeroed + Copy, F: FnMut(&mut [T])>(
        like: &mut Linear<IN, OUT, T>,
        f: &mut F,
    ) {
        f(like.weight.as_flattened_mut());
        f(&mut like.bias);
    }
}

impl<const B: usize, const IN: usize, const OUT: usize> Module<Batch<B, IN>> for Linear<IN, OUT> {
    type Output = Batch<B, OUT>;

    fn forward(&self, x: &Batch<B, IN>) -> Batch<B, OUT> {
        let () = Self::NOT_EMPTY;
        kernels::affine(x, &self.weight, &self.bias)
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
        kernels::input_grad(dy, &self.weight)
    }

    fn backward_params(&self, x: &Batch<B, IN>, dy: &Batch<B, OUT>, grads: &mut Self) {
        kernels::weight_grad(x, dy, &mut grads.weight);
        kernels::col_sums(dy, &mut grads.bias);
    }

    fn backward_input(&self, _: &Batch<B, IN>, dy: &Batch<B, OUT>) -> Batch<B, IN> {
        kernels::input_grad(dy, &self.weight)
    }

    fn backward_step<U: Update>(
        &mut self,
        x: &Batch<B, IN>,
        dy: &Batch<B, OUT>,
        update: &U,
        state: &mut Linear<IN, OUT, U::Slot>,
    ) -> Batch<B, IN> {
        let dx = kernels::input_grad(dy, &self.weight);
        self.backward_step_params(x, dy, update, state);
        dx
    }

    fn backward_step_params<U: Update>(
        &mut self,
        x: &Batch<B, IN>,
        dy: &Batch<B, OUT>,
        update: &U,
        state: &mut Linear<IN, OUT, U::Slot>,
    ) {
        kernels::weight_grad_step(x, dy, &mut self.weight, &mut state.weight, update);
        let mut g = [0.0; OUT];
        kernels::col_sums(dy, &mut g);
        update.update(&mut self.bias, &g, &mut state.bias);
    }
}

impl<const B: usize, const IN: usize, const OUT: usize> InputInCache<Batch<B, IN>>
    for Linear<IN, OUT>
{
    fn input_mut(cache: &mut Batch<B, IN>) -> &mut Batch<B, IN> {
        cache
    }

    fn forward_train_in_place(&mut self, cache: &mut Batch<B, IN>) -> Batch<B, OUT> {
        self.forward(cache)
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
        let sgd = crate::Sgd::new(0.05).unwrap();
        let mut grads = Linear::ZERO;
        let dx_a = a.backward(&x, &dy, &mut grads);
        sgd.step(&mut a, &mut grads);
        let mut no_state = Linear::ZERO;
        let dx_b = b.backward_step(&x, &dy, &sgd, &mut no_state);
        assert_eq!(dx_a, dx_b);
        assert_eq!(a, b);
    }
}
