//! Saving and loading whole models and checkpoints in constnn's own [container](super::container).
//!
//! A model's blob holds every stored value ([`Params::visit`] order: trainable parameters,
//! frozen parameters, running statistics) under the model's [`Params::SIGNATURE`], so weights
//! of another structure never load, even with the same parameter count. A checkpoint adds the
//! optimizer state ([`StateOf<M, O>`](crate::StateOf), in the trainable parameters' order) and
//! the step count, so training resumes bit-identically after a reset.

use super::container::{Blob, Encoder, blob_len_f32, mix_signature};
use crate::error::Error;
use crate::module::{Backward, Params};
use crate::optim::{Optimizer, Slot, SlotOf, StateOf};
use crate::signature::layer_signature;
use crate::train::{BufferedTrainer, Trainer};

/// The exact byte length of model `M`'s weights blob ([`save_weights`]), for a
/// `static [u8; weights_len::<M>()]` buffer.
///
/// # Examples
///
/// ```
/// use constnn::{Linear, Relu, weights_len};
///
/// type Mlp = (Linear<64, 32>, Relu, Linear<32, 10>);
/// static FLASH_PAGE: [u8; weights_len::<Mlp>()] = [0; weights_len::<Mlp>()];
/// assert_eq!(FLASH_PAGE.len(), 32 + 4 * 2410 + 4);
/// ```
pub const fn weights_len<M: Params>() -> usize {
    blob_len_f32(M::NUM_STORED, 0)
}

/// The exact byte length of a checkpoint of model `M` trained with optimizer `O`.
///
/// # Examples
///
/// ```
/// use constnn::{Adam, Linear, Sgd, checkpoint_len, weights_len};
///
/// type L = Linear<4, 2>;
/// assert_eq!(checkpoint_len::<L, Sgd>(), weights_len::<L>()); // SGD keeps no state
/// assert_eq!(checkpoint_len::<L, Adam>(), weights_len::<L>() + 2 * 4 * 10);
/// ```
pub const fn checkpoint_len<M: Params, O: Optimizer>() -> usize {
    blob_len_f32(M::NUM_STORED, state_words::<M, O>())
}

/// The 4-byte words of a checkpoint's state section: the optimizer state, then the model's
/// generator states.
const fn state_words<M: Params, O: Optimizer>() -> usize {
    M::NUM_PARAMS * <SlotOf<O> as Slot>::LEN + M::NUM_RNG_WORDS
}

/// The signature of a checkpoint: the model's, mixed with the optimizer's name and slot size,
/// so that a checkpoint of another optimizer never loads.
const fn checkpoint_signature<M: Params, O: Optimizer>() -> u64 {
    mix_signature(
        M::SIGNATURE,
        layer_signature(O::NAME, &[<SlotOf<O> as Slot>::LEN as u64]),
    )
}

/// Writes `model`'s weights into `out` (at least [`weights_len::<M>()`](weights_len) bytes);
/// returns the bytes written.
///
/// # Errors
///
/// [`Error::BufferTooSmall`] if `out` is too short (nothing is written then).
///
/// # Examples
///
/// ```
/// use constnn::{Linear, Params, Relu, Zeroed, load_weights, save_weights, weights_len};
/// use constnn::rand_core::SeedableRng;
///
/// type Mlp = (Linear<4, 8>, Relu, Linear<8, 3>);
/// let mut a = Mlp::ZERO;
/// a.init(&mut constnn::XorShiftRng::seed_from_u64(1));
/// let mut blob = [0u8; weights_len::<Mlp>()];
/// save_weights(&a, &mut blob)?;
///
/// let mut b = Mlp::ZERO;
/// load_weights(&mut b, &blob)?;
/// assert_eq!(a, b);
///
/// // Another structure with the same parameter count is refused, and left untouched.
/// let mut c = (Linear::<8, 4>::ZERO, Relu, Linear::<4, 6>::ZERO);
/// assert!(load_weights(&mut c, &blob[..]).is_err());
/// # Ok::<(), constnn::Error>(())
/// ```
pub fn save_weights<M: Params>(model: &M, out: &mut [u8]) -> Result<usize, Error> {
    let mut enc = Encoder::new(out, M::SIGNATURE, M::NUM_STORED)?;
    model.visit(&mut |p: &[f32]| enc.push(p));
    enc.finish()
}

/// Loads weights saved by [`save_weights`] into `model`. The whole blob is validated first; `model` is changed only if it is valid.
///
/// # Errors
///
/// The first problem found, each its own variant: [`Error::BadMagic`],
/// [`Error::UnsupportedVersion`], [`Error::WrongDtype`], [`Error::SignatureMismatch`]
/// (another model), [`Error::PayloadLengthMismatch`], [`Error::Truncated`],
/// [`Error::ChecksumMismatch`], … (see [`container`](super::container)).
pub fn load_weights<M: Params>(model: &mut M, bytes: &[u8]) -> Result<(), Error> {
    let blob = Blob::parse(bytes, M::SIGNATURE, M::NUM_STORED, None)?;
    let mut values = blob.payload();
    model.visit_mut(&mut |p: &mut [f32]| {
        values.fill(p);
    });
    Ok(())
}

/// Writes a checkpoint: the model's stored values, the optimizer state and the step count.
fn save_checkpoint_parts<M: Params, O: Optimizer>(
    model: &M,
    state: &StateOf<M, O>,
    steps: u64,
    out: &mut [u8],
) -> Result<usize, Error> {
    let sig = checkpoint_signature::<M, O>();
    let mut enc = Encoder::checkpoint(out, sig, M::NUM_STORED, state_words::<M, O>(), steps)?;
    model.visit(&mut |p: &[f32]| enc.push(p));
    M::visit_like(state, &mut |s: &[SlotOf<O>]| enc.push(Slot::floats(s)));
    model.visit_rng(&mut |w: &[u32]| enc.push_words(w));
    enc.finish()
}

/// Validates a checkpoint completely, then loads it.
fn load_checkpoint_parts<M: Params, O: Optimizer>(
    model: &mut M,
    state: &mut StateOf<M, O>,
    steps: &mut u64,
    bytes: &[u8],
) -> Result<(), Error> {
    let sig = checkpoint_signature::<M, O>();
    let blob = Blob::parse(bytes, sig, M::NUM_STORED, Some(state_words::<M, O>()))?;
    let mut values = blob.payload();
    model.visit_mut(&mut |p: &mut [f32]| {
        values.fill(p);
    });
    let mut values = blob.state();
    M::visit_like_mut(state, &mut |s: &mut [SlotOf<O>]| {
        values.fill(Slot::floats_mut(s));
    });
    model.visit_rng_mut(&mut |w: &mut [u32]| {
        values.fill_words(w);
    });
    *steps = blob.step().unwrap_or(0);
    Ok(())
}

macro_rules! checkpoint_methods {
    ($T:ident) => {
        impl<M: Backward<X>, X, O: Optimizer> $T<M, X, O> {
            /// Writes a checkpoint of `model` and this trainer's optimizer state and step
            /// count into `out` (at least [`checkpoint_len::<M, O>()`](checkpoint_len) bytes);
            /// returns the bytes written.
            ///
            /// # Errors
            ///
            /// [`Error::BufferTooSmall`] if `out` is too short.
            pub fn save_checkpoint(&self, model: &M, out: &mut [u8]) -> Result<usize, Error> {
                save_checkpoint_parts::<M, O>(model, self.state(), self.steps(), out)
            }

            /// Restores `model`, the optimizer state and the step count from a checkpoint of
            /// [`save_checkpoint`](Self::save_checkpoint): training then goes on exactly as if
            /// it had never stopped. The whole blob is validated first; nothing is changed
            /// unless it is valid.
            ///
            /// # Errors
            ///
            /// As [`load_weights`], plus [`Error::NotACheckpoint`] and
            /// [`Error::StateLengthMismatch`]; a checkpoint of another model or optimizer is
            /// [`Error::SignatureMismatch`].
            pub fn load_checkpoint(&mut self, model: &mut M, bytes: &[u8]) -> Result<(), Error> {
                let (state, steps) = self.state_mut();
                load_checkpoint_parts::<M, O>(model, state, steps, bytes)
            }
        }
    };
}

checkpoint_methods!(Trainer);
checkpoint_methods!(BufferedTrainer);
