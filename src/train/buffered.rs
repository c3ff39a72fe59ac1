//! The trainer with a gradient buffer.

use core::marker::PhantomData;

use super::{buffered_update, forward_loss};
use crate::error::Error;
use crate::losses::Loss;
use crate::module::{Backward, Batch, Zeroed};
use crate::optim::{Optimizer, StateOf};

/// The training RAM of model `M` on batches `X` with optimizer `O` and a gradient buffer: the
/// caches, the gradients, the optimizer state and the step count.
///
/// [`step`](BufferedTrainer::step) is [`compute_grads`](BufferedTrainer::compute_grads) then
/// [`apply`](BufferedTrainer::apply); between the two the gradients can be inspected, clipped
/// ([`clip_grad_norm`](BufferedTrainer::clip_grad_norm)) or accumulated over several batches
/// ([`accumulate_grads`](BufferedTrainer::accumulate_grads)). A step that fails leaves the
/// parameters and the optimizer state untouched. Its parameters are bit-identical to a
/// [`Trainer`](crate::Trainer)'s fused step.
///
/// # Examples
///
/// ```
/// use constnn::{Batch, BufferedTrainer, Linear, Momentum, Mse, Params, Zeroed};
///
/// let mut model = Linear::<1, 1> { weight: [[2.0]], bias: [1.0] };
/// let mut trainer: BufferedTrainer<Linear<1, 1>, Batch<2, 1>, Momentum> =
///     BufferedTrainer::new(Momentum::new(0.01, 0.9)?);
/// let (x, t) = ([[1.0], [2.0]], [[5.0], [8.0]]);
/// let loss = trainer.compute_grads(&mut model, &x, &Mse, &t)?;
/// assert_eq!(loss, 6.5);
/// assert_eq!(trainer.grads().weight, [[-8.0]]); // 2·Σ x·(y − t) / 2
/// let norm = trainer.clip_grad_norm(1.0)?;
/// assert!((norm - (64.0f32 + 25.0).sqrt()).abs() < 1e-5);
/// trainer.apply(&mut model)?;
/// assert!(model.weight[0][0] > 2.0);
/// # Ok::<(), constnn::Error>(())
/// ```
pub struct BufferedTrainer<M: Backward<X>, X, O: Optimizer> {
    cache: M::Cache,
    grads: M::Like<f32>,
    state: StateOf<M, O>,
    steps: u64,
    optimizer: O,
    input: PhantomData<fn(&X)>,
}

impl<M: Backward<X>, X, O: Optimizer> BufferedTrainer<M, X, O> {
    /// A trainer with zeroed caches, gradients and optimizer state, at step 0.
    pub const fn new(optimizer: O) -> Self {
        Self {
            cache: M::Cache::ZERO,
            grads: <M::Like<f32>>::ZERO,
            state: <StateOf<M, O>>::ZERO,
            steps: 0,
            optimizer,
            input: PhantomData,
        }
    }

    /// The optimizer.
    pub const fn optimizer(&self) -> &O {
        &self.optimizer
    }

    /// Steps applied.
    pub const fn steps(&self) -> u64 {
        self.steps
    }

    /// The caches of the last forward pass.
    pub const fn cache(&self) -> &M::Cache {
        &self.cache
    }

    /// The gradient buffer (the parameters' shape).
    pub const fn grads(&self) -> &M::Like<f32> {
        &self.grads
    }

    /// The gradient buffer, mutably (e.g. to scale it).
    pub fn grads_mut(&mut self) -> &mut M::Like<f32> {
        &mut self.grads
    }

    /// The optimizer state, one slot per trainable parameter.
    pub const fn state(&self) -> &StateOf<M, O> {
        &self.state
    }

    /// The optimizer state and the step count, to restore a checkpoint.
    pub fn state_mut(&mut self) -> (&mut StateOf<M, O>, &mut u64) {
        (&mut self.state, &mut self.steps)
    }

    /// Sets every gradient to zero.
    pub fn zero_grads(&mut self) {
        M::zero_grads(&mut self.grads);
    }

    /// The Euclidean norm of all gradients (summed in `f32`, in visit order).
    pub fn grad_norm(&self) -> f32 {
        let mut sq = 0.0f32;
        M::visit_like(&self.grads, &mut |g: &[f32]| {
            for &v in g {
                sq += v * v;
            }
        });
        crate::float::sqrtf(sq)
    }

    /// Scales the gradients so that their norm is at most `max_norm` (PyTorch's
    /// `clip_grad_norm_`: by `max_norm / (norm + 1e-6)` when `norm > max_norm`); returns the
    /// norm before clipping.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`]`(MaxNorm)` unless `max_norm` is finite and `> 0`;
    /// [`Error::NonFiniteGradient`] if the norm is not finite (nothing is scaled).
    pub fn clip_grad_norm(&mut self, max_norm: f32) -> Result<f32, Error> {
        if !(max_norm.is_finite() && max_norm > 0.0) {
            return Err(Error::InvalidHyperparameter(
                crate::error::Hyperparameter::MaxNorm,
            ));
        }
        let norm = self.grad_norm();
        if !norm.is_finite() {
            return Err(Error::NonFiniteGradient);
        }
        if norm > max_norm {
            let scale = max_norm / (norm + 1e-6);
            M::visit_like_mut(&mut self.grads, &mut |g: &mut [f32]| {
                for v in g {
                    *v *= scale;
                }
            });
        }
        Ok(norm)
    }

    /// Applies the optimizer's next step from the gradient buffer.
    ///
    /// # Errors
    ///
    /// [`Error::NonFiniteGradient`] or [`Error::NonFiniteParameters`] (an update would
    /// overflow): the parameters, the optimizer state and the step count are then unchanged.
    pub fn apply(&mut self, model: &mut M) -> Result<(), Error> {
        let update = self.optimizer.begin(self.steps + 1);
        buffered_update(model, &mut self.grads, &mut self.state, &update)?;
        self.steps += 1;
        Ok(())
    }
}

impl<M, O, const B: usize, const IN: usize> BufferedTrainer<M, Batch<B, IN>, O>
where
    M: Backward<Batch<B, IN>>,
    O: Optimizer,
{
    /// Zeroes the gradients, then [`accumulate_grads`](BufferedTrainer::accumulate_grads).
    ///
    /// # Errors
    ///
    /// As [`accumulate_grads`](BufferedTrainer::accumulate_grads).
    pub fn compute_grads<L: Loss<M::Output>>(
        &mut self,
        model: &mut M,
        x: &Batch<B, IN>,
        loss: &L,
        target: &L::Target,
    ) -> Result<f32, Error> {
        let (value, dy) = forward_loss(model, &mut self.cache, x, loss, target)?;
        self.zero_grads();
        model.backward_params(&self.cache, &dy, &mut self.grads);
        Ok(value)
    }

    /// Adds the gradients of `loss` on batch `x` into the buffer; returns the batch's mean
    /// loss. The model is not changed.
    ///
    /// # Errors
    ///
    /// [`Error::LabelOutOfRange`] / [`Error::InvalidTarget`], [`Error::NonFiniteInput`] (nothing
    /// written), [`Error::NonFiniteLoss`] (the gradients are then unchanged).
    pub fn accumulate_grads<L: Loss<M::Output>>(
        &mut self,
        model: &mut M,
        x: &Batch<B, IN>,
        loss: &L,
        target: &L::Target,
    ) -> Result<f32, Error> {
        let (value, dy) = forward_loss(model, &mut self.cache, x, loss, target)?;
        model.backward_params(&self.cache, &dy, &mut self.grads);
        Ok(value)
    }

    /// One buffered training step: [`compute_grads`](BufferedTrainer::compute_grads), then
    /// [`apply`](BufferedTrainer::apply); returns the batch's mean loss. Afterwards the
    /// gradient buffer holds this batch's gradients.
    ///
    /// # Errors
    ///
    /// As those two; the parameters and the optimizer state are unchanged on any error.
    pub fn step<L: Loss<M::Output>>(
        &mut self,
        model: &mut M,
        x: &Batch<B, IN>,
        loss: &L,
        target: &L::Target,
    ) -> Result<f32, Error> {
        let value = self.compute_grads(model, x, loss, target)?;
        self.apply(model)?;
        Ok(value)
    }
}
