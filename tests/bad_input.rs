//! Bad data is an `Error`, never a panic or a silently corrupted model.
//!
//! Every training entry point (`Trainer::step`, `step_in_place`, `BufferedTrainer::step`,
//! `compute_grads`, `accumulate_grads`, the SGD one-liners) with every optimizer: targets and
//! inputs are checked before anything is written (the caches included); a step returns `Ok`
//! only with every parameter finite; a failed buffered step leaves the parameters, the
//! optimizer state and the step count untouched; a failed fused step says so with
//! `NonFiniteParameters` (as documented). The issue's two cases are reproduced: a `+∞` input
//! whose hidden units the ReLU cuts, and a finite input of `1e38` whose gradient overflows.

mod common;

use common::{EachOptimizer, param_bits, rand_batch};
use constnn::rand_core::SeedableRng;
use constnn::{
    Batch, BceWithLogits, BufferedTrainer, CacheOf, CrossEntropy, Error, GradsOf, Linear, Loss,
    Module, Mse, Optimizer, Params, Relu, Sgd, SoftCrossEntropy, Trainer, XorShiftRng, Zeroed,
    cross_entropy, cross_entropy_with_logits, cross_entropy_with_targets, softmax, train_step,
    train_step_fused,
};

type Mlp = (Linear<4, 6>, Relu, Linear<6, 3>);
type Cache = CacheOf<Mlp, Batch<4, 4>>;
type Grads = GradsOf<Mlp>;

fn model() -> Mlp {
    let mut m = Mlp::ZERO;
    m.init(&mut XorShiftRng::seed_from_u64(5));
    m
}

fn inputs() -> Batch<4, 4> {
    rand_batch(&mut XorShiftRng::seed_from_u64(6), -1.0, 1.0)
}

/// Runs both training helpers on `(x, labels)` from the same model, asserts both return
/// `expected` and leave every parameter bit unchanged.
#[track_caller]
fn assert_train_steps_fail(x: &Batch<4, 4>, labels: &[usize; 4], expected: Error) {
    let sgd = Sgd::new(0.1).unwrap();

    let mut m = model();
    let before = param_bits(&m);
    let mut cache: Cache = Zeroed::ZERO;
    let mut grads: Grads = Zeroed::ZERO;
    let r = train_step(&mut m, &mut cache, &mut grads, x, labels, &sgd);
    assert_eq!(r, Err(expected), "train_step");
    assert_eq!(param_bits(&m), before, "train_step changed the parameters");
    // Checked before anything is written: the cache and the gradients are still zero.
    let zero_cache: Cache = Zeroed::ZERO;
    assert_eq!(
        format!("{cache:?}"),
        format!("{zero_cache:?}"),
        "train_step: cache"
    );
    let zero_grads: Grads = Zeroed::ZERO;
    assert_eq!(grads, zero_grads, "train_step: gradients");

    let mut m = model();
    let mut cache: Cache = Zeroed::ZERO;
    let r = train_step_fused(&mut m, &mut cache, x, labels, &sgd);
    assert_eq!(r, Err(expected), "train_step_fused");
    assert_eq!(
        param_bits(&m),
        before,
        "train_step_fused changed the parameters"
    );
    assert_eq!(
        format!("{cache:?}"),
        format!("{zero_cache:?}"),
        "train_step_fused: cache"
    );

    // The same model and buffers still train on good data afterwards.
    let mut m = model();
    let mut cache: Cache = Zeroed::ZERO;
    let mut grads: Grads = Zeroed::ZERO;
    let _ = train_step(&mut m, &mut cache, &mut grads, x, labels, &sgd);
    let loss = train_step(
        &mut m,
        &mut cache,
        &mut grads,
        &inputs(),
        &[0, 1, 2, 0],
        &sgd,
    );
    assert!(loss.unwrap().is_finite());
    assert_ne!(param_bits(&m), before);
}

#[test]
fn label_out_of_range_from_the_loss() {
    let logits = [[0.0f32; 3]; 4];
    // The first bad row is reported, with its label and the class count.
    assert_eq!(
        cross_entropy_with_logits(&logits, &[0, 2, 3, 7]),
        Err(Error::LabelOutOfRange {
            row: 2,
            label: 3,
            classes: 3
        })
    );
    assert_eq!(
        cross_entropy_with_logits(&logits, &[usize::MAX, 0, 0, 0]),
        Err(Error::LabelOutOfRange {
            row: 0,
            label: usize::MAX,
            classes: 3
        })
    );
    // The loss-only function reports the same error.
    assert_eq!(
        cross_entropy(&logits, &[0, 2, 3, 7]),
        Err(Error::LabelOutOfRange {
            row: 2,
            label: 3,
            classes: 3
        })
    );
    // The largest valid label is fine.
    assert!(cross_entropy_with_logits(&logits, &[2, 2, 2, 2]).is_ok());
    assert!(cross_entropy(&logits, &[2, 2, 2, 2]).is_ok());
    // Even with NaN logits, the label is checked first.
    assert_eq!(
        cross_entropy_with_logits(&[[f32::NAN; 3]], &[3]),
        Err(Error::LabelOutOfRange {
            row: 0,
            label: 3,
            classes: 3
        })
    );
}

#[test]
fn label_out_of_range_from_train_steps_leaves_parameters_unchanged() {
    assert_train_steps_fail(
        &inputs(),
        &[1, 0, 2, 3],
        Error::LabelOutOfRange {
            row: 3,
            label: 3,
            classes: 3,
        },
    );
}

#[test]
fn non_finite_logits_are_an_error() {
    let ok = [0.5f32, -1.0, 2.0];
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        // A non-finite logit on the label, and (for NaN and +inf) elsewhere in the row.
        let mut z = [ok, ok];
        z[1][1] = bad;
        assert_eq!(
            cross_entropy_with_logits(&z, &[0, 1]),
            Err(Error::NonFiniteLoss),
            "{bad} on the label"
        );
        assert_eq!(cross_entropy(&z, &[0, 1]), Err(Error::NonFiniteLoss));
        let t = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];
        assert_eq!(
            cross_entropy_with_targets(&z, &t),
            Err(Error::NonFiniteLoss),
            "{bad} on the target class"
        );
        if bad != f32::NEG_INFINITY {
            assert_eq!(
                cross_entropy_with_logits(&z, &[0, 2]),
                Err(Error::NonFiniteLoss),
                "{bad} off the label"
            );
        }
    }
    // A whole row of -inf has no softmax.
    assert_eq!(
        cross_entropy_with_logits(&[[f32::NEG_INFINITY; 3]], &[0]),
        Err(Error::NonFiniteLoss)
    );
    // Finite logits whose loss overflows f32 (the label ~3.4e38 below the maximum).
    assert_eq!(
        cross_entropy_with_logits(&[[f32::MAX, -f32::MAX]], &[1]),
        Err(Error::NonFiniteLoss)
    );
}

#[test]
fn minus_infinity_off_the_label_is_a_valid_mask() {
    // exp(-inf) = 0: a class masked with -inf simply has probability 0 (a deliberate use, not
    // an error): the loss and gradient are those of the remaining classes.
    let z = [[f32::NEG_INFINITY, 1.0, 0.0]];
    let (loss, grad) = cross_entropy_with_logits(&z, &[1]).unwrap();
    let (loss2, grad2) = cross_entropy_with_logits(&[[1.0f32, 0.0]], &[0]).unwrap();
    assert_eq!(loss.to_bits(), loss2.to_bits());
    assert_eq!(grad[0][0], 0.0);
    assert_eq!([grad[0][1], grad[0][2]], grad2[0]);
}

#[test]
fn non_finite_inputs_to_train_steps_leave_parameters_unchanged() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut x = inputs();
        x[2][1] = bad;
        assert_train_steps_fail(&x, &[0, 1, 2, 0], Error::NonFiniteInput { row: 2 });
    }
}

#[test]
fn invalid_learning_rates() {
    for lr in [
        0.0,
        -0.0,
        -0.1,
        -f32::MIN_POSITIVE,
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ] {
        assert_eq!(Sgd::new(lr), Err(Error::InvalidLearningRate), "lr = {lr}");
    }
    // Any finite positive value is accepted, down to the smallest subnormal.
    for lr in [1e-45f32, f32::MIN_POSITIVE, 0.01, 1.0, f32::MAX] {
        assert_eq!(Sgd::new(lr).map(|s| s.lr().to_bits()), Ok(lr.to_bits()));
    }
}

#[test]
fn huge_logits_give_finite_correct_loss_and_gradient() {
    let z = [
        [1e4f32, -1e4, 0.0],
        [-1e4, 1e4, 1e4],
        [1e4, 1e4, 1e4],
        [-1e4, -1e4, -1e4],
    ];
    let labels = [1, 2, 0, 2];
    let (loss, grad) = cross_entropy_with_logits(&z, &labels).unwrap();
    // Row by row: −ln p(label) = 2e4, ln 2, ln 3, ln 3; the gradient is (p − onehot)/4.
    let expected_loss = (2e4 + 2f64.ln() + 2.0 * 3f64.ln()) / 4.0;
    assert!(
        (f64::from(loss) - expected_loss).abs() <= 1e-6 * expected_loss,
        "loss {loss}, expected {expected_loss}"
    );
    let third = 1.0 / 3.0;
    let p = [
        [1.0, 0.0, 0.0],
        [0.0, 0.5, 0.5],
        [third, third, third],
        [third, third, third],
    ];
    for b in 0..4 {
        for c in 0..3 {
            let t = if c == labels[b] { 1.0 } else { 0.0 };
            let want = (p[b][c] - t) / 4.0;
            let got = f64::from(grad[b][c]);
            assert!(got.is_finite());
            assert!((got - want).abs() <= 1e-7, "grad[{b}][{c}] {got}, {want}");
        }
    }
    // The soft-target version agrees, and softmax itself stays finite.
    let one_hot = labels.map(|l| core::array::from_fn::<f32, 3, _>(|c| (c == l) as u8 as f32));
    let (loss_t, grad_t) = cross_entropy_with_targets(&z, &one_hot).unwrap();
    assert_eq!((loss_t, grad_t), (loss, grad));
    let s = softmax(&z);
    for (row, want) in s.iter().zip(&p) {
        for (&g, &w) in row.iter().zip(want) {
            assert!((f64::from(g) - w).abs() <= 1e-7);
        }
    }
}

#[test]
fn invalid_targets() {
    let z = [[0.0f32; 3]; 3];
    let good = [1.0, 0.0, 0.0];
    for bad in [
        -1.0,
        -f32::MIN_POSITIVE,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ] {
        let t = [good, good, [0.0, bad, 1.0]];
        assert_eq!(
            cross_entropy_with_targets(&z, &t),
            Err(Error::InvalidTarget { row: 2 }),
            "target {bad}"
        );
        // The first bad row is the one reported.
        let t = [good, [bad, 1.0, 0.0], [bad, 0.0, 0.0]];
        assert_eq!(
            cross_entropy_with_targets(&z, &t),
            Err(Error::InvalidTarget { row: 1 })
        );
    }
    // Targets are checked before the logits: bad targets with NaN logits are InvalidTarget.
    assert_eq!(
        cross_entropy_with_targets(&[[f32::NAN; 3]], &[[-1.0, 1.0, 1.0]]),
        Err(Error::InvalidTarget { row: 0 })
    );
    // -0.0 is a valid (zero) target.
    assert!(cross_entropy_with_targets(&z, &[good, good, [-0.0, 1.0, 0.0]]).is_ok());
}

fn all_variants() -> [(Error, &'static [&'static str]); 8] {
    [
        (
            Error::LabelOutOfRange {
                row: 123,
                label: 4567,
                classes: 89,
            },
            &["123", "4567", "89"],
        ),
        (Error::InvalidTarget { row: 321 }, &["321"]),
        (Error::NonFiniteLoss, &[]),
        (Error::InvalidLearningRate, &[]),
        (
            Error::InvalidHyperparameter(constnn::Hyperparameter::Beta2),
            &["beta2"],
        ),
        (Error::NonFiniteInput { row: 654 }, &["654"]),
        (Error::NonFiniteGradient, &[]),
        (Error::NonFiniteParameters, &[]),
    ]
}

#[test]
fn display_mentions_the_numbers() {
    let mut messages = Vec::new();
    for (err, numbers) in all_variants() {
        let msg = err.to_string();
        assert!(!msg.trim().is_empty(), "{err:?} has an empty message");
        for n in numbers {
            assert!(msg.contains(n), "{msg:?} does not mention {n}");
        }
        messages.push(msg);
    }
    // Each variant has its own message.
    messages.sort();
    messages.dedup();
    assert_eq!(messages.len(), all_variants().len());
}

#[test]
fn error_is_a_core_error() {
    for (err, _) in all_variants() {
        let dyn_err: &dyn core::error::Error = &err;
        assert!(dyn_err.source().is_none());
        assert_eq!(dyn_err.to_string(), err.to_string());
    }
    // And it converts into a boxed error with `?`.
    fn step() -> Result<(), Box<dyn core::error::Error>> {
        Sgd::new(-1.0)?;
        Ok(())
    }
    let boxed = step().unwrap_err();
    assert_eq!(
        boxed.downcast_ref::<Error>(),
        Some(&Error::InvalidLearningRate)
    );
}

// =============================================================================================
// Every training entry point, every optimizer: a step never returns `Ok` with a corrupted
// model, a failed buffered step leaves the parameters and the optimizer state untouched, and
// targets and inputs are checked before anything is written.

type X = Batch<4, 4>;
type Y = Batch<4, 3>;

/// The training entry points of the public API.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Entry {
    /// `Trainer::step`.
    Fused,
    /// `Trainer::input_mut` then `Trainer::step_in_place`.
    FusedInPlace,
    /// `BufferedTrainer::step`.
    Buffered,
    /// `BufferedTrainer::compute_grads` (no update).
    Compute,
    /// `BufferedTrainer::accumulate_grads` (no update).
    Accumulate,
}

const ENTRIES: [Entry; 5] = [
    Entry::Fused,
    Entry::FusedInPlace,
    Entry::Buffered,
    Entry::Compute,
    Entry::Accumulate,
];

/// Everything a step can write, as comparable bits.
#[derive(Clone, Debug, PartialEq)]
struct Snapshot {
    params: Vec<u32>,
    state: Vec<u32>,
    steps: u64,
    /// `Debug` of the cache: exact for these finite values (it tells `-0.0` from `0.0`).
    cache: String,
    /// The gradient buffer (empty for the fused trainer).
    grads: Vec<u32>,
}

fn state_bits<S: constnn::Slot>(state: &<Mlp as Params>::Like<S>) -> Vec<u32> {
    let mut v = Vec::new();
    Mlp::visit_like(state, &mut |s: &[S]| {
        v.extend(S::floats(s).iter().map(|x| x.to_bits()))
    });
    v
}

fn grads_bits(grads: &Grads) -> Vec<u32> {
    let mut v = Vec::new();
    Mlp::visit_like(grads, &mut |g: &[f32]| {
        v.extend(g.iter().map(|x| x.to_bits()))
    });
    v
}

/// What one attempt did.
struct Attempt {
    result: Result<f32, Error>,
    before: Snapshot,
    after: Snapshot,
    model: Mlp,
}

/// Takes one good step on `good` if given (so that the caches, the optimizer state and the
/// gradients hold values, not zeros), then runs `entry` on `(x, target)`, with snapshots
/// around it.
fn attempt<O, L>(
    entry: Entry,
    opt: O,
    model: Mlp,
    (x, target): (&X, &L::Target),
    loss: &L,
    good: Option<(&X, &L::Target)>,
) -> Attempt
where
    O: Optimizer + Copy,
    L: Loss<Y>,
{
    use constnn::SlotOf;
    let mut model = model;
    match entry {
        Entry::Fused | Entry::FusedInPlace => {
            let mut t: Trainer<Mlp, X, O> = Trainer::new(opt);
            if let Some((gx, gt)) = good {
                t.step(&mut model, gx, loss, gt).expect("the good step");
            }
            if entry == Entry::FusedInPlace {
                *t.input_mut() = *x;
            }
            let snap = |t: &Trainer<Mlp, X, O>, m: &Mlp| Snapshot {
                params: param_bits(m),
                state: state_bits::<SlotOf<O>>(t.state()),
                steps: t.steps(),
                cache: format!("{:?}", t.cache()),
                grads: Vec::new(),
            };
            let before = snap(&t, &model);
            let result = if entry == Entry::Fused {
                t.step(&mut model, x, loss, target)
            } else {
                t.step_in_place(&mut model, loss, target)
            };
            let after = snap(&t, &model);
            Attempt {
                result,
                before,
                after,
                model,
            }
        }
        Entry::Buffered | Entry::Compute | Entry::Accumulate => {
            let mut t: BufferedTrainer<Mlp, X, O> = BufferedTrainer::new(opt);
            if let Some((gx, gt)) = good {
                t.step(&mut model, gx, loss, gt).expect("the good step");
            }
            let snap = |t: &BufferedTrainer<Mlp, X, O>, m: &Mlp| Snapshot {
                params: param_bits(m),
                state: state_bits::<SlotOf<O>>(t.state()),
                steps: t.steps(),
                cache: format!("{:?}", t.cache()),
                grads: grads_bits(t.grads()),
            };
            let before = snap(&t, &model);
            let result = match entry {
                Entry::Buffered => t.step(&mut model, x, loss, target),
                Entry::Compute => t.compute_grads(&mut model, x, loss, target),
                _ => t.accumulate_grads(&mut model, x, loss, target),
            };
            let after = snap(&t, &model);
            Attempt {
                result,
                before,
                after,
                model,
            }
        }
    }
}

fn all_finite(m: &Mlp) -> bool {
    let mut ok = true;
    m.visit(&mut |p: &[f32]| ok &= p.iter().all(|v| v.is_finite()));
    ok
}

/// Labels for the batches of these tests. Row 0's label is 1: in [`huge_finite_input`], whose
/// row 0 has logits ~(+2e37, −2e37, 0), a wrong guess with a gradient `(0.25, −0.25, 0)`.
fn labels() -> [usize; 4] {
    [1, 0, 2, 1]
}

/// The issue's first case: a `+∞` input whose hidden units the ReLU cuts. Every first-layer
/// weight from input 1 is negative, so `+∞·w = −∞` for every hidden unit of that row, the ReLU
/// makes them 0 and the logits stay finite (the inference below shows it): the loss alone looks
/// fine, while `dW = xᵀ·dh` would hold `∞·0 = NaN` (0.1 returned `Ok(0.999)` and a NaN row of
/// `W1`). The input check catches it first: `NonFiniteInput`, nothing written.
fn infinite_input_cut_by_relu() -> (Mlp, X) {
    let mut m = model();
    m.0.weight[1] = [-0.5, -0.25, -1.0, -0.75, -0.1, -2.0];
    let mut x = inputs();
    x[2][1] = f32::INFINITY;
    assert!(
        m.forward(&x).iter().flatten().all(|v| v.is_finite()),
        "the ReLU must cut the infinite row for this case to mean anything"
    );
    (m, x)
}

/// The issue's second case: a finite input of `1e38` whose loss is finite but whose first-layer
/// gradient overflows. The first layer is small (`1e38·1e-3` stays far from overflow) and the
/// second large (`±10`), so the logits of row 0 are ~±2e37 (a finite loss), while
/// `dh = dy·W2ᵀ` is ~5 and `dW1 = Σ_b x·dh` ~5e38 overflows to `∞` (0.1 returned `Ok(2.4e37)`
/// and a row of `−∞` weights). Any good step first would move `W1` so much that the ReLU cuts
/// the row (`dW1` ~ `10·Σx`), so these attempts start from the model as built.
fn huge_finite_input() -> (Mlp, X) {
    let mut m = model();
    for (i, row) in m.0.weight.iter_mut().enumerate() {
        for (o, w) in row.iter_mut().enumerate() {
            *w = 1e-3 * (1 + i + o) as f32;
        }
    }
    m.0.bias = [0.1; 6];
    for row in &mut m.2.weight {
        *row = [10.0, -10.0, 0.0];
    }
    let mut x = inputs();
    x[0] = [1e38, 0.0, 0.0, 0.0];
    (m, x)
}

#[test]
fn the_issues_cases_reproduce_the_old_failure_without_the_checks() {
    // Without the library's checks (the raw Backward methods and an SGD step), both cases end
    // as the issue describes: a finite loss and non-finite weights. This shows the cases above
    // are the ones the checks must catch.
    use constnn::Backward;
    for (what, (mut m, x)) in [
        ("+inf cut by the ReLU", infinite_input_cut_by_relu()),
        ("1e38", huge_finite_input()),
    ] {
        let mut cache: Cache = Zeroed::ZERO;
        let mut grads: Grads = Zeroed::ZERO;
        let y = m.forward_train(&x, &mut cache);
        let (loss, dy) = CrossEntropy.loss_and_grad(&y, &labels()).unwrap();
        assert!(loss.is_finite(), "{what}: loss {loss}");
        m.backward_params(&cache, &dy, &mut grads);
        Sgd::new(0.1).unwrap().step(&mut m, &mut grads);
        assert!(
            !all_finite(&m),
            "{what}: the unchecked step left the weights finite"
        );
    }
}

#[test]
fn infinite_input_cut_by_the_relu_is_rejected_before_anything_is_written() {
    struct Run;
    impl EachOptimizer for Run {
        fn run<O: Optimizer + Copy>(&mut self, name: &str, opt: O) {
            let (m, x) = infinite_input_cut_by_relu();
            let good = inputs();
            for entry in ENTRIES {
                let a = attempt(
                    entry,
                    opt,
                    m,
                    (&x, &labels()),
                    &CrossEntropy,
                    Some((&good, &labels())),
                );
                let what = format!("{name}, {entry:?}");
                assert_eq!(a.result, Err(Error::NonFiniteInput { row: 2 }), "{what}");
                assert_eq!(a.after, a.before, "{what}: something was written");
            }
        }
    }
    common::every_optimizer(&mut Run);
}

#[test]
fn huge_finite_input_never_leaves_non_finite_parameters_behind_an_ok() {
    struct Run;
    impl EachOptimizer for Run {
        fn run<O: Optimizer + Copy>(&mut self, name: &str, opt: O) {
            let (m, x) = huge_finite_input();
            for entry in ENTRIES {
                let a = attempt(entry, opt, m, (&x, &labels()), &CrossEntropy, None);
                let what = format!("{name}, {entry:?}");
                // The invariant: Ok only with every parameter finite.
                if a.result.is_ok() {
                    assert!(
                        all_finite(&a.model),
                        "{what}: Ok with non-finite parameters"
                    );
                }
                match entry {
                    Entry::Buffered => {
                        // The gradient overflowed: the update is refused, the parameters, the
                        // optimizer state and the step count are untouched.
                        assert_eq!(a.result, Err(Error::NonFiniteGradient), "{what}");
                        assert_eq!(a.after.params, a.before.params, "{what}: parameters");
                        assert_eq!(a.after.state, a.before.state, "{what}: state");
                        assert_eq!(a.after.steps, a.before.steps, "{what}: steps");
                    }
                    Entry::Compute | Entry::Accumulate => {
                        // Computing gradients changes no parameter; the (infinite) gradient is
                        // there to inspect, and `apply` refuses it.
                        let loss = a.result.expect("the loss is finite");
                        assert!(loss.is_finite() && loss > 1e35, "{what}: loss {loss}");
                        assert_eq!(a.after.params, a.before.params, "{what}: parameters");
                        let inf = f32::INFINITY.to_bits();
                        let neg = f32::NEG_INFINITY.to_bits();
                        assert!(
                            a.after.grads.iter().any(|&g| g == inf || g == neg),
                            "{what}"
                        );
                    }
                    Entry::Fused | Entry::FusedInPlace => {
                        // The documented fused failure: the update has happened (step counted)
                        // and left some parameters non-finite; the error says so.
                        assert_eq!(a.result, Err(Error::NonFiniteParameters), "{what}");
                        assert!(!all_finite(&a.model), "{what}");
                        assert_eq!(a.after.steps, a.before.steps + 1, "{what}: steps");
                    }
                }
            }
        }
    }
    common::every_optimizer(&mut Run);
}

#[test]
fn apply_refuses_the_overflowed_gradients_of_compute_grads() {
    struct Run;
    impl EachOptimizer for Run {
        fn run<O: Optimizer + Copy>(&mut self, name: &str, opt: O) {
            let (mut m, x) = huge_finite_input();
            let mut t: BufferedTrainer<Mlp, X, O> = BufferedTrainer::new(opt);
            t.compute_grads(&mut m, &x, &CrossEntropy, &labels())
                .unwrap();
            let (params, state) = (param_bits(&m), state_bits(t.state()));
            assert_eq!(t.apply(&mut m), Err(Error::NonFiniteGradient), "{name}");
            assert_eq!(
                (param_bits(&m), state_bits(t.state())),
                (params, state),
                "{name}"
            );
            assert_eq!(t.steps(), 0, "{name}");
            assert_eq!(
                t.clip_grad_norm(1.0),
                Err(Error::NonFiniteGradient),
                "{name}"
            );
        }
    }
    common::every_optimizer(&mut Run);
}

#[test]
fn an_update_that_overflows_is_refused_by_the_buffered_step() {
    // Finite gradients, but a step size so large that `p − lr·g` overflows: SGD with lr 1e38 on
    // an MSE with targets of 100 (gradients ~10), and Adam with lr = f32::MAX (a valid learning
    // rate whose bias-corrected step size lr/(1 − β1) overflows).
    fn check<O: Optimizer + Copy>(name: &str, opt: O) {
        let t: Y = [[100.0; 3]; 4];
        for entry in [Entry::Fused, Entry::FusedInPlace, Entry::Buffered] {
            // No good step first: with these learning rates every step overflows.
            let a = attempt(entry, opt, model(), (&inputs(), &t), &Mse, None);
            let what = format!("{name}, {entry:?}");
            assert_eq!(a.result, Err(Error::NonFiniteParameters), "{what}");
            if entry == Entry::Buffered {
                assert_eq!(a.after.params, a.before.params, "{what}: parameters");
                assert_eq!(a.after.state, a.before.state, "{what}: state");
                assert_eq!(a.after.steps, a.before.steps, "{what}: steps");
            } else {
                assert!(!all_finite(&a.model), "{what}");
            }
        }
    }
    check("Sgd lr 1e38", Sgd::new(1e38).unwrap());
    check("Adam lr f32::MAX", constnn::Adam::new(f32::MAX).unwrap());
}

#[test]
fn targets_are_checked_before_anything_is_written() {
    // One bad target per loss, each in a different row; each with a good input and with an
    // input holding a NaN (the target is checked first, so its error is the one reported).
    struct Run;
    impl Run {
        fn check<O: Optimizer + Copy, L: Loss<Y>>(
            name: &str,
            opt: O,
            loss: &L,
            bad: &L::Target,
            good: &L::Target,
            expected: Error,
        ) {
            let mut nan_x = inputs();
            nan_x[0][3] = f32::NAN;
            let good_x = inputs();
            for x in [inputs(), nan_x] {
                for entry in ENTRIES {
                    let a = attempt(entry, opt, model(), (&x, bad), loss, Some((&good_x, good)));
                    let what = format!("{name}, {entry:?}");
                    assert_eq!(a.result, Err(expected), "{what}");
                    assert_eq!(a.after, a.before, "{what}: something was written");
                }
            }
        }
    }
    impl EachOptimizer for Run {
        fn run<O: Optimizer + Copy>(&mut self, name: &str, opt: O) {
            let n = |loss: &str| format!("{name}, {loss}");
            let e = Error::LabelOutOfRange {
                row: 2,
                label: 3,
                classes: 3,
            };
            Run::check(
                &n("CrossEntropy"),
                opt,
                &CrossEntropy,
                &[0, 1, 3, 9],
                &labels(),
                e,
            );
            let soft: Y = [[0.2, 0.3, 0.5]; 4];
            let mut bad = soft;
            bad[1] = [1.5, -0.5, 0.0];
            let e = Error::InvalidTarget { row: 1 };
            Run::check(
                &n("SoftCrossEntropy"),
                opt,
                &SoftCrossEntropy,
                &bad,
                &soft,
                e,
            );
            let mut bad = soft;
            bad[3][2] = f32::NAN;
            let e = Error::InvalidTarget { row: 3 };
            Run::check(&n("Mse NaN"), opt, &Mse, &bad, &soft, e);
            bad[3][2] = f32::NEG_INFINITY;
            Run::check(&n("Mse -inf"), opt, &Mse, &bad, &soft, e);
            for v in [1.5, -0.1, f32::NAN] {
                let mut bad = soft;
                bad[0][1] = v;
                let e = Error::InvalidTarget { row: 0 };
                Run::check(&n(&format!("BCE {v}")), opt, &BceWithLogits, &bad, &soft, e);
            }
        }
    }
    common::every_optimizer(&mut Run);
}

#[test]
fn a_non_finite_loss_changes_nothing_but_the_caches() {
    // The 1e38 input under the MSE: logits ~6e36 whose squares overflow. The forward pass has
    // run (the caches hold it), nothing else is written: no update, no gradient, no step.
    struct Run;
    impl EachOptimizer for Run {
        fn run<O: Optimizer + Copy>(&mut self, name: &str, opt: O) {
            let (m, x) = huge_finite_input();
            let t: Y = [[0.0; 3]; 4];
            for entry in ENTRIES {
                let a = attempt(entry, opt, m, (&x, &t), &Mse, None);
                let what = format!("{name}, {entry:?}");
                assert_eq!(a.result, Err(Error::NonFiniteLoss), "{what}");
                let mut after = a.after.clone();
                assert_ne!(after.cache, a.before.cache, "{what}: the forward pass ran");
                after.cache = a.before.cache.clone();
                assert_eq!(after, a.before, "{what}");
            }
        }
    }
    common::every_optimizer(&mut Run);
}
