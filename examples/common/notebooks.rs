//! The digits protocol for any model: what `examples/digits_dropout.rs` and
//! `examples/digits_batchnorm.rs` share (and `tests/layers_digits.rs` runs).
//!
//! It is the protocol of `examples/digits.rs` (`common/digits.rs`, which also loads the data):
//! the notebook's 1347/450 split, pixels normalized by the mean and std of all pixels, batch
//! 10 with `Remainder::Wrap`, 100 epochs, SGD with learning rate 0.01 on the mean gradient
//! (the notebook's 1e-3 on its summed gradient), and one `XorShiftRng::seed_from_u64(seed)`
//! drawing the init (every layer's, in order: He-normal weights, the dropout generator's
//! seed) and then every epoch's shuffle. Only the model type differs.

// Each example uses part of this module (the dropout example never evaluates a whole split
// at once); the unused parts must not fail `clippy -D warnings`.
#![allow(dead_code)]

use constnn::rand_core::SeedableRng;
use constnn::{
    Backward, Batch, BufferedTrainer, CrossEntropy, Error, Module, Params, Remainder, Sgd,
    XorShiftRng, batches, count_correct, cross_entropy_with_logits, shuffle,
};

use crate::digits::{BATCH, CLASSES, Digits, EPOCHS, LR, PIXELS, TEST_ROWS, TRAIN_ROWS};

/// One training batch of normalized images.
pub type TrainBatch = Batch<BATCH, PIXELS>;

/// What every model here must do: train on batches of 10, infer one image at a time, and
/// infer a whole split at once (for the batch-statistics evaluation of batch norm).
pub trait DigitsModel:
    Params
    + Backward<TrainBatch, Output = Batch<BATCH, CLASSES>>
    + Module<Batch<1, PIXELS>, Output = Batch<1, CLASSES>>
    + Module<Batch<TRAIN_ROWS, PIXELS>, Output = Batch<TRAIN_ROWS, CLASSES>>
    + Module<Batch<TEST_ROWS, PIXELS>, Output = Batch<TEST_ROWS, CLASSES>>
{
}

impl<M> DigitsModel for M where
    M: Params
        + Backward<TrainBatch, Output = Batch<BATCH, CLASSES>>
        + Module<Batch<1, PIXELS>, Output = Batch<1, CLASSES>>
        + Module<Batch<TRAIN_ROWS, PIXELS>, Output = Batch<TRAIN_ROWS, CLASSES>>
        + Module<Batch<TEST_ROWS, PIXELS>, Output = Batch<TEST_ROWS, CLASSES>>
{
}

/// How a split is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evaluation {
    /// One image at a time (`Batch<1, 64>`), the microcontroller case: each output depends on
    /// its own image only.
    PerSample,
    /// The whole split as one batch, as the notebooks do (`model.forward(x_test)`): what batch
    /// norm's batch-statistics mode needs.
    WholeSplit,
}

/// The mean loss and the accuracy of a model over a set of rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eval {
    /// The mean softmax cross-entropy over the rows.
    pub loss: f64,
    /// Rows whose predicted class is the label.
    pub correct: usize,
    /// Rows evaluated.
    pub rows: usize,
}

impl Eval {
    /// `correct / rows`.
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.rows as f64
    }
}

/// Evaluates `model` on `rows` with inference ([`Module::forward`]: dropout off, batch norm on
/// its inference statistics); the per-row losses are summed in f64.
///
/// # Errors
///
/// [`Error::NonFiniteLoss`] if the model has diverged.
pub fn evaluate<M: DigitsModel>(
    model: &M,
    data: &Digits,
    rows: &[usize],
    how: Evaluation,
) -> Result<Eval, Error> {
    let mut loss = 0.0;
    let mut correct = 0;
    let mut add = |logits: &[[f32; CLASSES]], labels: &[usize]| -> Result<(), Error> {
        for (z, &label) in logits.iter().zip(labels) {
            let (l, _) = cross_entropy_with_logits(&[*z], &[label])?;
            loss += f64::from(l);
            correct += count_correct(&[*z], &[label]);
        }
        Ok(())
    };
    let labels: Vec<usize> = rows.iter().map(|&r| data.labels[r]).collect();
    match how {
        Evaluation::PerSample => {
            for (&row, &label) in rows.iter().zip(&labels) {
                let logits = model.forward(&[data.x[row]]);
                add(&logits, &[label])?;
            }
        }
        Evaluation::WholeSplit => match rows.len() {
            TRAIN_ROWS => add(&forward_all::<M, TRAIN_ROWS>(model, data, rows), &labels)?,
            TEST_ROWS => add(&forward_all::<M, TEST_ROWS>(model, data, rows), &labels)?,
            n => panic!("no whole-split evaluation compiled for {n} rows"),
        },
    }
    Ok(Eval {
        loss: loss / rows.len() as f64,
        correct,
        rows: rows.len(),
    })
}

/// The logits of `rows` (exactly `R` of them) as one batch.
fn forward_all<M, const R: usize>(model: &M, data: &Digits, rows: &[usize]) -> Vec<[f32; CLASSES]>
where
    M: Module<Batch<R, PIXELS>, Output = Batch<R, CLASSES>>,
{
    let mut x: Box<Batch<R, PIXELS>> = vec![[0.0; PIXELS]; R]
        .into_boxed_slice()
        .try_into()
        .expect("R rows");
    for (xr, &r) in x.iter_mut().zip(rows) {
        *xr = data.x[r];
    }
    model.forward(&*x).to_vec()
}

/// Trains `model` (initialized here from the seed) for [`EPOCHS`] epochs with SGD at [`LR`]
/// and returns it; `after_epoch(epoch, &model)` runs after each epoch (counted from 1).
///
/// # Errors
///
/// A training step's error ([`Error::NonFiniteLoss`] if training diverges), or `after_epoch`'s.
pub fn train<M: DigitsModel>(
    data: &Digits,
    seed: u64,
    mut model: M,
    mut after_epoch: impl FnMut(usize, &M) -> Result<(), Error>,
) -> Result<M, Error> {
    let mut rng = XorShiftRng::seed_from_u64(seed);
    model.init(&mut rng);
    // Boxed only to keep the host's stack small; on a microcontroller it would be a `static`.
    let mut trainer: Box<BufferedTrainer<M, TrainBatch, Sgd>> =
        Box::new(BufferedTrainer::new(Sgd::new(LR)?));
    let mut order = data.train.clone();
    for epoch in 1..=EPOCHS {
        shuffle(&mut order, &mut rng);
        for rows in batches::<BATCH, _>(&order, Remainder::Wrap) {
            let x: TrainBatch = rows.map(|r| data.x[r]);
            let labels = rows.map(|r| data.labels[r]);
            trainer.step(&mut model, &x, &CrossEntropy, &labels)?;
        }
        after_epoch(epoch, &model)?;
    }
    Ok(model)
}

/// Trains and prints the digits example's lines: `epoch N loss_train … loss_test …` after
/// epochs 1, 20, 40, …, then `train_accuracy=… test_accuracy=…`.
///
/// # Errors
///
/// As [`train`].
pub fn run<M: DigitsModel>(
    data: &Digits,
    seed: u64,
    model: M,
    how: Evaluation,
) -> Result<(Eval, Eval), Error> {
    let model = train(data, seed, model, |epoch, model| {
        if epoch == 1 || epoch % 20 == 0 {
            let train = evaluate(model, data, &data.train, how)?;
            let test = evaluate(model, data, &data.test, how)?;
            println!(
                "epoch {epoch} loss_train {:.6} loss_test {:.6}",
                train.loss, test.loss
            );
        }
        Ok(())
    })?;
    let train = evaluate(&model, data, &data.train, how)?;
    let test = evaluate(&model, data, &data.test, how)?;
    println!(
        "train_accuracy={:.4} test_accuracy={:.4}",
        train.accuracy(),
        test.accuracy()
    );
    Ok((train, test))
}

/// Parses `[--seed N]` plus the example's own flags (`extra` returns whether it took one).
///
/// # Errors
///
/// A message for a bad or unknown argument.
pub fn parse_seed(
    default_seed: u64,
    mut extra: impl FnMut(&str, &mut dyn Iterator<Item = String>) -> Result<bool, String>,
) -> Result<u64, String> {
    let mut seed = default_seed;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--seed" {
            let value = args.next().ok_or("--seed needs a value")?;
            seed = value
                .parse()
                .map_err(|e| format!("--seed {value:?}: {e}"))?;
        } else if !extra(&arg, &mut args)? {
            return Err(format!("unknown argument {arg:?}"));
        }
    }
    Ok(seed)
}
