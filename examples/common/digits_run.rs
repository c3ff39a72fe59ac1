//! The digits training run of the firmware (`examples/cortex-m`), shared word for word with
//! the host.
//!
//! This one `no_std` module (it needs only `core` and `constnn`) is compiled into the firmware
//! (`examples/cortex-m/src/main.rs`, `#[path = "../../common/digits_run.rs"]`), which trains
//! and evaluates on the device, and into the host test `tests/on_device_run.rs`
//! (`#[path = "../examples/common/digits_run.rs"]`), which runs the same [`train`] on the same
//! data and pins what each board must print. The data comes from [`data`]'s parser, the one the
//! firmware's `build.rs` turns into flash arrays. So the data, the normalization, the
//! initialization, the batch order and every float operation are the same on the host and on
//! each core, and the runs end with the same bits.
//!
//! The run: `(Linear<64, 32>, Relu, Linear<32, 10>)`, He init and every epoch's shuffle from one
//! `XorShiftRng::seed_from_u64(seed)`, batches of `B` from [`constnn::batches`] with
//! [`Remainder::Wrap`], each written by [`normalize`] straight into the first layer's cache
//! ([`Trainer::input_mut`]) and trained with [`Trainer::step_in_place`]: softmax cross-entropy
//! and plain SGD with the fused update (no gradient buffer).

// Each crate that includes this module uses a different part of it.
#![allow(dead_code)]

#[path = "digits_data.rs"]
pub mod data;
#[path = "fnv.rs"]
pub mod fnv;

use constnn::rand_core::SeedableRng;
use constnn::{
    Batch, CacheOf, CrossEntropy, Error, Linear, Params, Relu, Remainder, Sgd, Trainer,
    XorShiftRng, Zeroed, argmax, assert_module, batches, shuffle, train_bytes,
};

pub use data::{CLASSES, PIXELS, Split, TEST_ROWS, TRAIN_ROWS, normalize};

/// The notebook's model: 64 pixels → 32 hidden units → 10 logits (2410 `f32` parameters).
pub type Mlp = (Linear<PIXELS, 32>, Relu, Linear<32, CLASSES>);

/// A batch of `B` normalized images.
pub type Input<const B: usize> = Batch<B, PIXELS>;

/// The fused-step SGD trainer for batches of `B`: the training cache (the first layer's input,
/// the ReLU mask, the second layer's input), the step count and the learning rate. SGD keeps
/// no per-parameter state and the fused step needs no gradient buffer.
pub type DigitsTrainer<const B: usize> = Trainer<Mlp, Input<B>, Sgd>;

/// The training cache for batches of `B`.
pub type Cache<const B: usize> = CacheOf<Mlp, Input<B>>;

const _: () = assert_module::<Batch<1, PIXELS>, Mlp>();

/// The RAM of a training run besides the trainer: the model and the order of the training
/// rows. All zero ([`Workspace::ZERO`]), so a `static` of it is in `.bss`, zeroed at reset with
/// no code of its own.
pub struct Workspace {
    /// The model's parameters.
    pub model: Mlp,
    /// The training rows' order, reshuffled every epoch (`u16`: 1347 rows).
    pub order: [u16; TRAIN_ROWS],
}

impl Workspace {
    /// All zero; [`train`] initializes everything it uses.
    pub const ZERO: Self = Self {
        model: Zeroed::ZERO,
        order: [0; TRAIN_ROWS],
    };
}

/// The bytes of RAM a training run with batches of `B` needs besides the stack: a
/// [`Workspace`] and a [`DigitsTrainer<B>`].
///
/// Checked against its parts: what constnn says fused training needs (`train_bytes`:
/// parameters + caches + SGD's empty state), the trainer's step count and learning rate, and
/// the order; nothing else but the padding of the two structs.
pub const fn ram_bytes<const B: usize>() -> usize {
    let parts = train_bytes::<Mlp, Input<B>, Sgd>()
        + size_of::<u64>()
        + size_of::<Sgd>()
        + size_of::<[u16; TRAIN_ROWS]>();
    let bytes = size_of::<Workspace>() + size_of::<DigitsTrainer<B>>();
    assert!(bytes - parts < align_of::<Workspace>() + align_of::<DigitsTrainer<B>>());
    bytes
}

/// One training configuration (the batch size is the const parameter `B` of [`train`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    /// The seed of the `XorShiftRng` that draws the He init, then every epoch's shuffle.
    pub seed: u64,
    /// The optimizer: SGD, its learning rate on the gradient of the batch's *mean* loss.
    pub sgd: Sgd,
    /// Training epochs.
    pub epochs: u16,
    /// What the run must end with, on the host and on the device.
    pub expect: Outcome,
}

/// `Sgd::new(lr)` for a configuration constant: an invalid rate fails to compile.
const fn sgd(lr: f32) -> Sgd {
    match Sgd::new(lr) {
        Ok(sgd) => sgd,
        Err(_) => panic!("invalid learning rate"),
    }
}

/// What a run ends with, compared bit for bit between the host and each core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Test images classified correctly, of [`TEST_ROWS`].
    pub test_correct: u16,
    /// `to_bits` of the last epoch's mean training loss (see [`train`]).
    pub loss_bits: u32,
    /// [`weights_fnv`] of the trained model.
    pub weights_fnv: u32,
}

impl Outcome {
    /// The test accuracy in thousandths, rounded down: `⌊1000 · correct / 450⌋`.
    ///
    /// That is `⌊20 · correct / 9⌋`, computed as `(20 · correct · 7282) >> 16` with
    /// `7282 = ⌈2¹⁶ / 9⌉`. The product overshoots `20 · correct / 9` by
    /// `40 · correct / (9 · 2¹⁶) < 1 / 9` (for `correct ≤ 450`), less than the gap from any
    /// non-integer multiple of `1 / 9` up to the next integer, so the floor is the same (the host
    /// test checks all 451 values). No division: a Cortex-M0 has no divide instruction, and
    /// this was the firmware's last use of one (the M0 firmware links no software division).
    pub const fn accuracy_permille(&self) -> u32 {
        const { assert!(TEST_ROWS == 450) };
        (self.test_correct as u32 * 20 * 7282) >> 16
    }

    /// Whether the test accuracy is at least 0.95 (exactly: `correct / 450 ≥ 19 / 20`).
    pub const fn passes(&self) -> bool {
        self.test_correct as usize * 20 >= TEST_ROWS * 19
    }
}

/// The Cortex-M4F configuration (QEMU `mps2-an386`): batch 10, the notebook's batch size.
///
/// Seeds 0 to 19 of this configuration reach test accuracies of 0.9644 to 0.9778 (mean 0.9731).
pub mod m4f {
    use super::{Outcome, Run, sgd};

    /// The batch size.
    pub const BATCH: usize = 10;
    /// Seed, learning rate, epochs, and the outcome the host test pins.
    pub const RUN: Run = Run {
        seed: 1,
        sgd: sgd(0.05),
        epochs: 20,
        expect: Outcome {
            test_correct: 439,
            loss_bits: 0x3cc3_228a,
            weights_fnv: 0xf6a9_2fc2,
        },
    };
}

/// The Cortex-M0 configuration (QEMU `microbit`, 16 kB of RAM): batch 4, the largest whose
/// training state and stack fit in 16 kB (see `examples/cortex-m/README.md`).
///
/// Seeds 0 to 19 of this configuration reach test accuracies of 0.9600 to 0.9800 (mean 0.9697).
pub mod m0 {
    use super::{Outcome, Run, sgd};

    /// The batch size.
    pub const BATCH: usize = 4;
    /// Seed, learning rate, epochs, and the outcome the host test pins.
    pub const RUN: Run = Run {
        seed: 1,
        sgd: sgd(0.04),
        epochs: 6,
        expect: Outcome {
            test_correct: 438,
            loss_bits: 0x3d7b_62f9,
            weights_fnv: 0xd8cf_92de,
        },
    };
}

/// The device's training step: [`Trainer::step_in_place`] with softmax cross-entropy on the
/// batch already in [`Trainer::input_mut`]; returns the batch's mean loss.
///
/// # Errors
///
/// As [`Trainer::step_in_place`]: [`Error::LabelOutOfRange`] or [`Error::NonFiniteInput`]
/// (nothing written), [`Error::NonFiniteLoss`] (the model unchanged), or
/// [`Error::NonFiniteParameters`].
pub fn step<const B: usize>(
    model: &mut Mlp,
    trainer: &mut DigitsTrainer<B>,
    labels: &[usize; B],
) -> Result<f32, Error> {
    trainer.step_in_place(model, &CrossEntropy, labels)
}

/// Trains `ws.model` from scratch on `data` with `trainer` and returns the last epoch's mean
/// training loss.
///
/// 1. `rng = XorShiftRng::seed_from_u64(run.seed)`; `ws.model.init(&mut rng)` (He-normal);
///    `ws.order = [0, 1, …, 1346]`; the trainer's step count to 0.
/// 2. Each epoch: `shuffle(&mut ws.order, &mut rng)` (the previous epoch's order), then for each
///    batch of `batches::<B, _>(&ws.order, Remainder::Wrap)` (`ceil(1347 / B)` batches; the last
///    one wraps around to the start of this epoch's order): write the normalized images into
///    `trainer.input_mut()` and call `step(&mut ws.model, trainer, &labels)`.
/// 3. An epoch's loss is `(Σ step losses, in step order, in f32) / steps as f32`: each step's
///    loss is the batch's mean loss *before* its update. `after_epoch(epoch, loss)` is called
///    after each epoch, counted from 1.
///
/// `step` is [`step`] on the device; the host test also runs `Trainer::step`, the
/// `BufferedTrainer` and the one-liners `train_step_fused` and `train_step` through it
/// (copying the batch out of `input_mut()` as their input) and gets the same bits. The SGD is
/// the trainer's (`Trainer::new(run.sgd)`).
///
/// # Errors
///
/// The first error of a step ([`Error::NonFiniteLoss`] if training diverges).
pub fn train<const B: usize, S, E>(
    ws: &mut Workspace,
    trainer: &mut DigitsTrainer<B>,
    data: Split<'_>,
    run: &Run,
    mut step: S,
    mut after_epoch: E,
) -> Result<f32, Error>
where
    S: FnMut(&mut Mlp, &mut DigitsTrainer<B>, &[usize; B]) -> Result<f32, Error>,
    E: FnMut(u16, f32),
{
    let mut rng = XorShiftRng::seed_from_u64(run.seed);
    ws.model.init(&mut rng);
    for (k, o) in (0..).zip(ws.order.iter_mut()) {
        *o = k;
    }
    *trainer.state_mut().1 = 0;
    let mut epoch_loss = f32::NAN;
    for epoch in 1..=run.epochs {
        shuffle(&mut ws.order, &mut rng);
        let mut loss_sum = 0.0f32;
        let mut steps = 0u16;
        for rows in batches::<B, u16>(&ws.order, Remainder::Wrap) {
            let mut labels = [0; B];
            let x = trainer.input_mut();
            for ((x, label), &row) in x.iter_mut().zip(&mut labels).zip(&rows) {
                let row = usize::from(row);
                normalize(&data.pixels[row], x);
                *label = usize::from(data.labels[row]);
            }
            loss_sum += step(&mut ws.model, trainer, &labels)?;
            steps += 1;
        }
        epoch_loss = loss_sum / f32::from(steps);
        after_epoch(epoch, epoch_loss);
    }
    Ok(epoch_loss)
}

/// How many images of `data` the model classifies correctly, `B` at a time.
///
/// Each batch of `B` test images goes through [`correct_in_batch`], i.e. through the training
/// forward pass ([`Trainer::forward_in_place`]): the firmware needs no second (single-image)
/// forward pass, 0.5 kB less flash in all. Each logit is the same sequence of operations
/// whatever the batch size (the host test checks it against `Module::forward` on one image at a
/// time, bit for bit). It overwrites the trainer's cache, which only a training step reads,
/// after writing it itself.
pub fn count_correct<const B: usize>(
    model: &mut Mlp,
    trainer: &mut DigitsTrainer<B>,
    data: Split<'_>,
) -> u16 {
    let mut correct = 0;
    for (pixels, labels) in data.pixels.chunks(B).zip(data.labels.chunks(B)) {
        correct += correct_in_batch(model, trainer, pixels, labels);
    }
    correct
}

/// How many of up to `B` images the model classifies correctly: writes them into the first rows
/// of [`Trainer::input_mut`], runs [`Trainer::forward_in_place`] on the whole batch, and
/// compares the first `labels.len()` rows' `argmax` with the labels.
///
/// A last, short batch (450 test images in batches of 4) leaves the other rows as they were
/// (finite inputs of an earlier batch); their predictions are not counted.
pub fn correct_in_batch<const B: usize>(
    model: &mut Mlp,
    trainer: &mut DigitsTrainer<B>,
    pixels: &[[u8; PIXELS]],
    labels: &[u8],
) -> u16 {
    for (x, p) in trainer.input_mut().iter_mut().zip(pixels) {
        normalize(p, x);
    }
    let logits = trainer.forward_in_place(model);
    let mut correct = 0;
    for (row, &label) in logits.iter().zip(labels) {
        if argmax(row) == usize::from(label) {
            correct += 1;
        }
    }
    correct
}

/// FNV-1a (32 bits) over the little-endian bytes of every parameter's `to_bits`, in
/// `Params::visit` order (first layer's weight row by row, its bias, then the second layer's).
pub fn weights_fnv(model: &Mlp) -> u32 {
    fnv::params::<u32, _>(model)
}
