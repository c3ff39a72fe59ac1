//! On-device fine-tuning of a pretrained digits model, shared word for word by the firmware
//! (`examples/cortex-m/src/bin/finetune.rs`) and the host test `tests/finetune_run.rs`.
//!
//! 1. **Pretraining, on the host** ([`pretrain`]): the series' `(Linear<64, 32>, Relu,
//!    Linear<32, 10>)` trained on the training images of digits 0–7 only (it never sees an 8
//!    or a 9), saved with `constnn::save_weights` as `digits_pretrained_0to7.cnnw` (committed
//!    beside this file; the host test checks that pretraining gives exactly these bytes).
//! 2. **On the device**: the blob is a `static` model built at compile time
//!    (`constnn::const_model!`: a corrupt or mismatched blob does not compile), in flash.
//!    The body `(Linear<64, 32>, Relu)` stays there, frozen (never copied to RAM, never
//!    trained); the head `Linear<32, 10>` is copied to RAM and fine-tuned on the training
//!    images of **all ten** digits with SGD with momentum ([`HeadTrainer`]): each step runs
//!    the body on the batch ([`features`]) into the head trainer's input
//!    ([`Trainer::input_mut`]) and takes a fused step ([`Trainer::step_in_place`]).
//! 3. **Checkpoint and reset**: boot 1 stops after [`Config::stop_step`] steps (mid-epoch)
//!    and writes `save_checkpoint` of the head trainer (head, momentum, step count) into a
//!    flash-sized buffer; boot 2 finds it in flash, checks it (`load_checkpoint` validates all
//!    of it first) and finishes. Every epoch's order is drawn from its own generator
//!    ([`epoch_order`]), so a run resumed at any step takes exactly the steps an uninterrupted
//!    run takes: the host test checks both give the same bits.

// Each crate that includes this module uses a different part of it.
#![allow(dead_code)]

#[path = "digits_data.rs"]
pub mod data;
#[path = "fnv.rs"]
pub mod fnv;

use constnn::rand_core::SeedableRng;
use constnn::{
    Batch, CrossEntropy, Error, Linear, Module, Momentum, Params, Relu, Remainder, Sgd, Trainer,
    XorShiftRng, argmax, batches, checkpoint_len, shuffle,
};

pub use data::{CLASSES, PIXELS, Split, TRAIN_ROWS, normalize};

/// The hidden width: the body's output, the head's input.
pub const HIDDEN: usize = 32;
/// The series' digits model, as pretrained.
pub type Mlp = (Linear<PIXELS, HIDDEN>, Relu, Linear<HIDDEN, CLASSES>);
/// The head, fine-tuned on the device.
pub type Head = Linear<HIDDEN, CLASSES>;
/// The head's trainer for batches of `B` features: SGD with momentum (one `f32` of state per
/// parameter, so the checkpoint has a real optimizer state to restore).
pub type HeadTrainer<const B: usize> = Trainer<Head, Batch<B, HIDDEN>, Momentum>;
/// The checkpoint of a fine-tuning run: the head, its momentum and the step count.
pub const CHECKPOINT_LEN: usize = checkpoint_len::<Head, Momentum>();
/// The digits the pretrained model has never seen.
pub const NEW_CLASSES: core::ops::RangeInclusive<u8> = 8..=9;

const _: () = assert!(CHECKPOINT_LEN == 32 + 4 * 330 + 4 * 330 + 4);

/// The host's pretraining: seed, SGD, epochs and batch of the firmware's training run on the
/// Cortex-M4F (`digits_run::m4f`), on the images of digits 0–7 only.
pub const PRETRAIN_SEED: u64 = 1;
/// The pretraining's learning rate.
pub const PRETRAIN_LR: f32 = 0.05;
/// The pretraining's epochs.
pub const PRETRAIN_EPOCHS: u16 = 20;
/// The pretraining's batch size.
pub const PRETRAIN_BATCH: usize = 10;

/// The images of `data` the pretraining uses: digits 0–7, in the split's order.
pub fn old_rows(data: Split<'_>, order: &mut [u16; TRAIN_ROWS]) -> usize {
    let mut n = 0;
    for (row, &label) in (0..).zip(data.labels) {
        if !NEW_CLASSES.contains(&label) {
            order[n] = row;
            n += 1;
        }
    }
    n
}

/// Pretrains `model` on the digits 0–7 of `data` (host only, but `core` code): He init from
/// `XorShiftRng::seed_from_u64(PRETRAIN_SEED)`, then each epoch that generator's shuffle of
/// the 0–7 rows, batches of [`PRETRAIN_BATCH`] (`Remainder::Wrap`), plain SGD fused steps.
///
/// # Errors
///
/// The first error of a step.
pub fn pretrain(
    model: &mut Mlp,
    trainer: &mut Trainer<Mlp, Batch<PRETRAIN_BATCH, PIXELS>, Sgd>,
    order: &mut [u16; TRAIN_ROWS],
    data: Split<'_>,
) -> Result<(), Error> {
    let mut rng = XorShiftRng::seed_from_u64(PRETRAIN_SEED);
    model.init(&mut rng);
    let n = old_rows(data, order);
    let order = &mut order[..n];
    for _ in 0..PRETRAIN_EPOCHS {
        shuffle(order, &mut rng);
        for rows in batches::<PRETRAIN_BATCH, u16>(order, Remainder::Wrap) {
            let mut labels = [0; PRETRAIN_BATCH];
            for ((x, label), &row) in trainer.input_mut().iter_mut().zip(&mut labels).zip(&rows) {
                normalize(&data.pixels[usize::from(row)], x);
                *label = usize::from(data.labels[usize::from(row)]);
            }
            trainer.step_in_place(model, &CrossEntropy, &labels)?;
        }
    }
    Ok(())
}

/// One board's fine-tuning: batch size (the const parameter `B` of [`HeadTrainer`]),
/// optimizer, schedule, and what each boot must print.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// SGD with momentum, on the gradient of the batch's mean loss.
    pub optimizer: Momentum,
    /// Fine-tuning epochs over all 1347 training images.
    pub epochs: u16,
    /// The step after which boot 1 saves its checkpoint and "resets" (not an epoch boundary).
    pub stop_step: u64,
    /// Epoch `e`'s order is shuffled by `XorShiftRng::seed_from_u64(seed + e)`.
    pub seed: u64,
    /// What the pretrained model scores (printed by boot 1).
    pub before: Accuracy,
    /// CRC-32 of boot 1's checkpoint (its last four bytes, little-endian).
    pub checkpoint_crc: u32,
    /// What boot 2 ends with.
    pub after: Outcome,
}

/// Test accuracy, overall and on the new digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accuracy {
    /// Test images classified correctly, of the 450.
    pub correct: u16,
    /// Test images of digits 8 and 9 classified correctly, of [`Accuracy::new_total`].
    pub new_correct: u16,
}

impl Accuracy {
    /// The test images of digits 8 and 9 (of the notebook's 450).
    pub const fn new_total() -> u16 {
        85
    }
}

/// What a finished fine-tuning run ends with, compared bit for bit between host and device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The fine-tuned model's test accuracy.
    pub accuracy: Accuracy,
    /// `to_bits` of the last epoch's mean training loss (the mean of its steps' losses).
    pub loss_bits: u32,
    /// FNV-1a (32 bits) of the fine-tuned head's parameters (`Params::visit` order).
    pub head_fnv: u32,
}

/// `Momentum::new(lr, momentum)` for a configuration constant.
const fn momentum(lr: f32, m: f32) -> Momentum {
    match Momentum::new(lr, m) {
        Ok(o) => o,
        Err(_) => panic!("invalid optimizer"),
    }
}

/// The Cortex-M4F configuration (QEMU `mps2-an386`): batch 10.
pub mod m4f {
    use super::{Accuracy, Config, Outcome, momentum};

    /// The batch size.
    pub const BATCH: usize = 10;
    /// The fine-tuning and the values the host test pins.
    pub const CONFIG: Config = Config {
        optimizer: momentum(0.01, 0.9),
        epochs: 4,
        stop_step: 300,
        seed: 100,
        before: Accuracy {
            correct: 359,
            new_correct: 0,
        },
        checkpoint_crc: 0xa278_1229,
        after: Outcome {
            accuracy: Accuracy {
                correct: 428,
                new_correct: 74,
            },
            loss_bits: 0x3df2_949e,
            head_fnv: 0x34df_8268,
        },
    };
}

/// The Cortex-M0 configuration (QEMU `microbit`, 16 KiB of RAM): batch 4.
pub mod m0 {
    use super::{Accuracy, Config, Outcome, momentum};

    /// The batch size.
    pub const BATCH: usize = 4;
    /// The fine-tuning and the values the host test pins.
    pub const CONFIG: Config = Config {
        optimizer: momentum(0.005, 0.9),
        epochs: 3,
        stop_step: 500,
        seed: 100,
        before: Accuracy {
            correct: 359,
            new_correct: 0,
        },
        checkpoint_crc: 0x00f9_89cf,
        after: Outcome {
            accuracy: Accuracy {
                correct: 432,
                new_correct: 77,
            },
            loss_bits: 0x3e00_a093,
            head_fnv: 0x4c2e_6aa6,
        },
    };
}

/// The training rows' order of epoch `epoch` (from 0): `0, 1, …, 1346` shuffled by
/// `XorShiftRng::seed_from_u64(seed + epoch)`. It depends on nothing else, so a resumed run
/// rebuilds it from the step count alone.
pub fn epoch_order(order: &mut [u16; TRAIN_ROWS], seed: u64, epoch: u64) {
    for (k, o) in (0..).zip(order.iter_mut()) {
        *o = k;
    }
    shuffle(
        order,
        &mut XorShiftRng::seed_from_u64(seed.wrapping_add(epoch)),
    );
}

/// The frozen body's output for one image: `Relu(x·W₁ + b₁)` with the pretrained `body`,
/// read where it is (flash on the device).
pub fn features(body: &Linear<PIXELS, HIDDEN>, pixels: &[u8; PIXELS], out: &mut [f32; HIDDEN]) {
    let mut x = [[0.0; PIXELS]; 1];
    normalize(pixels, &mut x[0]);
    let [h] = Relu.forward(&body.forward(&x));
    *out = h;
}

/// The steps of one epoch with batches of `B`: `ceil(1347 / B)`.
pub const fn steps_per_epoch<const B: usize>() -> u64 {
    TRAIN_ROWS.div_ceil(B) as u64
}

/// Fine-tunes `head` from the trainer's step count up to `until` steps (at most
/// `config.epochs` epochs), with `order` as scratch; returns the mean loss of the last epoch
/// run from its first step, or `None` if no epoch was (boot 1 stops mid-way).
///
/// Each step: the batch's rows of [`epoch_order`] (`batches::<B, _>(…, Remainder::Wrap)`),
/// [`features`] of each image written into `trainer.input_mut()`, then `step(head, trainer,
/// labels)` (on the device [`Trainer::step_in_place`] between instruction-count markers).
/// A resumed run skips the steps of its epoch it has already taken. `after_epoch(epoch,
/// loss)` is called after each whole epoch (counted from 1).
///
/// # Errors
///
/// The first error of a step.
#[allow(clippy::too_many_arguments)]
pub fn finetune<const B: usize, S, E>(
    body: &Linear<PIXELS, HIDDEN>,
    head: &mut Head,
    trainer: &mut HeadTrainer<B>,
    order: &mut [u16; TRAIN_ROWS],
    data: Split<'_>,
    config: &Config,
    until: u64,
    mut step: S,
    mut after_epoch: E,
) -> Result<Option<f32>, Error>
where
    S: FnMut(&mut Head, &mut HeadTrainer<B>, &[usize; B]) -> Result<f32, Error>,
    E: FnMut(u16, f32),
{
    let per_epoch = steps_per_epoch::<B>();
    let mut last = None;
    // The steps already taken are skipped epoch by epoch, then batch by batch: no 64-bit
    // division (a Cortex-M0 has no divide instruction).
    let mut skip = trainer.steps();
    for epoch in 1..=config.epochs {
        if skip >= per_epoch {
            skip -= per_epoch;
            continue;
        }
        if trainer.steps() >= until {
            break;
        }
        epoch_order(order, config.seed, u64::from(epoch - 1));
        let whole = skip == 0;
        let mut loss_sum = 0.0f32;
        let mut steps = 0u16;
        for rows in batches::<B, u16>(order, Remainder::Wrap) {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            if trainer.steps() >= until {
                return Ok(last);
            }
            let mut labels = [0; B];
            for ((x, label), &row) in trainer.input_mut().iter_mut().zip(&mut labels).zip(&rows) {
                let row = usize::from(row);
                features(body, &data.pixels[row], x);
                *label = usize::from(data.labels[row]);
            }
            loss_sum += step(head, trainer, &labels)?;
            steps += 1;
        }
        if whole {
            let loss = loss_sum / f32::from(steps);
            last = Some(loss);
            after_epoch(epoch, loss);
        }
    }
    Ok(last)
}

/// The device's fine-tuning step: the fused step with softmax cross-entropy on the features
/// already in the trainer's input; returns the batch's mean loss.
///
/// # Errors
///
/// As [`Trainer::step_in_place`].
pub fn step<const B: usize>(
    head: &mut Head,
    trainer: &mut HeadTrainer<B>,
    labels: &[usize; B],
) -> Result<f32, Error> {
    trainer.step_in_place(head, &CrossEntropy, labels)
}

/// The test accuracy of the frozen `body` with `head`, one image at a time
/// (`(&body, Relu, &head)`'s forward pass).
pub fn accuracy(body: &Linear<PIXELS, HIDDEN>, head: &Head, data: Split<'_>) -> Accuracy {
    let mut acc = Accuracy {
        correct: 0,
        new_correct: 0,
    };
    let mut h = [0.0; HIDDEN];
    for (pixels, &label) in data.pixels.iter().zip(data.labels) {
        features(body, pixels, &mut h);
        let [logits] = head.forward(&[h]);
        if argmax(&logits) == usize::from(label) {
            acc.correct += 1;
            if NEW_CLASSES.contains(&label) {
                acc.new_correct += 1;
            }
        }
    }
    acc
}

/// FNV-1a (32 bits) of the head's parameters.
pub fn head_fnv(head: &Head) -> u32 {
    fnv::params::<u32, _>(head)
}
