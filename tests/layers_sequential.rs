//! `sequential!` models are their tuples: the same parameters, visit order, caches, gradient
//! and state types, outputs and training bits, for every optimizer and both kinds of step.

mod common;

use common::{param_bits, rand_batch, rand_labels};
use constnn::rand_core::SeedableRng;
use constnn::{
    Adam, Backward, Batch, BatchNorm1d, BufferedTrainer, CacheOf, CrossEntropy, DropRate, Dropout,
    GradsOf, LeakyRelu, Linear, Module, Momentum, Optimizer, Params, Relu, Sgd, Sigmoid, StateOf,
    Tanh, Trainer, XorShiftRng, Zeroed, sequential,
};

sequential! {
    /// The BatchNorm notebook's model with dropout added.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Net {
        /// The hidden layer.
        pub hidden: Linear<12, 16>,
        pub norm: BatchNorm1d<16>,
        pub act: Relu,
        pub(crate) drop: Dropout,
        out: Linear<16, 4>,
    }
}

type Tuple = (
    Linear<12, 16>,
    BatchNorm1d<16>,
    Relu,
    Dropout,
    Linear<16, 4>,
);
type X = Batch<8, 12>;

sequential! {
    /// One field.
    #[derive(Clone)]
    struct One { only: Linear<3, 2> }
}

sequential! {
    /// A struct holding a struct and a tuple.
    #[derive(Clone)]
    struct Nested {
        body: Net,
        head: (Tanh, Linear<4, 3>),
        squash: Sigmoid,
    }
}

sequential! {
    /// Eight fields, the most a struct takes, and a trailing-comma-free field list.
    #[derive(Clone)]
    struct Eight {
        a: Linear<3, 4>, b: LeakyRelu, c: Linear<4, 4>, d: Tanh,
        e: Linear<4, 4>, f: Sigmoid, g: Dropout, h: Linear<4, 2>
    }
}

fn same_type<T>(_: &T, _: &T) {}

fn problem(seed: u64) -> (Net, Tuple, Vec<(X, [usize; 8])>) {
    let mut net = Net::ZERO;
    net.drop = Dropout::new(DropRate::new(0.25).unwrap());
    net.init(&mut XorShiftRng::seed_from_u64(seed));
    let mut tuple = Tuple::ZERO;
    tuple.3 = Dropout::new(DropRate::new(0.25).unwrap());
    tuple.init(&mut XorShiftRng::seed_from_u64(seed));
    let mut rng = XorShiftRng::seed_from_u64(seed + 100);
    let data = (0..12)
        .map(|_| (rand_batch(&mut rng, -1.0, 1.0), rand_labels(&mut rng, 4)))
        .collect();
    (net, tuple, data)
}

#[test]
fn same_shapes_and_visit_order_as_the_tuple() {
    assert_eq!(Net::NUM_PARAMS, Tuple::NUM_PARAMS);
    assert_eq!(Net::NUM_STORED, Tuple::NUM_STORED);
    assert_eq!(Net::NUM_STORED, Net::NUM_PARAMS + 2 * 16);
    assert_eq!(Net::SIGNATURE, Tuple::SIGNATURE);
    assert_ne!(
        Net::SIGNATURE,
        <(Linear<12, 16>, Relu, Linear<16, 4>)>::SIGNATURE
    );
    assert_ne!(
        <BatchNorm1d<16>>::SIGNATURE,
        <BatchNorm1d<17>>::SIGNATURE,
        "the width is in the signature"
    );
    let (net, tuple, _) = problem(1);
    assert_eq!(param_bits(&net), param_bits(&tuple));
    assert_eq!(net.hidden, tuple.0);
    assert_eq!(net.out, tuple.4);
    // The buffers are the tuple's types, indexed as the fields are declared.
    let grads: GradsOf<Net> = Zeroed::ZERO;
    same_type(&grads, &<GradsOf<Tuple>>::ZERO);
    let state: StateOf<Net, Adam> = Zeroed::ZERO;
    same_type(&state, &<StateOf<Tuple, Adam>>::ZERO);
    let cache: CacheOf<Net, X> = Zeroed::ZERO;
    same_type(&cache, &<CacheOf<Tuple, X>>::ZERO);
    assert_eq!(size_of::<Net>(), size_of::<Tuple>());
    assert_eq!(size_of_val(&grads.1), 4 * 2 * 16);
    // Zeroed is every field's ZERO.
    assert_eq!(Net::ZERO.norm, BatchNorm1d::ZERO);
    assert_eq!(Net::ZERO.drop, Dropout::ZERO);
}

fn trains_like_the_tuple<O: Optimizer + Copy>(optimizer: O) {
    let (mut net, mut tuple, data) = problem(2);
    let mut net_fused = net;
    let mut fused: Trainer<Net, X, O> = Trainer::new(optimizer);
    let mut buffered: BufferedTrainer<Net, X, O> = BufferedTrainer::new(optimizer);
    let mut reference: BufferedTrainer<Tuple, X, O> = BufferedTrainer::new(optimizer);
    for (x, labels) in &data {
        let a = buffered.step(&mut net, x, &CrossEntropy, labels).unwrap();
        let b = fused
            .step(&mut net_fused, x, &CrossEntropy, labels)
            .unwrap();
        let c = reference
            .step(&mut tuple, x, &CrossEntropy, labels)
            .unwrap();
        assert_eq!((a.to_bits(), b.to_bits()), (c.to_bits(), c.to_bits()));
    }
    assert_eq!(param_bits(&net), param_bits(&tuple));
    assert_eq!(param_bits(&net_fused), param_bits(&tuple));
    assert_eq!(net.drop.rng_state(), tuple.3.rng_state());
    let x = data[0].0;
    assert_eq!(net.forward(&x), tuple.forward(&x));
    assert_eq!(net.forward(&[x[3]]), tuple.forward(&[x[3]]));
}

#[test]
fn trains_like_the_tuple_sgd() {
    trains_like_the_tuple(Sgd::new(0.05).unwrap());
}

#[test]
fn trains_like_the_tuple_momentum() {
    trains_like_the_tuple(Momentum::new(0.02, 0.9).unwrap());
}

#[test]
fn trains_like_the_tuple_adam() {
    trains_like_the_tuple(Adam::new(0.01).unwrap());
}

/// The first field is a `Linear`: a batch can be written into the cache and trained in place.
#[test]
fn input_in_cache() {
    let (mut net, mut tuple, data) = problem(3);
    let mut a: Trainer<Net, X, Sgd> = Trainer::new(Sgd::new(0.05).unwrap());
    let mut b: Trainer<Tuple, X, Sgd> = Trainer::new(Sgd::new(0.05).unwrap());
    for (x, labels) in &data {
        *a.input_mut() = *x;
        let la = a.step_in_place(&mut net, &CrossEntropy, labels).unwrap();
        let lb = b.step(&mut tuple, x, &CrossEntropy, labels).unwrap();
        assert_eq!(la.to_bits(), lb.to_bits());
    }
    assert_eq!(param_bits(&net), param_bits(&tuple));
}

#[test]
fn one_field_nested_and_eight() {
    let mut one = One::ZERO;
    one.init(&mut XorShiftRng::seed_from_u64(4));
    let x = [[1.0, -2.0, 0.5]];
    assert_eq!(one.forward(&x), one.only.forward(&x));
    same_type(&<GradsOf<One>>::ZERO, &<(Linear<3, 2>,)>::ZERO);

    let mut nested = Nested::ZERO;
    nested.init(&mut XorShiftRng::seed_from_u64(5));
    let mut flat = (nested.body, nested.head, Sigmoid);
    let x: X = rand_batch(&mut XorShiftRng::seed_from_u64(6), -1.0, 1.0);
    assert_eq!(nested.forward(&x), flat.forward(&x));
    let mut c1: CacheOf<Nested, X> = Zeroed::ZERO;
    let mut c2: CacheOf<(Net, (Tanh, Linear<4, 3>), Sigmoid), X> = Zeroed::ZERO;
    assert_eq!(
        nested.forward_train(&x, &mut c1),
        flat.forward_train(&x, &mut c2)
    );
    assert_eq!(Nested::NUM_PARAMS, Net::NUM_PARAMS + 4 * 3 + 3);

    let mut eight = Eight::ZERO;
    eight.init(&mut XorShiftRng::seed_from_u64(7));
    let y = eight.forward(&[[0.1, 0.2, 0.3]]);
    assert!(y[0].iter().all(|v| v.is_finite()));
    assert_eq!(Eight::NUM_PARAMS, 3 * 4 + 4 + 2 * (4 * 4 + 4) + 4 * 2 + 2);
    let _ = (&eight.b, &eight.d, &eight.f, &eight.g);
}
