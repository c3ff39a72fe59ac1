//! The traits every layer and every model (a tuple of layers) implements.
//!
//! - [`Module`]: pure inference, `forward(&x) -> y`.
//! - [`Backward`]: training: `forward_train` fills a fixed-size [`Backward::Cache`], then
//!   `backward` turns the output gradient into parameter gradients (and the input gradient).
//! - [`Params`]: the stored values (what is saved) and the trainable parameters, with
//!   [`Params::Like`], the parameters' shape holding any per-parameter value (gradients,
//!   optimizer state), and visitors that walk them in lockstep.
//! - [`Zeroed`]: a `const` all-zero value, so models, caches, gradients and optimizer state can
//!   be `static`.

use crate::optim::Update;

/// A batch of `B` rows of `D` features: `x[b][d]`, like a numpy array of shape `(B, D)`.
///
/// A single sample is a batch with `B = 1`.
///
/// # Examples
///
/// ```
/// use constnn::Batch;
///
/// let x: Batch<2, 3> = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// assert_eq!(x[1][0], 4.0);
/// ```
pub type Batch<const B: usize, const D: usize> = [[f32; D]; B];

/// A value with a `const` all-zero instance.
///
/// Arrays longer than 32 have no `Default`, and `const` lets a model, its gradients and its
/// caches be `static` items, so no stack or heap is needed for them.
///
/// # Examples
///
/// ```
/// use constnn::{Batch, CacheOf, GradsOf, Linear, Relu, Zeroed};
///
/// type Mlp = (Linear<64, 32>, Relu, Linear<32, 10>);
/// static MODEL: Mlp = Mlp::ZERO;
/// static GRADS: GradsOf<Mlp> = Zeroed::ZERO;
/// static CACHE: CacheOf<Mlp, Batch<10, 64>> = Zeroed::ZERO;
/// assert_eq!(MODEL.0.bias, [0.0; 32]);
/// # let _ = (&GRADS, &CACHE);
/// ```
pub trait Zeroed: Sized {
    /// The all-zero value (`0.0`, `false`, `()`), as a constant.
    const ZERO: Self;
}

/// Returns `T::ZERO`; a `const fn`, so it also works in `static` initializers.
///
/// # Examples
///
/// ```
/// use constnn::{Linear, zeroed};
///
/// const L: Linear<2, 3> = zeroed();
/// assert_eq!(L.weight, [[0.0; 3]; 2]);
/// ```
pub const fn zeroed<T: Zeroed>() -> T {
    T::ZERO
}

impl Zeroed for f32 {
    const ZERO: Self = 0.0;
}

impl Zeroed for bool {
    const ZERO: Self = false;
}

impl Zeroed for () {
    const ZERO: Self = ();
}

impl<T: Zeroed, const N: usize> Zeroed for [T; N] {
    const ZERO: Self = [T::ZERO; N];
}

/// Inference: a pure, infallible map from an input batch `X` to an output batch.
///
/// The input type is a parameter, so one layer value serves every batch size (`B = 1` for a
/// single sample, `B = 10` for training) and [`Relu`](crate::Relu) serves every width. A tuple of
/// modules is a sequential model; a width mismatch between neighbours is a compile error.
///
/// # Examples
///
/// ```
/// use constnn::{Linear, Module, Relu, Zeroed};
///
/// let model: (Linear<4, 8>, Relu, Linear<8, 3>) = Zeroed::ZERO;
/// let y = model.forward(&[[1.0, 2.0, 3.0, 4.0]]); // a batch of one sample
/// assert_eq!(y, [[0.0; 3]]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot take an input of type `{X}`",
    label = "this layer's input width (or batch) does not match",
    note = "in a model tuple, each layer's input width must equal the previous layer's output width, \
            and the model's first layer must match the data: e.g. (Linear<64, 32>, Relu, Linear<32, 10>) \
            takes [[f32; 64]; B]"
)]
pub trait Module<X> {
    /// The output batch type (for a tuple: the last layer's output).
    type Output;

    /// Runs inference on a batch. Needs no training buffers and changes nothing.
    fn forward(&self, x: &X) -> Self::Output;
}

/// The parameters of a layer or model: what is stored, and what is trained.
///
/// Two families of visitors walk them as flat `f32` slices in one fixed order (layer by layer;
/// for [`Linear`](crate::Linear) the weight row by row, then the bias):
/// - [`visit`](Params::visit) / [`visit_mut`](Params::visit_mut): every *stored* value, the
///   [`NUM_STORED`](Params::NUM_STORED) `f32`s that saving and loading, checksums and
///   equality of models are built on (trainable parameters, [`Frozen`](crate::Frozen)
///   parameters, running statistics);
/// - [`visit_trainable`](Params::visit_trainable) and
///   [`visit_trainable2`](Params::visit_trainable2): the
///   [`NUM_PARAMS`](Params::NUM_PARAMS) *trainable* parameters, each beside its value in one or
///   two [`Like`](Params::Like) buffers (gradients, optimizer state).
///
/// [`Params::Like<T>`] is the trainable parameters' shape with a `T` per parameter:
/// `Linear<IN, OUT, T>` for a `Linear`, `()` for a layer with nothing to train, a tuple for a
/// model. Gradients are `Like<f32>` ([`GradsOf`]); an optimizer's state is
/// `Like<[f32; K]>` ([`StateOf`](crate::StateOf)).
///
/// # Examples
///
/// ```
/// use constnn::{GradsOf, Linear, Params, Relu, Zeroed};
/// use constnn::rand_core::SeedableRng;
///
/// type Mlp = (Linear<4, 8>, Relu, Linear<8, 3>);
/// let mut model = Mlp::ZERO;
/// model.init(&mut constnn::XorShiftRng::seed_from_u64(0));
/// let mut count = 0;
/// model.visit(&mut |p: &[f32]| count += p.len());
/// assert_eq!(count, 4 * 8 + 8 + 8 * 3 + 3);
/// assert_eq!(count, Mlp::NUM_PARAMS);
///
/// // A gradient buffer walked beside the parameters:
/// let mut grads: GradsOf<Mlp> = Zeroed::ZERO;
/// model.visit_trainable(&mut grads, &mut |p: &mut [f32], g: &mut [f32]| g.copy_from_slice(p));
/// assert_eq!(grads.0.weight, model.0.weight);
/// ```
pub trait Params {
    /// The trainable parameters' shape holding a `T` per parameter.
    type Like<T: Zeroed + Copy>: Zeroed;

    /// The number of trainable `f32` parameters.
    const NUM_PARAMS: usize;

    /// The number of stored `f32` values ([`visit`](Params::visit) visits them all).
    const NUM_STORED: usize;

    /// A fingerprint of the layer kinds and widths ([`layer_signature`](crate::layer_signature),
    /// [`sequence_signature`](crate::sequence_signature)): saved weights load only into a
    /// model with the same signature.
    const SIGNATURE: u64;

    /// Initializes the trainable parameters from a random generator (He-normal for `Linear`).
    fn init<R: rand_core::Rng + ?Sized>(&mut self, rng: &mut R);

    /// Calls `f` on every stored slice, in the fixed order.
    fn visit<F: FnMut(&[f32])>(&self, f: &mut F);

    /// Calls `f` on every stored slice mutably, in the fixed order.
    fn visit_mut<F: FnMut(&mut [f32])>(&mut self, f: &mut F);

    /// Calls `f` on every trainable parameter slice beside the same slice of `like`.
    fn visit_trainable<T: Zeroed + Copy, F: FnMut(&mut [f32], &mut [T])>(
        &mut self,
        like: &mut Self::Like<T>,
        f: &mut F,
    );

    /// Calls `f` on every trainable parameter slice beside the same slices of `a` and `b`
    /// (e.g. gradients and optimizer state).
    fn visit_trainable2<T: Zeroed + Copy, U: Zeroed + Copy, F>(
        &mut self,
        a: &mut Self::Like<T>,
        b: &mut Self::Like<U>,
        f: &mut F,
    ) where
        F: FnMut(&mut [f32], &mut [T], &mut [U]);

    /// Calls `f` on every slice of a `Like` buffer, in the parameters' order.
    fn visit_like<T: Zeroed + Copy, F: FnMut(&[T])>(like: &Self::Like<T>, f: &mut F);

    /// Calls `f` on every slice of a `Like` buffer mutably, in the parameters' order.
    fn visit_like_mut<T: Zeroed + Copy, F: FnMut(&mut [T])>(like: &mut Self::Like<T>, f: &mut F);

    /// The number of `u32` words of random-generator state the model carries (a
    /// [`Dropout`](crate::Dropout) layer's mask generator: 4), which a checkpoint saves so that
    /// training resumes with the same masks. Not parameters: [`save_weights`] leaves them out.
    ///
    /// [`save_weights`]: crate::format::save_weights
    const NUM_RNG_WORDS: usize = 0;

    /// Calls `f` on every generator state, in layer order (nothing, by default).
    fn visit_rng<F: FnMut(&[u32])>(&self, f: &mut F) {
        let _ = f;
    }

    /// Calls `f` on every generator state mutably, in layer order (nothing, by default).
    fn visit_rng_mut<F: FnMut(&mut [u32])>(&mut self, f: &mut F) {
        let _ = f;
    }

    /// Sets every gradient in `grads` to zero (in place: no temporary on the stack).
    fn zero_grads(grads: &mut Self::Like<f32>) {
        Self::visit_like_mut(grads, &mut |g: &mut [f32]| g.fill(0.0));
    }
}

/// Training: a forward pass that records what the backward pass needs, and the backward pass.
///
/// `Cache` is a fixed-size type (a layer's input copy, a ReLU mask), so the whole training
/// state has a size known at compile time (see [`train_bytes`](crate::train_bytes)).
///
/// Two ways to apply a step, which give bit-identical parameters:
/// - buffered: [`backward_params`](Backward::backward_params) adds the gradients into a
///   [`GradsOf<M>`] buffer, then an optimizer applies them (gradients stay available for
///   inspection, clipping or accumulation);
/// - fused: [`backward_step_params`](Backward::backward_step_params) applies an optimizer's
///   [`Update`] layer by layer as soon as a layer's gradient is known, and needs no gradient
///   buffer at all.
///
/// [`Trainer`](crate::Trainer) and [`BufferedTrainer`](crate::BufferedTrainer) drive these
/// and own the buffers; the methods are public so that new layers can be written outside the
/// crate.
///
/// # Examples
///
/// ```
/// use constnn::{Backward, Batch, CacheOf, GradsOf, Linear, Params, Relu, Sgd, Zeroed};
/// use constnn::{cross_entropy_with_logits, rand_core::SeedableRng};
///
/// type Mlp = (Linear<4, 8>, Relu, Linear<8, 3>);
/// let mut model = Mlp::ZERO;
/// model.init(&mut constnn::XorShiftRng::seed_from_u64(1));
/// let mut cache: CacheOf<Mlp, Batch<2, 4>> = Zeroed::ZERO;
/// let mut grads: GradsOf<Mlp> = Zeroed::ZERO;
/// let x = [[0.5, -1.0, 2.0, 0.0], [1.0, 1.0, -1.0, 3.0]];
///
/// let logits = model.forward_train(&x, &mut cache);
/// let (loss, dlogits) = cross_entropy_with_logits(&logits, &[2, 0])?;
/// model.backward_params(&cache, &dlogits, &mut grads);
/// Sgd::new(0.1)?.step(&mut model, &mut grads);
/// assert!(loss.is_finite());
/// # Ok::<(), constnn::Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be trained on an input of type `{X}`",
    note = "in a model tuple, each layer's input width must equal the previous layer's output width"
)]
pub trait Backward<X>: Module<X> + Params {
    /// What the forward pass records for the backward pass.
    type Cache: Zeroed;

    /// The forward pass of training: the same output as [`Module::forward`], and the cache
    /// filled. Takes `&mut self` so that layers with training-time state (dropout's random
    /// generator, batch norm's running statistics) fit the same trait.
    fn forward_train(&mut self, x: &X, cache: &mut Self::Cache) -> Self::Output;

    /// Backward pass: adds this batch's parameter gradients to `grads` (they accumulate: zero
    /// them first with [`Params::zero_grads`] for a plain step) and returns the gradient with
    /// respect to the input `x`.
    fn backward(&self, cache: &Self::Cache, dy: &Self::Output, grads: &mut Self::Like<f32>) -> X;

    /// As [`backward`](Backward::backward), without computing the input gradient: what the
    /// first layer of a model needs (it saves a whole matrix product).
    fn backward_params(&self, cache: &Self::Cache, dy: &Self::Output, grads: &mut Self::Like<f32>);

    /// The input gradient alone, with no parameter gradient: what a
    /// [`Frozen`](crate::Frozen) layer inside a model needs.
    fn backward_input(&self, cache: &Self::Cache, dy: &Self::Output) -> X;

    /// Fused backward pass and optimizer step: each parameter row is updated by `update` as
    /// soon as its gradient is known, with its rows of optimizer `state`, so no gradient
    /// buffer is needed. Returns the input gradient, computed with the parameters as they were
    /// before the update.
    fn backward_step<U: Update>(
        &mut self,
        cache: &Self::Cache,
        dy: &Self::Output,
        update: &U,
        state: &mut Self::Like<U::Slot>,
    ) -> X;

    /// As [`backward_step`](Backward::backward_step), without the input gradient.
    fn backward_step_params<U: Update>(
        &mut self,
        cache: &Self::Cache,
        dy: &Self::Output,
        update: &U,
        state: &mut Self::Like<U::Slot>,
    );
}

/// A model whose training cache holds its input batch (its first layer is a
/// [`Linear`](crate::Linear)): a batch can be written straight into the cache and trained
/// on in place, with no separate input buffer (see
/// [`Trainer::input_mut`](crate::Trainer::input_mut)).
pub trait InputInCache<X>: Backward<X> {
    /// The input batch inside the cache.
    fn input_mut(cache: &mut Self::Cache) -> &mut X;

    /// [`forward_train`](Backward::forward_train) on the batch already in the cache.
    fn forward_train_in_place(&mut self, cache: &mut Self::Cache) -> Self::Output;
}

/// Checks at compile time that model `M` takes input `X`; use it where the model is defined.
///
/// # Examples
///
/// ```
/// use constnn::{Batch, Linear, Relu, assert_module};
///
/// type Mlp = (Linear<64, 32>, Relu, Linear<32, 10>);
/// const _: () = assert_module::<Batch<1, 64>, Mlp>();
/// ```
///
/// A mismatch does not compile:
///
/// ```compile_fail
/// use constnn::{Batch, Linear, Relu, assert_module};
///
/// type Mlp = (Linear<64, 32>, Relu, Linear<33, 10>);
/// const _: () = assert_module::<Batch<1, 64>, Mlp>();
/// ```
pub const fn assert_module<X, M: Module<X>>() {}

/// The training cache type of model `M` on input `X`: `<M as Backward<X>>::Cache`.
///
/// # Examples
///
/// ```
/// use constnn::{Batch, CacheOf, GradsOf, Linear, Relu, Zeroed};
///
/// type Mlp = (Linear<64, 32>, Relu, Linear<32, 10>);
/// static CACHE: CacheOf<Mlp, Batch<10, 64>> = Zeroed::ZERO;
/// static GRADS: GradsOf<Mlp> = Zeroed::ZERO;
/// assert_eq!(size_of_val(&CACHE), 4 * 10 * 64 + 10 * 32 + 4 * 10 * 32);
/// assert_eq!(size_of_val(&GRADS), 4 * 2410);
/// ```
pub type CacheOf<M, X> = <M as Backward<X>>::Cache;

/// The gradient buffer type of model `M`: `<M as Params>::Like<f32>`, the parameters' own
/// shape (`Linear<IN, OUT>` for a `Linear`).
pub type GradsOf<M> = <M as Params>::Like<f32>;
