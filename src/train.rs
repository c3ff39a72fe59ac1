//! One-call training steps for classifiers (forward, softmax cross-entropy, backward, SGD).

use crate::error::Error;
use crate::loss::{check_labels, cross_entropy_checked};
use crate::module::{Backward, Batch};
use crate::optim::Sgd;

/// One buffered SGD step on a batch with class labels; returns the batch's mean loss.
///
/// Zeroes `grads`, runs `forward_train`, [`cross_entropy_with_logits`](crate::cross_entropy_with_logits), `backward_params` (the
/// input gradient is not computed) and [`Sgd::step`]. Afterwards `grads` holds this batch's
/// gradient.
///
/// # Errors
///
/// - [`Error::LabelOutOfRange`], checked first: nothing is computed or written, not even the
///   cache;
/// - [`Error::NonFiniteLoss`]: the parameters (and gradients) are then unchanged.
///
/// # Examples
///
/// ```
/// use constnn::{Backward, Batch, Linear, Params, Relu, Sgd, Zeroed, train_step};
/// use rand_core::SeedableRng;
///
/// type Mlp = (Linear<2, 8>, Relu, Linear<8, 2>);
/// let mut model = Mlp::ZERO;
/// model.init(&mut rand_xorshift::XorShiftRng::seed_from_u64(0));
/// let mut cache: <Mlp as Backward<Batch<4, 2>>>::Cache = Zeroed::ZERO;
/// let mut grads: <Mlp as Params>::Grads = Zeroed::ZERO;
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
    grads: &mut M::Grads,
    x: &Batch<B, IN>,
    labels: &[usize; B],
    sgd: &Sgd,
) -> Result<f32, Error>
where
    M: Backward<Batch<B, IN>, Output = Batch<B, C>>,
{
    let (loss, dlogits) = forward_loss(model, cache, x, labels)?;
    model.zero_grads(grads);
    model.backward_params(cache, &dlogits, grads);
    sgd.step(model, grads);
    Ok(loss)
}

/// One fused SGD step: as [`train_step`], but each layer is updated during the backward pass,
/// so no gradient buffer exists. The parameters come out bit-identical to [`train_step`]'s.
///
/// # Errors
///
/// - [`Error::LabelOutOfRange`], checked first: nothing is computed or written, not even the
///   cache;
/// - [`Error::NonFiniteLoss`]: the parameters (and gradients) are then unchanged.
///
/// # Examples
///
/// ```
/// use constnn::{Backward, Batch, Linear, Params, Relu, Sgd, Zeroed, train_step_fused};
/// use rand_core::SeedableRng;
///
/// type Mlp = (Linear<2, 8>, Relu, Linear<8, 2>);
/// let mut model = Mlp::ZERO;
/// model.init(&mut rand_xorshift::XorShiftRng::seed_from_u64(0));
/// let mut cache: <Mlp as Backward<Batch<1, 2>>>::Cache = Zeroed::ZERO;
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
    let (loss, dlogits) = forward_loss(model, cache, x, labels)?;
    model.backward_step_params(cache, &dlogits, sgd);
    Ok(loss)
}

/// The first half of both steps: labels checked first (so a bad label touches nothing), then
/// `forward_train` and the loss with its gradient.
fn forward_loss<M, const B: usize, const IN: usize, const C: usize>(
    model: &mut M,
    cache: &mut M::Cache,
    x: &Batch<B, IN>,
    labels: &[usize; B],
) -> Result<(f32, Batch<B, C>), Error>
where
    M: Backward<Batch<B, IN>, Output = Batch<B, C>>,
{
    check_labels::<B, C>(labels)?;
    let logits = model.forward_train(x, cache);
    cross_entropy_checked(&logits, labels)
}
