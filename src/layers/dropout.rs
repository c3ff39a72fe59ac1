//! Inverted dropout, with a generator of its own.

use crate::error::{Error, Hyperparameter};
use crate::module::{Backward, Batch, Module, Params, Zeroed};
use crate::optim::Update;

/// A dropout probability: the chance that each activation is *dropped* (zeroed) in training,
/// as PyTorch's `nn.Dropout(p)`. Validated: finite and `0 ≤ p < 1`.
///
/// # Examples
///
/// ```
/// use constnn::{DropRate, Error, Hyperparameter};
///
/// let p = DropRate::new(0.3)?; // 30 % of the activations are dropped, 70 % kept
/// assert_eq!(p.get(), 0.3);
/// assert_eq!(p.keep(), 0.7);
/// assert_eq!(DropRate::new(1.0), Err(Error::InvalidHyperparameter(Hyperparameter::DropRate)));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct DropRate(f32);

impl DropRate {
    /// PyTorch's default, `0.5`.
    pub const DEFAULT: Self = Self(0.5);

    /// The drop probability `p`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHyperparameter`]`(`[`Hyperparameter::DropRate`]`)` unless `p` is finite
    /// and `0 ≤ p < 1` (`p = 1` would drop everything and scale the survivors by `1/0`).
    pub const fn new(p: f32) -> Result<Self, Error> {
        if p.is_finite() && p >= 0.0 && p < 1.0 {
            Ok(Self(p))
        } else {
            Err(Error::InvalidHyperparameter(Hyperparameter::DropRate))
        }
    }

    /// The drop probability `p`.
    pub const fn get(self) -> f32 {
        self.0
    }

    /// The keep probability `1 − p` (in `f32`).
    pub const fn keep(self) -> f32 {
        1.0 - self.0
    }
}

/// Inverted dropout: in training, each activation is zeroed with probability `p` and the
/// survivors are scaled by `1/(1 − p)`; inference ([`Module::forward`]) is the identity.
///
/// This is PyTorch's `nn.Dropout(p)`: the expected training output equals the input, so the
/// next layer sees activations of the same scale in training and in evaluation, and nothing
/// is to be done at evaluation time. (The series' Dropout notebook uses the *non-inverted*
/// convention instead: survivors are not scaled in training and nothing is scaled at
/// evaluation, so a layer after it sees activations `1/(1 − p)` larger on average at
/// evaluation than it was trained on; a plain ReLU network still classifies well, as the
/// argmax is unchanged by a uniform scale, but its biases and loss values are off by that
/// shift. With inverted dropout the trained weights are `1 − p` times the non-inverted ones
/// for the same function.)
///
/// Train and eval mode are two calls: [`Backward::forward_train`] draws a mask and applies it;
/// [`Module::forward`] never does and changes nothing, so evaluating mid-training is just
/// `model.forward(&x)`.
///
/// # The mask generator
///
/// The layer owns its generator: a xorshift128 (Marsaglia's, the algorithm of
/// [`XorShiftRng`](crate::XorShiftRng)), 16 bytes of state, so the masks are the same bits on
/// every target. Each activation, row by row, takes one `u32` draw `r` and is kept if
/// `r ≥ ⌊p·2³²⌋`, so the keep probability is `1 − p` to within `2⁻³²`. [`Params::init`] seeds
/// the generator from the model's generator (four `u32` draws), so one seed fixes the whole run
/// and two dropout layers in one model draw different masks. With `p = 0` the layer is the
/// identity in training too and draws nothing.
///
/// The generator state is not among the stored values (a trained model does not need it, so
/// [`save_weights`](crate::format::save_weights) leaves it out); it is the layer's
/// [`NUM_RNG_WORDS`](Params::NUM_RNG_WORDS) = 4 words of generator state, which a trainer's
/// checkpoint saves and restores, so training resumed from a checkpoint draws the exact masks
/// of an uninterrupted run. [`rng_state`](Dropout::rng_state) and
/// [`set_rng_state`](Dropout::set_rng_state) read and set it directly (to draw the same mask
/// twice, in gradient checks).
///
/// A training step that fails after its forward pass (a non-finite loss, say) has drawn its
/// mask: the generator has advanced.
///
/// # Memory
///
/// The layer is 28 bytes. Its training cache, [`DropoutMask`], is the 16-byte generator state
/// the batch's mask was drawn from, whatever the batch and width: the backward pass draws the
/// same mask again (one `u32` per activation) instead of storing one bit or byte per
/// activation.
///
/// # Examples
///
/// ```
/// use constnn::{Backward, DropRate, Dropout, Module, Params, Zeroed};
/// use constnn::rand_core::SeedableRng;
///
/// let mut drop = Dropout::new(DropRate::new(0.5)?);
/// drop.init(&mut constnn::XorShiftRng::seed_from_u64(0)); // seeds the mask generator
/// let x = [[1.0f32; 8]; 2];
/// assert_eq!(drop.forward(&x), x); // inference: the identity
///
/// let mut cache = Zeroed::ZERO;
/// let y = drop.forward_train(&x, &mut cache);
/// // Each value is dropped (0) or kept and scaled by 1 / (1 - 0.5) = 2.
/// assert!(y.as_flattened().iter().all(|&v| v == 0.0 || v == 2.0));
/// let dx = drop.backward_input(&cache, &[[1.0; 8]; 2]);
/// assert_eq!(dx, y); // the same mask and scale
/// # Ok::<(), constnn::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    /// `⌊p·2³²⌋`: a draw below it drops the activation.
    threshold: u32,
    /// The drop probability, as given.
    rate: DropRate,
    /// `1/(1 − p)`, computed once in `f32`.
    scale: f32,
    /// xorshift128 state `[x, y, z, w]`, never all zero.
    state: [u32; 4],
}

/// Marsaglia's example seed of xorshift128 (2003): the state of [`Dropout::new`], and the
/// replacement for an all-zero state, which xorshift never leaves.
const DEFAULT_STATE: [u32; 4] = [123_456_789, 362_436_069, 521_288_629, 88_675_123];

/// A dropout layer's training cache: the generator state its mask was drawn from.
///
/// The backward pass replays the generator from this state to redraw the mask, so the cache
/// is 16 bytes whatever the batch and width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropoutMask {
    state: [u32; 4],
}

impl Zeroed for DropoutMask {
    const ZERO: Self = Self { state: [0; 4] };
}

impl DropoutMask {
    /// The generator state the batch's mask was drawn from.
    pub const fn rng_state(&self) -> [u32; 4] {
        self.state
    }
}

/// One xorshift128 step (Marsaglia 2003, the `xor128` of the paper: XorShiftRng's `next_u32`).
#[inline(always)]
fn next(s: &mut [u32; 4]) -> u32 {
    let x = s[0];
    let t = x ^ (x << 11);
    s[0] = s[1];
    s[1] = s[2];
    s[2] = s[3];
    let w = s[3];
    s[3] = w ^ (w >> 19) ^ (t ^ (t >> 8));
    s[3]
}

/// `⌊p·2³²⌋` for `0 ≤ p < 1`, exactly, in integer arithmetic (no `f64`, which is software
/// on the Cortex-M): `p = m·2^(e − 150)` with the 24-bit significand `m`, so
/// `p·2³² = m·2^(e − 118)`, and `e ≤ 126` keeps it below 2³².
const fn threshold(p: f32) -> u32 {
    let bits = p.to_bits();
    let e = ((bits >> 23) & 0xff) as i32;
    if e == 0 {
        return 0; // ±0 or subnormal: p·2³² < 2⁻⁹⁴
    }
    let m = (bits & 0x007f_ffff) | 0x0080_0000;
    let shift = e - 118;
    if shift >= 0 {
        m << shift
    } else if shift > -32 {
        m >> -shift
    } else {
        0
    }
}

impl Dropout {
    /// A dropout layer with drop probability `rate`, its generator in a fixed default state
    /// (call [`Params::init`] or [`set_rng_state`](Dropout::set_rng_state) to seed it).
    pub const fn new(rate: DropRate) -> Self {
        let p = rate.get();
        Self {
            threshold: threshold(p),
            rate,
            scale: 1.0 / (1.0 - p),
            state: DEFAULT_STATE,
        }
    }

    /// The drop probability.
    pub const fn rate(&self) -> DropRate {
        self.rate
    }

    /// The scale of the kept activations in training, `1/(1 − p)` (in `f32`).
    pub const fn scale(&self) -> f32 {
        self.scale
    }

    /// The mask generator's state (xorshift128 `[x, y, z, w]`): the next mask depends on it
    /// alone.
    pub const fn rng_state(&self) -> [u32; 4] {
        self.state
    }

    /// Sets the mask generator's state (an all-zero state, which xorshift never leaves, is
    /// replaced by the default state).
    pub const fn set_rng_state(&mut self, state: [u32; 4]) {
        let zero = state[0] == 0 && state[1] == 0 && state[2] == 0 && state[3] == 0;
        self.state = if zero { DEFAULT_STATE } else { state };
    }

    /// `y = x · mask · scale` with the mask drawn from `state`, advancing it.
    #[inline]
    fn apply<const B: usize, const N: usize>(&self, state: &mut [u32; 4], v: &mut Batch<B, N>) {
        if self.threshold == 0 {
            return; // p = 0: the identity, nothing drawn
        }
        let scale = self.scale();
        for v in v.as_flattened_mut() {
            *v = if next(state) >= self.threshold {
                *v * scale
            } else {
                0.0
            };
        }
    }
}

impl Zeroed for Dropout {
    /// PyTorch's default: `p = 0.5` (not 0, which would be the identity), the generator in its
    /// default state.
    const ZERO: Self = Self::new(DropRate::DEFAULT);
}

impl Default for Dropout {
    fn default() -> Self {
        Self::ZERO
    }
}

impl Params for Dropout {
    crate::layers::no_trainable_params!();
    const NUM_STORED: usize = 0;
    /// The mask generator's xorshift128 state: a checkpoint saves it.
    const NUM_RNG_WORDS: usize = 4;
    const SIGNATURE: u64 = crate::layer_signature("Dropout", &[]);

    /// Seeds the mask generator with four `u32` draws from `rng` (redrawn in the
    /// astronomically unlikely case that all four are zero).
    fn init<R: rand_core::Rng + ?Sized>(&mut self, rng: &mut R) {
        let mut state = [0; 4];
        for _ in 0..8 {
            state = [
                rng.next_u32(),
                rng.next_u32(),
                rng.next_u32(),
                rng.next_u32(),
            ];
            if state != [0; 4] {
                break;
            }
        }
        self.set_rng_state(state);
    }

    fn visit<F: FnMut(&[f32])>(&self, _f: &mut F) {}
    fn visit_mut<F: FnMut(&mut [f32])>(&mut self, _f: &mut F) {}

    fn visit_rng<F: FnMut(&[u32])>(&self, f: &mut F) {
        f(&self.state);
    }

    /// A state of all zeros (which xorshift128 cannot leave) becomes the default seed, as in
    /// [`Dropout::set_rng_state`].
    fn visit_rng_mut<F: FnMut(&mut [u32])>(&mut self, f: &mut F) {
        let mut state = self.state;
        f(&mut state);
        self.set_rng_state(state);
    }
}

impl<const B: usize, const N: usize> Module<Batch<B, N>> for Dropout {
    type Output = Batch<B, N>;

    /// Inference: the identity.
    fn forward(&self, x: &Batch<B, N>) -> Batch<B, N> {
        *x
    }
}

impl<const B: usize, const N: usize> Backward<Batch<B, N>> for Dropout {
    /// The generator state the mask was drawn from.
    type Cache = DropoutMask;

    fn forward_train(&mut self, x: &Batch<B, N>, cache: &mut DropoutMask) -> Batch<B, N> {
        cache.state = self.state;
        let mut y = *x;
        let mut state = self.state;
        self.apply(&mut state, &mut y);
        self.state = state;
        y
    }

    fn backward(&self, cache: &DropoutMask, dy: &Batch<B, N>, _: &mut ()) -> Batch<B, N> {
        self.backward_input(cache, dy)
    }

    fn backward_params(&self, _: &DropoutMask, _: &Batch<B, N>, _: &mut ()) {}

    fn backward_input(&self, cache: &DropoutMask, dy: &Batch<B, N>) -> Batch<B, N> {
        let mut dx = *dy;
        let mut state = cache.state;
        self.apply(&mut state, &mut dx);
        dx
    }

    fn backward_step<U: Update>(
        &mut self,
        cache: &DropoutMask,
        dy: &Batch<B, N>,
        _: &U,
        _: &mut (),
    ) -> Batch<B, N> {
        self.backward_input(cache, dy)
    }

    fn backward_step_params<U: Update>(
        &mut self,
        _: &DropoutMask,
        _: &Batch<B, N>,
        _: &U,
        _: &mut (),
    ) {
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::{Rng, SeedableRng};

    #[test]
    fn generator_is_xorshift_rng() {
        let mut rng = rand_xorshift::XorShiftRng::seed_from_u64(5);
        let mut copy = rng.clone();
        let mut d = Dropout::ZERO;
        d.init(&mut copy);
        let mut state = d.rng_state();
        let mut twin = rand_xorshift::XorShiftRng::from_seed(core::array::from_fn(|i| {
            state[i / 4].to_le_bytes()[i % 4]
        }));
        for _ in 0..100 {
            assert_eq!(next(&mut state), twin.next_u32());
        }
        // init took exactly four draws.
        for _ in 0..4 {
            rng.next_u32();
        }
        assert_eq!(rng.next_u32(), copy.next_u32());
    }

    #[test]
    fn thresholds() {
        assert_eq!(Dropout::new(DropRate::new(0.0).unwrap()).threshold, 0);
        assert_eq!(Dropout::new(DropRate::new(0.5).unwrap()).threshold, 1 << 31);
        assert_eq!(
            Dropout::new(DropRate::new(0.25).unwrap()).threshold,
            1 << 30
        );
        let almost_one = f32::from_bits(1.0f32.to_bits() - 1);
        let d = Dropout::new(DropRate::new(almost_one).unwrap());
        assert_eq!(d.threshold, u32::MAX - 255);
        assert_eq!(d.scale(), 16_777_216.0);
        // ⌊p·2³²⌋ exactly (f64 is exact here: 24 significant bits times a power of two).
        for bits in (0..1.0f32.to_bits()).step_by(997) {
            let p = f32::from_bits(bits);
            assert_eq!(
                threshold(p),
                (f64::from(p) * 4_294_967_296.0) as u32,
                "{p:e}"
            );
        }
        assert_eq!(threshold(-0.0), 0);
    }
}
