//! Stochastic gradient descent with momentum and weight decay.

use super::{Optimizer, Update, in_range};
use crate::error::{Error, Hyperparameter};

/// SGD with momentum, dampening, Nesterov momentum and weight decay: PyTorch's
/// `torch.optim.SGD(lr, momentum, dampening, weight_decay, nesterov)`.
///
/// For each parameter `p` with gradient `g` and momentum buffer `b`, at step `t`:
///
/// ```text
/// g ← g + weight_decay·p                      (if weight_decay ≠ 0)
/// b ← g                         at t = 1      (PyTorch's first step: no dampening)
/// b ← momentum·b + (1 − dampening)·g   at t > 1
/// g ← g + momentum·b   (Nesterov)   or   g ← b
/// p ← p − lr·g
/// ```
///
/// State: one `f32` per parameter (the buffer `b`). With `momentum = 0` this is SGD with
/// weight decay: as in PyTorch, whose buffer exists only for `momentum ≠ 0`, the dampening then
/// has no effect (the buffer is kept, and is just `g`).
///
/// # Examples
///
/// ```
/// use constnn::{Error, Hyperparameter, Momentum};
///
/// let opt = Momentum::new(0.1, 0.9)?.with_nesterov(true)?.with_weight_decay(1e-4)?;
/// assert_eq!(opt.momentum(), 0.9);
/// assert_eq!(
///     Momentum::new(0.1, 1.5),
///     Err(Error::InvalidHyperparameter(Hyperparameter::Momentum))
/// );
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Momentum {
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
    nesterov: bool,
}

impl Momentum {
    /// SGD with learning rate `lr` and momentum `momentum` (no dampening, no weight decay,
    /// classical momentum).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLearningRate`] unless `lr` is finite and `> 0`;
    /// [`Error::InvalidHyperparameter`]`(Momentum)` unless `0 ≤ momentum < 1`.
    pub const fn new(lr: f32, momentum: f32) -> Result<Self, Error> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::InvalidLearningRate);
        }
        if !in_range(momentum, 0.0, 1.0, false) {
            return Err(Error::InvalidHyperparameter(Hyperparameter::Momentum));
        }
        Ok(Self {
            lr,
            momentum,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        })
    }

    /// With dampening `dampening` (`0 ≤ dampening ≤ 1`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`]`(Dampening)` if out of range, or if Nesterov momentum
    /// is on and `dampening ≠ 0` (PyTorch's rule).
    pub const fn with_dampening(mut self, dampening: f32) -> Result<Self, Error> {
        if !in_range(dampening, 0.0, 1.0, true) || (self.nesterov && dampening != 0.0) {
            return Err(Error::InvalidHyperparameter(Hyperparameter::Dampening));
        }
        self.dampening = dampening;
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

    /// With Nesterov momentum on or off.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`]`(Nesterov)` if turned on with `momentum = 0` or a
    /// non-zero dampening (PyTorch's rule).
    pub const fn with_nesterov(mut self, nesterov: bool) -> Result<Self, Error> {
        if nesterov && (self.momentum == 0.0 || self.dampening != 0.0) {
            return Err(Error::InvalidHyperparameter(Hyperparameter::Nesterov));
        }
        self.nesterov = nesterov;
        Ok(self)
    }

    /// The learning rate.
    pub const fn lr(&self) -> f32 {
        self.lr
    }

    /// The momentum factor.
    pub const fn momentum(&self) -> f32 {
        self.momentum
    }
}

/// One step of [`Momentum`]: its hyperparameters and whether this is the first step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MomentumStep {
    opt: Momentum,
    /// `1 − dampening`.
    keep: f32,
    first: bool,
}

impl Update for MomentumStep {
    type Slot = [f32; 1];

    #[inline]
    fn update(&self, params: &mut [f32], grads: &[f32], slots: &mut [[f32; 1]]) {
        let o = &self.opt;
        for ((p, &g), [b]) in params.iter_mut().zip(grads).zip(slots) {
            let g = if o.weight_decay != 0.0 {
                g + o.weight_decay * *p
            } else {
                g
            };
            *b = if self.first {
                g
            } else {
                o.momentum * *b + self.keep * g
            };
            let d = if o.nesterov { g + o.momentum * *b } else { *b };
            *p -= o.lr * d;
        }
    }
}

impl Optimizer for Momentum {
    type Step = MomentumStep;

    fn begin(&self, step: u64) -> MomentumStep {
        MomentumStep {
            opt: *self,
            // PyTorch has no buffer for momentum 0, so no dampening: `b = 0·b + 1·g = g`.
            keep: if self.momentum == 0.0 {
                1.0
            } else {
                1.0 - self.dampening
            },
            first: step <= 1,
        }
    }
}
