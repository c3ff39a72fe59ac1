//! The fused-step trainer.

use core::marker::PhantomData;

use super::{check_input, forward_loss, fused_update};
use crate::error::Error;
use crate::losses::Loss;
use crate::module::{Backward, Batch, InputInCache, Zeroed};
use crate::optim::{Optimizer, StateOf};

/// The training RAM of model `M` on batches `X` with optimizer `O`, and the fused training
/// step: the caches, the optimizer state and the step count, no gradient buffer.
///
/// [`new`](Trainer::new) is a `const fn`, so a trainer can be a `static` (in `.bss`). Its size
/// is [`train_bytes`](crate::train_bytes) minus the model's, plus the optimizer's
/// hyperparameters and the step count. Each [`step`](Trainer::step) updates every layer as
/// soon as its gradient is known; the parameters come out bit-identical to a
/// [`BufferedTrainer`](crate::BufferedTrainer)'s step.
///
/// # Examples
///
/// ```
/// use constnn::{Adam, Batch, CrossEntropy, Linear, Params, Relu, Trainer, Zeroed};
/// use constnn::rand_core::SeedableRng;
///
/// type Mlp = (Linear<2, 8>, Relu, Linear<8, 2>);
/// let mut model = Mlp::ZERO;
/// model.init(&mut constnn::XorShiftRng::seed_from_u64(0));
/// let mut trainer: Trainer<Mlp, Batch<4, 2>, Adam> = Trainer::new(Adam::new(0.05)?);
/// let (x, y) = ([[0., 0.], [0., 1.], [1., 0.], [1., 1.]], [0, 1, 1, 0]); // XOR
/// let first = trainer.step(&mut model, &x, &CrossEntropy, &y)?;
/// let mut last = first;
/// for _ in 0..100 {
///     last = trainer.step(&mut model, &x, &CrossEntropy, &y)?;
/// }
/// assert!(last < first / 4.0);
/// assert_eq!(trainer.steps(), 101);
/// # Ok::<(), constnn::Error>(())
/// ```
///
/// A training batch has at least one row: a step on a batch of zero rows does not compile (a
/// `const` assertion, reported by `cargo build`, not `cargo check`), for the
/// [`BufferedTrainer`](crate::BufferedTrainer) too:
///
/// ```compile_fail
/// use constnn::{Batch, CrossEntropy, Linear, Sgd, Trainer, Zeroed};
///
/// const B: usize = 0;
/// let mut model = Linear::<2, 3>::ZERO;
/// let mut trainer: Trainer<Linear<2, 3>, Batch<B, 2>, Sgd> = Trainer::new(Sgd::new(0.1)?);
/// let x: Batch<B, 2> = Zeroed::ZERO;
/// trainer.step(&mut model, &x, &CrossEntropy, &[0; B])?;
/// # Ok::<(), constnn::Error>(())
/// ```
///
/// while one row is fine:
///
/// ```
/// use constnn::{Batch, CrossEntropy, Linear, Sgd, Trainer, Zeroed};
///
/// const B: usize = 1;
/// let mut model = Linear::<2, 3>::ZERO;
/// let mut trainer: Trainer<Linear<2, 3>, Batch<B, 2>, Sgd> = Trainer::new(Sgd::new(0.1)?);
/// let x: Batch<B, 2> = Zeroed::ZERO;
/// trainer.step(&mut model, &x, &CrossEntropy, &[0; B])?;
/// # Ok::<(), constnn::Error>(())
/// ```
pub struct Trainer<M: Backward<X>, X, O: Optimizer> {
    cache: M::Cache,
    state: StateOf<M, O>,
    steps: u64,
    optimizer: O,
    input: PhantomData<fn(&X)>,
}

impl<M: Backward<X>, X, O: Optimizer> Trainer<M, X, O> {
    /// A trainer with zeroed caches and optimizer state, at step 0.
    pub const fn new(optimizer: O) -> Self {
        Self {
            cache: M::Cache::ZERO,
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

    /// Steps taken (the optimizer's next step is number `steps() + 1`).
    pub const fn steps(&self) -> u64 {
        self.steps
    }

    /// The caches of the last forward pass (each layer's input, ReLU masks, ...).
    pub const fn cache(&self) -> &M::Cache {
        &self.cache
    }

    /// The optimizer state, one slot per trainable parameter.
    pub const fn state(&self) -> &StateOf<M, O> {
        &self.state
    }

    /// The optimizer state and the step count, to restore a checkpoint.
    pub fn state_mut(&mut self) -> (&mut StateOf<M, O>, &mut u64) {
        (&mut self.state, &mut self.steps)
    }
}

impl<M, O, const B: usize, const IN: usize> Trainer<M, Batch<B, IN>, O>
where
    M: Backward<Batch<B, IN>>,
    O: Optimizer,
{
    /// One fused training step on batch `x` with `loss` against `target`; returns the batch's
    /// mean loss (before the update).
    ///
    /// # Errors
    ///
    /// - [`Error::LabelOutOfRange`] / [`Error::InvalidTarget`] and [`Error::NonFiniteInput`],
    ///   checked first: nothing is written;
    /// - [`Error::NonFiniteLoss`]: the caches hold this batch's forward pass; the parameters,
    ///   the optimizer state and the step count are unchanged;
    /// - [`Error::NonFiniteParameters`]: the update overflowed; see the
    ///   [module documentation](crate::Trainer#failed-steps).
    ///
    /// # Failed steps
    ///
    /// A fused step updates each layer during the backward pass, so the one failure that is
    /// detected after the update, [`Error::NonFiniteParameters`], leaves the model updated
    /// with some parameters not finite (and the step counted): restore a checkpoint. Use
    /// [`BufferedTrainer`](crate::BufferedTrainer) where a failed step must leave the model
    /// untouched.
    pub fn step<L: Loss<M::Output>>(
        &mut self,
        model: &mut M,
        x: &Batch<B, IN>,
        loss: &L,
        target: &L::Target,
    ) -> Result<f32, Error> {
        let (value, dy) = forward_loss(model, &mut self.cache, x, loss, target)?;
        self.update(model, &dy)?;
        Ok(value)
    }

    fn update(&mut self, model: &mut M, dy: &M::Output) -> Result<(), Error> {
        self.steps += 1;
        let update = self.optimizer.begin(self.steps);
        fused_update::<M, Batch<B, IN>, _>(model, &self.cache, dy, &update, &mut self.state)
    }
}

impl<M, O, const B: usize, const IN: usize> Trainer<M, Batch<B, IN>, O>
where
    M: InputInCache<Batch<B, IN>>,
    O: Optimizer,
{
    /// The input batch inside the first layer's cache: write a batch here, then call
    /// [`step_in_place`](Trainer::step_in_place), and the batch needs no RAM of its own.
    pub fn input_mut(&mut self) -> &mut Batch<B, IN> {
        M::input_mut(&mut self.cache)
    }

    /// The training forward pass (which writes the caches) on the batch in
    /// [`input_mut`](Trainer::input_mut), for evaluating with no second input buffer.
    ///
    /// For models whose layers compute the same in training and inference (`Linear`, the
    /// activations, `Frozen`) the outputs are [`Module::forward`](crate::Module::forward)'s,
    /// bit for bit. `Dropout` and `BatchNorm1d` behave as in training here (and batch norm
    /// updates its running statistics): evaluate such models with `Module::forward`.
    pub fn forward_in_place(&mut self, model: &mut M) -> M::Output {
        model.forward_train_in_place(&mut self.cache)
    }

    /// [`step`](Trainer::step) on the batch already in [`input_mut`](Trainer::input_mut): the
    /// same checks, operations and bits.
    ///
    /// # Errors
    ///
    /// As [`step`](Trainer::step).
    pub fn step_in_place<L: Loss<M::Output>>(
        &mut self,
        model: &mut M,
        loss: &L,
        target: &L::Target,
    ) -> Result<f32, Error> {
        loss.check(target)?;
        check_input(M::input_mut(&mut self.cache))?;
        let y = model.forward_train_in_place(&mut self.cache);
        self.loss_and_update(model, &y, loss, target)
    }

    /// The loss and the fused backward pass of [`step_in_place`](Trainer::step_in_place).
    ///
    /// Not inlined: the forward pass and this are then two calls side by side, whose
    /// temporaries share the stack instead of adding up (on a 16 kB Cortex-M0 that decides
    /// whether a model trains at all).
    #[inline(never)]
    fn loss_and_update<L: Loss<M::Output>>(
        &mut self,
        model: &mut M,
        y: &M::Output,
        loss: &L,
        target: &L::Target,
    ) -> Result<f32, Error> {
        // The gradient is used where the loss wrote it (`ref`): moving it out of the `Result`
        // would copy the whole batch.
        match loss.loss_and_grad_checked(y, target) {
            Ok((value, ref dy)) => {
                self.update(model, dy)?;
                Ok(value)
            }
            Err(e) => Err(e),
        }
    }
}
