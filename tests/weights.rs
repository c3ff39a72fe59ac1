//! Whole models in and out of constnn's container: round trips bit for bit for every layer
//! kind, refusals that leave the model untouched, and checkpoints that resume training exactly.

mod common;

use core::ops::Range;

use common::{param_bits, rand_batch, rand_labels};
use constnn::rand_core::SeedableRng;
use constnn::{
    Adam, Batch, BatchNorm1d, BufferedTrainer, CrossEntropy, DropRate, Dropout, Error, Frozen,
    LeakyRelu, Linear, Momentum, Mse, Optimizer, Params, Relu, Sgd, Sigmoid, Tanh, Trainer,
    XorShiftRng, Zeroed, checkpoint_len, load_weights, save_weights, weights_len,
};

constnn::sequential! {
    /// A named-struct model.
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Net {
        hidden: Linear<6, 5>,
        norm: BatchNorm1d<5>,
        act: Tanh,
        out: Linear<5, 3>,
    }
}

/// A model with every stored value set to distinct, non-trivial bits (trainable parameters by
/// `init`, then every stored value perturbed so running statistics are not their defaults).
fn filled<M: Params + Zeroed>(seed: u64) -> M {
    let mut m = M::ZERO;
    m.init(&mut XorShiftRng::seed_from_u64(seed));
    let mut k = 0u32;
    m.visit_mut(&mut |p: &mut [f32]| {
        for v in p {
            k += 1;
            *v += (k as f32) * 0.001 + 0.5;
        }
    });
    m
}

fn round_trip<M: Params + Zeroed>(seed: u64) {
    let a: M = filled(seed);
    let mut blob = vec![0u8; weights_len::<M>()];
    assert_eq!(save_weights(&a, &mut blob), Ok(blob.len()));
    let mut b = M::ZERO;
    load_weights(&mut b, &blob).unwrap();
    assert_eq!(param_bits(&a), param_bits(&b));
    // One byte short: refused, nothing written.
    let mut c = M::ZERO;
    assert!(load_weights(&mut c, &blob[..blob.len() - 1]).is_err());
    assert_eq!(param_bits(&c), param_bits(&M::ZERO));
}

#[test]
fn every_layer_kind_round_trips_bit_for_bit() {
    round_trip::<Linear<3, 2>>(1);
    round_trip::<(Linear<4, 8>, Relu, Linear<8, 3>)>(2);
    round_trip::<(Linear<4, 8>, Sigmoid, Linear<8, 3>, Tanh)>(3);
    round_trip::<(Linear<4, 8>, LeakyRelu, Linear<8, 2>)>(4);
    round_trip::<(Frozen<(Linear<4, 8>, Relu)>, Linear<8, 3>)>(5);
    round_trip::<(Linear<6, 5>, BatchNorm1d<5>, Relu, Linear<5, 3>)>(6);
    round_trip::<((Linear<2, 3>, Relu), (Linear<3, 3>, Relu), Linear<3, 1>)>(7);
    round_trip::<Net>(8);
    round_trip::<(Linear<4, 8>, Relu, Dropout, Linear<8, 3>)>(9);
}

#[test]
fn batch_norm_running_statistics_are_saved() {
    type M = (Linear<6, 5>, BatchNorm1d<5>);
    assert_eq!(M::NUM_STORED, M::NUM_PARAMS + 2 * 5);
    let a: M = filled(9);
    let mut blob = [0u8; weights_len::<M>()];
    save_weights(&a, &mut blob).unwrap();
    let mut b = M::ZERO;
    load_weights(&mut b, &blob).unwrap();
    assert_eq!(a.1.running_mean, b.1.running_mean);
    assert_eq!(a.1.running_var, b.1.running_var);
}

#[test]
fn frozen_weights_load_into_the_trainable_model_and_back() {
    type Plain = (Linear<4, 8>, Relu, Linear<8, 3>);
    type Tuned = (Frozen<(Linear<4, 8>, Relu)>, Linear<8, 3>);
    assert_ne!(Plain::SIGNATURE, Tuned::SIGNATURE); // nesting is part of the structure
    type Tuned2 = (Frozen<Linear<4, 8>>, Relu, Linear<8, 3>);
    assert_eq!(Plain::SIGNATURE, Tuned2::SIGNATURE); // freezing is not
    let a: Plain = filled(10);
    let mut blob = [0u8; weights_len::<Plain>()];
    save_weights(&a, &mut blob).unwrap();
    let mut b = Tuned2::ZERO;
    load_weights(&mut b, &blob).unwrap();
    assert_eq!(param_bits(&a), param_bits(&b));
}

#[test]
fn another_model_with_the_same_parameter_count_is_refused_untouched() {
    type A = (Linear<64, 32>, Relu, Linear<32, 10>);
    // Same count as A (2410), other structure: (Linear<64, 32>, Tanh, Linear<32, 10>).
    type E = (Linear<64, 32>, Tanh, Linear<32, 10>);
    assert_eq!(A::NUM_STORED, E::NUM_STORED);
    let a: A = filled(11);
    let mut blob = [0u8; weights_len::<A>()];
    save_weights(&a, &mut blob).unwrap();
    let mut e: E = filled(12);
    let before = param_bits(&e);
    assert!(matches!(
        load_weights(&mut e, &blob),
        Err(Error::SignatureMismatch { .. })
    ));
    assert_eq!(param_bits(&e), before);
}

#[test]
fn every_corrupted_byte_and_every_truncation_is_refused_untouched() {
    type M = (Linear<3, 4>, Relu, Linear<4, 2>);
    let a: M = filled(13);
    let mut blob = [0u8; weights_len::<M>()];
    save_weights(&a, &mut blob).unwrap();
    let target: M = filled(14);
    let before = param_bits(&target);
    for i in 0..blob.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = blob;
            bad[i] ^= flip;
            let mut m = target;
            assert!(load_weights(&mut m, &bad).is_err(), "byte {i} ^ {flip:#x}");
            assert_eq!(param_bits(&m), before);
        }
    }
    for len in 0..blob.len() {
        let mut m = target;
        assert!(load_weights(&mut m, &blob[..len]).is_err(), "length {len}");
        assert_eq!(param_bits(&m), before);
    }
    let mut longer = blob.to_vec();
    longer.push(0);
    let mut m = target;
    assert!(load_weights(&mut m, &longer).is_err());
    let mut small = [0u8; weights_len::<M>() - 1];
    assert!(matches!(
        save_weights(&a, &mut small),
        Err(Error::BufferTooSmall { .. })
    ));
}

type Mlp = (Linear<5, 7>, Relu, Linear<7, 3>);
const B: usize = 4;

/// Trains `steps` fused steps on a fixed sequence of batches, from step `from`.
fn run_fused<O: Optimizer>(
    model: &mut Mlp,
    trainer: &mut Trainer<Mlp, Batch<B, 5>, O>,
    from: usize,
    to: usize,
) {
    for s in from..to {
        let mut rng = XorShiftRng::seed_from_u64(100 + s as u64);
        let x: Batch<B, 5> = rand_batch(&mut rng, -1.0, 1.0);
        let y: [usize; B] = rand_labels(&mut rng, 3);
        trainer.step(model, &x, &CrossEntropy, &y).unwrap();
    }
}

fn resume_is_bit_identical<O: Optimizer + Copy>(opt: O) {
    let start: Mlp = filled(20);
    // Uninterrupted: 12 steps.
    let mut straight = start;
    let mut t = Trainer::<Mlp, Batch<B, 5>, O>::new(opt);
    run_fused(&mut straight, &mut t, 0, 12);
    // Interrupted after 5: checkpoint, "reset", restore into fresh values, finish.
    let mut first = start;
    let mut t1 = Trainer::<Mlp, Batch<B, 5>, O>::new(opt);
    run_fused(&mut first, &mut t1, 0, 5);
    let mut blob = vec![0u8; checkpoint_len::<Mlp, O>()];
    assert_eq!(t1.save_checkpoint(&first, &mut blob), Ok(blob.len()));
    let mut resumed = Mlp::ZERO;
    let mut t2 = Trainer::<Mlp, Batch<B, 5>, O>::new(opt);
    t2.load_checkpoint(&mut resumed, &blob).unwrap();
    assert_eq!(t2.steps(), 5);
    run_fused(&mut resumed, &mut t2, 5, 12);
    assert_eq!(param_bits(&resumed), param_bits(&straight), "{}", O::NAME);
    assert_eq!(t2.steps(), t.steps());
}

#[test]
fn checkpoints_resume_training_bit_for_bit() {
    resume_is_bit_identical(Sgd::new(0.1).unwrap());
    resume_is_bit_identical(Momentum::new(0.05, 0.9).unwrap());
    resume_is_bit_identical(Adam::new(0.01).unwrap());
}

type DropMlp = (Linear<5, 7>, Relu, Dropout, Linear<7, 3>);

/// Fused steps of the dropout model (as [`run_fused`]).
fn run_dropout(
    model: &mut DropMlp,
    trainer: &mut Trainer<DropMlp, Batch<B, 5>, Adam>,
    steps: Range<usize>,
) {
    for s in steps {
        let mut rng = XorShiftRng::seed_from_u64(300 + s as u64);
        let x: Batch<B, 5> = rand_batch(&mut rng, -1.0, 1.0);
        let y: [usize; B] = rand_labels(&mut rng, 3);
        trainer.step(model, &x, &CrossEntropy, &y).unwrap();
    }
}

#[test]
fn a_checkpoint_keeps_the_dropout_masks_generator() {
    // The rate is a hyperparameter of the model's construction, not stored.
    let fresh = || {
        let mut m = DropMlp::ZERO;
        m.2 = Dropout::new(DropRate::new(0.3).unwrap());
        m
    };
    let mut start = fresh();
    start.init(&mut XorShiftRng::seed_from_u64(31));
    let opt = Adam::new(0.01).unwrap();
    let mut straight = start;
    let mut t = Trainer::new(opt);
    run_dropout(&mut straight, &mut t, 0..9);

    let mut first = start;
    let mut t1 = Trainer::new(opt);
    run_dropout(&mut first, &mut t1, 0..4);
    // The weights alone leave the generator out; the checkpoint holds its 4 words.
    assert_eq!(DropMlp::NUM_RNG_WORDS, 4);
    assert_eq!(weights_len::<DropMlp>(), weights_len::<Mlp>());
    assert_eq!(
        checkpoint_len::<DropMlp, Adam>(),
        checkpoint_len::<Mlp, Adam>() + 4 * 4
    );
    let mut blob = vec![0u8; checkpoint_len::<DropMlp, Adam>()];
    assert_eq!(t1.save_checkpoint(&first, &mut blob), Ok(blob.len()));
    let saved = first.2.rng_state();
    let words = &blob[blob.len() - 4 - 16..blob.len() - 4];
    let stored: Vec<u32> = words
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(
        stored, saved,
        "the generator, LE, last in the state section"
    );

    // A fresh model (the default generator seed) resumes with the saved generator.
    let mut resumed = fresh();
    let mut t2 = Trainer::new(opt);
    t2.load_checkpoint(&mut resumed, &blob).unwrap();
    assert_eq!(resumed.2.rng_state(), saved);
    run_dropout(&mut resumed, &mut t2, 4..9);
    assert_eq!(param_bits(&resumed), param_bits(&straight));

    // Without the generator (weights and optimizer state restored, masks from another state)
    // the run differs: the words matter.
    let mut forgetful = fresh();
    let mut t3 = Trainer::new(opt);
    t3.load_checkpoint(&mut forgetful, &blob).unwrap();
    forgetful.2.set_rng_state([1, 2, 3, 4]);
    run_dropout(&mut forgetful, &mut t3, 4..9);
    assert_ne!(param_bits(&forgetful), param_bits(&straight));
}

#[test]
fn a_checkpoint_of_another_optimizer_or_a_corrupt_one_is_refused_untouched() {
    let mut model: Mlp = filled(21);
    let mut t = Trainer::<Mlp, Batch<B, 5>, Momentum>::new(Momentum::new(0.05, 0.9).unwrap());
    run_fused(&mut model, &mut t, 0, 3);
    let mut blob = vec![0u8; checkpoint_len::<Mlp, Momentum>()];
    t.save_checkpoint(&model, &mut blob).unwrap();
    // RmsProp has as many state values per parameter as momentum: the signature tells them apart.
    let mut other = BufferedTrainer::<Mlp, Batch<B, 5>, constnn::RmsProp>::new(
        constnn::RmsProp::new(0.01).unwrap(),
    );
    let mut m2: Mlp = filled(22);
    let before = param_bits(&m2);
    assert!(matches!(
        other.load_checkpoint(&mut m2, &blob),
        Err(Error::SignatureMismatch { .. })
    ));
    assert_eq!(param_bits(&m2), before);
    assert_eq!(other.steps(), 0);
    // A weights-only blob is not a checkpoint, and a checkpoint is not weights.
    let mut w = vec![0u8; weights_len::<Mlp>()];
    save_weights(&model, &mut w).unwrap();
    let mut t3 = Trainer::<Mlp, Batch<B, 5>, Momentum>::new(Momentum::new(0.05, 0.9).unwrap());
    assert!(t3.load_checkpoint(&mut m2, &w).is_err());
    assert!(load_weights(&mut m2, &blob).is_err());
    assert_eq!(param_bits(&m2), before);
    // Every corrupted byte of the checkpoint.
    for i in 0..blob.len() {
        let mut bad = blob.clone();
        bad[i] ^= 0x10;
        let mut m = m2;
        let mut tt = Trainer::<Mlp, Batch<B, 5>, Momentum>::new(Momentum::new(0.05, 0.9).unwrap());
        assert!(tt.load_checkpoint(&mut m, &bad).is_err(), "byte {i}");
        assert_eq!(param_bits(&m), before);
        assert_eq!(tt.steps(), 0);
    }
}

#[test]
fn a_regression_model_checkpoint_in_a_static_sized_buffer() {
    type Line = Linear<1, 1>;
    static mut _FLASH: [u8; checkpoint_len::<Line, Adam>()] = [0; checkpoint_len::<Line, Adam>()];
    let mut line = Line {
        weight: [[2.0]],
        bias: [1.0],
    };
    let mut t = BufferedTrainer::<Line, Batch<2, 1>, Adam>::new(Adam::new(0.1).unwrap());
    for _ in 0..3 {
        t.step(&mut line, &[[1.0], [2.0]], &Mse, &[[5.0], [8.0]])
            .unwrap();
    }
    let mut buf = [0u8; checkpoint_len::<Line, Adam>()];
    t.save_checkpoint(&line, &mut buf).unwrap();
    let mut back = Line::ZERO;
    let mut t2 = BufferedTrainer::<Line, Batch<2, 1>, Adam>::new(Adam::new(0.1).unwrap());
    t2.load_checkpoint(&mut back, &buf).unwrap();
    assert_eq!(back, line);
    assert_eq!(
        constnn::Slot::floats(&t2.state().weight[0][..]),
        constnn::Slot::floats(&t.state().weight[0][..])
    );
}
