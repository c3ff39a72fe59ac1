//! Training: the [`Trainer`] (fused step) and the [`BufferedTrainer`] (gradient buffer), which
//! own the training RAM, and the classification one-liners [`train_step`] and
//! [`train_step_fused`].
//!
//! Every step does the same checks in the same order, in one place ([`forward_loss`]):
//! 1. the target ([`Loss::check`]: labels in range, target values valid) and the input batch
//!    (every value finite), before anything is written;
//! 2. the forward pass (which writes the caches) and the loss, which must be finite;
//! 3. the update:
//!    - buffered: the gradients must be finite, and the update is computed once on copies and
//!      checked finite before the parameters are written: a failed buffered step leaves the
//!      parameters and the optimizer state untouched;
//!    - fused: the parameters are updated layer by layer during the backward pass, then checked
//!      finite. A fused step that fails here (a gradient that overflows `f32`) has already
//!      updated the parameters, and some are not finite: reload them (a checkpoint) before
//!      going on. It cannot happen without inputs or parameters of magnitude near `1e19` or
//!      more; the input checks of 1. catch every non-finite input before anything is written.

mod buffered;
mod classify;
mod trainer;

pub use buffered::BufferedTrainer;
pub use classify::{train_step, train_step_fused};
pub use trainer::Trainer;

use crate::error::Error;
use crate::losses::Loss;
use crate::module::{Backward, Batch, Params, Zeroed};
use crate::optim::Update;

/// Checks the target and the input, then runs the forward pass and the loss.
fn forward_loss<M, L, const B: usize, const IN: usize>(
    model: &mut M,
    cache: &mut M::Cache,
    x: &Batch<B, IN>,
    loss: &L,
    target: &L::Target,
) -> Result<(f32, M::Output), Error>
where
    M: Backward<Batch<B, IN>>,
    L: Loss<M::Output>,
{
    loss.check(target)?;
    check_input(x)?;
    let y = model.forward_train(x, cache);
    loss.loss_and_grad_checked(&y, target)
}

/// [`Error::NonFiniteInput`] for the first row of `x` holding a NaN or an infinity.
fn check_input<const B: usize, const IN: usize>(x: &Batch<B, IN>) -> Result<(), Error> {
    const { assert!(B > 0, "a training batch needs at least one row (B >= 1)") };
    for (row, r) in x.iter().enumerate() {
        if !all_finite(r) {
            return Err(Error::NonFiniteInput { row });
        }
    }
    Ok(())
}

/// Whether every value is finite: one sum (a single add per value, the cheapest test on a
/// microcontroller), then, only if the sum is not finite (which finite values of magnitude
/// near `f32::MAX` can also give), a value-by-value check.
#[inline]
fn all_finite(v: &[f32]) -> bool {
    let mut s = 0.0f32;
    for &x in v {
        s += x;
    }
    s.is_finite() || v.iter().all(|x| x.is_finite())
}

/// The fused update of a step whose loss gradient is `dy`, then the finiteness check.
fn fused_update<M, X, U>(
    model: &mut M,
    cache: &M::Cache,
    dy: &M::Output,
    update: &U,
    state: &mut M::Like<U::Slot>,
) -> Result<(), Error>
where
    M: Backward<X>,
    U: Update,
{
    model.backward_step_params(cache, dy, update, state);
    if trainable_finite(model) {
        Ok(())
    } else {
        Err(Error::NonFiniteParameters)
    }
}

/// Whether every trainable parameter of `model` is finite.
fn trainable_finite<M: Params>(model: &mut M) -> bool {
    let mut ok = true;
    let mut none = <M::Like<()>>::ZERO;
    model.visit_trainable(&mut none, &mut |p: &mut [f32], _: &mut [()]| {
        ok &= all_finite(p);
    });
    ok
}

/// Applies `update` from a gradient buffer, or fails leaving `model` and `state` untouched:
/// the gradients must be finite, and the update is first computed on copies, in chunks, and
/// checked finite. The second pass repeats the same operations on the same values, so it
/// writes exactly what was checked.
fn buffered_update<M: Params, U: Update>(
    model: &mut M,
    grads: &mut M::Like<f32>,
    state: &mut M::Like<U::Slot>,
    update: &U,
) -> Result<(), Error> {
    let mut grads_ok = true;
    M::visit_like(grads, &mut |g: &[f32]| grads_ok &= all_finite(g));
    if !grads_ok {
        return Err(Error::NonFiniteGradient);
    }
    const CHUNK: usize = 32;
    let mut ok = true;
    model.visit_trainable2(
        grads,
        state,
        &mut |p: &mut [f32], g: &mut [f32], s: &mut [U::Slot]| {
            for ((pc, gc), sc) in p.chunks(CHUNK).zip(g.chunks(CHUNK)).zip(s.chunks(CHUNK)) {
                let mut pt = [0.0f32; CHUNK];
                let mut st = [U::Slot::ZERO; CHUNK];
                let n = pc.len();
                pt[..n].copy_from_slice(pc);
                st[..n].copy_from_slice(sc);
                update.update(&mut pt[..n], gc, &mut st[..n]);
                ok &= all_finite(&pt[..n]);
            }
        },
    );
    if !ok {
        return Err(Error::NonFiniteParameters);
    }
    model.visit_trainable2(
        grads,
        state,
        &mut |p: &mut [f32], g: &mut [f32], s: &mut [U::Slot]| {
            update.update(p, g, s);
        },
    );
    Ok(())
}
