//! The series' BatchNorm notebook on the handwritten digits: `64-32-BN-ReLU-10`, trained with
//! the digits example's protocol, then evaluated.
//!
//! ```text
//! cargo run --release --example digits_batchnorm                 # seed 1, running statistics
//! cargo run --release --example digits_batchnorm -- --seed 3
//! cargo run --release --example digits_batchnorm -- --eval batch # the notebook's evaluation
//! ```
//!
//! The model is a named struct (`constnn::sequential!`). The protocol is the digits
//! example's (`examples/common/notebooks.rs`): the notebook's split, batch 10, 100 epochs,
//! SGD lr 0.01 on the mean gradient (= the notebook's 1e-3 on its summed gradient). Batch norm
//! has PyTorch's defaults (eps 1e-5, momentum 0.1). Evaluation:
//!
//! - `--eval running` (the default, PyTorch's `model.eval()`): the running statistics, one
//!   image at a time;
//! - `--eval batch`: the notebook's evaluation, which keeps no running statistics and
//!   normalizes each split by its own mean and variance (`EvalStats::Batch`, the whole split
//!   as one batch).
//!
//! Test accuracy over seeds 0 to 9 (the notebook's numpy run: 0.9911):
//! - running statistics: 0.9822, 0.9844, 0.9756, 0.9867, 0.9867, 0.9867, 0.9800, 0.9844,
//!   0.9867, 0.9822 (mean 0.9836);
//! - `--eval batch`: 0.9778, 0.9844, 0.9800, 0.9844, 0.9867, 0.9844, 0.9800, 0.9844, 0.9867,
//!   0.9844 (mean 0.9833).
//!
//! Data attribution: UCI "Optical Recognition of Handwritten Digits" (E. Alpaydin, C. Kaynak,
//! 1998), CC BY 4.0, as shipped by scikit-learn; see `data/README.md`.

#[allow(dead_code)]
#[path = "common/digits.rs"]
mod digits;
#[path = "common/notebooks.rs"]
mod notebooks;

use std::process::ExitCode;

use constnn::{BatchNorm1d, CacheOf, EvalStats, GradsOf, Linear, Params, Relu, Zeroed, sequential};
use notebooks::{Evaluation, TrainBatch};

sequential! {
    /// The notebook's model: 64 pixels → 32 → batch norm → ReLU → 10 logits.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Net {
        pub hidden: Linear<64, 32>,
        pub norm: BatchNorm1d<32>,
        pub act: Relu,
        pub out: Linear<32, 10>,
    }
}

const _: () = constnn::assert_module::<TrainBatch, Net>();

fn main() -> ExitCode {
    let mut eval = EvalStats::Running;
    let seed = notebooks::parse_seed(digits::SEED, |arg, rest| {
        if arg != "--eval" {
            return Ok(false);
        }
        eval = match rest.next().as_deref() {
            Some("running") => EvalStats::Running,
            Some("batch") => EvalStats::Batch,
            other => return Err(format!("--eval {other:?}: running or batch")),
        };
        Ok(true)
    });
    let seed = match seed {
        Ok(seed) => seed,
        Err(message) => {
            eprintln!(
                "error: {message}\nusage: digits_batchnorm [--seed N] [--eval running|batch]"
            );
            return ExitCode::from(2);
        }
    };

    let data = digits::load();
    let mut model = Net::ZERO;
    model.norm = model.norm.with_eval_stats(eval);
    let how = match eval {
        EvalStats::Running => Evaluation::PerSample,
        _ => Evaluation::WholeSplit,
    };
    println!("model Net {{ Linear<64, 32>, BatchNorm1d<32>, Relu, Linear<32, 10> }}");
    println!(
        "rows: {} train, {} test; batch {}, {} epochs, SGD lr {}, seed {seed}; evaluation: {}",
        data.train.len(),
        data.test.len(),
        digits::BATCH,
        digits::EPOCHS,
        digits::LR,
        match eval {
            EvalStats::Running => "running statistics, one image at a time",
            _ => "each split's own batch statistics, whole split at once (the notebook's)",
        }
    );
    println!("memory (bytes):");
    println!(
        "  parameters + running stats {:>6}  ({} trained f32, {} stored f32)",
        size_of::<Net>(),
        Net::NUM_PARAMS,
        Net::NUM_STORED
    );
    println!(
        "  gradients                  {:>6}",
        size_of::<GradsOf<Net>>()
    );
    println!(
        "  training caches, B=10      {:>6}",
        size_of::<CacheOf<Net, TrainBatch>>()
    );

    match notebooks::run(&data, seed, model, how) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
