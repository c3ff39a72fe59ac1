#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_panics_doc)]

// `f32::mul_add` is in `std` only (not in `core` on stable Rust). `std` is linked only where
// the fused kernels are compiled (the `fma` feature on a target with FMA), and the prelude
// stays `core`'s, so no other code can start depending on `std`; elsewhere the feature
// changes nothing, not even what is linked.
#[cfg(all(feature = "fma", target_feature = "fma"))]
extern crate std;

mod data;
mod error;
mod exp;
mod float;
pub mod format;
mod init;
mod kernels;
mod layers;
mod losses;
mod memory;
mod metrics;
mod module;
mod optim;
pub mod quant;
mod sequential;
mod signature;
mod train;
mod tuple;

pub use data::{Batches, Remainder, batches, shuffle};
pub use error::{Error, Hyperparameter};
pub use format::{
    StateDict, checkpoint_len, load_safetensors, load_weights, safetensors_len, save_safetensors,
    save_weights, weights_len,
};
pub use init::standard_normal;
pub use kernels::FUSED_MULTIPLY_ADD;
pub use layers::{
    BatchNorm1d, BatchNormCache, BatchNormParams, DropRate, Dropout, DropoutMask, EvalStats,
    Frozen, LeakyRelu, Linear, Relu, Sigmoid, Tanh,
};
pub use losses::{
    BceWithLogits, CrossEntropy, Loss, Mse, SoftCrossEntropy, cross_entropy,
    cross_entropy_with_logits, cross_entropy_with_targets, softmax,
};
pub use memory::{infer_bytes, train_bytes, train_bytes_buffered};
pub use metrics::{argmax, count_correct, top_k};
pub use module::{
    Backward, Batch, CacheOf, GradsOf, InputInCache, Module, Params, Zeroed, assert_module, zeroed,
};
pub use optim::{
    Adam, AdamStep, AdamW, AdamWStep, Momentum, MomentumStep, Optimizer, RmsProp, RmsPropStep, Sgd,
    Slot, SlotOf, StateOf, Update,
};
pub use signature::{layer_signature, sequence_signature};
pub use train::{BufferedTrainer, Trainer, train_step, train_step_fused};

/// The random-number traits (`Rng`, `SeedableRng`) the crate's initializers take.
pub use rand_core;
/// The default generator of the examples: `XorShiftRng::seed_from_u64(seed)`.
pub use rand_xorshift::XorShiftRng;
