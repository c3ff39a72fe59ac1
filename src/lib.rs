#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_panics_doc)]

mod data;
mod error;
mod exp;
pub mod format;
mod init;
mod linear;
mod loss;
mod math;
mod module;
mod optim;
mod relu;
mod train;
mod tuple;

pub use data::{Batches, Remainder, batches, shuffle};
pub use error::Error;
pub use init::standard_normal;
pub use linear::Linear;
pub use loss::{
    argmax, count_correct, cross_entropy, cross_entropy_with_logits, cross_entropy_with_targets,
    softmax, top_k,
};
pub use module::{
    Backward, Batch, CacheOf, GradsOf, Module, Params, Zeroed, assert_module, infer_bytes,
    train_bytes, train_bytes_fused, zeroed,
};
pub use optim::Sgd;
pub use relu::Relu;
pub use train::{train_step, train_step_fused};

/// The random-number traits (`Rng`, `SeedableRng`) the crate's initializers take.
pub use rand_core;
/// The default generator of the examples: `XorShiftRng::seed_from_u64(seed)`.
pub use rand_xorshift::XorShiftRng;
