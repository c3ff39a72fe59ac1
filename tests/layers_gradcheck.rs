//! Central-difference gradient checks of `BatchNorm1d`, `Dropout`, `Sigmoid`, `Tanh` and
//! `LeakyRelu`, alone and inside models (tuples and `sequential!` structs) with batch norm and
//! dropout, over several shapes and seeds.
//!
//! The method is `tests/gradcheck.rs`'s: a float64 reference of the forward pass and of the
//! loss, written here from the maths in the docs (not from the library's code), is
//! differentiated by central differences with `H = 1e-6` at the library's own f32 parameter
//! values and inputs (converted exactly to f64). Those differences are exact to ~1e-9, so what
//! separates them from the library's analytic gradients is the library's f32 rounding, or a
//! bug; the tolerance ([`ATOL`], [`RTOL`]) is tight enough that
//! `checker_rejects_wrong_gradients` sees every planted mistake rejected (a sign flip, the
//! per-sample batch-norm gradient, a missing dropout scale, …).
//!
//! Batch norm is differentiated in its training form (the batch's own mean and variance, the
//! function `forward_train` computes); dropout with its mask fixed: the mask the library
//! draws (read by running a copy of the layer, in the same generator state, on a batch of
//! ones) is a constant of the reference.

mod common;

use common::{rand_batch, rand_labels, uniform};
use constnn::rand_core::SeedableRng;
use constnn::{
    Backward, Batch, BatchNorm1d, DropRate, Dropout, GradsOf, LeakyRelu, Linear, Params, Relu, Sgd,
    Sigmoid, StateOf, Tanh, XorShiftRng, Zeroed, cross_entropy_with_logits, sequential,
};

/// The central-difference step, in float64.
const H: f64 = 1e-6;

/// Gradient tolerance: `|analytic − fd| ≤ ATOL + RTOL·|fd|`, element by element, as in
/// `tests/gradcheck.rs`. The f32 rounding of the batch-norm input gradient (a difference of
/// three terms of size `B·|dy|`, scaled by `γ/(B·σ)`) is the largest here; it is compared as
/// `σ·dx` (see `batchnorm_gradients`). Measured over every shape, spread and seed, the correct
/// gradients use at most 0.11 of the tolerance (batch norm, spread 50);
/// `checker_rejects_wrong_gradients` asserts that the ones it recomputes stay below 0.25, and
/// every planted mistake is rejected by 20× to 10⁶× the tolerance.
const ATOL: f64 = 2e-6;
/// See [`ATOL`].
const RTOL: f64 = 1e-5;

/// Forward tolerance: `|y32 − y64| ≤ FWD_TOL·(1 + |y64|)`.
const FWD_TOL: f64 = 1e-5;

/// Every ReLU / leaky-ReLU input stays at least this far from the kink at 0.
const KINK: f64 = 1e-3;

/// Seeds of the property loops.
const SEEDS: [u64; 3] = [1, 2, 3];

// ---------------------------------------------------------------------------------------------
// The float64 reference.

/// One layer as the reference sees it. Trainable parameters are one flat vector in
/// `Params::visit_trainable` order: a `Linear`'s weight `w[i][o]` row by row then its bias; a
/// `BatchNorm`'s `γ` then `β`.
#[derive(Clone, Debug)]
enum Layer {
    Linear(usize, usize),
    Relu,
    LeakyRelu(f64),
    Sigmoid,
    Tanh,
    /// Width and `eps`.
    BatchNorm(usize, f64),
    /// The fixed multiplier of each activation (`0` or the scale `1/(1 − p)`), `B × N`.
    Dropout(Vec<f64>),
}

/// The reference forward pass (training semantics) and the smallest `|input|` of any kink.
fn ref_forward_margin(arch: &[Layer], params: &[f64], x: &[f64], batch: usize) -> (Vec<f64>, f64) {
    let mut h = x.to_vec();
    let mut width = h.len() / batch;
    let mut p = params;
    let mut margin = f64::INFINITY;
    for layer in arch {
        match layer {
            &Layer::Linear(n_in, n_out) => {
                assert_eq!(width, n_in, "reference architecture does not chain");
                let (w, rest) = p.split_at(n_in * n_out);
                let (bias, rest) = rest.split_at(n_out);
                p = rest;
                let mut y = vec![0.0; batch * n_out];
                for r in 0..batch {
                    for o in 0..n_out {
                        let mut s = bias[o];
                        for i in 0..n_in {
                            s += h[r * n_in + i] * w[i * n_out + o];
                        }
                        y[r * n_out + o] = s;
                    }
                }
                h = y;
                width = n_out;
            }
            Layer::Relu => {
                for v in &mut h {
                    margin = margin.min(v.abs());
                    *v = v.max(0.0);
                }
            }
            &Layer::LeakyRelu(slope) => {
                for v in &mut h {
                    margin = margin.min(v.abs());
                    if *v <= 0.0 {
                        *v *= slope;
                    }
                }
            }
            Layer::Sigmoid => h.iter_mut().for_each(|v| *v = 1.0 / (1.0 + (-*v).exp())),
            Layer::Tanh => h.iter_mut().for_each(|v| *v = v.tanh()),
            &Layer::BatchNorm(n, eps) => {
                assert_eq!(width, n);
                let (gamma, rest) = p.split_at(n);
                let (beta, rest) = rest.split_at(n);
                p = rest;
                for f in 0..n {
                    let col = |r: usize| h[r * n + f];
                    let mean = (0..batch).map(col).sum::<f64>() / batch as f64;
                    let var =
                        (0..batch).map(|r| (col(r) - mean).powi(2)).sum::<f64>() / batch as f64;
                    let inv = 1.0 / (var + eps).sqrt();
                    for r in 0..batch {
                        h[r * n + f] = gamma[f] * (h[r * n + f] - mean) * inv + beta[f];
                    }
                }
            }
            Layer::Dropout(mask) => {
                assert_eq!(mask.len(), h.len());
                h.iter_mut().zip(mask).for_each(|(v, m)| *v *= m);
            }
        }
    }
    assert!(p.is_empty(), "parameters left over");
    (h, margin)
}

fn ref_forward(arch: &[Layer], params: &[f64], x: &[f64], batch: usize) -> Vec<f64> {
    ref_forward_margin(arch, params, x, batch).0
}

/// Mean over rows of `logsumexp(z) − z[label]`.
fn ref_cross_entropy(logits: &[f64], labels: &[usize], classes: usize) -> f64 {
    let batch = logits.len() / classes;
    let mut total = 0.0;
    for (z, &label) in logits.chunks(classes).zip(labels) {
        let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        total += lse - z[label];
    }
    total / batch as f64
}

fn central_diff(f: impl Fn(&[f64]) -> f64, at: &[f64]) -> Vec<f64> {
    let mut p = at.to_vec();
    (0..at.len())
        .map(|k| {
            p[k] = at[k] + H;
            let up = f(&p);
            p[k] = at[k] - H;
            let down = f(&p);
            p[k] = at[k];
            (up - down) / (2.0 * H)
        })
        .collect()
}

fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

// ---------------------------------------------------------------------------------------------
// The checker.

/// The scalar differentiated: the label loss, or `Σ y ⊙ r` (gradient `r`: one layer alone).
enum Objective<const B: usize, const C: usize> {
    Labels([usize; B]),
    Dot(Batch<B, C>),
}

impl<const B: usize, const C: usize> Objective<B, C> {
    fn library(&self, y: &Batch<B, C>) -> (Option<f32>, Batch<B, C>) {
        match self {
            Objective::Labels(labels) => {
                let (l, g) = cross_entropy_with_logits(y, labels).expect("valid loss");
                (Some(l), g)
            }
            Objective::Dot(r) => (None, *r),
        }
    }

    fn reference(&self, y: &[f64]) -> f64 {
        match self {
            Objective::Labels(labels) => ref_cross_entropy(y, labels, C),
            Objective::Dot(r) => y
                .iter()
                .zip(r.as_flattened())
                .map(|(a, &b)| a * f64::from(b))
                .sum(),
        }
    }
}

/// Analytic (library) and finite-difference (reference) gradients of one check.
#[derive(Clone, Debug)]
struct Gradients {
    params: Vec<f32>,
    fd_params: Vec<f64>,
    dx: Vec<f32>,
    fd_dx: Vec<f64>,
}

fn compare(what: &str, analytic: &[f32], fd: &[f64]) -> Result<(), String> {
    assert_eq!(analytic.len(), fd.len(), "{what}: length");
    for (k, (&g, &d)) in analytic.iter().zip(fd).enumerate() {
        let err = (f64::from(g) - d).abs();
        let allowed = ATOL + RTOL * d.abs();
        if err > allowed || err.is_nan() {
            return Err(format!(
                "{what}[{k}]: analytic {g:e}, finite difference {d:e}, |diff| {err:e} > {allowed:e}"
            ));
        }
    }
    Ok(())
}

fn check(g: &Gradients) -> Result<(), String> {
    compare("parameters", &g.params, &g.fd_params)?;
    compare("dx", &g.dx, &g.fd_dx)
}

/// The largest share of the tolerance any gradient uses (below 1 passes).
fn tolerance_used(g: &Gradients) -> f64 {
    let p = g.params.iter().zip(&g.fd_params);
    let x = g.dx.iter().zip(&g.fd_dx);
    p.chain(x)
        .map(|(&a, &d)| (f64::from(a) - d).abs() / (ATOL + RTOL * d.abs()))
        .fold(0.0, f64::max)
}

#[track_caller]
fn assert_passes(what: &str, seed: u64, g: &Gradients) {
    if let Err(e) = check(g) {
        panic!("{what}, seed {seed}: {e}");
    }
}

#[track_caller]
fn assert_forward_close(what: &str, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (f64::from(g) - w).abs();
        assert!(
            err <= FWD_TOL * (1.0 + w.abs()),
            "{what}[{k}]: library {g}, reference {w}, |diff| {err:e}"
        );
    }
}

fn grad_values<M: Params>(model: &mut M, grads: &mut GradsOf<M>) -> Vec<f32> {
    let mut v = Vec::with_capacity(M::NUM_PARAMS);
    model.visit_trainable(grads, &mut |_, g: &mut [f32]| v.extend_from_slice(g));
    v
}

fn stored_values<M: Params>(model: &M) -> Vec<u32> {
    let mut v = Vec::with_capacity(M::NUM_STORED);
    model.visit(&mut |p: &[f32]| v.extend(p.iter().map(|x| x.to_bits())));
    v
}

/// Runs the library (forward_train, backward, backward_params, backward_input,
/// backward_step, backward_step_params) and the reference on one model and batch; asserts
/// what must hold exactly, and returns both gradients.
fn gradients<M, const B: usize, const A: usize, const C: usize>(
    model: &M,
    arch: &[Layer],
    x: &Batch<B, A>,
    objective: &Objective<B, C>,
) -> Gradients
where
    M: Backward<Batch<B, A>, Output = Batch<B, C>> + Clone,
{
    let p32 = trainable_of(model);
    let p64 = to64(&p32);
    let x64 = to64(x.as_flattened());
    assert_eq!(p64.len(), M::NUM_PARAMS);

    let mut m = model.clone();
    let mut cache: M::Cache = Zeroed::ZERO;
    let y = m.forward_train(x, &mut cache);
    let (y64, margin) = ref_forward_margin(arch, &p64, &x64, B);
    assert!(margin >= KINK, "input too close to a kink: {margin}");
    assert_forward_close("forward_train", y.as_flattened(), &y64);

    let (loss, dy) = objective.library(&y);
    if let Some(loss) = loss {
        assert_forward_close("loss", &[loss], &[objective.reference(&y64)]);
    }

    let mut grads: GradsOf<M> = Zeroed::ZERO;
    let dx = m.backward(&cache, &dy, &mut grads);
    let params = grad_values(&mut m, &mut grads);
    let mut grads2: GradsOf<M> = Zeroed::ZERO;
    m.backward_params(&cache, &dy, &mut grads2);
    assert_eq!(grad_values(&mut m, &mut grads2), params, "backward_params");
    assert_eq!(m.backward_input(&cache, &dy), dx, "backward_input");

    // The fused step: the same input gradient (from the parameters before the update), and
    // the parameters a buffered step gives.
    let sgd = Sgd::new(0.125).unwrap();
    let mut fused = m.clone();
    let mut no_state: StateOf<M, Sgd> = Zeroed::ZERO;
    assert_eq!(fused.backward_step(&cache, &dy, &sgd, &mut no_state), dx);
    let mut buffered = m.clone();
    sgd.step(&mut buffered, &mut grads);
    assert_eq!(stored_values(&fused), stored_values(&buffered));
    let mut fused2 = m.clone();
    fused2.backward_step_params(&cache, &dy, &sgd, &mut no_state);
    assert_eq!(stored_values(&fused2), stored_values(&buffered));

    let fd_params = central_diff(
        |p| objective.reference(&ref_forward(arch, p, &x64, B)),
        &p64,
    );
    let fd_dx = central_diff(
        |xx| objective.reference(&ref_forward(arch, &p64, xx, B)),
        &x64,
    );
    Gradients {
        params,
        fd_params,
        dx: dx.as_flattened().to_vec(),
        fd_dx,
    }
}

/// The trainable parameters of a `Clone` model, in `visit_trainable` order.
fn trainable_of<M: Params + Clone>(model: &M) -> Vec<f32> {
    let mut m = model.clone();
    let mut none = <M::Like<()>>::ZERO;
    let mut v = Vec::with_capacity(M::NUM_PARAMS);
    m.visit_trainable(&mut none, &mut |p: &mut [f32], _: &mut [()]| {
        v.extend_from_slice(p)
    });
    v
}

// ---------------------------------------------------------------------------------------------
// Random problems.

/// He-normal weights, and every other trainable vector (biases, `γ`, `β`) redrawn at random:
/// biases and `β` in [-0.5, 0.5), `γ` in ±[0.5, 1.5) (a `γ` of 1 and a `β` of 0 would hide a
/// missing or transposed factor).
fn randomize<M: Params>(m: &mut M, rng: &mut XorShiftRng) {
    m.init(rng);
    let mut none = <M::Like<()>>::ZERO;
    m.visit_trainable(&mut none, &mut |p: &mut [f32], _: &mut [()]| {
        // A Linear weight is visited as one slice of IN·OUT values; the 1-D slices are the
        // vectors. (Every weight here has IN ≥ 2 or is followed by a vector of another length;
        // redrawing a 1×OUT weight uniformly would do no harm either.)
        let is_gamma = p.iter().all(|&v| v == 1.0);
        for v in p.iter_mut() {
            if is_gamma {
                let s = if uniform(rng, 0.0, 1.0) < 0.5 {
                    -1.0
                } else {
                    1.0
                };
                *v = s * uniform(rng, 0.5, 1.5);
            } else if v.to_bits() == 0 {
                *v = uniform(rng, -0.5, 0.5);
            }
        }
    });
}

/// The multiplier pattern of a dropout layer on its next `B × N` batch (without changing it).
fn mask_of<const B: usize, const N: usize>(d: &Dropout) -> Vec<f64> {
    let mut probe = *d;
    let mut cache = Zeroed::ZERO;
    let y = probe.forward_train(&[[1.0f32; N]; B], &mut cache);
    let m = to64(y.as_flattened());
    assert!(m.iter().all(|&v| v == 0.0 || v == f64::from(d.scale())));
    m
}

fn dropout(p: f32, rng: &mut XorShiftRng) -> Dropout {
    let mut d = Dropout::new(DropRate::new(p).unwrap());
    d.init(rng);
    d
}

/// Draws whole input batches in [-1, 1) until no kink is within `KINK` of the reference's
/// pre-activations (batch norm couples the rows, so a batch is redrawn as a whole).
fn input_away_from_kinks<const B: usize, const A: usize>(
    rng: &mut XorShiftRng,
    arch: &[Layer],
    params: &[f32],
) -> Batch<B, A> {
    let p64 = to64(params);
    for _ in 0..10_000 {
        let x: Batch<B, A> = rand_batch(rng, -1.0, 1.0);
        if ref_forward_margin(arch, &p64, &to64(x.as_flattened()), B).1 >= KINK {
            return x;
        }
    }
    panic!("could not draw an input away from the kinks");
}

// One layer alone, under `Σ y ⊙ r`.

/// A batch whose features have different spreads and offsets: feature `n` is
/// `scale·((1 + k/2)·u + k − 1) + offset·k` with `u` uniform in [-1, 1) and `k = n mod 3`.
fn spread_features<const B: usize, const N: usize>(
    rng: &mut XorShiftRng,
    scale: f32,
    offset: f32,
) -> Batch<B, N> {
    let mut x: Batch<B, N> = rand_batch(rng, -1.0, 1.0);
    for row in &mut x {
        for (n, v) in row.iter_mut().enumerate() {
            let k = (n % 3) as f32;
            *v = scale * ((1.0 + k * 0.5) * *v + k - 1.0) + offset * k;
        }
    }
    x
}

fn batchnorm_gradients<const B: usize, const N: usize>(
    seed: u64,
    scale: f32,
    offset: f32,
) -> Gradients {
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let mut bn = BatchNorm1d::<N>::new();
    randomize(&mut bn, &mut rng);
    let x = spread_features::<B, N>(&mut rng, scale, offset);
    let r: Batch<B, N> = rand_batch(&mut rng, -1.0, 1.0);
    let arch = [Layer::BatchNorm(N, f64::from(bn.eps()))];
    let mut g = gradients(&bn, &arch, &x, &Objective::Dot(r));
    // dx is proportional to 1/σ (the output does not depend on the input's scale), and so is
    // its f32 rounding: compare σ·dx, in units of the normalized input, so that one tolerance
    // serves every spread (σ from the reference, in f64).
    let sigma = sigmas(&x, bn.eps());
    for (k, (d, fd)) in g.dx.iter_mut().zip(&mut g.fd_dx).enumerate() {
        *d = (f64::from(*d) * sigma[k % N]) as f32;
        *fd *= sigma[k % N];
    }
    g
}

/// `sqrt(var + eps)` of each feature of `x` (biased variance), in f64.
fn sigmas<const B: usize, const N: usize>(x: &Batch<B, N>, eps: f32) -> Vec<f64> {
    (0..N)
        .map(|n| {
            let mean = (0..B).map(|b| f64::from(x[b][n])).sum::<f64>() / B as f64;
            let var = (0..B)
                .map(|b| (f64::from(x[b][n]) - mean).powi(2))
                .sum::<f64>()
                / B as f64;
            (var + f64::from(eps)).sqrt()
        })
        .collect()
}

fn dropout_gradients<const B: usize, const N: usize>(seed: u64, p: f32) -> Gradients {
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let d = dropout(p, &mut rng);
    let x: Batch<B, N> = rand_batch(&mut rng, -2.0, 2.0);
    let r: Batch<B, N> = rand_batch(&mut rng, -1.0, 1.0);
    let arch = [Layer::Dropout(mask_of::<B, N>(&d))];
    gradients(&d, &arch, &x, &Objective::Dot(r))
}

fn activation_gradients<L, const B: usize, const N: usize>(
    seed: u64,
    layer: L,
    reference: Layer,
    range: f32,
) -> Gradients
where
    L: Backward<Batch<B, N>, Output = Batch<B, N>> + Clone,
{
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let mut x: Batch<B, N> = rand_batch(&mut rng, -range, range);
    for v in x.as_flattened_mut() {
        if f64::from(v.abs()) < KINK {
            *v = (KINK as f32).copysign(*v);
        }
    }
    let r: Batch<B, N> = rand_batch(&mut rng, -1.0, 1.0);
    gradients(&layer, &[reference], &x, &Objective::Dot(r))
}

// Models under the label loss.

type BnDropMlp<const A: usize, const HID: usize, const C: usize> = (
    Linear<A, HID>,
    BatchNorm1d<HID>,
    Relu,
    Dropout,
    Linear<HID, C>,
);

fn bn_dropout_mlp_gradients<const B: usize, const A: usize, const HID: usize, const C: usize>(
    seed: u64,
) -> Gradients {
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let mut model: BnDropMlp<A, HID, C> = Zeroed::ZERO;
    randomize(&mut model, &mut rng);
    model.3 = dropout(0.3, &mut rng);
    let arch = [
        Layer::Linear(A, HID),
        Layer::BatchNorm(HID, f64::from(model.1.eps())),
        Layer::Relu,
        Layer::Dropout(mask_of::<B, HID>(&model.3)),
        Layer::Linear(HID, C),
    ];
    let x: Batch<B, A> = input_away_from_kinks(&mut rng, &arch, &trainable_of(&model));
    let labels = rand_labels(&mut rng, C);
    gradients(&model, &arch, &x, &Objective::Labels(labels))
}

sequential! {
    /// Every new layer in one named-struct model.
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Everything {
        hidden: Linear<5, 8>,
        norm: BatchNorm1d<8>,
        act: LeakyRelu,
        drop: Dropout,
        squash: Linear<8, 6>,
        sig: Sigmoid,
        mid: Linear<6, 4>,
        tanh: Tanh,
    }
}

/// [`Everything`] followed by a `Linear<4, 3>` head, as a tuple of a struct and a layer.
fn everything_gradients<const B: usize>(seed: u64) -> Gradients {
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let mut model: (Everything, Linear<4, 3>) = Zeroed::ZERO;
    randomize(&mut model, &mut rng);
    model.0.act = LeakyRelu::new(0.2).unwrap();
    model.0.drop = dropout(0.25, &mut rng);
    let arch = [
        Layer::Linear(5, 8),
        Layer::BatchNorm(8, f64::from(model.0.norm.eps())),
        Layer::LeakyRelu(f64::from(0.2f32)),
        Layer::Dropout(mask_of::<B, 8>(&model.0.drop)),
        Layer::Linear(8, 6),
        Layer::Sigmoid,
        Layer::Linear(6, 4),
        Layer::Tanh,
        Layer::Linear(4, 3),
    ];
    let x: Batch<B, 5> = input_away_from_kinks(&mut rng, &arch, &trainable_of(&model));
    let labels = rand_labels(&mut rng, 3);
    gradients(&model, &arch, &x, &Objective::Labels(labels))
}

// ---------------------------------------------------------------------------------------------
// The checks.

macro_rules! layer_shapes {
    ($($name:ident: ($b:literal, $n:literal);)*) => {$(
        mod $name {
            use super::*;

            #[test]
            fn batchnorm_dgamma_dbeta_dx() {
                for seed in SEEDS {
                    // Spreads of 0.01 to 50, and a small spread far from 0 (1e4 σ).
                    for (scale, offset) in [(1.0, 0.0), (0.01, 0.0), (50.0, 0.0), (0.01, 100.0)] {
                        let g = batchnorm_gradients::<$b, $n>(seed, scale, offset);
                        let what = format!("BatchNorm1d, spread {scale}, offset {offset}");
                        assert_passes(&what, seed, &g);
                    }
                }
            }

            #[test]
            fn dropout_dx() {
                for seed in SEEDS {
                    for p in [0.0, 0.3, 0.5, 0.9] {
                        let g = dropout_gradients::<$b, $n>(seed, p);
                        assert_passes(&format!("Dropout({p})"), seed, &g);
                    }
                }
            }

            #[test]
            fn activations_dx() {
                for seed in SEEDS {
                    for range in [1.0, 6.0] {
                        let g = activation_gradients::<_, $b, $n>(seed, Sigmoid, Layer::Sigmoid, range);
                        assert_passes("Sigmoid", seed, &g);
                        let g = activation_gradients::<_, $b, $n>(seed, Tanh, Layer::Tanh, range);
                        assert_passes("Tanh", seed, &g);
                    }
                    for slope in [0.0f32, 0.01, 0.3] {
                        let layer = LeakyRelu::new(slope).unwrap();
                        let reference = Layer::LeakyRelu(f64::from(slope));
                        let g = activation_gradients::<_, $b, $n>(seed, layer, reference, 2.0);
                        assert_passes("LeakyRelu", seed, &g);
                    }
                }
            }
        }
    )*};
}

layer_shapes! {
    shape_2_3: (2, 3);
    shape_3_5: (3, 5);
    shape_10_32: (10, 32);
    shape_7_9: (7, 9);
}

#[test]
fn models_with_batchnorm_and_dropout() {
    for seed in SEEDS {
        let g = bn_dropout_mlp_gradients::<3, 4, 5, 3>(seed);
        assert_passes("(Linear<4, 5>, BN, Relu, Dropout, Linear<5, 3>)", seed, &g);
        let g = bn_dropout_mlp_gradients::<10, 64, 32, 10>(seed);
        assert_passes(
            "(Linear<64, 32>, BN, Relu, Dropout, Linear<32, 10>)",
            seed,
            &g,
        );
        let g = bn_dropout_mlp_gradients::<7, 13, 9, 4>(seed);
        assert_passes("(Linear<13, 9>, BN, Relu, Dropout, Linear<9, 4>)", seed, &g);
        let g = everything_gradients::<6>(seed);
        assert_passes("(Everything, Linear<4, 3>)", seed, &g);
    }
}

// ---------------------------------------------------------------------------------------------
// The checker rejects each of these wrong gradients, for every seed.

#[test]
fn checker_rejects_wrong_gradients() {
    let mut worst = 0.0f64;
    for seed in SEEDS {
        let rejected = |what: &str, g: &Gradients| {
            assert!(
                check(g).is_err(),
                "seed {seed}: the checker accepted {what}"
            );
            println!(
                "seed {seed}: rejected {what}: {:.3e}x the tolerance",
                tolerance_used(g)
            );
        };

        // Batch norm (B = 4, N = 3): recompute the problem of `batchnorm_gradients` here.
        let good = batchnorm_gradients::<4, 3>(seed, 1.0, 0.0);
        assert_passes("BatchNorm1d", seed, &good);
        worst = worst.max(tolerance_used(&good));
        let mut rng = XorShiftRng::seed_from_u64(seed);
        let mut bn = BatchNorm1d::<3>::new();
        randomize(&mut bn, &mut rng);
        let x = spread_features::<4, 3>(&mut rng, 1.0, 0.0);
        let r: Batch<4, 3> = rand_batch(&mut rng, -1.0, 1.0);
        let mut cache = Zeroed::ZERO;
        bn.clone().forward_train(&x, &mut cache);
        let constnn::BatchNormCache { xhat, inv_std } = cache;
        let sigma = sigmas(&x, bn.eps());
        let with = |mean_term: bool, var_term: bool| -> Vec<f32> {
            let mut dx = Vec::new();
            for b in 0..4 {
                for n in 0..3 {
                    let dbeta: f32 = (0..4).map(|k| r[k][n]).sum();
                    let dgamma: f32 = (0..4).map(|k| r[k][n] * xhat[k][n]).sum();
                    let mut t = 4.0 * r[b][n];
                    if mean_term {
                        t -= dbeta;
                    }
                    if var_term {
                        t -= xhat[b][n] * dgamma;
                    }
                    let d = bn.gamma[n] * inv_std[n] / 4.0 * t;
                    dx.push((f64::from(d) * sigma[n]) as f32);
                }
            }
            dx
        };
        let mut same = good.clone();
        same.dx = with(true, true);
        assert_passes("the batch-norm dx recomputed", seed, &same);
        let mut bad = good.clone();
        bad.dx = with(false, false);
        rejected("the per-sample batch-norm dx γ·dy/σ", &bad);
        let mut bad = good.clone();
        bad.dx = with(true, false);
        rejected("a batch-norm dx without the variance term", &bad);
        let mut bad = good.clone();
        bad.dx = with(false, true);
        rejected("a batch-norm dx without the mean term", &bad);
        let mut bad = good.clone();
        bad.params[..3].iter_mut().for_each(|v| *v = -*v);
        rejected("a sign-flipped dγ", &bad);
        let mut bad = good.clone();
        bad.params.swap(0, 3);
        bad.params.swap(1, 4);
        bad.params.swap(2, 5);
        rejected("dγ and dβ swapped", &bad);

        // Dropout: the unscaled mask (the non-inverted gradient) and a dx with no mask.
        let good = dropout_gradients::<4, 6>(seed, 0.5);
        assert_passes("Dropout", seed, &good);
        let mut bad = good.clone();
        bad.dx.iter_mut().for_each(|v| *v *= 0.5);
        rejected("a dropout dx without the 1/(1 − p)", &bad);
        let mut rng = XorShiftRng::seed_from_u64(seed);
        let _ = dropout(0.5, &mut rng);
        let _: Batch<4, 6> = rand_batch(&mut rng, -2.0, 2.0);
        let r: Batch<4, 6> = rand_batch(&mut rng, -1.0, 1.0);
        let mut bad = good.clone();
        bad.dx = r.as_flattened().iter().map(|v| v * 2.0).collect();
        rejected("a dropout dx without the mask", &bad);

        // Sigmoid and tanh: derivatives of the wrong form.
        let good = activation_gradients::<_, 4, 6>(seed, Sigmoid, Layer::Sigmoid, 3.0);
        assert_passes("Sigmoid", seed, &good);
        let mut rng = XorShiftRng::seed_from_u64(seed);
        let x: Batch<4, 6> = rand_batch(&mut rng, -3.0, 3.0);
        let r: Batch<4, 6> = rand_batch(&mut rng, -1.0, 1.0);
        let sig = |v: f32| 1.0 / (1.0 + (-v).exp());
        let mut bad = good.clone();
        bad.dx = (0..24)
            .map(|k| r[k / 6][k % 6] * sig(x[k / 6][k % 6]))
            .collect();
        rejected("a sigmoid dx of dy·y", &bad);
        let mut bad = good.clone();
        bad.dx = (0..24)
            .map(|k| {
                let v = x[k / 6][k % 6];
                r[k / 6][k % 6] * v * (1.0 - v)
            })
            .collect();
        rejected("a sigmoid dx of dy·x·(1 − x)", &bad);
        let good = activation_gradients::<_, 4, 6>(seed, Tanh, Layer::Tanh, 3.0);
        assert_passes("Tanh", seed, &good);
        let mut bad = good.clone();
        bad.dx = (0..24)
            .map(|k| r[k / 6][k % 6] * (1.0 - x[k / 6][k % 6].tanh()))
            .collect();
        rejected("a tanh dx of dy·(1 − y)", &bad);

        // Leaky ReLU: the plain ReLU gradient (no slope).
        let layer = LeakyRelu::new(0.3).unwrap();
        let good =
            activation_gradients::<_, 4, 6>(seed, layer, Layer::LeakyRelu(0.3f32.into()), 2.0);
        assert_passes("LeakyRelu", seed, &good);
        let mut bad = good.clone();
        let mut rng = XorShiftRng::seed_from_u64(seed);
        let x: Batch<4, 6> = rand_batch(&mut rng, -2.0, 2.0);
        bad.dx = (0..24)
            .map(|k| {
                if x[k / 6][k % 6] > 0.0 {
                    good.dx[k]
                } else {
                    0.0
                }
            })
            .collect();
        assert!(x.as_flattened().iter().any(|&v| v < 0.0));
        rejected("a leaky-ReLU dx without the slope", &bad);

        // A whole model: 0.1 % too large, and one element off.
        let good = bn_dropout_mlp_gradients::<3, 4, 5, 3>(seed);
        worst = worst.max(tolerance_used(&good));
        let mut bad = good.clone();
        bad.params.iter_mut().for_each(|v| *v *= 1.001);
        rejected("model parameter gradients 0.1 % too large", &bad);
        let mut bad = good.clone();
        bad.dx.iter_mut().for_each(|v| *v *= 1.001);
        rejected("a model input gradient 0.1 % too large", &bad);
        let good = everything_gradients::<6>(seed);
        worst = worst.max(tolerance_used(&good));
    }
    println!("correct gradients use at most {worst:.3} of the tolerance");
    assert!(
        worst < 0.25,
        "correct gradients use {worst} of the tolerance"
    );
}
