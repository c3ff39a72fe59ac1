//! Bad data is an `Error`, never a panic or a silently corrupted model.

mod common;

use common::{param_bits, rand_batch};
use constnn::rand_core::SeedableRng;
use constnn::{
    Batch, CacheOf, Error, GradsOf, Linear, Params, Relu, Sgd, XorShiftRng, Zeroed, cross_entropy,
    cross_entropy_with_logits, cross_entropy_with_targets, softmax, train_step, train_step_fused,
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

    let mut m = model();
    let mut cache: Cache = Zeroed::ZERO;
    let r = train_step_fused(&mut m, &mut cache, x, labels, &sgd);
    assert_eq!(r, Err(expected), "train_step_fused");
    assert_eq!(
        param_bits(&m),
        before,
        "train_step_fused changed the parameters"
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

fn all_variants() -> [(Error, &'static [&'static str]); 4] {
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
    assert_eq!(messages.len(), 4);
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
