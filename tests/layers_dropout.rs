//! `Dropout`: the statistics of its masks, their pinned bits, inverted scaling, train/eval
//! mode, its generator and its compact cache.

mod common;

use common::rand_batch;
use constnn::rand_core::{Rng, SeedableRng};
use constnn::{
    Backward, Batch, CacheOf, DropRate, Dropout, DropoutMask, Error, Hyperparameter, Linear,
    Module, Params, Relu, XorShiftRng, Zeroed,
};

/// A zeroed cache (its type inferred).
fn fresh<T: Zeroed>() -> T {
    T::ZERO
}

fn dropout(p: f32, seed: u64) -> Dropout {
    let mut d = Dropout::new(DropRate::new(p).unwrap());
    d.init(&mut XorShiftRng::seed_from_u64(seed));
    d
}

/// The kept/dropped pattern of a training output (kept where non-zero; inputs are non-zero).
fn kept<const B: usize, const N: usize>(y: &Batch<B, N>) -> Vec<bool> {
    y.as_flattened().iter().map(|&v| v != 0.0).collect()
}

/// Over 32 768 activations and several steps, the fraction kept is within 3σ of `1 − p`, and
/// so is the fraction of neighbouring pairs both kept (`(1 − p)²`): no visible correlation.
#[test]
fn mask_statistics() {
    const B: usize = 32;
    const N: usize = 1024;
    let x = [[1.0f32; N]; B];
    for (p, seed) in [(0.1, 1), (0.3, 2), (0.5, 3), (0.9, 4)] {
        let mut d = dropout(p, seed);
        let mut cache = DropoutMask::ZERO;
        for step in 0..4 {
            let y = d.forward_train(&x, &mut cache);
            let k = kept(&y);
            let n = k.len() as f64;
            let q = 1.0 - f64::from(p);
            let frac = k.iter().filter(|&&v| v).count() as f64 / n;
            let sigma = (q * (1.0 - q) / n).sqrt();
            assert!(
                (frac - q).abs() <= 3.0 * sigma,
                "p {p} step {step}: kept {frac}, expected {q} ± {}",
                3.0 * sigma
            );
            let pairs = k.windows(2).filter(|w| w[0] && w[1]).count() as f64 / (n - 1.0);
            let q2 = q * q;
            // Overlapping pairs are not independent: their variance is below 3·q²(1 − q²)/n.
            let sigma2 = (3.0 * q2 * (1.0 - q2) / (n - 1.0)).sqrt();
            assert!(
                (pairs - q2).abs() <= 3.0 * sigma2,
                "p {p} step {step}: pairs kept {pairs}, expected {q2}"
            );
            // Survivors are scaled by exactly 1/(1 − p), in f32.
            let scale = 1.0 / (1.0 - p);
            assert_eq!(d.scale(), scale);
            assert!(y.as_flattened().iter().all(|&v| v == 0.0 || v == scale));
        }
    }
}

/// The masks' bits are pinned: the generator (xorshift128, seeded by `init` with four draws
/// of `XorShiftRng::seed_from_u64(0)`) and the threshold test must never change silently.
#[test]
fn mask_bits_are_pinned() {
    let mut d = dropout(0.5, 0);
    assert_eq!(
        d.rng_state(),
        PINNED_STATE,
        "the state init draws from seed 0"
    );
    let mut cache = Zeroed::ZERO;
    let mut masks = [0u32; 4];
    for m in &mut masks {
        let y = d.forward_train(&[[1.0f32; 32]; 1], &mut cache);
        *m = y[0]
            .iter()
            .enumerate()
            .map(|(i, &v)| u32::from(v != 0.0) << i)
            .sum();
    }
    assert_eq!(
        masks, PINNED_MASKS,
        "the masks of 4 steps of 32 activations"
    );
    // p = 0.3 on a 3 × 5 batch.
    let mut d = dropout(0.3, 7);
    let y = d.forward_train(&[[1.0f32; 5]; 3], &mut cache);
    let bits: u32 = kept(&y)
        .iter()
        .enumerate()
        .map(|(i, &k)| u32::from(k) << i)
        .sum();
    assert_eq!(bits, PINNED_MASK_P03, "the 15-activation mask at p = 0.3");

    // The same bits from the algorithm as documented: four draws of the model's generator
    // seed Marsaglia's xor128, and an activation is kept if its draw is ≥ ⌊p·2³²⌋.
    let expected = |p: f32, seed: u64, draws: usize| -> Vec<bool> {
        let mut g = XorShiftRng::seed_from_u64(seed);
        let [mut x, mut y, mut z, mut w]: [u32; 4] = core::array::from_fn(|_| g.next_u32());
        let threshold = (f64::from(p) * 4_294_967_296.0).floor() as u32;
        (0..draws)
            .map(|_| {
                let t = x ^ (x << 11);
                (x, y, z) = (y, z, w);
                w = w ^ (w >> 19) ^ (t ^ (t >> 8));
                w >= threshold
            })
            .collect()
    };
    let bits_of =
        |k: &[bool]| -> u32 { k.iter().enumerate().map(|(i, &b)| u32::from(b) << i).sum() };
    let half = expected(0.5, 0, 128);
    let want: Vec<u32> = half.chunks(32).map(bits_of).collect();
    assert_eq!(want, PINNED_MASKS);
    assert_eq!(bits_of(&expected(0.3, 7, 15)), PINNED_MASK_P03);
}

const PINNED_STATE: [u32; 4] = [3_421_425_365, 3_819_375_508, 2_803_965_359, 1_877_840_080];
const PINNED_MASKS: [u32; 4] = [0x5595_c84d, 0xc22d_5067, 0xa074_59d4, 0x2e81_c113];
const PINNED_MASK_P03: u32 = 0x6e3e;

#[test]
fn inverted_scaling_keeps_the_expected_value() {
    // The mean training output over many activations is the input (inverted dropout), while
    // inference is the identity.
    let mut d = dropout(0.3, 11);
    let x = [[2.5f32; 512]; 16];
    let y = d.forward_train(&x, &mut fresh());
    let mean = y.as_flattened().iter().map(|&v| f64::from(v)).sum::<f64>() / (16.0 * 512.0);
    // σ of the mean: 2.5·sqrt(p/(1 − p)) / sqrt(n) ≈ 0.018.
    assert!((mean - 2.5).abs() < 0.06, "mean training output {mean}");
    assert_eq!(d.forward(&x), x);
}

#[test]
fn eval_mode_is_the_identity_and_changes_nothing() {
    let d = dropout(0.5, 3);
    let x: Batch<4, 7> = rand_batch(&mut XorShiftRng::seed_from_u64(1), -3.0, 3.0);
    let before = d.rng_state();
    assert_eq!(d.forward(&x), x);
    assert_eq!(d.rng_state(), before);
    // A model evaluated mid-training: the same logits before and after, and a training pass
    // in between still draws a mask.
    type Net = (Linear<7, 5>, Relu, Dropout, Linear<5, 2>);
    let mut net = Net::ZERO;
    net.init(&mut XorShiftRng::seed_from_u64(2));
    let eval = net.forward(&x);
    let train = net.forward_train(&x, &mut fresh::<CacheOf<Net, Batch<4, 7>>>());
    assert_ne!(train, eval);
    assert_eq!(net.forward(&x), eval);
}

#[test]
fn rate_zero_is_the_identity_in_training_too() {
    let mut d = dropout(0.0, 5);
    let x: Batch<3, 4> = rand_batch(&mut XorShiftRng::seed_from_u64(1), -1.0, 1.0);
    let before = d.rng_state();
    let mut cache = Zeroed::ZERO;
    assert_eq!(d.forward_train(&x, &mut cache), x);
    assert_eq!(d.rng_state(), before, "nothing drawn at p = 0");
    assert_eq!(d.backward_input(&cache, &x), x);
    assert_eq!(d.scale(), 1.0);
}

#[test]
fn backward_replays_the_cached_mask() {
    let mut d = dropout(0.4, 9);
    let x: Batch<5, 6> = rand_batch(&mut XorShiftRng::seed_from_u64(3), 0.5, 1.5);
    let mut first = Zeroed::ZERO;
    let y1 = d.forward_train(&x, &mut first);
    let mut second = Zeroed::ZERO;
    let y2 = d.forward_train(&x, &mut second);
    assert_ne!(kept(&y1), kept(&y2), "successive steps draw new masks");
    // The gradient of the first step uses the first mask, whatever the layer drew since.
    let ones = [[1.0f32; 6]; 5];
    let dx1 = d.backward_input(&first, &ones);
    assert_eq!(kept(&dx1), kept(&y1));
    assert!(
        dx1.as_flattened()
            .iter()
            .all(|&v| v == 0.0 || v == d.scale())
    );
    assert_eq!(first.rng_state(), dropout(0.4, 9).rng_state());
    // Restoring the state redraws the same mask (resuming training exactly).
    let mut replay = d;
    replay.set_rng_state(first.rng_state());
    assert_eq!(replay.forward_train(&x, &mut fresh()), y1);
    // An all-zero state, which xorshift never leaves, is replaced.
    replay.set_rng_state([0; 4]);
    assert_ne!(replay.rng_state(), [0; 4]);
    assert_eq!(replay.rng_state(), Dropout::ZERO.rng_state());
}

#[test]
fn init_seeds_each_layer_from_the_model_generator() {
    type Net = (Linear<3, 4>, Dropout, Linear<4, 4>, Dropout, Linear<4, 2>);
    let mut net = Net::ZERO;
    let mut rng = XorShiftRng::seed_from_u64(8);
    net.init(&mut rng);
    assert_ne!(net.1.rng_state(), net.3.rng_state());
    // The same seed gives the same states.
    let mut again = Net::ZERO;
    again.init(&mut XorShiftRng::seed_from_u64(8));
    assert_eq!((again.1, again.3), (net.1, net.3));
    // Dropout keeps nothing else: no parameter, nothing stored, a 16-byte cache.
    assert_eq!(Dropout::NUM_PARAMS + Dropout::NUM_STORED, 0);
    assert_eq!(size_of::<DropoutMask>(), 16);
    assert_eq!(
        size_of::<CacheOf<Net, Batch<10, 3>>>(),
        4 * 10 * (3 + 4 + 4) + 2 * 16
    );
    assert_eq!(size_of::<Dropout>(), 28);
    // init advanced the model generator by the layers' draws, in order.
    let mut twin = XorShiftRng::seed_from_u64(8);
    let mut probe = Net::ZERO;
    probe.0.init(&mut twin);
    let state: [u32; 4] = core::array::from_fn(|_| twin.next_u32());
    assert_eq!(net.1.rng_state(), state);
}

#[test]
fn defaults_and_bad_rates() {
    assert_eq!(Dropout::ZERO.rate(), DropRate::DEFAULT);
    assert_eq!(Dropout::default().rate().get(), 0.5);
    let err = Err(Error::InvalidHyperparameter(Hyperparameter::DropRate));
    for bad in [-0.1, 1.0, 1.5, f32::NAN, f32::INFINITY, -0.0 - 1e-30] {
        assert_eq!(DropRate::new(bad), err, "{bad}");
    }
    let below_one = f32::from_bits(1.0f32.to_bits() - 1);
    assert!(DropRate::new(below_one).is_ok());
    assert_eq!(DropRate::new(0.0).unwrap().keep(), 1.0);
    assert_eq!(
        Error::InvalidHyperparameter(Hyperparameter::DropRate).to_string(),
        "the dropout drop probability must be in [0, 1)"
    );
    // The drop probability round-trips.
    assert_eq!(dropout(0.3, 0).rate().get(), 0.3);
}
