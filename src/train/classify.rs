//! One-call SGD steps for classifiers, the 0.1 API kept as one-liners on the training core.

use super::{buffered_update, forward_loss, fused_update};
use crate::error::Error;
use crate::losses::CrossEntropy;
use crate::module::{Backward, Batch, Zeroed};
use crate::optim::Sgd;

/// One buffered SGD step on a batch with class labels; returns the batch's mean loss.
///
/// Zeroes `grads`, runs `forward_train`, [`cross_entropy_with_logits`](crate::cross_entropy_with_logits),
/// `backward_params` (the input gradient is not computed) and the SGD update. Afterwards
/// `grads` holds this batch's gradient. The same as a
/// [`BufferedTrainer`](crate::BufferedTrainer)`<M, X, Sgd>` step with [`CrossEntropy`], on
/// buffers of the caller's.
///
/// # Errors
///
/// - [`Error::LabelOutOfRange`] and [`Error::NonFiniteInput`], checked first: nothing is
///   computed or written, not even the cache;
/// - [`Error::NonFiniteLoss`], [`Error::NonFiniteGradient`], [`Error::NonFiniteParameters`]:
///   the parameters are then unchanged.
///
/// # Examples
///
/// ```
/// use constnn::{Batch, CacheOf, GradsOf, Linear, Params, Relu, Sgd, Zeroed, train_step};
/// use constnn::rand_core::SeedableRng;
///
/// type Mlp = (Linear<2, 8>, Relu, Linear<8, 2>);
/// let mut model = Mlp::ZERO;
/// model.init(&mut constnn::XorShiftRng::seed_from_u64(0));
/// let mut cache: CacheOf<Mlp, Batch<4, 2>> = Zeroed::ZERO;
/// let mut grads: GradsOf<Mlp> = Zeroed::ZERO;
/// let sgd = Sgd::new(0.1)?;
/// let (x, y) = ([[0., 0.], [0., 1.], [1., 0.], [1., 1.]], [0, 1, 1, 0]); // XOR
/// let first = train_step(&mut model, &mut cache, &mut grads, &x, &y, &sgd)?;
/// let mut last = first;
/// for _ in 0..200 {
///     last = train_step(&mut model, &mut cache, &mut grads, &x, &y, &sgd)?;
/// }
/// assert!(last < first);
/// # Ok::<(), constnn::Error>(())
/// ```
pub fn train_step<M, const B: usize, const IN: usize, const C: usize>(
    model: &mut M,
    cache: &mut M::Cache,
    grads: &mut M::Like<f32>,
    x: &Batch<B, IN>,
    labels: &[usize; B],
    sgd: &Sgd,
) -> Result<f32, Error>
where
    M: Backward<Batch<B, IN>, Output = Batch<B, C>>,
{
    let (loss, dlogits) = forward_loss(model, cache, x, &CrossEntropy, labels)?;
    M::zero_grads(grads);
    model.backward_params(cache, &dlogits, grads);
    let mut no_state = <M::Like<[f32; 0]>>::ZERO;
    buffered_update(model, grads, &mut no_state, sgd)?;
    Ok(loss)
}

/// One fused SGD step: as [`train_step`], but each layer is updated during the backward pass,
/// so no gradient buffer exists. The parameters come out bit-identical to [`train_step`]'s.
///
/// # Errors
///
/// As [`Trainer::step`](crate::Trainer::step).
///
/// # Examples
///
/// ```
/// use constnn::{Batch, CacheOf, Linear, Params, Relu, Sgd, Zeroed, train_step_fused};
/// use constnn::rand_core::SeedableRng;
///
/// type Mlp = (Linear<2, 8>, Relu, Linear<8, 2>);
/// let mut model = Mlp::ZERO;
/// model.init(&mut constnn::XorShiftRng::seed_from_u64(0));
/// let mut cache: CacheOf<Mlp, Batch<1, 2>> = Zeroed::ZERO;
/// let loss = train_step_fused(&mut model, &mut cache, &[[1.0, 0.0]], &[1], &Sgd::new(0.1)?)?;
/// assert!(loss > 0.0);
/// # Ok::<(), constnn::Error>(())
/// ```
pub fn train_step_fused<M, const B: usize, const IN: usize, const C: usize>(
    model: &mut M,
    cache: &mut M::Cache,
    x: &Batch<B, IN>,
    labels: &[usize; B],
    sgd: &Sgd,
) -> Result<f32, Error>
where
    M: Backward<Batch<B, IN>, Output = Batch<B, C>>,
{
    let (loss, dlogits) = forward_loss(model, cache, x, &CrossEntropy, labels)?;
    let mut no_state = <M::Like<[f32; 0]>>::ZERO;
    fused_update::<M, Batch<B, IN>, _>(model, cache, &dlogits, sgd, &mut no_state)?;
    Ok(loss)
}
