//! Helpers shared by the integration tests (each test binary uses a subset of them).
#![allow(dead_code, unused_imports)]

use constnn::rand_core::Rng;
use constnn::{Batch, Params};

/// A uniform `f32` in `[lo, hi)` from the top 24 bits of one `u32` draw (exact in `f32`).
pub fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f32, hi: f32) -> f32 {
    let u = (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
    lo + (hi - lo) * u
}

/// A batch of uniform values in `[lo, hi)`, row by row.
pub fn rand_batch<const B: usize, const D: usize, R: Rng + ?Sized>(
    rng: &mut R,
    lo: f32,
    hi: f32,
) -> Batch<B, D> {
    let mut x = [[0.0; D]; B];
    for v in x.iter_mut().flatten() {
        *v = uniform(rng, lo, hi);
    }
    x
}

/// `B` class labels in `0..classes` (modulo bias is irrelevant for tests).
pub fn rand_labels<const B: usize, R: Rng + ?Sized>(rng: &mut R, classes: usize) -> [usize; B] {
    core::array::from_fn(|_| (rng.next_u32() as usize) % classes)
}

/// Every parameter of a model as raw bits, in `Params::visit` order.
pub fn param_bits<M: Params>(model: &M) -> Vec<u32> {
    let mut bits = Vec::with_capacity(M::NUM_PARAMS);
    model.visit(&mut |p: &[f32]| bits.extend(p.iter().map(|v| v.to_bits())));
    bits
}

#[path = "../../examples/common/fnv.rs"]
mod fnv;

pub use fnv::Fnv1a;

/// FNV-1a 32 over the little-endian bytes of every parameter's `to_bits()`, in
/// `Params::visit` order.
pub fn fnv1a_params<M: Params>(model: &M) -> u32 {
    fnv::params(model)
}
