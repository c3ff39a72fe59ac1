//! The traits every layer and every model (a tuple of layers) implements.
//!
//! - [`Module`]: pure inference, `forward(&x) -> y`.
//! - [`Backward`]: training: `forward_train` fills a fixed-size [`Backward::Cache`], then
//!   `backward` turns the output gradient into parameter gradients (and the input gradient).
//! - [`Params`]: the learnable parameters, their gradient type and visitors over both.
//! - [`Zeroed`]: a `const` all-zero value, so models, caches and gradients can be `static`.

use crate::optim::Sgd;

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
/// use constnn::{Backward, Batch, Linear, Params, Relu, Zeroed};
///
/// type Mlp = (Linear<64, 32>, Relu, Linear<32, 10>);
/// static MODEL: Mlp = Mlp::ZERO;
/// static GRADS: <Mlp as Params>::Grads = Zeroed::ZERO;
/// static CACHE: <Mlp as Backward<Batch<10, 64>>>::Cache = Zeroed::ZERO;
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

/// The learnable parameters of a layer or model.
///
/// Parameters are visited as flat `f32` slices in a fixed order (layer by layer; for
/// [`Linear`](crate::Linear) the weight row by row, then the bias). Optimizers, checksums,
/// saving and loading are all built on these visitors.
///
/// # Examples
///
/// ```
/// use constnn::{Linear, Params, Relu, Zeroed};
/// use rand_xorshift::XorShiftRng;
/// use rand_core::SeedableRng;
///
/// let mut model: (Linear<4, 8>, Relu, Linear<8, 3>) = Zeroed::ZERO;
/// model.init(&mut XorShiftRng::seed_from_u64(0));
/// let mut count = 0;
/// model.visit(&mut |p: &[f32]| count += p.len());
/// assert_eq!(count, 4 * 8 + 8 + 8 * 3 + 3);
/// assert_eq!(count, <(Linear<4, 8>, Relu, Linear<8, 3>) as Params>::NUM_PARAMS);
/// ```
pub trait Params {
    /// The gradient buffer: the parameters' own shape (`Linear<IN, OUT>` for a `Linear`, `()`
    /// for a parameter-free layer, a tuple for a model).
    type Grads: Zeroed;

    /// The number of learnable `f32` values.
    const NUM_PARAMS: usize;

    /// Initializes the parameters from a random generator (He-normal for `Linear`).
    fn init<R: rand_core::Rng + ?Sized>(&mut self, rng: &mut R);

    /// Calls `f` on every parameter slice, in the fixed order.
    fn visit<F: FnMut(&[f32])>(&self, f: &mut F);

    /// Calls `f` on every parameter slice mutably, in the fixed order.
    fn visit_mut<F: FnMut(&mut [f32])>(&mut self, f: &mut F);

    /// Calls `f` on every `(parameters, gradients)` pair of slices, in the fixed order.
    fn visit_with_grads<F: FnMut(&mut [f32], &mut [f32])>(
        &mut self,
        grads: &mut Self::Grads,
        f: &mut F,
    );

    /// Sets every gradient in `grads` to zero (in place: no temporary on the stack).
    fn zero_grads(&mut self, grads: &mut Self::Grads) {
        self.visit_with_grads(grads, &mut |_, g| g.fill(0.0));
    }
}

/// Training: a forward pass that records what the backward pass needs, and the backward pass.
///
/// `Cache` is a fixed-size type (a layer's input copy, a ReLU mask), so the whole training
/// state has a size known at compile time:
/// `size_of::<M>() + size_of::<M::Grads>() + size_of::<M::Cache>()` (see [`train_bytes`]).
///
/// Two ways to apply a step:
/// - buffered: [`backward_params`](Backward::backward_params) fills `M::Grads`, then
///   [`Sgd::step`] applies it (gradients stay available for inspection or accumulation);
/// - fused: [`backward_step_params`](Backward::backward_step_params) applies the SGD update
///   layer by layer as soon as a layer's gradient is known and needs no gradient buffer at
///   all. Both give bit-identical parameters.
///
/// # Examples
///
/// ```
/// use constnn::{Backward, Batch, Linear, Params, Relu, Sgd, Zeroed, cross_entropy_with_logits};
/// use rand_core::SeedableRng;
///
/// type Mlp = (Linear<4, 8>, Relu, Linear<8, 3>);
/// let mut model = Mlp::ZERO;
/// model.init(&mut rand_xorshift::XorShiftRng::seed_from_u64(1));
/// let mut cache: <Mlp as Backward<Batch<2, 4>>>::Cache = Zeroed::ZERO;
/// let mut grads: <Mlp as Params>::Grads = Zeroed::ZERO;
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
    fn backward(&self, cache: &Self::Cache, dy: &Self::Output, grads: &mut Self::Grads) -> X;

    /// As [`backward`](Backward::backward), but without computing the input gradient: what
    /// the first layer of a model needs (it saves a whole matrix product).
    fn backward_params(&self, cache: &Self::Cache, dy: &Self::Output, grads: &mut Self::Grads);

    /// Fused backward pass and SGD step: each parameter row is updated as soon as its
    /// gradient is known, so no gradient buffer is needed. Returns the input gradient,
    /// computed with the parameters as they were before the update.
    fn backward_step(&mut self, cache: &Self::Cache, dy: &Self::Output, sgd: &Sgd) -> X;

    /// As [`backward_step`](Backward::backward_step), without the input gradient.
    fn backward_step_params(&mut self, cache: &Self::Cache, dy: &Self::Output, sgd: &Sgd);
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

/// The gradient buffer type of model `M`: `<M as Params>::Grads`.
pub type GradsOf<M> = <M as Params>::Grads;

/// Bytes of RAM needed for inference of model `M` on input `X`: the parameters, the input
/// and the output. Intermediate activations live on the stack while `forward` runs.
///
/// # Examples
///
/// ```
/// use constnn::{Batch, Linear, Relu, infer_bytes};
///
/// type Mlp = (Linear<64, 32>, Relu, Linear<32, 10>);
/// // 2410 parameters, one 64-pixel sample, 10 logits, all f32.
/// assert_eq!(infer_bytes::<Batch<1, 64>, Mlp>(), 4 * (2410 + 64 + 10));
/// ```
pub const fn infer_bytes<X, M: Module<X>>() -> usize {
    size_of::<M>() + size_of::<X>() + size_of::<M::Output>()
}

/// Bytes of RAM needed to train model `M` on batches `X` with a gradient buffer.
///
/// That is parameters, gradients and caches, nothing else (the input batch is the caller's).
/// The fused step ([`Backward::backward_step_params`]) needs `size_of::<M::Grads>()` bytes less.
///
/// # Examples
///
/// ```
/// use constnn::{Batch, Linear, Relu, train_bytes};
///
/// type Mlp = (Linear<64, 32>, Relu, Linear<32, 10>);
/// // params 9640 + grads 9640 + caches: inputs of both Linear layers (10×64 and 10×32 f32)
/// // and the ReLU mask (10×32 bool).
/// assert_eq!(train_bytes::<Batch<10, 64>, Mlp>(), 9640 + 9640 + 2560 + 320 + 1280);
/// ```
pub const fn train_bytes<X, M: Backward<X>>() -> usize {
    size_of::<M>() + size_of::<M::Grads>() + size_of::<M::Cache>()
}

/// Bytes of RAM needed to train model `M` on batches `X` with the fused step
/// ([`train_step_fused`](crate::train_step_fused)): parameters and caches, no gradient buffer.
///
/// # Examples
///
/// ```
/// use constnn::{Batch, Linear, Relu, train_bytes, train_bytes_fused};
///
/// type Mlp = (Linear<64, 32>, Relu, Linear<32, 10>);
/// assert_eq!(train_bytes_fused::<Batch<10, 64>, Mlp>(), 9640 + 4160);
/// assert_eq!(train_bytes::<Batch<10, 64>, Mlp>() - train_bytes_fused::<Batch<10, 64>, Mlp>(), 9640);
/// ```
pub const fn train_bytes_fused<X, M: Backward<X>>() -> usize {
    size_of::<M>() + size_of::<M::Cache>()
}
