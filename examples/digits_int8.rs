//! Trains the digits model as `examples/digits.rs` does, quantizes it to int8 after training
//! (calibrated on a few hundred training images), and compares the float and int8 models on
//! the notebook's 450 test images.
//!
//! ```text
//! cargo run --release --example digits_int8
//! cargo run --release --example digits_int8 -- --seed 3 --calibration 500
//! ```
//!
//! The last line is
//! `f32_test_accuracy=0.XXXX int8_test_accuracy=0.XXXX agreement=0.XXXX`, where `agreement`
//! is the fraction of test images on which both models predict the same class. The int8 model
//! is TFLite's int8 arithmetic (see `constnn::quant`): per-channel int8 weights, int8
//! activations, the ReLU fused into the first layer's clamp, and the predicted class is the
//! argmax of the int8 logits, with no float operation after the input's quantization.

// Shared with examples/digits.rs and tests/train_digits.rs; this example uses a part of it.
#[allow(dead_code)]
#[path = "common/digits.rs"]
mod digits;

use std::process::ExitCode;

use constnn::quant::{Calibration, QuantizedOf, argmax_i8, quantized_bytes};
use constnn::{Batch, Module, argmax};
use digits::{Mlp, PIXELS, SEED, Step};

/// Calibration images are taken in batches of this many rows.
const CAL_BATCH: usize = 10;

struct Options {
    seed: u64,
    calibration: usize,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        seed: SEED,
        calibration: 300,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<usize, String> {
            let v = args.next().ok_or(format!("{name} needs a value"))?;
            v.parse().map_err(|e| format!("{name} {v:?}: {e}"))
        };
        match arg.as_str() {
            "--seed" => options.seed = value("--seed")? as u64,
            "--calibration" => options.calibration = value("--calibration")?,
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if options.calibration == 0 {
        return Err("--calibration must be at least 1".into());
    }
    Ok(options)
}

fn run(options: &Options) -> Result<(), constnn::Error> {
    let data = digits::load();
    println!(
        "model (Linear<64, 32>, Relu, Linear<32, 10>), seed {}",
        options.seed
    );
    let model =
        digits::OptimizerChoice::Sgd.train(&data, options.seed, Step::Fused, |_, _, _| Ok(()))?;

    // Calibration: the first training images (in the data set's order), whole batches of
    // CAL_BATCH rows; a last partial batch is topped up from the start.
    let mut calibration = Calibration::<Mlp>::new();
    let rows = &data.train[..options.calibration.min(data.train.len())];
    for chunk in rows.chunks(CAL_BATCH) {
        let x: Batch<CAL_BATCH, PIXELS> =
            core::array::from_fn(|r| data.x[chunk.get(r).copied().unwrap_or(rows[r])]);
        calibration.observe(&model, &x);
    }
    let q: QuantizedOf<Mlp> = calibration.quantize(&model)?;
    let (l1, _, l2) = &q.layers;
    println!("calibration: {} training images", rows.len());
    println!(
        "  input    scale {:.6} zero point {:4}  (range {:.4} .. {:.4})",
        q.input.scale,
        q.input.zero_point,
        calibration.input_range().min(),
        calibration.input_range().max()
    );
    println!(
        "  hidden   scale {:.6} zero point {:4}  (ReLU fused: clamp {:?})",
        l1.output().scale,
        l1.output().zero_point,
        l1.activation_range()
    );
    println!(
        "  logits   scale {:.6} zero point {:4}",
        q.output.scale, q.output.zero_point
    );
    println!(
        "  shifts: layer 1 {:?}..{:?}, layer 2 {:?}..{:?}",
        l1.shift().iter().min(),
        l1.shift().iter().max(),
        l2.shift().iter().min(),
        l2.shift().iter().max()
    );
    println!(
        "memory: f32 model {} bytes, int8 model {} bytes (quantized_bytes; CMSIS-NN's layout \
         of weights and biases: 2536)",
        size_of::<Mlp>(),
        quantized_bytes::<Mlp>()
    );

    let (mut f32_correct, mut int8_correct, mut agree) = (0usize, 0usize, 0usize);
    let mut max_logit_error = 0.0f32;
    for &row in &data.test {
        let x = [data.x[row]];
        let logits = model.forward(&x);
        let xq = q.quantize_input(&x);
        let yq = q.forward(&xq);
        let float_class = argmax(&logits[0]);
        let int8_class = argmax_i8(&yq[0]);
        let label = data.labels[row];
        f32_correct += usize::from(float_class == label);
        int8_correct += usize::from(int8_class == label);
        agree += usize::from(float_class == int8_class);
        for (a, b) in q.dequantize_output(&yq)[0].iter().zip(&logits[0]) {
            max_logit_error = max_logit_error.max((a - b).abs());
        }
    }
    let n = data.test.len() as f64;
    println!(
        "test: f32 {f32_correct}/{}, int8 {int8_correct}/{}, same class {agree}/{}; largest \
         logit difference {max_logit_error:.4} ({:.1} int8 steps)",
        data.test.len(),
        data.test.len(),
        data.test.len(),
        max_logit_error / q.output.scale
    );
    println!(
        "f32_test_accuracy={:.4} int8_test_accuracy={:.4} agreement={:.4}",
        f32_correct as f64 / n,
        int8_correct as f64 / n,
        agree as f64 / n
    );
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}\nusage: digits_int8 [--seed N] [--calibration ROWS]");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
