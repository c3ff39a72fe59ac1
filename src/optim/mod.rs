//! Optimizers: the update rule as a trait, with per-parameter state of a compile-time size.
//!
//! An [`Optimizer`] holds validated hyperparameters. Once per training step it is asked for
//! that step's [`Update`] ([`Optimizer::begin`], given the step number), which holds every
//! scalar the step needs (for [`Adam`], the bias corrections) and applies the update rule
//! elementwise to a slice of parameters, their gradients and their state slots. The state of
//! a whole model is one value shaped like its parameters, [`StateOf<M, O>`], with a slot of
//! [`SlotOf<O>`] (`[f32; K]`) per trainable parameter: `K = 0` for [`Sgd`], 1 for
//! [`Momentum`] and [`RmsProp`], 2 for [`Adam`] and [`AdamW`].
//!
//! The update rules are PyTorch's documented ones (`torch.optim`), computed in `f32`; each
//! type's documentation states the formula and where it differs.

mod adam;
mod momentum;
mod rmsprop;
mod sgd;

pub use adam::{Adam, AdamStep, AdamW, AdamWStep};
pub use momentum::{Momentum, MomentumStep};
pub use rmsprop::{RmsProp, RmsPropStep};
pub use sgd::Sgd;

use crate::module::{Params, Zeroed};

/// One optimizer state slot: `[f32; K]`, `K` values per trainable parameter.
///
/// Sealed: only `[f32; K]` implements it, so a model's optimizer state is always plain `f32`s
/// (what checkpoints store, [`Slot::LEN`] per parameter).
pub trait Slot: Zeroed + Copy + sealed::Sealed {
    /// The number of `f32` values in one slot.
    const LEN: usize;

    /// The slots of `s` as one flat slice of `f32`.
    fn floats(s: &[Self]) -> &[f32];

    /// The slots of `s` as one flat mutable slice of `f32`.
    fn floats_mut(s: &mut [Self]) -> &mut [f32];
}

impl<const K: usize> Slot for [f32; K] {
    const LEN: usize = K;

    fn floats(s: &[Self]) -> &[f32] {
        s.as_flattened()
    }

    fn floats_mut(s: &mut [Self]) -> &mut [f32] {
        s.as_flattened_mut()
    }
}

mod sealed {
    pub trait Sealed {}
    impl<const K: usize> Sealed for [f32; K] {}
}

/// The update of one training step, applied elementwise.
///
/// The fused step calls [`update`](Update::update) on each tile or row of a layer as soon as
/// its gradient is known, the buffered step on whole parameter slices: since the rule is
/// elementwise, both give the same bits.
pub trait Update: Copy {
    /// The state kept per trainable parameter.
    type Slot: Slot;

    /// Updates `params[k]` from `grads[k]` and `slots[k]`, for every `k` of the common length
    /// (the three slices have the same length wherever the crate calls this).
    fn update(&self, params: &mut [f32], grads: &[f32], slots: &mut [Self::Slot]);

    /// An upper bound of `|Δp|`, the change of any parameter with `|p| ≤ max_param` and
    /// `|g| ≤ max_grad`, whatever its state; `None` (the default) if the rule has no bound
    /// independent of the state.
    ///
    /// The buffered step uses it to skip a trial run: with a bound `d` and
    /// `max_param + d` far below `f32::MAX`, no parameter can overflow.
    fn max_change(&self, max_param: f32, max_grad: f32) -> Option<f32> {
        let _ = (max_param, max_grad);
        None
    }
}

/// An update rule with validated hyperparameters.
///
/// # Examples
///
/// An optimizer of one's own (plain SGD with a learning rate halved every step):
///
/// ```
/// use constnn::{Optimizer, Update};
///
/// #[derive(Clone, Copy)]
/// struct Halving(f32);
///
/// impl Update for Halving {
///     type Slot = [f32; 0];
///     fn update(&self, params: &mut [f32], grads: &[f32], _: &mut [[f32; 0]]) {
///         for (p, &g) in params.iter_mut().zip(grads) {
///             *p -= self.0 * g;
///         }
///     }
/// }
///
/// struct Decaying { lr: f32 }
///
/// impl Optimizer for Decaying {
///     type Step = Halving;
///     fn begin(&self, step: u64) -> Halving {
///         Halving(self.lr / (1u64 << step.min(60)) as f32)
///     }
/// }
///
/// let mut p = [1.0f32];
/// Decaying { lr: 1.0 }.begin(1).update(&mut p, &[1.0], &mut [[]]);
/// assert_eq!(p, [0.5]);
/// ```
pub trait Optimizer {
    /// What one step needs; computed once per step by [`begin`](Optimizer::begin).
    type Step: Update;

    /// The update of step number `step` (1 for the first step).
    fn begin(&self, step: u64) -> Self::Step;
}

/// The state slot of optimizer `O`: `[f32; K]`.
pub type SlotOf<O> = <<O as Optimizer>::Step as Update>::Slot;

/// The optimizer state of model `M` under optimizer `O`: one [`SlotOf<O>`] per trainable
/// parameter, shaped like the parameters (`Linear<IN, OUT, [f32; K]>` for a `Linear`, a tuple
/// for a model). A `const` zero value exists, so it can be a `static`.
///
/// # Examples
///
/// ```
/// use constnn::{Adam, Linear, Relu, Sgd, StateOf, Zeroed};
///
/// type Mlp = (Linear<64, 32>, Relu, Linear<32, 10>);
/// static ADAM_STATE: StateOf<Mlp, Adam> = Zeroed::ZERO;
/// assert_eq!(size_of_val(&ADAM_STATE), 2 * 4 * 2410); // m and v per parameter
/// assert_eq!(size_of::<StateOf<Mlp, Sgd>>(), 0);
/// ```
pub type StateOf<M, O> = <M as Params>::Like<SlotOf<O>>;

/// `base^n` in `f64` by binary exponentiation: a fixed sequence of IEEE multiplications, so
/// the same bits on every target (unlike `powf`, whose last bits depend on the library).
pub(crate) fn powi_f64(base: f64, mut n: u64) -> f64 {
    let (mut acc, mut b) = (1.0f64, base);
    while n > 0 {
        if n & 1 == 1 {
            acc *= b;
        }
        b *= b;
        n >>= 1;
    }
    acc
}

/// `Ok(v)` if `v` is finite and `lo ≤ v < hi` (or `≤ hi` with `hi_inclusive`).
pub(crate) const fn in_range(v: f32, lo: f32, hi: f32, hi_inclusive: bool) -> bool {
    v.is_finite() && v >= lo && (v < hi || (hi_inclusive && v == hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powi_is_exact_for_small_cases() {
        assert_eq!(powi_f64(0.5, 10), 1.0 / 1024.0);
        assert_eq!(powi_f64(0.9, 0), 1.0);
        assert_eq!(powi_f64(0.9, 1), 0.9);
        assert_eq!(powi_f64(0.9, 2), 0.9 * 0.9);
        let p = powi_f64(0.999, 1000);
        // Each squaring doubles the relative error: about 1e-14 here, far below f32 rounding.
        assert!((p - 0.36769542477096373).abs() < 1e-13);
    }
}
