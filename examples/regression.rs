//! Regression with the mean squared error: the series' regression notebook, then a sine.
//!
//! ```text
//! cargo run --release --example regression
//! cargo run --release --example regression -- --plot loss.svg   # the sine's loss curves
//! ```
//!
//! 1. The notebook: `y = w·x + b` (a `Linear<1, 1>`) fitted to `x = [1, 2]`, `t = [5, 8]`
//!    from `w = 2`, `b = 1` with `constnn::Mse` (the mean of the squares; gradient
//!    `2(y − t)/N`) and SGD with learning rate 0.01. After one step `w = 2.08, b = 1.05`; after
//!    101 steps, in `f32`, `w = 3.1464999 (0x40496041), b = 1.7609462 (0x3fe166af)`, on its way
//!    to the least-squares line `w = 3, b = 2` (the float64 value of `w` would round to
//!    `0x40496042`: the bits are f32 arithmetic's). `tests/regression.rs` pins them.
//! 2. `y = sin(x)` on `[−π, π]`: 128 noisy samples, a `(Linear<1, 32>, Relu, Linear<32, 32>,
//!    Relu, Linear<32, 1>)` and Adam; the train and test MSE (test: a clean grid of 256 points)
//!    every 50 epochs. With `--plot FILE.svg` the two loss curves are drawn as an SVG chart.
//!
//! The training code is in `examples/common/regression.rs`, shared with the test.

#[path = "common/plot.rs"]
mod plot;
#[path = "common/regression.rs"]
mod regression;

use std::process::ExitCode;

use constnn::{Error, Loss, Module, Mse, train_bytes};
use regression::{
    LINE_STEPS, LINE_T, LINE_X, SINE_EPOCHS, SINE_SEED, SineNet, fit_line, fit_sine, line_params,
    line_start, mean_squared_error, sine_data,
};

fn parse_args() -> Result<Option<String>, String> {
    let mut plot = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--plot" => plot = Some(args.next().ok_or("--plot needs a file name")?),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    Ok(plot)
}

fn line() -> Result<(), Error> {
    println!("## The notebook: y = w·x + b on x = [1, 2], t = [5, 8], MSE, SGD lr 0.01");
    let (w, b) = line_params(&line_start());
    let y = line_start().forward(&LINE_X);
    println!(
        "start: w = {w}, b = {b}, y = [{}, {}], loss = {}",
        y[0][0],
        y[1][0],
        Mse.loss(&y, &LINE_T)?
    );
    let line = fit_line(LINE_STEPS, false, |step, line, loss| {
        let (w, b) = line_params(line);
        if step == 1 {
            println!("after 1 step: w = {w}, b = {b} (loss before it {loss})");
        } else if step % 20 == 1 && step < LINE_STEPS {
            println!("after {step} steps: w = {w}, b = {b} (loss before it {loss})");
        }
    })?;
    let (w, b) = line_params(&line);
    println!(
        "after {LINE_STEPS} steps: w = {w} ({:#010x}), b = {b} ({:#010x})",
        w.to_bits(),
        b.to_bits()
    );
    println!("w_bits={:#010x} b_bits={:#010x}", w.to_bits(), b.to_bits());
    Ok(())
}

fn sine(plot_path: Option<&str>) -> Result<(), Error> {
    println!();
    println!(
        "## y = sin(x) on [-pi, pi]: (Linear<1, 32>, Relu, Linear<32, 32>, Relu, Linear<32, 1>), Adam"
    );
    type X = constnn::Batch<{ regression::SINE_BATCH }, 1>;
    println!(
        "training RAM (fused, Adam): {} bytes",
        train_bytes::<SineNet, X, constnn::Adam>()
    );
    let data = sine_data(SINE_SEED);
    let mut train_curve = Vec::new();
    let mut test_curve = Vec::new();
    let model = fit_sine(&data, SINE_SEED, false, |epoch, model| {
        let train = mean_squared_error(model, &data.train);
        let test = mean_squared_error(model, &data.test);
        train_curve.push((epoch as f32, train as f32));
        test_curve.push((epoch as f32, test as f32));
        if epoch == 1 || epoch % 50 == 0 {
            println!("epoch {epoch} loss_train {train:.6} loss_test {test:.6}");
        }
    })?;
    // The training targets carry noise of variance NOISE², a floor under the training loss
    // that the clean test grid does not have.
    println!(
        "after {SINE_EPOCHS} epochs: test MSE {:.6} (the training targets' noise variance is {:.6})",
        mean_squared_error(&model, &data.test),
        regression::NOISE * regression::NOISE
    );
    for x in [-3.0f32, -1.5, 0.0, 0.5, 1.5, 3.0] {
        println!(
            "  sin({x:4.1}) = {:8.5}, model: {:8.5}",
            x.sin(),
            model.forward(&[[x]])[0][0]
        );
    }
    if let Some(path) = plot_path {
        let title = format!(
            "y = sin(x): mean squared error after each epoch (Adam, lr {}, batch {})",
            regression::SINE_LR,
            regression::SINE_BATCH
        );
        let svg = plot::line_chart_svg(
            &title,
            "epoch",
            "MSE",
            &[
                plot::Series {
                    name: "train (noisy samples)",
                    points: &train_curve,
                },
                plot::Series {
                    name: "test (clean grid)",
                    points: &test_curve,
                },
            ],
            true,
        );
        match plot::write_svg(path, &svg) {
            Ok(()) => println!("wrote {path}"),
            Err(e) => eprintln!("could not write {path}: {e}"),
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let plot = match parse_args() {
        Ok(plot) => plot,
        Err(message) => {
            eprintln!("error: {message}\nusage: regression [--plot FILE.svg]");
            return ExitCode::from(2);
        }
    };
    match line().and_then(|()| sine(plot.as_deref())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
