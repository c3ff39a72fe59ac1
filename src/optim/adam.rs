//! Adam and AdamW.

use super::{Optimizer, Update, in_range, powi_f64};
use crate::error::{Error, Hyperparameter};
use crate::float::sqrtf;

/// The hyperparameters shared by [`Adam`] and [`AdamW`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct Hyper {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
}

impl Hyper {
    const fn new(lr: f32) -> Result<Self, Error> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::InvalidLearningRate);
        }
        Ok(Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        })
    }

    const fn with_betas(mut self, beta1: f32, beta2: f32) -> Result<Self, Error> {
        if !in_range(beta1, 0.0, 1.0, false) {
            return Err(Error::InvalidHyperparameter(Hyperparameter::Beta1));
        }
        if !in_range(beta2, 0.0, 1.0, false) {
            return Err(Error::InvalidHyperparameter(Hyperparameter::Beta2));
        }
        self.beta1 = beta1;
        self.beta2 = beta2;
        Ok(self)
    }

    const fn with_eps(mut self, eps: f32) -> Result<Self, Error> {
        if !(eps.is_finite() && eps > 0.0) {
            return Err(Error::InvalidHyperparameter(Hyperparameter::Epsilon));
        }
        self.eps = eps;
        Ok(self)
    }

    const fn with_weight_decay(mut self, weight_decay: f32) -> Result<Self, Error> {
        if !(weight_decay.is_finite() && weight_decay >= 0.0) {
            return Err(Error::InvalidHyperparameter(Hyperparameter::WeightDecay));
        }
        self.weight_decay = weight_decay;
        Ok(self)
    }

    /// The scalars of step `t`: the bias corrections `1 − β^t` in `f64` by exact binary
    /// powers (no `powf`, so no drift between targets), then the step size
    /// `lr / (1 − β1^t)` and `sqrt(1 − β2^t)`, each rounded to `f32` once.
    fn begin(&self, t: u64) -> AdamStep {
        let t = if t == 0 { 1 } else { t };
        let bc1 = 1.0 - powi_f64(self.beta1 as f64, t);
        let bc2 = 1.0 - powi_f64(self.beta2 as f64, t);
        AdamStep {
            beta1: self.beta1,
            beta2: self.beta2,
            one_minus_beta1: 1.0 - self.beta1,
            one_minus_beta2: 1.0 - self.beta2,
            step_size: (self.lr as f64 / bc1) as f32,
            bc2_sqrt: libm::sqrt(bc2) as f32,
            eps: self.eps,
            weight_decay: self.weight_decay,
        }
    }
}

/// Adam: PyTorch's `torch.optim.Adam(lr, betas, eps, weight_decay)` (not AMSGrad).
///
/// For each parameter `p` with gradient `g` and moments `m`, `v` (both starting at 0), at step
/// `t` (from 1):
///
/// ```text
/// g ← g + weight_decay·p                    (L2 penalty, if weight_decay ≠ 0)
/// m ← β1·m + (1 − β1)·g
/// v ← β2·v + (1 − β2)·g²
/// p ← p − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
/// ```
///
/// PyTorch's formula, with its bias corrections and `eps` placement (its CPU kernels round some
/// products in another order and update `m` by `lerp`: a few ulps apart). The bias corrections are computed once per step in
/// `f64` by exact binary powers, so every target gets the same bits. State: two `f32` per
/// parameter. Differs from PyTorch in that `eps` must be `> 0` and AMSGrad is not offered;
/// PyTorch updates `m` by `lerp`, the same value up to rounding.
///
/// # Examples
///
/// ```
/// use constnn::{Adam, Error, Hyperparameter};
///
/// let adam = Adam::new(1e-3)?.with_betas(0.9, 0.99)?;
/// assert_eq!(adam.lr(), 1e-3);
/// assert_eq!(
///     Adam::new(1e-3)?.with_betas(1.0, 0.999),
///     Err(Error::InvalidHyperparameter(Hyperparameter::Beta1))
/// );
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adam(Hyper);

/// AdamW: Adam with decoupled weight decay, PyTorch's `torch.optim.AdamW`.
///
/// As [`Adam`] without the L2 term, and before the Adam update each parameter decays:
/// `p ← p·(1 − lr·weight_decay)`. PyTorch's default weight decay for AdamW is `0.01`; so is
/// this one's.
///
/// # Examples
///
/// ```
/// use constnn::AdamW;
///
/// let opt = AdamW::new(1e-3)?.with_weight_decay(0.05)?;
/// assert_eq!(opt.weight_decay(), 0.05);
/// # Ok::<(), constnn::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamW(Hyper);

macro_rules! adam_builders {
    ($T:ident, $default_wd:expr) => {
        impl $T {
            /// The optimizer with learning rate `lr` and PyTorch's defaults: betas
            /// `(0.9, 0.999)`, `eps = 1e-8`, and the weight decay of its type's description.
            ///
            /// # Errors
            ///
            /// [`Error::InvalidLearningRate`] unless `lr` is finite and `> 0`.
            pub const fn new(lr: f32) -> Result<Self, Error> {
                match Hyper::new(lr) {
                    Ok(mut h) => {
                        h.weight_decay = $default_wd;
                        Ok(Self(h))
                    }
                    Err(e) => Err(e),
                }
            }

            /// With the moment decay rates `beta1`, `beta2` (each `0 ≤ β < 1`).
            ///
            /// # Errors
            ///
            /// [`Error::InvalidHyperparameter`]`(Beta1 or Beta2)` if out of range.
            pub const fn with_betas(self, beta1: f32, beta2: f32) -> Result<Self, Error> {
                match self.0.with_betas(beta1, beta2) {
                    Ok(h) => Ok(Self(h)),
                    Err(e) => Err(e),
                }
            }

            /// With `eps` (finite, `> 0`) added to the denominator.
            ///
            /// # Errors
            ///
            /// [`Error::InvalidHyperparameter`]`(Epsilon)` if not finite or not `> 0`.
            pub const fn with_eps(self, eps: f32) -> Result<Self, Error> {
                match self.0.with_eps(eps) {
                    Ok(h) => Ok(Self(h)),
                    Err(e) => Err(e),
                }
            }

            /// With weight decay `weight_decay` (finite, `≥ 0`).
            ///
            /// # Errors
            ///
            /// [`Error::InvalidHyperparameter`]`(WeightDecay)` if negative or not finite.
            pub const fn with_weight_decay(self, weight_decay: f32) -> Result<Self, Error> {
                match self.0.with_weight_decay(weight_decay) {
                    Ok(h) => Ok(Self(h)),
                    Err(e) => Err(e),
                }
            }

            /// The learning rate.
            pub const fn lr(&self) -> f32 {
                self.0.lr
            }

            /// The weight decay.
            pub const fn weight_decay(&self) -> f32 {
                self.0.weight_decay
            }
        }
    };
}

adam_builders!(Adam, 0.0);
adam_builders!(AdamW, 0.01);

/// One step of [`Adam`]: the step's bias-corrected scalars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    beta1: f32,
    beta2: f32,
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    /// `lr / (1 − β1^t)`.
    step_size: f32,
    /// `sqrt(1 − β2^t)`.
    bc2_sqrt: f32,
    eps: f32,
    /// L2 (Adam) weight decay.
    weight_decay: f32,
}

impl AdamStep {
    /// The moment updates and the step for one parameter, from its (decayed) gradient `g`.
    #[inline(always)]
    fn moments(&self, p: &mut f32, g: f32, [m, v]: &mut [f32; 2]) {
        *m = self.beta1 * *m + self.one_minus_beta1 * g;
        *v = self.beta2 * *v + self.one_minus_beta2 * (g * g);
        let denom = sqrtf(*v) / self.bc2_sqrt + self.eps;
        *p -= self.step_size * (*m / denom);
    }
}

impl Update for AdamStep {
    type Slot = [f32; 2];

    #[inline]
    fn update(&self, params: &mut [f32], grads: &[f32], slots: &mut [[f32; 2]]) {
        for ((p, &g), s) in params.iter_mut().zip(grads).zip(slots) {
            let g = if self.weight_decay != 0.0 {
                g + self.weight_decay * *p
            } else {
                g
            };
            self.moments(p, g, s);
        }
    }
}

impl Optimizer for Adam {
    type Step = AdamStep;
    const NAME: &'static str = "Adam";

    fn begin(&self, step: u64) -> AdamStep {
        let mut s = self.0.begin(step);
        s.weight_decay = self.0.weight_decay;
        s
    }
}

/// One step of [`AdamW`]: Adam's scalars and the decay factor `1 − lr·weight_decay`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWStep {
    adam: AdamStep,
    decay: f32,
}

impl Update for AdamWStep {
    type Slot = [f32; 2];

    #[inline]
    fn update(&self, params: &mut [f32], grads: &[f32], slots: &mut [[f32; 2]]) {
        for ((p, &g), s) in params.iter_mut().zip(grads).zip(slots) {
            *p *= self.decay;
            self.adam.moments(p, g, s);
        }
    }
}

impl Optimizer for AdamW {
    type Step = AdamWStep;
    const NAME: &'static str = "AdamW";

    fn begin(&self, step: u64) -> AdamWStep {
        let mut adam = self.0.begin(step);
        adam.weight_decay = 0.0;
        AdamWStep {
            adam,
            decay: 1.0 - self.0.lr * self.0.weight_decay,
        }
    }
}
