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
    match first_non_finite(x.as_flattened()) {
        Some(k) => Err(Error::NonFiniteInput { row: k / IN }),
        None => Ok(()),
    }
}

/// Whether every value is finite (no NaN, no infinity).
#[inline]
fn all_finite(v: &[f32]) -> bool {
    first_non_finite(v).is_none()
}

/// The index of the first NaN or infinity of `v`, if any; exact both ways.
///
/// A training step checks every input and every trainable parameter, so this is a large part
/// of a small model's step; each target gets the test it computes with the fewest
/// instructions:
/// - on `x86_64`: [`exponents_finite`], vectorized, then (only if it fails) the scan below;
/// - with a floating-point unit: [`products_finite`] on the blocks of 8 values, half an
///   instruction per value; then the value-by-value test on the rest, or on all of `v` if the
///   blocks' result is not finite (which finite values can also give, by overflow), which
///   also finds the index;
/// - without one (soft float: Cortex-M0, RISC-V without `F`): the value-by-value test alone,
///   a few integer instructions per value instead of a library call.
///
/// Not inlined: one copy serves the input check and every parameter slice.
#[inline(never)]
fn first_non_finite(v: &[f32]) -> Option<usize> {
    if cfg!(target_arch = "x86_64") && exponents_finite(v) {
        return None;
    }
    scan(v, HARD_FLOAT)
}

/// `true` exactly when every value is finite, in integer operations that vectorize (a float
/// reduction does not): the exponent field plus one carries into the sign bit exactly when it
/// is all ones (an infinity or a NaN), and the sign bits are OR-ed together. The test of
/// vector targets (`x86_64`), where it costs a fraction of an instruction per value.
#[inline(always)]
fn exponents_finite(v: &[f32]) -> bool {
    let mut acc = 0u32;
    for &x in v {
        acc |= (x.to_bits() & INFINITY_BITS) + 0x0080_0000;
    }
    acc & 0x8000_0000 == 0
}

/// [`first_non_finite`], with the products' pre-test or without it (both exact; a parameter so
/// that the tests run both on any target).
#[inline(always)]
fn scan(v: &[f32], products: bool) -> Option<usize> {
    let (blocks, rest) = v.as_chunks::<8>();
    let start = if products && products_finite(blocks) {
        v.len() - rest.len()
    } else {
        0
    };
    // NaN or infinite exactly when the 8 exponent bits are all ones, i.e. when `bits << 1`
    // (the sign shifted out) is at least `0xff00_0000`: integer instructions only.
    let k = v[start..]
        .iter()
        .position(|x| x.to_bits() << 1 >= 0xff00_0000)?;
    Some(start + k)
}

/// Whether `f32` arithmetic is done in hardware on this target. Only the speed of
/// [`first_non_finite`] depends on it, never its result.
const HARD_FLOAT: bool = cfg!(any(
    not(target_os = "none"),
    target_abi = "eabihf",
    target_feature = "f"
));

/// `true` only if every value is finite: `Σ c[2k]·c[2k+1]` is finite.
///
/// A product with a NaN or an infinity as a factor is NaN or infinite (`∞·0` is NaN), and a sum
/// with a NaN or an infinite term stays NaN or infinite (`∞ − ∞` is NaN), so a finite result
/// proves every value finite. The converse does not hold (finite values near `1e19` can
/// overflow a product), hence the exact test after a `false`. One multiply-accumulate (a
/// single `vmla.f32` on a Cortex-M4F, which rounds like a multiply and an add) per two values.
#[inline(always)]
fn products_finite(blocks: &[[f32; 8]]) -> bool {
    let mut a = 0.0f32;
    for c in blocks {
        a += c[0] * c[1];
        a += c[2] * c[3];
        a += c[4] * c[5];
        a += c[6] * c[7];
    }
    a.is_finite()
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

#[cfg(test)]
mod tests {
    extern crate std;

    use super::scan;
    use std::vec::Vec;

    /// `scan` (with and without the products' pre-test) against the plain definition.
    fn check(v: &[f32]) {
        let want = v.iter().position(|x| !x.is_finite());
        for products in [true, false] {
            assert_eq!(scan(v, products), want, "products {products}: {v:?}");
        }
    }

    const SPECIAL: [f32; 12] = [
        0.0,
        -0.0,
        1.0,
        -1.5,
        f32::MIN_POSITIVE,
        1e-45,
        -1e-45,
        f32::MAX,
        f32::MIN,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ];

    #[test]
    fn finds_the_first_non_finite_value_exactly() {
        // Every special value at every position of slices up to three blocks and a rest, in a
        // background of finite values (and of the largest finite ones, whose products overflow).
        for background in [0.25f32, -3.0, f32::MAX, 0.0] {
            for len in 0..28 {
                for pos in 0..len {
                    for bad in SPECIAL {
                        let mut v: Vec<f32> = (0..len).map(|_| background).collect();
                        v[pos] = bad;
                        check(&v);
                        // A second special value later does not hide the first.
                        if pos + 3 < len {
                            v[pos + 3] = f32::NAN;
                            check(&v);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn infinity_times_zero_and_cancelling_infinities_are_caught() {
        // ∞·0 is NaN, and +∞ in one pair with −∞ in another sums to NaN: both non-finite.
        check(&[f32::INFINITY, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        check(&[0.0, f32::NEG_INFINITY, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        check(&[
            f32::INFINITY,
            1.0,
            f32::NEG_INFINITY,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
        ]);
        // NaNs with any payload and sign.
        for bits in [
            0x7fc0_0000u32,
            0xffc0_0000,
            0x7f80_0001,
            0xff80_0001,
            0x7fff_ffff,
        ] {
            let mut v = [1.0f32; 16];
            v[13] = f32::from_bits(bits);
            assert!(v[13].is_nan());
            check(&v);
        }
    }

    #[test]
    fn finite_values_whose_products_overflow_are_finite() {
        // The pre-test overflows (1e30·1e30), the exact test then finds nothing.
        let v = [1e30f32; 24];
        assert_eq!(scan(&v, true), None);
        let v = [
            f32::MAX,
            f32::MAX,
            f32::MIN,
            f32::MAX,
            2.0,
            2.0,
            2.0,
            2.0,
            1.0,
        ];
        assert_eq!(scan(&v, true), None);
    }
}
