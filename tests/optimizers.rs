//! Every optimizer against an independent numpy implementation of PyTorch's documented update
//! rules: `tests/data/optim_fixtures.json`, written by `tests/data/make_optim_fixtures.py` (see
//! `tests/data/README.md`).
//!
//! The fixture trains `(Linear<3, 4>, Relu, Linear<4, 2>)` from fixed float32 parameters on one
//! fixed batch of 4 rows, with the mean MSE, the mean softmax cross-entropy (labels) or the
//! mean BCE with logits, for 10 steps of `torch.optim.SGD` (plain, weight decay, momentum,
//! momentum + dampening + weight decay, Nesterov + weight decay), `Adam` (with and without L2
//! weight decay), `AdamW` and `RMSprop` (with and without weight decay); it records the
//! parameters after steps 1, 2 and 10 and the loss before every step, each computed twice:
//! `f32` (every operation on float32 values, in the library's summation order and PyTorch's
//! operation order) and `f64` (the mathematical reference).
//!
//! Each case runs through [`Trainer`] (fused) and [`BufferedTrainer`], which must agree bit for
//! bit, and is then compared with:
//! - the `f32` flavour: `|got − want| ≤ 1e-6·S` for every parameter after steps 1, 2 and 10,
//!   where `S = max(|want|, |p₀|, 0.01)` and `p₀` is the parameter's initial value (why not
//!   `|want|` alone: see [`FLOOR`]); and `|got − want| ≤ 1e-6·|want|` for every loss;
//! - the `f64` flavour: the same with `1e-5` ([`F64_RTOL`]).
//!
//! Where the library and the fixture do the same float32 operations in the same order, there is
//! no tolerance at all: every SGD and momentum trajectory under the MSE (no transcendental
//! function, nothing but `+ − ×` and the fixed summation orders) must be bit-identical to the
//! fixture's `f32` flavour (`sgd_family_on_mse_is_bit_exact`). Elsewhere the two differ in
//! `exp`/`log` (numpy's vs the library's) and in the association of two products (the library
//! computes Adam's `(lr/bc1)·(m/denom)` and `(1 − β2)·(g·g)`, RMSprop's `lr·(g/avg)`; PyTorch's
//! CPU kernels, which the fixture follows, `((lr/bc1)·m)/denom` and `((1 − β2)·g)·g`): a few
//! ulps per step.
//!
//! `wrong_rules_are_rejected` runs deliberately wrong update rules (custom [`Optimizer`]s: no
//! bias correction, dampening on the first step, Nesterov left out, L2 instead of decoupled
//! weight decay, ...) through the same comparison and asserts that each is rejected, so the
//! tolerance is tight enough to catch a wrong formula.

use std::collections::BTreeMap;

use constnn::{
    Adam, AdamW, Batch, BceWithLogits, BufferedTrainer, CrossEntropy, Linear, Loss, Momentum, Mse,
    Optimizer, Params, Relu, RmsProp, Sgd, SoftCrossEntropy, Trainer, Update, Zeroed,
};
use serde_json::Value;

type Net = (Linear<3, 4>, Relu, Linear<4, 2>);
type X = Batch<4, 3>;
type Y = Batch<4, 2>;

/// Relative tolerance against the `f32` flavour (the figure).
const F32_RTOL: f64 = 1e-6;

/// The smallest scale `S` of a parameter's tolerance, with its initial magnitude `|p₀|`.
///
/// A float32 parameter's rounding error is relative to the values it was computed from, not to
/// its final value: each `p − lr·g` rounds to half an ulp of the larger operand. A parameter
/// that starts at 0.136 and ends at 0.0104 (RMSprop, `w2[3][1]`) carries errors of the order of
/// ulps of 0.136 and of its updates, ~1e-8 each, which is 1e-6 of 0.01 already. Hence
/// `S = max(|want|, |p₀|, FLOOR)`: `|p₀|` for the values it came from, and `FLOOR = 0.01` for
/// the updates, the size of the smallest per-step updates on these trajectories (Adam and
/// RMSprop move each parameter by ~`lr` = 0.01 per step). Most parameters are above 0.01 and
/// never shrink much, so for them this is plain `1e-6` relative.
const FLOOR: f64 = 1e-2;

/// Relative tolerance against the `f64` flavour: the library's float32 rounding over 10 steps.
/// Measured: at most 2.5e-6·S; the fixture's own float32 trajectories are within
/// 2.4e-7·max(1, |p|) of the float64 ones (its generator prints that figure). `1e-5` keeps a
/// 4× margin and still rejects every wrong rule of `wrong_rules_are_rejected` by more than 30×
/// (RMSprop's `eps` inside the square root, the subtlest; the others by more than 200×).
const F64_RTOL: f64 = 1e-5;

/// Loss tolerances, relative (the losses are all above 0.1, no floor needed).
const LOSS_F32_RTOL: f64 = 1e-6;
/// See [`LOSS_F32_RTOL`].
const LOSS_F64_RTOL: f64 = 1e-5;

// ---------------------------------------------------------------------------------------------
// The fixture.

struct Fixture {
    model: Net,
    x: X,
    mse_target: Y,
    ce_labels: [usize; 4],
    bce_target: Y,
    cases: Vec<Case>,
}

/// One trajectory of the fixture.
struct Case {
    optimizer: String,
    hyper: Value,
    loss: String,
    /// The loss before each of the 10 steps: (f32 flavour, f64 flavour).
    losses: Vec<(f64, f64)>,
    /// Step → parameters after it, flat in `Params::visit` order: (f32 flavour, f64 flavour).
    steps: BTreeMap<u64, (Vec<f64>, Vec<f64>)>,
}

impl Case {
    fn name(&self) -> String {
        format!("{} {} on {}", self.optimizer, self.hyper, self.loss)
    }

    fn hyper(&self, key: &str) -> f32 {
        self.hyper[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{}: hyper {key}", self.name())) as f32
    }
}

fn numbers(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(numbers).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        _ => panic!("not a number or an array: {v}"),
    }
}

/// The parameters of a fixture entry `{w1, b1, w2, b2}`, flat in `Params::visit` order (each
/// weight `W[in][out]` row by row, then its bias).
fn flat_params(v: &Value) -> Vec<f64> {
    ["w1", "b1", "w2", "b2"]
        .iter()
        .flat_map(|k| numbers(&v[k]))
        .collect()
}

fn batch<const R: usize, const C: usize>(v: &Value) -> Batch<R, C> {
    let n = numbers(v);
    assert_eq!(n.len(), R * C);
    core::array::from_fn(|r| core::array::from_fn(|c| n[r * C + c] as f32))
}

fn fixture() -> Fixture {
    let v: Value =
        serde_json::from_str(include_str!("data/optim_fixtures.json")).expect("valid JSON fixture");
    let init = flat_params(&v["model"]);
    let mut model = Net::ZERO;
    let mut k = 0;
    model.visit_mut(&mut |p: &mut [f32]| {
        for x in p {
            *x = init[k] as f32;
            // The fixture's values are float32 values: reading them as f32 is exact.
            assert_eq!(f64::from(*x), init[k]);
            k += 1;
        }
    });
    assert_eq!(k, init.len());
    let labels = numbers(&v["ce_labels"]);
    let cases = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let l = &c["loss_before_step"];
            let losses = numbers(&l["f32"])
                .into_iter()
                .zip(numbers(&l["f64"]))
                .collect();
            let steps = c["steps"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(t, p)| {
                    (
                        t.parse().unwrap(),
                        (flat_params(&p["f32"]), flat_params(&p["f64"])),
                    )
                })
                .collect();
            Case {
                optimizer: c["optimizer"].as_str().unwrap().to_owned(),
                hyper: c["hyper"].clone(),
                loss: c["loss"].as_str().unwrap().to_owned(),
                losses,
                steps,
            }
        })
        .collect();
    Fixture {
        model,
        x: batch(&v["x"]),
        mse_target: batch(&v["mse_target"]),
        ce_labels: core::array::from_fn(|i| labels[i] as usize),
        bce_target: batch(&v["bce_target"]),
        cases,
    }
}

// ---------------------------------------------------------------------------------------------
// Running the library.

/// What the library computed for one case.
struct Run {
    /// The loss returned by each of the 10 steps (the loss before the update).
    losses: Vec<f32>,
    /// Step → parameters after it (flat, `Params::visit` order).
    params: BTreeMap<u64, Vec<f32>>,
}

fn flat<M: Params>(m: &M) -> Vec<f32> {
    let mut v = Vec::new();
    m.visit(&mut |p: &[f32]| v.extend_from_slice(p));
    v
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Trains `fx.model` for `steps` steps with `opt` and `loss` through both trainers, asserts they
/// agree bit for bit (losses and parameters at every step), and returns the run.
fn train<O, L>(fx: &Fixture, opt: O, loss: &L, target: &L::Target, steps: u64) -> Run
where
    O: Optimizer + Copy,
    L: Loss<Y>,
{
    let mut fused_model = fx.model;
    let mut buffered_model = fx.model;
    let mut fused: Trainer<Net, X, O> = Trainer::new(opt);
    let mut buffered: BufferedTrainer<Net, X, O> = BufferedTrainer::new(opt);
    let mut run = Run {
        losses: Vec::new(),
        params: BTreeMap::new(),
    };
    for t in 1..=steps {
        let a = fused
            .step(&mut fused_model, &fx.x, loss, target)
            .unwrap_or_else(|e| panic!("fused step {t}: {e}"));
        let b = buffered
            .step(&mut buffered_model, &fx.x, loss, target)
            .unwrap_or_else(|e| panic!("buffered step {t}: {e}"));
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "step {t}: fused and buffered losses"
        );
        let p = flat(&fused_model);
        assert_eq!(
            bits(&p),
            bits(&flat(&buffered_model)),
            "step {t}: fused != buffered"
        );
        run.losses.push(a);
        run.params.insert(t, p);
    }
    assert_eq!((fused.steps(), buffered.steps()), (steps, steps));
    run
}

/// The case's loss, with its target from the fixture.
fn train_on_loss<O: Optimizer + Copy>(fx: &Fixture, case: &Case, opt: O) -> Run {
    let steps = *case.steps.keys().max().unwrap();
    match case.loss.as_str() {
        "mse" => train(fx, opt, &Mse, &fx.mse_target, steps),
        "ce" => {
            let run = train(fx, opt, &CrossEntropy, &fx.ce_labels, steps);
            // One-hot targets through the soft cross-entropy: the same bits.
            let one_hot: Y = fx
                .ce_labels
                .map(|l| core::array::from_fn(|c| f32::from(c == l)));
            let soft = train(fx, opt, &SoftCrossEntropy, &one_hot, steps);
            assert_eq!(
                bits(&soft.losses),
                bits(&run.losses),
                "{}: soft CE",
                case.name()
            );
            for (t, p) in &run.params {
                assert_eq!(bits(&soft.params[t]), bits(p), "{}: soft CE", case.name());
            }
            run
        }
        "bce" => train(fx, opt, &BceWithLogits, &fx.bce_target, steps),
        other => panic!("unknown loss {other}"),
    }
}

/// The constnn optimizers a fixture case maps to (more than one where two constructions must
/// give the same rule), each with a name for the messages.
fn runs(fx: &Fixture, case: &Case) -> Vec<(String, Run)> {
    let lr = case.hyper("lr");
    let name = case.name();
    let e = name.as_str();
    match case.optimizer.as_str() {
        "sgd" => {
            let (mu, damp, wd) = (
                case.hyper("momentum"),
                case.hyper("dampening"),
                case.hyper("weight_decay"),
            );
            let nesterov = case.hyper["nesterov"].as_bool().unwrap();
            let momentum = Momentum::new(lr, mu)
                .and_then(|o| o.with_dampening(damp))
                .and_then(|o| o.with_weight_decay(wd))
                .and_then(|o| o.with_nesterov(nesterov))
                .expect(e);
            let mut out = vec![("Momentum".to_owned(), train_on_loss(fx, case, momentum))];
            if mu == 0.0 && wd == 0.0 {
                let sgd = Sgd::new(lr).expect(e);
                out.push(("Sgd".to_owned(), train_on_loss(fx, case, sgd)));
            }
            out
        }
        "adam" | "adamw" => {
            let (b1, b2, eps, wd) = (
                case.hyper("beta1"),
                case.hyper("beta2"),
                case.hyper("eps"),
                case.hyper("weight_decay"),
            );
            if case.optimizer == "adam" {
                let o = Adam::new(lr)
                    .and_then(|o| o.with_betas(b1, b2))
                    .and_then(|o| o.with_eps(eps))
                    .and_then(|o| o.with_weight_decay(wd))
                    .expect(e);
                let mut out = vec![("Adam".to_owned(), train_on_loss(fx, case, o))];
                if (b1, b2, eps, wd) == (0.9, 0.999, 1e-8, 0.0) {
                    // PyTorch's defaults are the constructor's.
                    let d = Adam::new(lr).expect(e);
                    out.push(("Adam::new".to_owned(), train_on_loss(fx, case, d)));
                }
                out
            } else {
                let o = AdamW::new(lr)
                    .and_then(|o| o.with_betas(b1, b2))
                    .and_then(|o| o.with_eps(eps))
                    .and_then(|o| o.with_weight_decay(wd))
                    .expect(e);
                let mut out = vec![("AdamW".to_owned(), train_on_loss(fx, case, o))];
                if wd == 0.01 {
                    // AdamW's default weight decay is PyTorch's, 0.01.
                    let d = AdamW::new(lr).expect(e);
                    out.push(("AdamW::new".to_owned(), train_on_loss(fx, case, d)));
                }
                out
            }
        }
        "rmsprop" => {
            assert_eq!(case.hyper["momentum"].as_f64(), Some(0.0));
            assert_eq!(case.hyper["centered"].as_bool(), Some(false));
            let o = RmsProp::new(lr)
                .and_then(|o| o.with_alpha(case.hyper("alpha")))
                .and_then(|o| o.with_eps(case.hyper("eps")))
                .and_then(|o| o.with_weight_decay(case.hyper("weight_decay")))
                .expect(e);
            vec![("RmsProp".to_owned(), train_on_loss(fx, case, o))]
        }
        other => panic!("unknown optimizer {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The comparison.

/// `|got − want| / (rtol·max(|want|, floor))`: below 1 passes. NaN for a NaN `got`.
fn used(got: f32, want: f64, rtol: f64, floor: f64) -> f64 {
    (f64::from(got) - want).abs() / (rtol * want.abs().max(floor))
}

/// The largest share of the tolerance a run uses against one flavour (0 = f32, 1 = f64), over
/// the recorded steps' parameters and the losses, with where it was.
fn worst(fx: &Fixture, case: &Case, run: &Run, flavour: usize) -> (f64, String) {
    let initial = flat(&fx.model);
    let (rtol, loss_rtol) = if flavour == 0 {
        (F32_RTOL, LOSS_F32_RTOL)
    } else {
        (F64_RTOL, LOSS_F64_RTOL)
    };
    let mut worst = (0.0f64, String::new());
    let mut note = |u: f64, what: String| {
        if u > worst.0 || u.is_nan() {
            worst = (if u.is_nan() { f64::INFINITY } else { u }, what);
        }
    };
    for (t, want) in &case.steps {
        let want = if flavour == 0 { &want.0 } else { &want.1 };
        let got = &run.params[t];
        assert_eq!(got.len(), want.len());
        for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
            let floor = f64::from(initial[k].abs()).max(FLOOR);
            note(
                used(g, w, rtol, floor),
                format!("step {t} param {k}: got {g:e}, want {w:e}"),
            );
        }
    }
    for (t, (&g, w)) in run.losses.iter().zip(&case.losses).enumerate() {
        let w = if flavour == 0 { w.0 } else { w.1 };
        note(
            used(g, w, loss_rtol, 0.0),
            format!("loss before step {}: got {g:e}, want {w:e}", t + 1),
        );
    }
    worst
}

#[test]
fn every_optimizer_matches_the_numpy_reference() {
    let fx = fixture();
    let mut covered = std::collections::BTreeSet::new();
    let mut worst32 = (0.0f64, String::new());
    let mut worst64 = (0.0f64, String::new());
    let mut failures = Vec::new();
    for case in &fx.cases {
        for (name, run) in runs(&fx, case) {
            covered.insert(name.clone());
            for (flavour, acc) in [(0, &mut worst32), (1, &mut worst64)] {
                let (u, at) = worst(&fx, case, &run, flavour);
                let label = format!("{name} ({}), {at}", case.name());
                println!(
                    "{label}: {u:.3} of the {} tolerance",
                    ["f32", "f64"][flavour]
                );
                if u > acc.0 {
                    *acc = (u, label.clone());
                }
                if u.is_nan() || u > 1.0 {
                    failures.push(format!(
                        "{} flavour: {label} ({u:.2}x)",
                        ["f32", "f64"][flavour]
                    ));
                }
            }
        }
    }
    println!("worst against f32: {:.3} ({})", worst32.0, worst32.1);
    println!("worst against f64: {:.3} ({})", worst64.0, worst64.1);
    assert!(
        failures.is_empty(),
        "outside the tolerance:\n{}",
        failures.join("\n")
    );
    // Every optimizer and every loss of the fixture was run.
    let want = [
        "Adam",
        "Adam::new",
        "AdamW",
        "AdamW::new",
        "Momentum",
        "RmsProp",
        "Sgd",
    ];
    assert_eq!(covered.into_iter().collect::<Vec<_>>(), want);
    assert_eq!(fx.cases.len(), 27);
}

/// SGD, weight decay, momentum, dampening and Nesterov under the MSE: the library and the
/// fixture's `f32` flavour do the same float32 operations in the same order, so every bit must
/// agree (the parameters after steps 1, 2 and 10 and all 10 losses).
#[test]
fn sgd_family_on_mse_is_bit_exact() {
    let fx = fixture();
    let mut checked = Vec::new();
    for case in fx
        .cases
        .iter()
        .filter(|c| c.optimizer == "sgd" && c.loss == "mse")
    {
        for (name, run) in runs(&fx, case) {
            for (t, (want, _)) in &case.steps {
                // The fixture's f32 values are float32 numbers: `as f32` is exact.
                let want: Vec<f32> = want.iter().map(|&v| v as f32).collect();
                assert_eq!(
                    bits(&run.params[t]),
                    bits(&want),
                    "{name} ({}), step {t}",
                    case.name()
                );
            }
            let losses: Vec<f32> = case.losses.iter().map(|l| l.0 as f32).collect();
            assert_eq!(
                bits(&run.losses),
                bits(&losses),
                "{name} ({}): losses",
                case.name()
            );
            checked.push(name);
        }
    }
    // Plain SGD (twice: Sgd and Momentum with momentum 0), weight decay, momentum, momentum with
    // dampening and weight decay, Nesterov with weight decay.
    assert_eq!(checked.len(), 6, "{checked:?}");
}

// ---------------------------------------------------------------------------------------------
// A rule outside the fixture: in PyTorch's algorithm the momentum buffer exists only "if μ ≠ 0"
// (`torch.optim.SGD`), so with `momentum = 0` the dampening has no effect: plain SGD.

#[test]
fn momentum_zero_ignores_dampening_like_pytorch() {
    let fx = fixture();
    let sgd = Sgd::new(0.1).unwrap();
    let plain = train(&fx, sgd, &Mse, &fx.mse_target, 5);
    for damp in [0.0, 0.5, 1.0] {
        let m = Momentum::new(0.1, 0.0)
            .unwrap()
            .with_dampening(damp)
            .unwrap();
        let run = train(&fx, m, &Mse, &fx.mse_target, 5);
        for t in 1..=5 {
            assert_eq!(
                bits(&run.params[&t]),
                bits(&plain.params[&t]),
                "momentum 0, dampening {damp}: step {t} differs from plain SGD"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The comparison rejects wrong update rules.

/// Wrong variants of the documented rules, as custom optimizers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mutant {
    /// Adam without the bias corrections (`p −= lr·m/(sqrt(v) + eps)`).
    AdamNoBiasCorrection,
    /// Adam correcting only the first moment.
    AdamNoSecondCorrection,
    /// AdamW's decay as an L2 term added to the gradient (what `Adam` does).
    AdamWAsL2,
    /// SGD momentum dampening the buffer at the first step too (`b = (1 − τ)·g`).
    DampenFirstStep,
    /// Nesterov momentum left out (`g ← b` instead of `g + μ·b`).
    NoNesterov,
    /// Weight decay subtracted from the update instead of added to the gradient.
    WeightDecaySign,
    /// RMSprop with `eps` inside the square root.
    RmsEpsInsideSqrt,
}

#[derive(Clone, Copy, Debug)]
struct MutantOpt {
    mutant: Mutant,
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
}

#[derive(Clone, Copy, Debug)]
struct MutantStep {
    opt: MutantOpt,
    t: u64,
}

impl Update for MutantStep {
    type Slot = [f32; 2];

    fn update(&self, params: &mut [f32], grads: &[f32], slots: &mut [[f32; 2]]) {
        let o = self.opt;
        let (b1, b2, eps, alpha) = (0.9f32, 0.999f32, 1e-8f32, 0.99f32);
        let t = self.t as i32;
        for ((p, &g), [m, v]) in params.iter_mut().zip(grads).zip(slots) {
            match o.mutant {
                Mutant::AdamNoBiasCorrection
                | Mutant::AdamNoSecondCorrection
                | Mutant::AdamWAsL2 => {
                    let g = g + o.weight_decay * *p;
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * (g * g);
                    let (bc1, bc2) = match o.mutant {
                        Mutant::AdamNoBiasCorrection => (1.0, 1.0),
                        Mutant::AdamNoSecondCorrection => (1.0 - b1.powi(t), 1.0),
                        _ => (1.0 - b1.powi(t), 1.0 - b2.powi(t)),
                    };
                    *p -= o.lr / bc1 * (*m / (v.sqrt() / bc2.sqrt() + eps));
                }
                Mutant::DampenFirstStep | Mutant::NoNesterov | Mutant::WeightDecaySign => {
                    let g = if o.mutant == Mutant::WeightDecaySign {
                        g - o.weight_decay * *p
                    } else {
                        g + o.weight_decay * *p
                    };
                    *m = if self.t == 1 && o.mutant != Mutant::DampenFirstStep {
                        g
                    } else {
                        o.momentum * *m + (1.0 - o.dampening) * g
                    };
                    *p -= o.lr * *m;
                }
                Mutant::RmsEpsInsideSqrt => {
                    let g = g + o.weight_decay * *p;
                    *v = alpha * *v + (1.0 - alpha) * (g * g);
                    *p -= o.lr * (g / (*v + eps).sqrt());
                }
            }
        }
    }
}

impl Optimizer for MutantOpt {
    type Step = MutantStep;

    fn begin(&self, t: u64) -> MutantStep {
        MutantStep { opt: *self, t }
    }
}

#[test]
fn wrong_rules_are_rejected() {
    let fx = fixture();
    let find = |opt: &str, loss: &str, pred: &dyn Fn(&Case) -> bool| -> &Case {
        fx.cases
            .iter()
            .find(|c| c.optimizer == opt && c.loss == loss && pred(c))
            .unwrap()
    };
    let wd_zero = |c: &Case| c.hyper("weight_decay") == 0.0;
    let nesterov = |c: &Case| c.hyper["nesterov"].as_bool() == Some(true);
    let damped = |c: &Case| c.hyper("dampening") != 0.0;
    let decayed = |c: &Case| c.hyper("weight_decay") != 0.0;
    let any = |_: &Case| true;
    let mutant = |mutant, case: &Case, lr_key: &str| MutantOpt {
        mutant,
        lr: case.hyper(lr_key),
        momentum: case
            .hyper
            .get("momentum")
            .and_then(Value::as_f64)
            .unwrap_or(0.0) as f32,
        dampening: case
            .hyper
            .get("dampening")
            .and_then(Value::as_f64)
            .unwrap_or(0.0) as f32,
        weight_decay: case.hyper("weight_decay"),
    };
    let checks: Vec<(Mutant, &Case)> = vec![
        (Mutant::AdamNoBiasCorrection, find("adam", "mse", &wd_zero)),
        (Mutant::AdamNoSecondCorrection, find("adam", "ce", &wd_zero)),
        (Mutant::AdamWAsL2, find("adamw", "mse", &any)),
        (Mutant::DampenFirstStep, find("sgd", "mse", &damped)),
        (Mutant::NoNesterov, find("sgd", "ce", &nesterov)),
        (Mutant::WeightDecaySign, find("sgd", "bce", &damped)),
        (Mutant::RmsEpsInsideSqrt, find("rmsprop", "mse", &decayed)),
    ];
    for (m, case) in checks {
        let run = train_on_loss(&fx, case, mutant(m, case, "lr"));
        let (u32_, at) = worst(&fx, case, &run, 0);
        let (u64_, _) = worst(&fx, case, &run, 1);
        println!(
            "{m:?} on {}: {u32_:.3e}x the f32 tolerance ({at}), {u64_:.3e}x the f64 one",
            case.name()
        );
        assert!(
            u32_ > 1.0,
            "{m:?} passes against the f32 reference of {}",
            case.name()
        );
        assert!(
            u64_ > 1.0,
            "{m:?} passes against the f64 reference of {}",
            case.name()
        );
    }
}
