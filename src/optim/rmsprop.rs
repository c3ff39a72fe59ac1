//! RMSprop.

use super::{Optimizer, Update, in_range};
use crate::error::{Error, Hyperparameter};
use crate::float::sqrtf;

/// RMSprop: PyTorch's `torch.optim.RMSprop(lr, alpha, eps, weight_decay)` without momentum and
/// not centered.
///
/// For each parameter `p` with gradient `g` and running mean square `v`:
///
/// ```text
/// g ← g + weight_decay·p          (if weight_decay ≠ 0)
/// v ← alpha·v + (1 − alpha)·g²
/// p ← p − lr·g / (sqrt(v) + eps)
/// ```
///
/// State: one `f32` per parameter (`v`, starting at 0). Differs from PyTorch in that `eps`
/// must be `> 0` (PyTorch accepts 0, which divides 0 by 0 for a parameter whose gradient has
/// always been 0) and the `momentum` and `centered` options are not offered.
///
/// # Examples
///
/// ```
/// use constnn::RmsProp;
///
/// let opt = RmsProp::new(0.01)?.with_alpha(0.9)?;
/// assert_eq!(opt.lr(), 0.01);
/// # Ok::<(), constnn::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsProp {
    lr: f32,
    alpha: f32,
    eps: f32,
    weight_decay: f32,
}

impl RmsProp {
    /// RMSprop with learning rate `lr` and PyTorch's defaults `alpha = 0.99`, `eps = 1e-8`,
    /// no weight decay.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLearningRate`] unless `lr` is finite and `> 0`.
    pub const fn new(lr: f32) -> Result<Self, Error> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::InvalidLearningRate);
        }
        Ok(Self {
            lr,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
        })
    }

    /// With smoothing constant `alpha` (`0 ≤ alpha < 1`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`]`(Alpha)` if out of range.
    pub const fn with_alpha(mut self, alpha: f32) -> Result<Self, Error> {
        if !in_range(alpha, 0.0, 1.0, false) {
            return Err(Error::InvalidHyperparameter(Hyperparameter::Alpha));
        }
        self.alpha = alpha;
        Ok(self)
    }

    /// With `eps` (finite, `> 0`) added to the root mean square.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`]`(Epsilon)` if not finite or not `> 0`.
    pub const fn with_eps(mut self, eps: f32) -> Result<Self, Error> {
        if !(eps.is_finite() && eps > 0.0) {
            return Err(Error::InvalidHyperparameter(Hyperparameter::Epsilon));
        }
        self.eps = eps;
        Ok(self)
    }

    /// With L2 weight decay `weight_decay` (finite, `≥ 0`), added to the gradient.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`]`(WeightDecay)` if negative or not finite.
    pub const fn with_weight_decay(mut self, weight_decay: f32) -> Result<Self, Error> {
        if !(weight_decay.is_finite() && weight_decay >= 0.0) {
            return Err(Error::InvalidHyperparameter(Hyperparameter::WeightDecay));
        }
        self.weight_decay = weight_decay;
        Ok(self)
    }

    /// The learning rate.
    pub const fn lr(&self) -> f32 {
        self.lr
    }
}

/// One step of [`RmsProp`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsPropStep {
    opt: RmsProp,
    /// `1 − alpha`.
    one_minus_alpha: f32,
}

impl Update for RmsPropStep {
    type Slot = [f32; 1];

    #[inline]
    fn update(&self, params: &mut [f32], grads: &[f32], slots: &mut [[f32; 1]]) {
        let o = &self.opt;
        for ((p, &g), [v]) in params.iter_mut().zip(grads).zip(slots) {
            let g = if o.weight_decay != 0.0 {
                g + o.weight_decay * *p
            } else {
                g
            };
            *v = o.alpha * *v + self.one_minus_alpha * (g * g);
            *p -= o.lr * (g / (sqrtf(*v) + o.eps));
        }
    }

    /// `|g / (sqrt(v) + eps)| ≤ |g| / eps`, with `|g| ≤ max_grad + weight_decay·max_param`.
    fn max_change(&self, max_param: f32, max_grad: f32) -> Option<f32> {
        let o = &self.opt;
        Some(o.lr * ((max_grad + o.weight_decay * max_param) / o.eps))
    }
}

impl Optimizer for RmsProp {
    type Step = RmsPropStep;

    fn begin(&self, _step: u64) -> RmsPropStep {
        RmsPropStep {
            opt: *self,
            one_minus_alpha: 1.0 - self.alpha,
        }
    }
}
