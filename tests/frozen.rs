//! `Frozen<L>`: its layer is used and saved but never trained, with no gradient and no
//! optimizer state bytes.
//!
//! For every optimizer, fused and buffered: a frozen body's bits never change while the head
//! trains; and, stronger, the head trains *exactly* (bit for bit) as the same head alone on the
//! frozen body's features. A frozen head or middle layer passes the gradient through unchanged:
//! the layers before it get the same gradient, bit for bit, as in the unfrozen model.

mod common;

use common::{EachOptimizer, param_bits, rand_batch, rand_labels};
use constnn::rand_core::SeedableRng;
use constnn::{
    Adam, Batch, BufferedTrainer, CacheOf, CrossEntropy, Frozen, GradsOf, Linear, Loss, Module,
    Momentum, Mse, Optimizer, Params, Relu, Sgd, StateOf, Trainer, XorShiftRng, Zeroed,
    train_bytes, train_bytes_buffered,
};

type Body = (Linear<4, 8>, Relu);
type Head = Linear<8, 3>;
type Net = (Frozen<Body>, Head);
type X = Batch<5, 4>;
const STEPS: usize = 5;

#[test]
fn no_gradient_and_no_state_bytes() {
    // A frozen layer or model has nothing trainable...
    assert_eq!(size_of::<GradsOf<Frozen<Linear<64, 32>>>>(), 0);
    assert_eq!(size_of::<StateOf<Frozen<Linear<64, 32>>, Adam>>(), 0);
    assert_eq!(size_of::<StateOf<Frozen<Body>, Momentum>>(), 0);
    assert_eq!(Frozen::<Body>::NUM_PARAMS, 0);
    // ...but is stored, at its layer's size.
    assert_eq!(size_of::<Frozen<Body>>(), size_of::<Body>());
    assert_eq!(Frozen::<Body>::NUM_STORED, 4 * 8 + 8);

    // In a model, only the head has gradients and state.
    assert_eq!(size_of::<GradsOf<Net>>(), size_of::<Head>());
    assert_eq!(size_of::<StateOf<Net, Adam>>(), 2 * size_of::<Head>());
    assert_eq!(size_of::<StateOf<Net, Momentum>>(), size_of::<Head>());
    assert_eq!(size_of::<StateOf<Net, Sgd>>(), 0);
    assert_eq!(Net::NUM_PARAMS, 8 * 3 + 3);
    assert_eq!(Net::NUM_STORED, 4 * 8 + 8 + 8 * 3 + 3);
    let buffer = train_bytes_buffered::<Net, X, Adam>() - train_bytes::<Net, X, Adam>();
    assert_eq!(buffer, size_of::<Head>());
    assert_eq!(
        train_bytes::<Net, X, Adam>(),
        size_of::<Net>() + size_of::<CacheOf<Net, X>>() + 2 * 4 * Net::NUM_PARAMS
    );

    // And saving visits every stored value: the body too.
    let mut net = Net::ZERO;
    net.init(&mut XorShiftRng::seed_from_u64(1));
    let mut n = 0;
    net.visit(&mut |p: &[f32]| n += p.len());
    assert_eq!(n, Net::NUM_STORED);
}

fn net(seed: u64) -> Net {
    let mut n = Net::ZERO;
    n.init(&mut XorShiftRng::seed_from_u64(seed));
    n.1.bias = [0.1, -0.2, 0.3];
    n
}

/// Random batches with class labels and regression targets.
fn data(seed: u64) -> Vec<(X, [usize; 5], Batch<5, 3>)> {
    let mut rng = XorShiftRng::seed_from_u64(seed);
    (0..STEPS)
        .map(|_| {
            (
                rand_batch(&mut rng, -1.0, 1.0),
                rand_labels(&mut rng, 3),
                rand_batch(&mut rng, -1.0, 1.0),
            )
        })
        .collect()
}

/// Trains a frozen-body model and, beside it, the head alone on the body's features, fused and
/// buffered, with `loss`; asserts the body never changes and the heads agree bit for bit.
fn body_frozen_head_trains<O, L>(what: &str, opt: O, loss: &L, targets: &[L::Target])
where
    O: Optimizer + Copy,
    L: Loss<Batch<5, 3>>,
{
    let start = net(7);
    let body_bits = param_bits(&start.0);
    let xs: Vec<X> = data(8).into_iter().map(|d| d.0).collect();

    let mut fused_net = start;
    let mut fused: Trainer<Net, X, O> = Trainer::new(opt);
    let mut buffered_net = start;
    let mut buffered: BufferedTrainer<Net, X, O> = BufferedTrainer::new(opt);
    let mut head = start.1;
    let mut head_trainer: Trainer<Head, Batch<5, 8>, O> = Trainer::new(opt);
    for (t, (x, target)) in xs.iter().zip(targets).enumerate() {
        let features = start.0.forward(x);
        let a = fused.step(&mut fused_net, x, loss, target).unwrap();
        let b = buffered.step(&mut buffered_net, x, loss, target).unwrap();
        let c = head_trainer
            .step(&mut head, &features, loss, target)
            .unwrap();
        assert_eq!(
            param_bits(&fused_net.0),
            body_bits,
            "{what}: fused step {t}"
        );
        assert_eq!(
            param_bits(&buffered_net.0),
            body_bits,
            "{what}: buffered step {t}"
        );
        assert_eq!(
            (a.to_bits(), b.to_bits()),
            (c.to_bits(), c.to_bits()),
            "{what}: {t}"
        );
        assert_eq!(
            param_bits(&fused_net.1),
            param_bits(&head),
            "{what}: fused head {t}"
        );
        assert_eq!(
            param_bits(&buffered_net.1),
            param_bits(&head),
            "{what}: buffered head {t}"
        );
    }
    assert_ne!(
        param_bits(&head),
        param_bits(&start.1),
        "{what}: the head did not train"
    );
}

#[test]
fn a_frozen_body_never_changes_and_the_head_trains_as_on_fixed_features() {
    struct Run;
    impl EachOptimizer for Run {
        fn run<O: Optimizer + Copy>(&mut self, name: &str, opt: O) {
            let d = data(8);
            let labels: Vec<[usize; 5]> = d.iter().map(|d| d.1).collect();
            body_frozen_head_trains(
                &format!("{name}, CrossEntropy"),
                opt,
                &CrossEntropy,
                &labels,
            );
            let targets: Vec<Batch<5, 3>> = d.iter().map(|d| d.2).collect();
            body_frozen_head_trains(&format!("{name}, Mse"), opt, &Mse, &targets);
        }
    }
    common::every_optimizer(&mut Run);
}

/// A frozen layer after trainable ones: it passes the gradient through (with its own weights),
/// its bits never change, and the first layer trains exactly as in the unfrozen model for the
/// first step (after which the unfrozen model's later layers have moved).
fn frozen_later_layers<M, F, O>(
    what: &str,
    unfrozen: M,
    frozen: F,
    opt: O,
    same: fn(&F, &M) -> bool,
) where
    M: constnn::Backward<X, Output = Batch<5, 3>> + Params + Copy,
    F: constnn::Backward<X, Output = Batch<5, 3>> + Params + Copy,
    O: Optimizer + Copy,
{
    let d = data(9);
    // Buffered: the trainable layers' gradients, bit for bit.
    let mut m = unfrozen;
    let mut f = frozen;
    let mut tm: BufferedTrainer<M, X, O> = BufferedTrainer::new(opt);
    let mut tf: BufferedTrainer<F, X, O> = BufferedTrainer::new(opt);
    let lm = tm
        .compute_grads(&mut m, &d[0].0, &CrossEntropy, &d[0].1)
        .unwrap();
    let lf = tf
        .compute_grads(&mut f, &d[0].0, &CrossEntropy, &d[0].1)
        .unwrap();
    assert_eq!(lm.to_bits(), lf.to_bits(), "{what}: losses");
    let mut gm = Vec::new();
    M::visit_like(tm.grads(), &mut |g: &[f32]| gm.push(bits(g)));
    let mut gf = Vec::new();
    F::visit_like(tf.grads(), &mut |g: &[f32]| gf.push(bits(g)));
    assert_eq!(gf.len(), 2, "{what}: one trainable Linear: weight and bias");
    assert_eq!(gf[..], gm[..2], "{what}: the first layer's gradients");

    // One step, fused and buffered: the first layer as in the unfrozen model.
    for fused in [false, true] {
        let mut m = unfrozen;
        let mut f = frozen;
        if fused {
            let mut tm: Trainer<M, X, O> = Trainer::new(opt);
            let mut tf: Trainer<F, X, O> = Trainer::new(opt);
            tm.step(&mut m, &d[0].0, &CrossEntropy, &d[0].1).unwrap();
            tf.step(&mut f, &d[0].0, &CrossEntropy, &d[0].1).unwrap();
        } else {
            let mut tm: BufferedTrainer<M, X, O> = BufferedTrainer::new(opt);
            let mut tf: BufferedTrainer<F, X, O> = BufferedTrainer::new(opt);
            tm.step(&mut m, &d[0].0, &CrossEntropy, &d[0].1).unwrap();
            tf.step(&mut f, &d[0].0, &CrossEntropy, &d[0].1).unwrap();
        }
        assert!(
            same(&f, &m),
            "{what}: fused {fused}: the first layer after one step"
        );
    }

    // Several steps: the frozen layers' bits never change.
    let stored = param_bits(&frozen);
    let trainable_before = trainable_bits(&mut frozen.clone());
    let mut f = frozen;
    let mut g = frozen;
    let mut tf: Trainer<F, X, O> = Trainer::new(opt);
    let mut tg: BufferedTrainer<F, X, O> = BufferedTrainer::new(opt);
    for (x, labels, _) in &d {
        tf.step(&mut f, x, &CrossEntropy, labels).unwrap();
        tg.step(&mut g, x, &CrossEntropy, labels).unwrap();
    }
    assert_eq!(param_bits(&f), param_bits(&g), "{what}: fused != buffered");
    let changed: Vec<usize> = stored
        .iter()
        .zip(param_bits(&f))
        .enumerate()
        .filter(|(_, (a, b))| **a != *b)
        .map(|(k, _)| k)
        .collect();
    // Only the trainable values (the first Linear<4, 8>: 40 values, stored first) changed.
    assert!(!changed.is_empty(), "{what}: nothing trained");
    assert!(
        changed.iter().all(|&k| k < 40),
        "{what}: a frozen value changed: {changed:?}"
    );
    assert_ne!(trainable_bits(&mut f), trainable_before);
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The trainable parameters' bits (`visit_trainable` order).
fn trainable_bits<M: Params>(m: &mut M) -> Vec<u32> {
    let mut v = Vec::new();
    let mut none = <M::Like<()>>::ZERO;
    m.visit_trainable(&mut none, &mut |p: &mut [f32], _: &mut [()]| {
        v.extend(p.iter().map(|x| x.to_bits()))
    });
    v
}

#[test]
fn a_frozen_head_or_middle_passes_the_gradient_through_and_never_changes() {
    type Full = (Linear<4, 8>, Relu, Linear<8, 3>);
    type FrozenHead = (Linear<4, 8>, Relu, Frozen<Linear<8, 3>>);
    type Full5 = (Linear<4, 8>, Relu, Linear<8, 6>, Relu, Linear<6, 3>);
    type FrozenMiddle = (
        Linear<4, 8>,
        Frozen<(Relu, Linear<8, 6>, Relu, Linear<6, 3>)>,
    );

    let mut rng = XorShiftRng::seed_from_u64(10);
    let mut full = Full::ZERO;
    full.init(&mut rng);
    let head = (full.0, Relu, Frozen(full.2));
    let mut full5 = Full5::ZERO;
    full5.init(&mut rng);
    let middle = (full5.0, Frozen((Relu, full5.2, Relu, full5.4)));

    struct Run {
        full: Full,
        head: FrozenHead,
        full5: Full5,
        middle: FrozenMiddle,
    }
    impl EachOptimizer for Run {
        fn run<O: Optimizer + Copy>(&mut self, name: &str, opt: O) {
            frozen_later_layers(
                &format!("{name}, frozen head"),
                self.full,
                self.head,
                opt,
                |f, m| f.0 == m.0,
            );
            frozen_later_layers(
                &format!("{name}, frozen middle"),
                self.full5,
                self.middle,
                opt,
                |f, m| f.0 == m.0,
            );
        }
    }
    common::every_optimizer(&mut Run {
        full,
        head,
        full5,
        middle,
    });
}

#[test]
fn an_all_frozen_model_steps_without_changing() {
    type All = Frozen<(Linear<4, 8>, Relu, Linear<8, 3>)>;
    assert_eq!(size_of::<StateOf<All, Adam>>(), 0);
    let mut m = All::ZERO;
    m.init(&mut XorShiftRng::seed_from_u64(11));
    let before = param_bits(&m);
    let mut t: Trainer<All, X, Adam> = Trainer::new(Adam::new(0.1).unwrap());
    let mut b: BufferedTrainer<All, X, Adam> = BufferedTrainer::new(Adam::new(0.1).unwrap());
    for (x, labels, _) in data(12) {
        let l1 = t.step(&mut m, &x, &CrossEntropy, &labels).unwrap();
        let l2 = b.step(&mut m, &x, &CrossEntropy, &labels).unwrap();
        assert_eq!(l1.to_bits(), l2.to_bits());
        assert!(l1 > 0.0);
    }
    assert_eq!(param_bits(&m), before);
}
