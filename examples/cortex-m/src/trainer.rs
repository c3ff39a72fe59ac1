//! The digits training run of the firmware, shared word for word with the host.
//!
//! This one `no_std` module (it needs only `core` and `constnn`) is compiled into three crates:
//!
//! - the firmware (`src/main.rs`), which trains and evaluates on the device;
//! - the firmware's `build.rs`, which calls [`parse_digits`] to turn `data/digits.csv` into the
//!   `u8` arrays kept in flash;
//! - the host test `tests/on_device_run.rs` (`#[path = "../examples/cortex-m/src/trainer.rs"]`),
//!   which parses the CSV with the same [`parse_digits`], runs the same [`train`] and pins what
//!   each board must print.
//!
//! So the data, the normalization, the initialization, the batch order and every float
//! operation are the same on the host and on each core, and the runs end with the same bits.
//!
//! The run: `(Linear<64, 32>, Relu, Linear<32, 10>)`, He init and every epoch's shuffle from one
//! `XorShiftRng::seed_from_u64(seed)`, softmax cross-entropy, plain SGD with the fused update
//! (no gradient buffer), batches of `B` from [`constnn::batches`] with [`Remainder::Wrap`].

// Each of the three crates uses a different part of this module.
#![allow(dead_code)]

use constnn::rand_core::SeedableRng;
use constnn::{
    Backward, Batch, CacheOf, Error, Linear, Module, Params, Relu, Remainder, Sgd, XorShiftRng,
    Zeroed, argmax, assert_module, batches, cross_entropy_with_logits, shuffle, train_bytes_fused,
};

/// Pixels per image (8×8), the model's input width.
pub const PIXELS: usize = 64;
/// Digit classes, the model's output width.
pub const CLASSES: usize = 10;
/// Images in `data/digits.csv`.
pub const ROWS: usize = 1797;
/// Rows of the notebook's test split (`data/digits_split.txt`).
pub const TEST_ROWS: usize = 450;
/// Rows of the training split: the other rows, in ascending order.
pub const TRAIN_ROWS: usize = ROWS - TEST_ROWS;
/// The largest pixel value (a pixel counts the "on" cells of a 4×4 block).
pub const MAX_PIXEL: u8 = 16;

/// The notebook's model: 64 pixels → 32 hidden units → 10 logits (2410 `f32` parameters).
pub type Mlp = (Linear<PIXELS, 32>, Relu, Linear<32, CLASSES>);

/// The training cache for batches of `B`: the first layer's input, the ReLU mask, the second
/// layer's input.
pub type Cache<const B: usize> = CacheOf<Mlp, Batch<B, PIXELS>>;

const _: () = assert_module::<Batch<1, PIXELS>, Mlp>();

/// The mean of all 1797 × 64 pixels of `data/digits.csv`: `561718 / 115008`, correctly rounded.
pub const MEAN: f64 = 4.884164579855314;
/// The population standard deviation (`ddof = 0`) of the same pixels:
/// `sqrt((115008 · 6907012 − 561718²) / 115008²)`, correctly rounded.
pub const STD: f64 = 6.016787548672236;

/// `NORMALIZED[p]` is the network input for pixel value `p`: `((p − MEAN) / STD) as f32`,
/// computed in `f64` and rounded to `f32` once, at compile time.
///
/// This is the whole normalization: the device only looks pixels up in this 68-byte table (no
/// float operation, so nothing target-dependent), and the host test uses the same table.
pub const NORMALIZED: [f32; MAX_PIXEL as usize + 1] = {
    let mut table = [0.0; MAX_PIXEL as usize + 1];
    let mut p = 0;
    while p < table.len() {
        table[p] = ((p as f64 - MEAN) / STD) as f32;
        p += 1;
    }
    table
};

/// Writes the normalized network input of one image into `x`.
///
/// Not inlined: the training loop and the evaluation share one copy (60 bytes less flash on
/// the Cortex-M4F, for a call per image).
///
/// # Panics
///
/// If a pixel is above [`MAX_PIXEL`] ([`parse_digits`] never lets one through).
#[inline(never)]
pub fn normalize(pixels: &[u8; PIXELS], x: &mut [f32; PIXELS]) {
    for (v, &p) in x.iter_mut().zip(pixels) {
        *v = NORMALIZED[usize::from(p)];
    }
}

/// A set of images and their labels, as stored in flash: one `u8` per pixel and per label.
#[derive(Debug, Clone, Copy)]
pub struct Split<'a> {
    /// `pixels[row]`: the 64 pixels of an image, row-major, `0..=16`.
    pub pixels: &'a [[u8; PIXELS]],
    /// `labels[row]`: its digit, `0..=9`.
    pub labels: &'a [u8],
}

/// The data set split as the notebook does, in `u8`: what [`parse_digits`] produces.
pub struct Digits {
    /// The training split's pixels (the rows not in the test split, ascending).
    pub train_pixels: [[u8; PIXELS]; TRAIN_ROWS],
    /// The training split's labels.
    pub train_labels: [u8; TRAIN_ROWS],
    /// The test split's pixels (the rows of `digits_split.txt`, ascending).
    pub test_pixels: [[u8; PIXELS]; TEST_ROWS],
    /// The test split's labels.
    pub test_labels: [u8; TEST_ROWS],
}

impl Digits {
    /// All zero, to be filled by [`parse_digits`].
    pub const ZERO: Self = Self {
        train_pixels: [[0; PIXELS]; TRAIN_ROWS],
        train_labels: [0; TRAIN_ROWS],
        test_pixels: [[0; PIXELS]; TEST_ROWS],
        test_labels: [0; TEST_ROWS],
    };

    /// The training split.
    pub fn train(&self) -> Split<'_> {
        Split {
            pixels: &self.train_pixels,
            labels: &self.train_labels,
        }
    }

    /// The test split.
    pub fn test(&self) -> Split<'_> {
        Split {
            pixels: &self.test_pixels,
            labels: &self.test_labels,
        }
    }
}

/// What is wrong with `digits.csv` or `digits_split.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The CSV header is not `p0,p1,…,p63,label`.
    Header,
    /// A CSV row (0-based, header not counted) is not 64 pixels `0..=16` and a label `0..=9`.
    Row(usize),
    /// The CSV does not have [`ROWS`] rows.
    RowCount,
    /// The split file is not one `#` comment line and [`TEST_ROWS`] ascending indices below
    /// [`ROWS`].
    Split,
}

/// Parses `data/digits.csv` and `data/digits_split.txt` (formats in `data/README.md`) into
/// `out`. Used by the firmware's `build.rs` and by the host test, so both get the same arrays.
///
/// # Errors
///
/// A [`ParseError`] saying which file or row is malformed.
pub fn parse_digits(csv: &str, split: &str, out: &mut Digits) -> Result<(), ParseError> {
    let mut is_test = [false; ROWS];
    let mut lines = split.lines().filter(|l| !l.starts_with('#'));
    let indices = lines.next().ok_or(ParseError::Split)?;
    let mut count = 0;
    let mut previous = None;
    for field in indices.split(',') {
        let row: usize = field.trim().parse().map_err(|_| ParseError::Split)?;
        if row >= ROWS || previous.is_some_and(|p| p >= row) {
            return Err(ParseError::Split);
        }
        is_test[row] = true;
        previous = Some(row);
        count += 1;
    }
    if count != TEST_ROWS || lines.next().is_some() {
        return Err(ParseError::Split);
    }

    let mut lines = csv.lines();
    let header = lines.next().ok_or(ParseError::Header)?;
    let mut names = header.split(',');
    for i in 0..PIXELS {
        let name = names.next().and_then(|n| n.strip_prefix('p'));
        if name.and_then(|n| n.parse::<usize>().ok()) != Some(i) {
            return Err(ParseError::Header);
        }
    }
    if names.next() != Some("label") || names.next().is_some() {
        return Err(ParseError::Header);
    }

    let (mut train, mut test, mut rows) = (0, 0, 0);
    for (row, line) in lines.enumerate() {
        if row >= ROWS {
            return Err(ParseError::RowCount);
        }
        let mut fields = line.split(',').map(|v| v.parse::<u8>().ok());
        let mut pixels = [0; PIXELS];
        for p in &mut pixels {
            *p = fields
                .next()
                .flatten()
                .filter(|&p| p <= MAX_PIXEL)
                .ok_or(ParseError::Row(row))?;
        }
        let label = fields
            .next()
            .flatten()
            .filter(|&l| usize::from(l) < CLASSES)
            .ok_or(ParseError::Row(row))?;
        if fields.next().is_some() {
            return Err(ParseError::Row(row));
        }
        if is_test[row] {
            (out.test_pixels[test], out.test_labels[test]) = (pixels, label);
            test += 1;
        } else {
            (out.train_pixels[train], out.train_labels[train]) = (pixels, label);
            train += 1;
        }
        rows += 1;
    }
    if rows == ROWS {
        Ok(())
    } else {
        Err(ParseError::RowCount)
    }
}

/// The RAM of a training run with batches of `B`; its all-zero value is `const`, so it can be a
/// `static` (in `.bss`).
pub struct Workspace<const B: usize> {
    /// The model's parameters.
    pub model: Mlp,
    /// The training cache. Its first part, the first layer's input, is also where each batch is
    /// written (see [`fused_step_in_place`]): there is no separate input batch.
    pub cache: Cache<B>,
    /// The training rows' order, reshuffled every epoch (`u16`: 1347 rows).
    pub order: [u16; TRAIN_ROWS],
}

impl<const B: usize> Workspace<B> {
    /// All zero; [`train`] initializes everything it uses.
    pub const ZERO: Self = Self {
        model: Zeroed::ZERO,
        cache: Zeroed::ZERO,
        order: [0; TRAIN_ROWS],
    };

    /// The bytes of [`Workspace`], from its parts: what constnn says training needs with the
    /// fused step (`train_bytes_fused`: parameters + caches, no gradients) plus the order.
    pub const BYTES: usize = {
        let bytes = train_bytes_fused::<Batch<B, PIXELS>, Mlp>() + size_of::<[u16; TRAIN_ROWS]>();
        // Nothing else: only the padding up to the struct's alignment.
        assert!(size_of::<Self>() == bytes.next_multiple_of(align_of::<Self>()));
        bytes
    };
}

/// One training configuration (the batch size is the const parameter `B` of [`train`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    /// The seed of the `XorShiftRng` that draws the He init, then every epoch's shuffle.
    pub seed: u64,
    /// The SGD learning rate (on the gradient of the batch's *mean* loss).
    pub lr: f32,
    /// Training epochs.
    pub epochs: u16,
    /// What the run must end with, on the host and on the device.
    pub expect: Outcome,
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
    use super::{Outcome, Run};

    /// The batch size.
    pub const BATCH: usize = 10;
    /// Seed, learning rate, epochs, and the outcome the host test pins.
    pub const RUN: Run = Run {
        seed: 1,
        lr: 0.05,
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
    use super::{Outcome, Run};

    /// The batch size.
    pub const BATCH: usize = 4;
    /// Seed, learning rate, epochs, and the outcome the host test pins.
    pub const RUN: Run = Run {
        seed: 1,
        lr: 0.04,
        epochs: 6,
        expect: Outcome {
            test_correct: 438,
            loss_bits: 0x3d7b_62f9,
            weights_fnv: 0xd8cf_92de,
        },
    };
}

/// One fused SGD step on the batch that is already in `cache.0`; returns the batch's mean loss.
///
/// The same operations, in the same order, as `constnn::train_step_fused(model, cache, &x, …)`
/// with `x == cache.0`, without its copy of `x` into `cache.0` (the first layer's cache *is*
/// its input): the batch needs no RAM of its own, `B × 256` bytes less on the stack.
///
/// # Errors
///
/// [`Error::LabelOutOfRange`] or [`Error::NonFiniteLoss`]; the model is then unchanged.
pub fn fused_step_in_place<const B: usize>(
    model: &mut Mlp,
    cache: &mut Cache<B>,
    labels: &[usize; B],
    sgd: &Sgd,
) -> Result<f32, Error> {
    let logits = forward_in_place(model, cache);
    loss_and_backward_step(model, cache, &logits, labels, sgd)
}

/// The forward pass of [`fused_step_in_place`] (and of the evaluation, [`count_correct`]): the
/// logits of the batch in `cache.0`, with the ReLU mask and the hidden layer written into the
/// cache. Not inlined, so that its temporaries and the backward pass's share the stack instead
/// of adding up.
#[inline(never)]
pub fn forward_in_place<const B: usize>(
    model: &mut Mlp,
    cache: &mut Cache<B>,
) -> Batch<B, CLASSES> {
    let (linear1, relu, linear2) = model;
    let (x, mask, hidden) = cache;
    *hidden = relu.forward_train(&linear1.forward(&*x), mask);
    linear2.forward(&*hidden)
}

/// The loss and the fused backward pass of [`fused_step_in_place`].
#[inline(never)]
fn loss_and_backward_step<const B: usize>(
    model: &mut Mlp,
    cache: &Cache<B>,
    logits: &Batch<B, CLASSES>,
    labels: &[usize; B],
    sgd: &Sgd,
) -> Result<f32, Error> {
    let (loss, dlogits) = cross_entropy_with_logits(logits, labels)?;
    let (linear1, relu, linear2) = model;
    let (x, mask, hidden) = cache;
    let d = linear2.backward_step(hidden, &dlogits, sgd);
    let d = relu.backward_step(mask, &d, sgd);
    linear1.backward_step_params(x, &d, sgd);
    Ok(loss)
}

/// Trains `ws.model` from scratch on `data` and returns the last epoch's mean training loss.
///
/// 1. `rng = XorShiftRng::seed_from_u64(run.seed)`; `ws.model.init(&mut rng)` (He-normal);
///    `ws.order = [0, 1, …, 1346]`.
/// 2. Each epoch: `shuffle(&mut ws.order, &mut rng)` (the previous epoch's order), then for each
///    batch of `batches::<B, _>(&ws.order, Remainder::Wrap)` (`ceil(1347 / B)` batches; the last
///    one wraps around to the start of this epoch's order): write the normalized images into
///    `ws.cache.0` and call `step(&mut ws.model, &mut ws.cache, &labels, &sgd)`.
/// 3. An epoch's loss is `(Σ step losses, in step order, in f32) / steps as f32`: each step's
///    loss is the batch's mean loss *before* its update. `after_epoch(epoch, loss)` is called
///    after each epoch, counted from 1.
///
/// `step` is [`fused_step_in_place`] on the device; the host test also runs
/// `constnn::train_step_fused` and the buffered `constnn::train_step` through it (copying
/// `cache.0` out as their input) and gets the same bits.
///
/// # Errors
///
/// The first error of a step ([`Error::NonFiniteLoss`] if training diverges).
pub fn train<const B: usize, S, E>(
    ws: &mut Workspace<B>,
    data: Split<'_>,
    run: &Run,
    mut step: S,
    mut after_epoch: E,
) -> Result<f32, Error>
where
    S: FnMut(&mut Mlp, &mut Cache<B>, &[usize; B], &Sgd) -> Result<f32, Error>,
    E: FnMut(u16, f32),
{
    let sgd = Sgd::new(run.lr)?;
    let mut rng = XorShiftRng::seed_from_u64(run.seed);
    ws.model.init(&mut rng);
    for (k, o) in (0..).zip(ws.order.iter_mut()) {
        *o = k;
    }
    let mut epoch_loss = f32::NAN;
    for epoch in 1..=run.epochs {
        shuffle(&mut ws.order, &mut rng);
        let mut loss_sum = 0.0f32;
        let mut steps = 0u16;
        for rows in batches::<B, u16>(&ws.order, Remainder::Wrap) {
            let mut labels = [0; B];
            for ((x, label), &row) in ws.cache.0.iter_mut().zip(&mut labels).zip(&rows) {
                let row = usize::from(row);
                normalize(&data.pixels[row], x);
                *label = usize::from(data.labels[row]);
            }
            loss_sum += step(&mut ws.model, &mut ws.cache, &labels, &sgd)?;
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
/// forward pass [`forward_in_place`]: the firmware needs no second (single-image) forward pass,
/// 0.5 kB less flash in all. Each logit is the same sequence of operations whatever the batch size
/// (the host test checks it against `Module::forward` on one image at a time, bit for bit).
/// It overwrites `ws.cache`, which only a training step reads, after writing it itself.
pub fn count_correct<const B: usize>(ws: &mut Workspace<B>, data: Split<'_>) -> u16 {
    let mut correct = 0;
    for (pixels, labels) in data.pixels.chunks(B).zip(data.labels.chunks(B)) {
        correct += correct_in_batch(&mut ws.model, &mut ws.cache, pixels, labels);
    }
    correct
}

/// How many of up to `B` images the model classifies correctly: writes them into the first rows
/// of `cache.0`, runs [`forward_in_place`] on the whole batch, and compares the first
/// `labels.len()` rows' `argmax` with the labels.
///
/// A last, short batch (450 test images in batches of 4) leaves the other rows as they were
/// (finite inputs of an earlier batch); their predictions are not counted.
pub fn correct_in_batch<const B: usize>(
    model: &mut Mlp,
    cache: &mut Cache<B>,
    pixels: &[[u8; PIXELS]],
    labels: &[u8],
) -> u16 {
    for (x, p) in cache.0.iter_mut().zip(pixels) {
        normalize(p, x);
    }
    let logits = forward_in_place(model, cache);
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
    let mut hash = 0x811c_9dc5_u32;
    model.visit(&mut |params: &[f32]| hash = fnv(hash, params));
    hash
}

/// `hash` continued with FNV-1a over the little-endian bytes of each value's `to_bits`.
///
/// Not inlined: [`weights_fnv`] calls it on four slices, and one copy of the loop instead of
/// four is 108 bytes less flash on the Cortex-M4F.
#[inline(never)]
fn fnv(mut hash: u32, values: &[f32]) -> u32 {
    for v in values {
        for byte in v.to_bits().to_le_bytes() {
            hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
        }
    }
    hash
}
