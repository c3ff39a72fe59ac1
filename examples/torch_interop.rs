//! PyTorch and constnn, both directions, through `safetensors` `state_dict`s, on the digits
//! model `(Linear<64, 32>, Relu, Linear<32, 10>)` = `nn.Sequential(nn.Linear(64, 32),
//! nn.ReLU(), nn.Linear(32, 10))`.
//!
//! ```text
//! python examples/torch_interop.py /tmp/interop            # 1. PyTorch trains, saves
//! cargo run --release --example torch_interop -- /tmp/interop  # 2. constnn loads, compares;
//!                                                          #    trains, saves
//! python examples/torch_interop.py --reverse /tmp/interop  # 3. PyTorch loads, compares
//! ```
//!
//! (The Python script needs `torch`, `numpy` and `safetensors`.)
//!
//! 1. The script trains the model in PyTorch on the training split and writes
//!    `torch_digits.safetensors` (`save_file(model.state_dict())`) and the float32 logits of
//!    the 450 test images, `torch_test_logits.npy`.
//! 2. This example loads the weights with [`load_safetensors`] (every key, dtype and shape
//!    checked; PyTorch's `[out, in]` weights transposed into `weight[i][o]`), runs constnn's
//!    forward pass on the test images, and prints the largest |Δlogit| against PyTorch's
//!    (it fails above 1e-5) and both accuracies. Then it trains its own model (the digits
//!    example's SGD run) and writes `constnn_digits.safetensors` ([`save_safetensors`]) and
//!    its test logits, `constnn_test_logits.npy` ([`npy::write_f32`]).
//! 3. The script loads constnn's file with `load_state_dict(strict=True)` and checks its
//!    logits against constnn's within 1e-5.
//!
//! The pixels are normalized the same way on both sides (one mean and std over all pixels,
//! from exact integer sums), so both get the same `f32` inputs; the logits differ only by
//! the order of the floating-point sums.

#[path = "common/digits.rs"]
#[allow(dead_code)]
mod digits;

use std::path::PathBuf;
use std::process::ExitCode;

use constnn::format::npy::{self, Npy};
use constnn::{Module, Zeroed, argmax, load_safetensors, safetensors_len, save_safetensors};
use digits::{CLASSES, Mlp, OptimizerChoice, SEED, Step, TEST_ROWS};

const TOLERANCE: f32 = 1e-5;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: torch_interop DIR (after `python examples/torch_interop.py DIR`)");
        return ExitCode::FAILURE;
    };
    match run(&dir) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn logits(model: &Mlp, data: &digits::Digits) -> Vec<[f32; CLASSES]> {
    data.test
        .iter()
        .map(|&r| model.forward(&[data.x[r]])[0])
        .collect()
}

fn accuracy(logits: &[[f32; CLASSES]], data: &digits::Digits) -> f64 {
    let correct = logits
        .iter()
        .zip(&data.test)
        .filter(|(l, r)| argmax(l) == data.labels[**r])
        .count();
    correct as f64 / logits.len() as f64
}

fn run(dir: &std::path::Path) -> Result<bool, Box<dyn std::error::Error>> {
    let data = digits::load();

    // PyTorch → constnn.
    let file = std::fs::read(dir.join("torch_digits.safetensors"))?;
    let mut model = Mlp::ZERO;
    load_safetensors(&mut model, &file)?;
    let ours = logits(&model, &data);
    let npy_bytes = std::fs::read(dir.join("torch_test_logits.npy"))?;
    let theirs_npy = Npy::parse(&npy_bytes)?;
    theirs_npy.expect_shape(&[TEST_ROWS, CLASSES])?;
    let mut theirs = vec![[0f32; CLASSES]; TEST_ROWS];
    theirs_npy.read_f32(theirs.as_flattened_mut())?;
    let delta = ours
        .as_flattened()
        .iter()
        .zip(theirs.as_flattened())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    println!(
        "PyTorch -> constnn: {} bytes loaded; test accuracy PyTorch {:.4}, constnn {:.4}; \
         max |Δlogit| {delta:.3e} (bar {TOLERANCE:e})",
        file.len(),
        accuracy(&theirs, &data),
        accuracy(&ours, &data),
    );
    let forward_ok = delta <= TOLERANCE;

    // constnn → PyTorch.
    let trained = OptimizerChoice::Sgd.train(&data, SEED, Step::Fused, |_, _, _| Ok(()))?;
    let mut out = vec![0u8; safetensors_len::<Mlp>()];
    let n = save_safetensors(&trained, &mut out)?;
    std::fs::write(dir.join("constnn_digits.safetensors"), &out[..n])?;
    let ours = logits(&trained, &data);
    let shape = [TEST_ROWS, CLASSES];
    let mut npy_out = vec![0u8; npy::len_f32(&shape)];
    let m = npy::write_f32(&mut npy_out, &shape, ours.as_flattened())?;
    std::fs::write(dir.join("constnn_test_logits.npy"), &npy_out[..m])?;
    println!(
        "constnn -> PyTorch: trained (SGD, seed {SEED}), test accuracy {:.4}; wrote \
         constnn_digits.safetensors ({n} bytes) and constnn_test_logits.npy; now run \
         `python examples/torch_interop.py --reverse {}`",
        accuracy(&ours, &data),
        dir.display()
    );
    if !forward_ok {
        eprintln!("the logits differ from PyTorch's by more than {TOLERANCE:e}");
    }
    Ok(forward_ok)
}
