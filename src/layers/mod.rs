//! Layers: each implements [`Module`](crate::Module), [`Params`](crate::Params) and
//! [`Backward`](crate::Backward), one file each.

mod frozen;
mod linear;
mod relu;

pub use frozen::Frozen;
pub use linear::Linear;
pub use relu::Relu;
