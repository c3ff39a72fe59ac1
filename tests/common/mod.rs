//! Helpers shared by the integration tests (each test binary uses a subset of them).
#![allow(dead_code, unused_imports)]

use constnn::rand_core::Rng;
use constnn::{Adam, AdamW, Batch, Momentum, Optimizer, Params, RmsProp, Sgd};

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

/// Something to run once per optimizer configuration (see [`every_optimizer`]).
pub trait EachOptimizer {
    fn run<O: Optimizer + Copy>(&mut self, name: &str, opt: O);
}

/// Calls `v.run` with every optimizer, in every configuration that takes a code path of its
/// own: SGD; momentum plain, with dampening and weight decay, and Nesterov with weight decay;
/// Adam plain and with L2 weight decay and other betas; AdamW; RMSprop plain and with weight
/// decay and another alpha. Learning rates small enough for a few stable steps on small
/// random problems.
pub fn every_optimizer(v: &mut impl EachOptimizer) {
    v.run("Sgd", Sgd::new(0.1).unwrap());
    let momentum = Momentum::new(0.05, 0.9).unwrap();
    v.run("Momentum", momentum);
    let damped = momentum.with_dampening(0.3).unwrap();
    v.run("Momentum damped", damped.with_weight_decay(0.01).unwrap());
    let nesterov = momentum.with_nesterov(true).unwrap();
    v.run("Nesterov", nesterov.with_weight_decay(1e-3).unwrap());
    v.run("Adam", Adam::new(0.01).unwrap());
    let adam_l2 = Adam::new(0.01).unwrap().with_betas(0.8, 0.99).unwrap();
    v.run("Adam L2", adam_l2.with_weight_decay(0.05).unwrap());
    v.run("AdamW", AdamW::new(0.01).unwrap());
    v.run("RmsProp", RmsProp::new(0.01).unwrap());
    let rms = RmsProp::new(0.01).unwrap().with_alpha(0.9).unwrap();
    v.run("RmsProp wd", rms.with_weight_decay(0.01).unwrap());
}
