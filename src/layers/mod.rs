//! Layers: each implements [`Module`](crate::Module), [`Params`](crate::Params) and
//! [`Backward`](crate::Backward), one file each.

mod batch_norm;
mod borrowed;
mod dropout;
mod frozen;
mod leaky_relu;
mod linear;
mod relu;
mod sigmoid;
mod tanh;

pub use batch_norm::{BatchNorm1d, BatchNormCache, BatchNormParams, EvalStats};
pub use dropout::{DropRate, Dropout, DropoutMask};
pub use frozen::Frozen;
pub use leaky_relu::LeakyRelu;
pub use linear::Linear;
pub use relu::Relu;
pub use sigmoid::Sigmoid;
pub use tanh::Tanh;
