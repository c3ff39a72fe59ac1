//! The regression runs, shared by `examples/regression.rs` and `tests/regression.rs` (each
//! includes this file as a module, as `common/digits.rs` is), so the test pins what the example
//! prints.
//!
//! 1. The series' regression notebook: `y = w·x + b` (a `Linear<1, 1>`) fitted to `x = [1, 2]`,
//!    `t = [5, 8]` from `w = 2`, `b = 1` with the mean squared error (gradient `2(y − t)/N`)
//!    and SGD, learning rate 0.01.
//! 2. A real regression: `y = sin(x)` on `[−π, π]` from noisy samples, with a small ReLU MLP
//!    and Adam, evaluated on a clean grid.

// Each user includes all of it but uses a part (the test never prints a curve).
#![allow(dead_code)]

use constnn::rand_core::{Rng, SeedableRng};
use constnn::{
    Adam, Batch, BufferedTrainer, Error, Linear, Module, Mse, Params, Relu, Remainder, Sgd,
    Trainer, XorShiftRng, Zeroed, batches, shuffle, standard_normal,
};

// ---------------------------------------------------------------------------------------------
// 1. The notebook's line.

/// The notebook's model: `y = w·x + b`.
pub type Line = Linear<1, 1>;
/// The notebook's inputs, a batch of two rows.
pub const LINE_X: Batch<2, 1> = [[1.0], [2.0]];
/// The notebook's targets.
pub const LINE_T: Batch<2, 1> = [[5.0], [8.0]];
/// The notebook's learning rate.
pub const LINE_LR: f32 = 0.01;
/// The notebook's steps (the first, and 100 more).
pub const LINE_STEPS: usize = 101;

/// The notebook's start: `w = 2`, `b = 1`.
pub const fn line_start() -> Line {
    Linear {
        weight: [[2.0]],
        bias: [1.0],
    }
}

/// `(w, b)` of a line.
pub fn line_params(line: &Line) -> (f32, f32) {
    (line.weight[0][0], line.bias[0])
}

/// Fits the line for `steps` SGD steps with the MSE on the whole batch (fused, or buffered);
/// calls `after_step(step, &line, loss)` after each, with the loss before that step.
pub fn fit_line(
    steps: usize,
    buffered: bool,
    mut after_step: impl FnMut(usize, &Line, f32),
) -> Result<Line, Error> {
    let sgd = Sgd::new(LINE_LR)?;
    let mut line = line_start();
    let mut fused: Trainer<Line, Batch<2, 1>, Sgd> = Trainer::new(sgd);
    let mut buffer: BufferedTrainer<Line, Batch<2, 1>, Sgd> = BufferedTrainer::new(sgd);
    for step in 1..=steps {
        let loss = if buffered {
            buffer.step(&mut line, &LINE_X, &Mse, &LINE_T)?
        } else {
            fused.step(&mut line, &LINE_X, &Mse, &LINE_T)?
        };
        after_step(step, &line, loss);
    }
    Ok(line)
}

// ---------------------------------------------------------------------------------------------
// 2. The sine.

/// The sine model: one input, two hidden ReLU layers of 32, one output.
pub type SineNet = (Linear<1, 32>, Relu, Linear<32, 32>, Relu, Linear<32, 1>);
/// Training samples: `x` uniform in `[−π, π)`, `t = sin(x) + N(0, NOISE²)`.
pub const SINE_TRAIN: usize = 128;
/// The noise's standard deviation on the training targets.
pub const NOISE: f32 = 0.05;
/// Test points: an even grid over `[−π, π]`, clean targets `sin(x)`.
pub const SINE_TEST: usize = 256;
/// The training batch size.
pub const SINE_BATCH: usize = 32;
/// Training epochs (each a shuffled pass over the training set: 4 steps).
pub const SINE_EPOCHS: usize = 400;
/// Adam's learning rate.
pub const SINE_LR: f32 = 0.001;
/// The seed of the data, the initialization and the shuffles.
pub const SINE_SEED: u64 = 1;

/// Training and test samples.
pub struct SineData {
    pub train: Vec<(f32, f32)>,
    pub test: Vec<(f32, f32)>,
}

/// The data of seed `seed`.
pub fn sine_data(seed: u64) -> SineData {
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let pi = core::f32::consts::PI;
    let train = (0..SINE_TRAIN)
        .map(|_| {
            let u = (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
            let x = -pi + 2.0 * pi * u;
            (x, x.sin() + NOISE * standard_normal(&mut rng))
        })
        .collect();
    let test = (0..SINE_TEST)
        .map(|k| {
            let x = -pi + 2.0 * pi * k as f32 / (SINE_TEST - 1) as f32;
            (x, x.sin())
        })
        .collect();
    SineData { train, test }
}

/// The mean squared error of `model` over `samples` (summed in `f64`).
pub fn mean_squared_error(model: &SineNet, samples: &[(f32, f32)]) -> f64 {
    let total: f64 = samples
        .iter()
        .map(|&(x, t)| {
            let d = f64::from(model.forward(&[[x]])[0][0]) - f64::from(t);
            d * d
        })
        .sum();
    total / samples.len() as f64
}

/// Trains a fresh [`SineNet`] (He init from `seed`) with Adam and the MSE, fused or buffered;
/// calls `after_epoch(epoch, &model)` after each epoch.
pub fn fit_sine(
    data: &SineData,
    seed: u64,
    buffered: bool,
    mut after_epoch: impl FnMut(usize, &SineNet),
) -> Result<SineNet, Error> {
    type X = Batch<SINE_BATCH, 1>;
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let mut model = SineNet::ZERO;
    model.init(&mut rng);
    let adam = Adam::new(SINE_LR)?;
    let mut fused: Trainer<SineNet, X, Adam> = Trainer::new(adam);
    let mut buffer: BufferedTrainer<SineNet, X, Adam> = BufferedTrainer::new(adam);
    let mut order: Vec<usize> = (0..data.train.len()).collect();
    for epoch in 1..=SINE_EPOCHS {
        shuffle(&mut order, &mut rng);
        for idx in batches::<SINE_BATCH, _>(&order, Remainder::Wrap) {
            let x: X = idx.map(|i| [data.train[i].0]);
            let t: X = idx.map(|i| [data.train[i].1]);
            if buffered {
                buffer.step(&mut model, &x, &Mse, &t)?;
            } else {
                fused.step(&mut model, &x, &Mse, &t)?;
            }
        }
        after_epoch(epoch, &model);
    }
    Ok(model)
}
