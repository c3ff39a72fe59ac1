//! The fused step ([`Trainer::step`], and [`Trainer::step_in_place`]) and the buffered step
//! ([`BufferedTrainer::step`]) give the same bits: for every optimizer, every loss and several
//! model shapes (including the 64-32-10 digits model, whose layers go through the kernels' full
//! register tiles and their remainders), over several steps on different batches, the losses,
//! every parameter and every optimizer state value agree bit for bit.
//!
//! The contract this checks (src/kernels/mod.rs): the fused step sums each gradient from zero
//! in the same order as the buffered one and applies the same elementwise update to it.

mod common;

use common::{EachOptimizer, rand_batch, rand_labels, uniform};
use constnn::rand_core::SeedableRng;
use constnn::{
    Batch, BceWithLogits, BufferedTrainer, CrossEntropy, InputInCache, Linear, Loss, Mse,
    Optimizer, Params, Relu, Slot, SlotOf, SoftCrossEntropy, Trainer, XorShiftRng, Zeroed,
};

/// Steps per run: enough for the optimizers' first-step special cases (momentum's buffer,
/// Adam's bias corrections) and several later steps.
const STEPS: usize = 6;

fn param_bits<M: Params>(m: &M) -> Vec<u32> {
    common::param_bits(m)
}

/// Every optimizer state value of a model, as bits, in the parameters' order.
fn state_bits<M: Params, S: Slot>(state: &M::Like<S>) -> Vec<u32> {
    let mut v = Vec::new();
    M::visit_like(state, &mut |s: &[S]| {
        v.extend(S::floats(s).iter().map(|x| x.to_bits()));
    });
    v
}

/// A model with He-normal weights and random non-zero biases (so the bias updates matter).
fn model<M: Params + Zeroed>(seed: u64) -> M {
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let mut m = M::ZERO;
    m.init(&mut rng);
    let mut k = 0;
    m.visit_mut(&mut |p: &mut [f32]| {
        if k % 2 == 1 {
            p.iter_mut().for_each(|v| *v = uniform(&mut rng, -0.5, 0.5));
        }
        k += 1;
    });
    m
}

/// Trains copies of `model` with `opt` and `loss` on `data` through the fused step, the fused
/// step in place and the buffered step, and asserts that all three agree bit for bit after
/// every step. Returns how many parameter bits changed overall (so the caller can check that
/// the run trained at all).
fn check<M, O, L, const B: usize, const IN: usize, const OUT: usize>(
    what: &str,
    model: &M,
    opt: O,
    loss: &L,
    data: &[(Batch<B, IN>, L::Target)],
) -> usize
where
    M: InputInCache<Batch<B, IN>, Output = Batch<B, OUT>> + Params + Clone,
    O: Optimizer + Copy,
    L: Loss<Batch<B, OUT>>,
{
    let mut fused_model = model.clone();
    let mut in_place_model = model.clone();
    let mut buffered_model = model.clone();
    let mut fused: Trainer<M, Batch<B, IN>, O> = Trainer::new(opt);
    let mut in_place: Trainer<M, Batch<B, IN>, O> = Trainer::new(opt);
    let mut buffered: BufferedTrainer<M, Batch<B, IN>, O> = BufferedTrainer::new(opt);
    for (t, (x, target)) in data.iter().enumerate() {
        let a = fused.step(&mut fused_model, x, loss, target);
        *in_place.input_mut() = *x;
        let b = in_place.step_in_place(&mut in_place_model, loss, target);
        let c = buffered.step(&mut buffered_model, x, loss, target);
        let (a, b, c) = (
            a.unwrap_or_else(|e| panic!("{what}: fused step {t}: {e}")),
            b.unwrap_or_else(|e| panic!("{what}: in-place step {t}: {e}")),
            c.unwrap_or_else(|e| panic!("{what}: buffered step {t}: {e}")),
        );
        assert_eq!(a.to_bits(), c.to_bits(), "{what}: step {t}: losses");
        assert_eq!(a.to_bits(), b.to_bits(), "{what}: step {t}: in-place loss");
        let p = param_bits(&fused_model);
        assert_eq!(
            p,
            param_bits(&buffered_model),
            "{what}: step {t}: parameters"
        );
        assert_eq!(
            p,
            param_bits(&in_place_model),
            "{what}: step {t}: in-place parameters"
        );
        let s = state_bits::<M, SlotOf<O>>(fused.state());
        assert_eq!(s.len(), M::NUM_PARAMS * <SlotOf<O> as Slot>::LEN);
        assert_eq!(
            s,
            state_bits::<M, SlotOf<O>>(buffered.state()),
            "{what}: step {t}: state"
        );
        assert_eq!(
            s,
            state_bits::<M, SlotOf<O>>(in_place.state()),
            "{what}: step {t}: state"
        );
    }
    let steps = data.len() as u64;
    assert_eq!(
        (fused.steps(), in_place.steps(), buffered.steps()),
        (steps, steps, steps)
    );
    param_bits(model)
        .iter()
        .zip(param_bits(&fused_model))
        .filter(|(a, b)| **a != *b)
        .count()
}

/// Pairs each input batch with its target.
fn zip<X: Copy, T>(xs: &[X], targets: Vec<T>) -> Vec<(X, T)> {
    xs.iter().copied().zip(targets).collect()
}

/// Every loss, with random targets of its kind for each step.
fn every_loss<M, O, const B: usize, const IN: usize, const OUT: usize>(
    what: &str,
    model: &M,
    opt: O,
    seed: u64,
) where
    M: InputInCache<Batch<B, IN>, Output = Batch<B, OUT>> + Params + Clone,
    O: Optimizer + Copy,
{
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let xs: Vec<Batch<B, IN>> = (0..STEPS)
        .map(|_| rand_batch(&mut rng, -1.0, 1.0))
        .collect();

    let labels = (0..STEPS)
        .map(|_| rand_labels::<B, _>(&mut rng, OUT))
        .collect();
    let n = check(
        &format!("{what}, CrossEntropy"),
        model,
        opt,
        &CrossEntropy,
        &zip(&xs, labels),
    );
    assert!(n > 0, "{what}, CrossEntropy: nothing trained");

    let soft = (0..STEPS)
        .map(|_| {
            let mut t: Batch<B, OUT> = rand_batch(&mut rng, 0.0, 1.0);
            for row in &mut t {
                let s: f32 = row.iter().sum();
                row.iter_mut().for_each(|v| *v /= s);
            }
            t
        })
        .collect();
    let n = check(
        &format!("{what}, SoftCrossEntropy"),
        model,
        opt,
        &SoftCrossEntropy,
        &zip(&xs, soft),
    );
    assert!(n > 0, "{what}, SoftCrossEntropy: nothing trained");

    let mse = (0..STEPS)
        .map(|_| rand_batch::<B, OUT, _>(&mut rng, -2.0, 2.0))
        .collect();
    let n = check(&format!("{what}, Mse"), model, opt, &Mse, &zip(&xs, mse));
    assert!(n > 0, "{what}, Mse: nothing trained");

    let bce = (0..STEPS)
        .map(|_| rand_batch::<B, OUT, _>(&mut rng, 0.0, 1.0))
        .collect();
    let n = check(
        &format!("{what}, BceWithLogits"),
        model,
        opt,
        &BceWithLogits,
        &zip(&xs, bce),
    );
    assert!(n > 0, "{what}, BceWithLogits: nothing trained");
}

/// [`every_loss`] for every optimizer configuration of [`common::every_optimizer`].
fn every_optimizer<M, const B: usize, const IN: usize, const OUT: usize>(seed: u64)
where
    M: InputInCache<Batch<B, IN>, Output = Batch<B, OUT>> + Params + Clone + Zeroed,
{
    struct Run<M, const B: usize, const IN: usize, const OUT: usize> {
        model: M,
        seed: u64,
    }
    impl<M, const B: usize, const IN: usize, const OUT: usize> EachOptimizer for Run<M, B, IN, OUT>
    where
        M: InputInCache<Batch<B, IN>, Output = Batch<B, OUT>> + Params + Clone,
    {
        fn run<O: Optimizer + Copy>(&mut self, name: &str, opt: O) {
            self.seed += 1;
            every_loss(name, &self.model, opt, self.seed);
        }
    }
    common::every_optimizer(&mut Run::<M, B, IN, OUT> {
        model: model::<M>(seed),
        seed: seed * 100,
    });
}

#[test]
fn small_mlp() {
    for seed in [1, 2] {
        every_optimizer::<(Linear<3, 4>, Relu, Linear<4, 2>), 4, 3, 2>(seed);
    }
}

#[test]
fn odd_shapes_five_layers() {
    type Net = (Linear<13, 9>, Relu, Linear<9, 6>, Relu, Linear<6, 5>);
    for seed in [3, 4] {
        every_optimizer::<Net, 7, 13, 5>(seed);
    }
}

#[test]
fn digits_model() {
    every_optimizer::<(Linear<64, 32>, Relu, Linear<32, 10>), 10, 64, 10>(5);
}

#[test]
fn nested_model_with_a_single_row_batch() {
    type Net = ((Linear<5, 17>, Relu), (Linear<17, 3>,));
    every_optimizer::<Net, 1, 5, 3>(6);
}
