//! The RAM a model needs, known at compile time.

use crate::module::{Backward, Module, Params};
use crate::optim::{Optimizer, StateOf};

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
/// assert_eq!(infer_bytes::<Mlp, Batch<1, 64>>(), 4 * (2410 + 64 + 10));
/// ```
pub const fn infer_bytes<M: Module<X>, X>() -> usize {
    size_of::<M>() + size_of::<X>() + size_of::<M::Output>()
}

/// Bytes of RAM needed to train model `M` on batches `X` with optimizer `O` and the fused step
/// ([`Trainer`](crate::Trainer)): parameters, caches and optimizer state, no gradient buffer.
/// The input batch is the caller's (or lives in the cache: [`Trainer::input_mut`](crate::Trainer::input_mut)).
///
/// # Examples
///
/// ```
/// use constnn::{Adam, Batch, Linear, Momentum, Relu, Sgd, train_bytes};
///
/// type Mlp = (Linear<64, 32>, Relu, Linear<32, 10>);
/// // params 9640 + caches: inputs of both Linear layers (10×64 and 10×32 f32) and the ReLU
/// // mask (10×32 bool); SGD keeps no state, momentum one f32 per parameter, Adam two.
/// assert_eq!(train_bytes::<Mlp, Batch<10, 64>, Sgd>(), 9640 + 2560 + 320 + 1280);
/// assert_eq!(train_bytes::<Mlp, Batch<10, 64>, Momentum>(), 9640 + 4160 + 9640);
/// assert_eq!(train_bytes::<Mlp, Batch<10, 64>, Adam>(), 9640 + 4160 + 2 * 9640);
/// ```
pub const fn train_bytes<M: Backward<X>, X, O: Optimizer>() -> usize {
    size_of::<M>() + size_of::<M::Cache>() + size_of::<StateOf<M, O>>()
}

/// Bytes of RAM needed to train model `M` on batches `X` with optimizer `O` and a gradient
/// buffer ([`BufferedTrainer`](crate::BufferedTrainer)): [`train_bytes`] plus the gradients.
///
/// # Examples
///
/// ```
/// use constnn::{Batch, Linear, Relu, Sgd, train_bytes, train_bytes_buffered};
///
/// type Mlp = (Linear<64, 32>, Relu, Linear<32, 10>);
/// type X = Batch<10, 64>;
/// assert_eq!(train_bytes_buffered::<Mlp, X, Sgd>() - train_bytes::<Mlp, X, Sgd>(), 9640);
/// ```
pub const fn train_bytes_buffered<M: Backward<X>, X, O: Optimizer>() -> usize {
    train_bytes::<M, X, O>() + size_of::<<M as Params>::Like<f32>>()
}
