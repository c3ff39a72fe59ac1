//! The leaky rectified linear unit.

use crate::error::{Error, Hyperparameter};
use crate::module::{Backward, Batch, Module, Zeroed};
use crate::optim::Update;

/// `y = x` where `x > 0`, `y = slope · x` elsewhere, elementwise, for any batch and width.
///
/// PyTorch's `nn.LeakyReLU(negative_slope)`, with the slope validated: finite and
/// `0 ≤ slope < 1` (`0` is [`Relu`](crate::Relu); a slope of 1 or more, or a negative one,
/// is no longer a rectifier). [`ZERO`](Zeroed::ZERO) and [`Default`] have PyTorch's default
/// slope, `0.01`. As in [`Relu`](crate::Relu), `x = 0` takes the slope side (gradient `slope`),
/// and a NaN input passes through with gradient 1. Nothing can overflow: `|y| ≤ |x|`.
///
/// The training cache is a `bool` mask (`x > 0`), one byte per activation.
///
/// # Examples
///
/// ```
/// use constnn::{Error, Hyperparameter, LeakyRelu, Module};
///
/// let act = LeakyRelu::new(0.25)?;
/// assert_eq!(act.forward(&[[-4.0, 0.0, 3.0]]), [[-1.0, 0.0, 3.0]]);
/// assert_eq!(
///     LeakyRelu::new(1.5),
///     Err(Error::InvalidHyperparameter(Hyperparameter::NegativeSlope))
/// );
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyRelu {
    slope: f32,
}

impl LeakyRelu {
    /// PyTorch's default negative slope.
    pub const DEFAULT_SLOPE: f32 = 0.01;

    /// A leaky ReLU with `y = slope · x` for `x ≤ 0`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`]`(`[`Hyperparameter::NegativeSlope`]`)` unless `slope`
    /// is finite and `0 ≤ slope < 1`.
    pub const fn new(slope: f32) -> Result<Self, Error> {
        if slope.is_finite() && slope >= 0.0 && slope < 1.0 {
            Ok(Self { slope })
        } else {
            Err(Error::InvalidHyperparameter(Hyperparameter::NegativeSlope))
        }
    }

    /// The negative slope.
    pub const fn slope(&self) -> f32 {
        self.slope
    }

    #[inline]
    fn apply(&self, x: f32) -> f32 {
        if x > 0.0 { x } else { self.slope * x }
    }
}

impl Zeroed for LeakyRelu {
    /// PyTorch's default, slope `0.01` (not 0: that would be a plain [`Relu`](crate::Relu)).
    const ZERO: Self = Self {
        slope: Self::DEFAULT_SLOPE,
    };
}

impl Default for LeakyRelu {
    fn default() -> Self {
        Self::ZERO
    }
}

crate::layers::stateless_params!(LeakyRelu, "LeakyRelu");

impl<const B: usize, const N: usize> Module<Batch<B, N>> for LeakyRelu {
    type Output = Batch<B, N>;

    fn forward(&self, x: &Batch<B, N>) -> Batch<B, N> {
        let mut y = *x;
        for v in y.as_flattened_mut() {
            *v = self.apply(*v);
        }
        y
    }
}

impl<const B: usize, const N: usize> Backward<Batch<B, N>> for LeakyRelu {
    /// `mask[b][n] = !(x[b][n] <= 0)`: where the gradient passes unscaled.
    type Cache = [[bool; N]; B];

    fn forward_train(&mut self, x: &Batch<B, N>, mask: &mut [[bool; N]; B]) -> Batch<B, N> {
        for (mr, xr) in mask.iter_mut().zip(x) {
            for (m, &v) in mr.iter_mut().zip(xr) {
                *m = v > 0.0 || v.is_nan();
            }
        }
        self.forward(x)
    }

    fn backward(&self, mask: &[[bool; N]; B], dy: &Batch<B, N>, _: &mut ()) -> Batch<B, N> {
        self.backward_input(mask, dy)
    }

    fn backward_params(&self, _: &[[bool; N]; B], _: &Batch<B, N>, _: &mut ()) {}

    fn backward_input(&self, mask: &[[bool; N]; B], dy: &Batch<B, N>) -> Batch<B, N> {
        let mut dx = *dy;
        for (dr, mr) in dx.iter_mut().zip(mask) {
            for (d, &m) in dr.iter_mut().zip(mr) {
                if !m {
                    *d *= self.slope;
                }
            }
        }
        dx
    }

    fn backward_step<U: Update>(
        &mut self,
        mask: &[[bool; N]; B],
        dy: &Batch<B, N>,
        _: &U,
        _: &mut (),
    ) -> Batch<B, N> {
        self.backward_input(mask, dy)
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
