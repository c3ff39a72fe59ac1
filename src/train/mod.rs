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

/// Whether every value is finite.
///
/// On `x86_64` in integer operations that vectorize (a float reduction does not): the
/// exponent field plus one carries into the sign bit exactly when it is all ones (an infinity
/// or a NaN), and the sign bits are OR-ed together. Elsewhere (microcontrollers, no vectors)
/// one float sum, a single add per value, then, only if the sum is not finite (which finite
/// values of magnitude near `f32::MAX` can also give), a value-by-value check.
#[inline]
fn all_finite(v: &[f32]) -> bool {
    if cfg!(target_arch = "x86_64") {
        let mut acc = 0u32;
        for &x in v {
            acc |= (x.to_bits() & INFINITY_BITS) + 0x0080_0000;
        }
        acc & 0x8000_0000 == 0
    } else {
        let mut s = 0.0f32;
        for &x in v {
            s += x;
        }
        s.is_finite() || v.iter().all(|x| x.is_finite())
    }
}

/// The bits of `+∞`, the exponent field's mask.
const INFINITY_BITS: u32 = 0x7f80_0000;

/// The top 16 bits of the largest `|v|`: the exponent and 7 bits of the significand, with no
/// sign. For those the integer order is the float order, an infinity or a NaN gives
/// [`NON_FINITE_TOP`] or more, and a 16-bit signed maximum vectorizes on every x86-64 (where a
/// float or 32-bit maximum needs SSE4.1).
#[inline]
fn max_abs_top(v: &[f32]) -> i16 {
    let mut m = 0i16;
    for &x in v {
        m = m.max(((x.to_bits() >> 16) & 0x7fff) as i16);
    }
    m
}

/// [`max_abs_top`] of an infinity (and the least of a NaN).
const NON_FINITE_TOP: i16 = 0x7f80;

/// An upper bound of the values whose [`max_abs_top`] is `top` (finite if `top` is below
/// [`NON_FINITE_TOP`]).
fn top_bound(top: i16) -> f32 {
    f32::from_bits(((top as u32) << 16) | 0xffff)
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

/// Applies `update` from a gradient buffer, or fails leaving `model` and `state` untouched.
///
/// The gradients must be finite. Then either the rule's [`Update::max_change`] bound proves
/// that no parameter can overflow, or the update is first computed on copies, in chunks, and
/// checked finite; the second pass repeats the same operations on the same values, so it
/// writes exactly what was checked.
fn buffered_update<M: Params, U: Update>(
    model: &mut M,
    grads: &mut M::Like<f32>,
    state: &mut M::Like<U::Slot>,
    update: &U,
) -> Result<(), Error> {
    let mut grad_top = 0i16;
    M::visit_like(grads, &mut |g: &[f32]| {
        grad_top = grad_top.max(max_abs_top(g))
    });
    if grad_top >= NON_FINITE_TOP {
        return Err(Error::NonFiniteGradient);
    }
    let mut param_top = 0i16;
    let mut none = <M::Like<()>>::ZERO;
    model.visit_trainable(&mut none, &mut |p: &mut [f32], _: &mut [()]| {
        param_top = param_top.max(max_abs_top(p));
    });
    let (max_grad, max_param) = (top_bound(grad_top), top_bound(param_top));
    // Far below f32::MAX: `p − Δ` then rounds to a finite value.
    let safe = update
        .max_change(max_param, max_grad)
        .is_some_and(|d| max_param + d < f32::MAX / 4.0);
    if safe {
        model.visit_trainable2(
            grads,
            state,
            &mut |p: &mut [f32], g: &mut [f32], s: &mut [U::Slot]| {
                update.update(p, g, s);
            },
        );
        return Ok(());
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
