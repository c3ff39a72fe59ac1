//! Plain stochastic gradient descent.

use super::{Optimizer, Update};
use crate::error::Error;
use crate::module::Params;

/// Plain stochastic gradient descent: `p ← p − lr·g` for every parameter.
///
/// PyTorch's `torch.optim.SGD(lr=lr)` (no momentum, no weight decay: see [`Momentum`](crate::Momentum)
/// for those). It keeps no state: [`StateOf<M, Sgd>`](crate::StateOf) is zero-sized, so the
/// fused step needs no byte more than the caches.
///
/// # Examples
///
/// ```
/// use constnn::{Error, Linear, Sgd};
///
/// let sgd = Sgd::new(0.5)?;
/// let mut layer = Linear::<1, 1> { weight: [[1.0]], bias: [0.0] };
/// let mut grads = Linear::<1, 1> { weight: [[2.0]], bias: [-1.0] };
/// sgd.step(&mut layer, &mut grads);
/// assert_eq!((layer.weight, layer.bias), ([[0.0]], [0.5]));
///
/// assert_eq!(Sgd::new(-0.1), Err(Error::InvalidLearningRate));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sgd {
    lr: f32,
}

impl Sgd {
    /// An SGD optimizer with learning rate `lr`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLearningRate`] unless `lr` is finite and greater than zero.
    pub const fn new(lr: f32) -> Result<Self, Error> {
        if lr.is_finite() && lr > 0.0 {
            Ok(Self { lr })
        } else {
            Err(Error::InvalidLearningRate)
        }
    }

    /// The learning rate.
    pub const fn lr(&self) -> f32 {
        self.lr
    }

    /// Applies `p ← p − lr·g` to every trainable parameter of `model` from a gradient buffer
    /// (a stateless shortcut for [`BufferedTrainer`](crate::BufferedTrainer)'s step).
    ///
    /// `grads` is taken mutably only because the visitor pairs mutable slices; it is not
    /// changed.
    pub fn step<M: Params + ?Sized>(&self, model: &mut M, grads: &mut M::Like<f32>) {
        model.visit_trainable(grads, &mut |p, g| self.apply(p, g));
    }

    /// `p[k] ← p[k] − lr·g[k]` over the common length of two slices.
    #[inline]
    fn apply(&self, params: &mut [f32], grads: &[f32]) {
        for (p, &g) in params.iter_mut().zip(grads) {
            *p -= self.lr * g;
        }
    }
}

impl Update for Sgd {
    type Slot = [f32; 0];

    #[inline]
    fn update(&self, params: &mut [f32], grads: &[f32], _: &mut [[f32; 0]]) {
        self.apply(params, grads);
    }

    fn max_change(&self, _max_param: f32, max_grad: f32) -> Option<f32> {
        Some(self.lr * max_grad)
    }
}

impl Optimizer for Sgd {
    type Step = Sgd;

    #[inline]
    fn begin(&self, _step: u64) -> Sgd {
        *self
    }
}
