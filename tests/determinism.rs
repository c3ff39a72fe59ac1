//! Bit-exact reproducibility: a fixed seed gives the same bits on every run and every target.
//!
//! The pinned values below were obtained by running these tests once. Every float sum in the
//! crate has one fixed order (see `src/kernels/mod.rs`), `libm` is pure software and Rust never
//! fuses `a * b + c`, so they must not change on any platform or optimization level. **If one of
//! these tests fails after a change to the library, the float summation order (or the random
//! initialization, or the shuffle) changed: that is a user-visible change of results, so
//! document it in the changelog, then re-pin the values here.**
//!
//! With the `fma` feature on a target with FMA (`RUSTFLAGS="-C target-cpu=native" cargo test
//! --features fma` on an x86-64 with FMA), the matrix kernels round each `acc + a·b` once: the
//! same sums in the same order, other bits. That contract has its own pins ([`fused`]), the
//! same on every target where it is enabled.

mod common;

use common::{Fnv1a, fnv1a_params, param_bits, rand_batch};
use constnn::rand_core::SeedableRng;
use constnn::{
    Batch, CacheOf, GradsOf, Linear, Module, Params, Relu, Remainder, Sgd, XorShiftRng, Zeroed,
    argmax, batches, cross_entropy_with_logits, shuffle, standard_normal, train_step,
    train_step_fused,
};

type Mlp = (Linear<8, 16>, Relu, Linear<16, 4>);
type Cache = CacheOf<Mlp, Batch<BATCH, 8>>;
type Grads = GradsOf<Mlp>;

const SEED: u64 = 2024;
const SAMPLES: usize = 40;
const BATCH: usize = 5;
const STEPS: usize = 50;
const LR: f32 = 0.05;

/// `to_bits()` of the loss returned by the 50th `train_step`.
const DEFAULT_FINAL_LOSS_BITS: u32 = 0x3f56_fa92; // 0.8397609
/// FNV-1a 32 of every parameter's `to_bits()` (little-endian bytes), in `Params::visit` order,
/// after the 50 steps.
const DEFAULT_PARAM_FNV: u32 = 0x7b94_1166;

/// The pins of this build's summation contract.
#[cfg(not(all(feature = "fma", target_feature = "fma")))]
const PINNED_FINAL_LOSS_BITS: u32 = DEFAULT_FINAL_LOSS_BITS;
/// See [`PINNED_FINAL_LOSS_BITS`].
#[cfg(not(all(feature = "fma", target_feature = "fma")))]
const PINNED_PARAM_FNV: u32 = DEFAULT_PARAM_FNV;
#[cfg(all(feature = "fma", target_feature = "fma"))]
use fused::{FINAL_LOSS_BITS as PINNED_FINAL_LOSS_BITS, PARAM_FNV as PINNED_PARAM_FNV};

// The library's kernels follow the contract these pins are chosen for.
const _: () =
    assert!(constnn::FUSED_MULTIPLY_ADD == cfg!(all(feature = "fma", target_feature = "fma")));

/// The pins of the fused contract (the `fma` feature on a target with FMA): the same 50 steps,
/// each `acc + a·b` of the matrix kernels rounded once.
#[cfg(all(feature = "fma", target_feature = "fma"))]
mod fused {
    /// `to_bits()` of the loss returned by the 50th `train_step`.
    pub const FINAL_LOSS_BITS: u32 = 0x3f56_fa90; // 0.8397608
    /// FNV-1a 32 of the parameters after the 50 steps, as [`super::DEFAULT_PARAM_FNV`].
    pub const PARAM_FNV: u32 = 0xaa6f_d9f2;

    // Other bits than the default contract's, as documented.
    const _: () = assert!(
        FINAL_LOSS_BITS != super::DEFAULT_FINAL_LOSS_BITS && PARAM_FNV != super::DEFAULT_PARAM_FNV
    );
}

/// The model (He init from `SEED`) and the 50 batches it is trained on, all drawn from one
/// `XorShiftRng::seed_from_u64(SEED)`: init, then the data set (inputs in [-1, 1), label = the
/// argmax of the first 4 features, so there is something to learn), then a shuffle per epoch,
/// cut into batches of 5 with `batches(.., Remainder::Drop)`.
fn problem() -> (Mlp, Vec<(Batch<BATCH, 8>, [usize; BATCH])>) {
    let mut rng = XorShiftRng::seed_from_u64(SEED);
    let mut model = Mlp::ZERO;
    model.init(&mut rng);
    let x: Batch<SAMPLES, 8> = rand_batch(&mut rng, -1.0, 1.0);
    let labels: [usize; SAMPLES] =
        core::array::from_fn(|i| argmax(&[x[i][0], x[i][1], x[i][2], x[i][3]]));
    let mut order: [usize; SAMPLES] = core::array::from_fn(|i| i);
    let mut steps = Vec::with_capacity(STEPS);
    while steps.len() < STEPS {
        shuffle(&mut order, &mut rng);
        for idx in batches::<BATCH, _>(&order, Remainder::Drop) {
            if steps.len() == STEPS {
                break;
            }
            steps.push((idx.map(|i| x[i]), idx.map(|i| labels[i])));
        }
    }
    (model, steps)
}

#[test]
fn fnv1a_matches_reference_vectors() {
    let hash = |bytes: &[u8]| {
        let mut h = Fnv1a::<u32>::new();
        h.write(bytes);
        h.0
    };
    assert_eq!(hash(b""), 0x811c_9dc5);
    assert_eq!(hash(b"a"), 0xe40c_292c);
    assert_eq!(hash(b"foobar"), 0xbf9c_f968);
    // The 64-bit width (examples/bench.rs's parameter hash), the FNV reference's vectors too.
    let hash64 = |bytes: &[u8]| {
        let mut h = Fnv1a::<u64>::new();
        h.write(bytes);
        h.0
    };
    assert_eq!(hash64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(hash64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(hash64(b"foobar"), 0x8594_4171_f739_67e8);
}

#[test]
fn fifty_train_steps_are_pinned() {
    let (mut model, steps) = problem();
    let mut cache: Cache = Zeroed::ZERO;
    let mut grads: Grads = Zeroed::ZERO;
    let sgd = Sgd::new(LR).unwrap();
    let mut losses = Vec::with_capacity(STEPS);
    for (x, y) in &steps {
        losses.push(train_step(&mut model, &mut cache, &mut grads, x, y, &sgd).unwrap());
    }
    let last = *losses.last().unwrap();
    // Training did something (the pins are not of a stuck model): the mean loss of the last
    // 10 steps is below that of the first 10.
    let first10: f32 = losses[..10].iter().sum();
    let last10: f32 = losses[STEPS - 10..].iter().sum();
    assert!(last10 < first10, "{first10} -> {last10}");

    let checksum = fnv1a_params(&model);
    assert_eq!(
        (last.to_bits(), checksum),
        (PINNED_FINAL_LOSS_BITS, PINNED_PARAM_FNV),
        "(final loss bits, parameter FNV-1a) as {:#010x}, {:#010x}; the final loss is {last}: \
         the float summation order changed (see the top of this file)",
        last.to_bits(),
        checksum
    );
}

#[test]
fn fused_steps_are_bit_identical_to_buffered_steps() {
    let (mut buffered, steps) = problem();
    let mut fused = buffered;
    let mut cache_b: Cache = Zeroed::ZERO;
    let mut cache_f: Cache = Zeroed::ZERO;
    let mut grads: Grads = Zeroed::ZERO;
    let sgd = Sgd::new(LR).unwrap();
    for (k, (x, y)) in steps.iter().enumerate() {
        let lb = train_step(&mut buffered, &mut cache_b, &mut grads, x, y, &sgd).unwrap();
        let lf = train_step_fused(&mut fused, &mut cache_f, x, y, &sgd).unwrap();
        assert_eq!(lb.to_bits(), lf.to_bits(), "loss at step {k}");
        assert_eq!(
            param_bits(&buffered),
            param_bits(&fused),
            "parameters after step {k}"
        );
    }
    // Both moved away from the start.
    assert_ne!(param_bits(&fused), param_bits(&problem().0));
    assert_eq!(fnv1a_params(&fused), PINNED_PARAM_FNV);
}

#[test]
fn same_seed_same_run() {
    // Two runs from scratch agree bit for bit, and the forward pass after training is
    // reproducible (guards against hidden state, e.g. in the caches).
    let run = || {
        let (mut model, steps) = problem();
        let mut cache: Cache = Zeroed::ZERO;
        let sgd = Sgd::new(LR).unwrap();
        let mut bits = Vec::new();
        for (x, y) in &steps {
            let l = train_step_fused(&mut model, &mut cache, x, y, &sgd).unwrap();
            bits.push(l.to_bits());
        }
        let probe = model.forward(&steps[0].0);
        let (l, _) = cross_entropy_with_logits(&probe, &steps[0].1).unwrap();
        bits.push(l.to_bits());
        (bits, param_bits(&model))
    };
    assert_eq!(run(), run());
}

/// `Linear::<4, 3>::from_rng(XorShiftRng::seed_from_u64(0))`, weight row by row.
const PINNED_HE_4X3: [[u32; 3]; 4] = [
    [0x3e00_8143, 0x3fb0_3130, 0x3f6f_b96c], // 0.1254931, 1.3765011, 0.93642306
    [0xbf83_7648, 0x3dd0_a7ce, 0xbf49_057e], // -1.0270472, 0.10188256, -0.78524005
    [0x3f17_285e, 0x3eb7_475d, 0x3ede_6c7b], // 0.5904597, 0.35796633, 0.4344214
    [0x3f68_3038, 0xbe3d_c1bb, 0x3f1b_d9c7], // 0.90698576, -0.18530934, 0.60879177
];

#[test]
fn he_init_is_pinned() {
    let layer = Linear::<4, 3>::from_rng(&mut XorShiftRng::seed_from_u64(0));
    let bits = layer.weight.map(|row| row.map(f32::to_bits));
    assert_eq!(bits, PINNED_HE_4X3, "He init bits changed: {bits:#010x?}");
    assert_eq!(layer.bias, [0.0; 3]);

    // The documented recipe: N(0, 1)·sqrt(2/IN), drawn row by row, from the same generator.
    let mut rng = XorShiftRng::seed_from_u64(0);
    // (`libm::sqrtf` and `f32::sqrt` are both correctly rounded, so they agree.)
    let scale = (2.0f32 / 4.0).sqrt();
    for row in &layer.weight {
        for &w in row {
            assert_eq!(w.to_bits(), (standard_normal(&mut rng) * scale).to_bits());
        }
    }
    // `Params::init` is the same as `from_rng`, and overwrites a non-zero bias.
    let mut again = Linear::<4, 3> {
        weight: [[9.0; 3]; 4],
        bias: [1.0; 3],
    };
    again.init(&mut XorShiftRng::seed_from_u64(0));
    assert_eq!(again, layer);
}

/// `shuffle` of `0..20` with `XorShiftRng::seed_from_u64(7)`.
const PINNED_SHUFFLE_20: [usize; 20] = [
    10, 9, 0, 17, 4, 1, 3, 11, 5, 18, 14, 19, 8, 13, 2, 7, 16, 12, 15, 6,
];

#[test]
fn shuffle_is_pinned() {
    let mut v: [usize; 20] = core::array::from_fn(|i| i);
    shuffle(&mut v, &mut XorShiftRng::seed_from_u64(7));
    assert_eq!(v, PINNED_SHUFFLE_20, "shuffle changed: {v:?}");
    let mut sorted = v;
    sorted.sort_unstable();
    assert_eq!(sorted, core::array::from_fn::<usize, 20, _>(|i| i));
}
