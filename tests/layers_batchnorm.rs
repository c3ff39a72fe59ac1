//! `BatchNorm1d` against the notebook's demo and against a numpy reference of PyTorch's
//! `nn.BatchNorm1d` (`tests/data/optim_fixtures.json`, section `batchnorm1d`, written by
//! `tests/data/make_optim_fixtures.py`): training forward passes, running statistics after 3
//! steps, evaluation on them, and the backward pass; then its modes, storage and training.

mod common;

use common::rand_batch;
use constnn::rand_core::SeedableRng;
use constnn::{
    Adam, Backward, Batch, BatchNorm1d, BatchNormParams, CrossEntropy, Error, EvalStats, GradsOf,
    Hyperparameter, Linear, Module, Params, Relu, Sgd, StateOf, Trainer, XorShiftRng, Zeroed,
};
use serde_json::Value;

/// Agreement with the float64 reference: `|got − want| ≤ TOL`.
const TOL: f64 = 1e-6;

fn fixtures() -> Value {
    let all: Value = serde_json::from_str(include_str!("data/optim_fixtures.json")).unwrap();
    all["batchnorm1d"].clone()
}

fn vector(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn batch<const B: usize, const N: usize>(v: &Value) -> Batch<B, N> {
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), B);
    core::array::from_fn(|b| {
        let row = vector(&rows[b]);
        assert_eq!(row.len(), N);
        core::array::from_fn(|n| row[n] as f32)
    })
}

#[track_caller]
fn assert_close(what: &str, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (f64::from(g) - w).abs();
        assert!(err <= TOL, "{what}[{k}]: {g} vs {w} (|diff| {err:e})");
    }
}

fn flat(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().flat_map(vector).collect()
}

/// The notebook's demo: rows `[0..4], [5..9], [10..14]` normalize to `−1.2247448677, 0,
/// +1.2247448677` in every column, with the notebook's `eps = 1e-7`; PyTorch's `eps = 1e-5`
/// gives the fixture's `±1.224744504`.
#[test]
fn notebook_demo() {
    let x: Batch<3, 5> = core::array::from_fn(|r| core::array::from_fn(|c| (5 * r + c) as f32));
    let notebook = [-1.2247448677, 0.0, 1.2247448677];
    let mut bn = BatchNorm1d::<5>::new().with_eps(1e-7).unwrap();
    let mut cache = Zeroed::ZERO;
    let y = bn.forward_train(&x, &mut cache);
    for (row, &want) in y.iter().zip(&notebook) {
        assert_close("notebook demo", row, &[want; 5]);
    }
    assert_eq!(y[1], [0.0; 5], "the mean row is exactly 0");
    // The batch-statistics evaluation (the notebook's) gives the same bits.
    let notebook_mode = bn.with_eval_stats(EvalStats::Batch);
    assert_eq!(notebook_mode.forward(&x), y);

    let demo = &fixtures()["notebook_demo"];
    let mut bn = BatchNorm1d::<5>::new();
    assert_eq!(bn.eps(), demo["eps"].as_f64().unwrap() as f32);
    let y = bn.forward_train(&x, &mut cache_of());
    assert_close("demo, eps 1e-5", y.as_flattened(), &flat(&demo["y"]));
    // One step from running mean 0: 0.1·mean.
    let mean = vector(&demo["mean"]);
    assert_close(
        "running mean",
        &bn.running_mean,
        &mean.iter().map(|m| 0.1 * m).collect::<Vec<_>>(),
    );
}

/// Three training steps from PyTorch's initial state, then evaluation on the running
/// statistics, and the backward pass of batch 0.
#[test]
fn pytorch_semantics_over_three_steps() {
    let f = fixtures();
    let mut bn = BatchNorm1d::<3>::new();
    assert_eq!(bn.eps(), f["eps"].as_f64().unwrap() as f32);
    assert_eq!(f64::from(bn.momentum()), f64::from(0.1f32));
    assert_eq!(f["momentum"].as_f64().unwrap(), 0.1);
    bn.gamma = vector(&f["gamma"]).map_f32();
    bn.beta = vector(&f["beta"]).map_f32();
    assert_close(
        "initial running mean",
        &bn.running_mean,
        &vector(&f["running_mean_init"]),
    );
    assert_close(
        "initial running var",
        &bn.running_var,
        &vector(&f["running_var_init"]),
    );

    let batches = f["train_batches"].as_array().unwrap();
    let steps = f["train_steps"].as_array().unwrap();
    assert_eq!((batches.len(), steps.len()), (3, 3));
    for (k, (xb, step)) in batches.iter().zip(steps).enumerate() {
        let x: Batch<4, 3> = batch(xb);
        let before = (bn.running_mean, bn.running_var);
        let mut cache = Zeroed::ZERO;
        let y = bn.forward_train(&x, &mut cache);
        assert_close(&format!("step {k}: y"), y.as_flattened(), &flat(&step["y"]));
        assert_close(
            &format!("step {k}: running mean"),
            &bn.running_mean,
            &vector(&step["running_mean"]),
        );
        assert_close(
            &format!("step {k}: running var"),
            &bn.running_var,
            &vector(&step["running_var"]),
        );
        // The biased batch variance normalizes; the unbiased one feeds the running variance.
        let biased = vector(&step["batch_var_biased"]);
        let inv_std: Vec<f64> = biased.iter().map(|v| 1.0 / (v + 1e-5).sqrt()).collect();
        assert_close(&format!("step {k}: 1/σ"), &cache.inv_std, &inv_std);
        let unbiased = vector(&step["batch_var_unbiased"]);
        let want: Vec<f64> = (before.1.iter().zip(&unbiased))
            .map(|(&rv, &u)| 0.9 * f64::from(rv) + 0.1 * u)
            .collect();
        assert_close(
            &format!("step {k}: running var from the unbiased one"),
            &bn.running_var,
            &want,
        );
    }

    // Evaluation: the running statistics, and the same output one row at a time.
    let x: Batch<4, 3> = batch(&f["eval_batch"]);
    let y = bn.forward(&x);
    assert_close("eval y", y.as_flattened(), &flat(&f["eval_y"]));
    for (row, y_row) in x.iter().zip(&y) {
        assert_eq!(
            &bn.forward(&[*row])[0],
            y_row,
            "eval depends on the row alone"
        );
    }

    // The backward pass of batch 0 (the full gradient, through the batch statistics).
    let b = &f["backward"];
    let mut bn0 = BatchNorm1d::<3>::new();
    bn0.gamma = vector(&f["gamma"]).map_f32();
    bn0.beta = vector(&f["beta"]).map_f32();
    let x: Batch<4, 3> = batch(&b["x"]);
    let dy: Batch<4, 3> = batch(&b["dy"]);
    let mut cache = Zeroed::ZERO;
    bn0.forward_train(&x, &mut cache);
    let mut grads: GradsOf<BatchNorm1d<3>> = Zeroed::ZERO;
    let dx = bn0.backward(&cache, &dy, &mut grads);
    assert_close("dx", dx.as_flattened(), &flat(&b["dx"]));
    assert_close("dgamma", &grads.gamma, &vector(&b["dgamma"]));
    assert_close("dbeta", &grads.beta, &vector(&b["dbeta"]));
}

/// A fresh training cache (whose type is inferred from the call).
fn cache_of<T: Zeroed>() -> T {
    T::ZERO
}

trait MapF32 {
    fn map_f32<const N: usize>(&self) -> [f32; N];
}

impl MapF32 for Vec<f64> {
    fn map_f32<const N: usize>(&self) -> [f32; N] {
        assert_eq!(self.len(), N);
        core::array::from_fn(|n| self[n] as f32)
    }
}

#[test]
fn inference_changes_nothing_and_modes_differ() {
    let mut rng = XorShiftRng::seed_from_u64(4);
    let x: Batch<6, 4> = rand_batch(&mut rng, -2.0, 3.0);
    let mut bn = BatchNorm1d::<4>::new();
    bn.gamma = [1.5, -0.5, 2.0, 1.0];
    bn.beta = [0.1, 0.2, -0.3, 0.0];
    let mut cache = Zeroed::ZERO;
    let y_train = bn.forward_train(&x, &mut cache);
    let trained = bn;

    // Running statistics (the default): not the batch's; `forward` changes nothing.
    assert_eq!(bn.eval_stats(), EvalStats::Running);
    let y_eval = bn.forward(&x);
    assert_ne!(y_eval, y_train);
    assert_eq!(bn, trained);

    // Batch statistics: the training output, bit for bit, and still nothing updated.
    let notebook = bn.with_eval_stats(EvalStats::Batch);
    assert_eq!(notebook.forward(&x), y_train);
    assert_eq!(notebook.running_mean, trained.running_mean);
    // …which depends on the rest of the batch: one row alone normalizes to β.
    assert_eq!(notebook.forward(&[x[0]]), [bn.beta]);

    // Two training passes on the same batch move the running statistics twice.
    bn.forward_train(&x, &mut cache);
    assert_ne!(bn.running_mean, trained.running_mean);
}

#[test]
fn running_stats_are_stored_not_trained() {
    type Bn = BatchNorm1d<3>;
    assert_eq!((Bn::NUM_PARAMS, Bn::NUM_STORED), (6, 12));
    assert_eq!(size_of::<GradsOf<Bn>>(), 4 * 6);
    assert_eq!(size_of::<StateOf<Bn, Adam>>(), 2 * 4 * 6);
    assert_eq!(size_of::<StateOf<Bn, Sgd>>(), 0);
    assert_eq!(size_of::<Bn>(), 16 * 3 + 12);

    let mut bn = Bn::new();
    bn.gamma = [1.0, 2.0, 3.0];
    bn.beta = [4.0, 5.0, 6.0];
    bn.running_mean = [7.0, 8.0, 9.0];
    bn.running_var = [10.0, 11.0, 12.0];
    let mut stored = Vec::new();
    bn.visit(&mut |p: &[f32]| stored.extend_from_slice(p));
    assert_eq!(stored, (1..=12).map(|v| v as f32).collect::<Vec<_>>());
    let mut trained = Vec::new();
    let mut like: BatchNormParams<3, bool> = Zeroed::ZERO;
    bn.visit_trainable(&mut like, &mut |p: &mut [f32], _: &mut [bool]| {
        trained.extend_from_slice(p)
    });
    assert_eq!(trained, (1..=6).map(|v| v as f32).collect::<Vec<_>>());

    // A checkpoint restores the running statistics with the parameters.
    let mut restored = Bn::new();
    let mut it = stored.iter();
    restored.visit_mut(&mut |p: &mut [f32]| p.iter_mut().for_each(|v| *v = *it.next().unwrap()));
    assert_eq!(restored, bn);
    let x = [[1.0, -2.0, 0.5]];
    assert_eq!(restored.forward(&x), bn.forward(&x));

    // init is PyTorch's reset, and keeps the hyperparameters.
    let mut reset = bn.with_eps(1e-3).unwrap().with_momentum(0.5).unwrap();
    reset.init(&mut XorShiftRng::seed_from_u64(0));
    assert_eq!((reset.gamma, reset.beta), ([1.0; 3], [0.0; 3]));
    assert_eq!(
        (reset.running_mean, reset.running_var),
        ([0.0; 3], [1.0; 3])
    );
    assert_eq!((reset.eps(), reset.momentum()), (1e-3, 0.5));
    assert_eq!(Bn::ZERO, Bn::new());
    assert_eq!(Bn::default(), Bn::new());
}

/// Any optimizer trains `γ` and `β`; the running statistics follow the forward passes only.
#[test]
fn adam_trains_gamma_and_beta_in_a_model() {
    type Net = (Linear<4, 6>, BatchNorm1d<6>, Relu, Linear<6, 3>);
    let mut rng = XorShiftRng::seed_from_u64(9);
    let mut net = Net::ZERO;
    net.init(&mut rng);
    let x: Batch<8, 4> = rand_batch(&mut rng, -1.0, 1.0);
    let labels = [0, 1, 2, 0, 1, 2, 0, 1];
    let mut trainer: Trainer<Net, Batch<8, 4>, Adam> = Trainer::new(Adam::new(0.05).unwrap());
    let mut shadow = net.1; // the batch norm alone, fed the same inputs
    let mut first = None;
    for _ in 0..30 {
        let h = net.0.forward(&x);
        shadow.forward_train(&h, &mut cache_of());
        let loss = trainer.step(&mut net, &x, &CrossEntropy, &labels).unwrap();
        first.get_or_insert(loss);
        assert_eq!(net.1.running_mean, shadow.running_mean);
        assert_eq!(net.1.running_var, shadow.running_var);
    }
    assert_ne!(net.1.gamma, [1.0; 6]);
    assert_ne!(net.1.beta, [0.0; 6]);
    let state = &trainer.state().1;
    assert!(state.gamma.iter().all(|s| s[1] > 0.0), "Adam's v for γ");
    let loss = trainer.step(&mut net, &x, &CrossEntropy, &labels).unwrap();
    assert!(loss < first.unwrap() / 4.0, "{loss} vs {first:?}");
}

#[test]
fn bad_hyperparameters() {
    let bn = BatchNorm1d::<2>::new();
    let eps = Err(Error::InvalidHyperparameter(Hyperparameter::Epsilon));
    for bad in [0.0, -1e-5, f32::NAN, f32::INFINITY] {
        assert_eq!(bn.with_eps(bad), eps, "eps {bad}");
    }
    let momentum = Err(Error::InvalidHyperparameter(Hyperparameter::NormMomentum));
    for bad in [-0.1, 1.01, f32::NAN, f32::INFINITY] {
        assert_eq!(bn.with_momentum(bad), momentum, "momentum {bad}");
    }
    assert_eq!(bn.with_momentum(0.0).unwrap().momentum(), 0.0);
    assert_eq!(bn.with_momentum(1.0).unwrap().momentum(), 1.0);
    assert!(Hyperparameter::NormMomentum.describe().contains("[0, 1]"));
}

/// Momentum 0 freezes the running statistics; 1 keeps the last batch's.
#[test]
fn momentum_extremes() {
    let x = [[1.0, 2.0], [3.0, 6.0]];
    let mut frozen = BatchNorm1d::<2>::new().with_momentum(0.0).unwrap();
    frozen.forward_train(&x, &mut cache_of());
    assert_eq!(
        (frozen.running_mean, frozen.running_var),
        ([0.0; 2], [1.0; 2])
    );
    let mut last = BatchNorm1d::<2>::new().with_momentum(1.0).unwrap();
    last.forward_train(&x, &mut cache_of());
    assert_eq!(
        (last.running_mean, last.running_var),
        ([2.0, 4.0], [2.0, 8.0])
    );
}
