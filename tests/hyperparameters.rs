//! Every optimizer constructor and builder, and `clip_grad_norm`, rejects the values outside
//! its documented range with the documented error, and accepts the boundary values inside it.
//!
//! The ranges (src/error.rs, `Hyperparameter`): learning rate finite and `> 0`; momentum,
//! β1, β2 and RMSprop's α in `[0, 1)`; dampening in `[0, 1]` and 0 with Nesterov; Nesterov
//! needs momentum `> 0`; weight decay finite and `≥ 0`; eps finite and `> 0`; the gradient
//! clipping norm finite and `> 0`.

use constnn::{
    Adam, AdamW, Batch, BufferedTrainer, Error, Hyperparameter, Linear, Momentum, Mse, RmsProp, Sgd,
};

use Hyperparameter as H;

/// Not finite: NaN (both signs) and both infinities.
const NOT_FINITE: [f32; 4] = [f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY];

/// Learning rates (and other "finite, > 0" values) that must be rejected.
const NOT_POSITIVE: [f32; 4] = [0.0, -0.0, -f32::MIN_POSITIVE, -0.1];

/// Values of a `[0, 1)` hyperparameter that must be rejected.
const OUTSIDE_0_1_OPEN: [f32; 5] = [-1e-45, -0.1, 1.0, 1.0000001, 2.0];

/// Values of a `[0, 1)` hyperparameter that must be accepted, down to the boundaries.
const INSIDE_0_1_OPEN: [f32; 4] = [0.0, 1e-45, 0.5, 0.99999994];

/// Weight decays that must be rejected (besides the non-finite ones).
const NEGATIVE: [f32; 3] = [-1e-45, -1e-4, -1.0];

/// Weight decays that must be accepted.
const NON_NEGATIVE: [f32; 5] = [0.0, -0.0, 1e-45, 0.01, f32::MAX];

fn bad_lrs() -> impl Iterator<Item = f32> {
    NOT_FINITE.into_iter().chain(NOT_POSITIVE)
}

const GOOD_LRS: [f32; 4] = [1e-45, f32::MIN_POSITIVE, 0.01, f32::MAX];

#[test]
fn learning_rates() {
    for lr in bad_lrs() {
        let e = Err(Error::InvalidLearningRate);
        assert_eq!(Sgd::new(lr).map(drop), e, "Sgd lr {lr}");
        assert_eq!(Momentum::new(lr, 0.9).map(drop), e, "Momentum lr {lr}");
        assert_eq!(Adam::new(lr).map(drop), e, "Adam lr {lr}");
        assert_eq!(AdamW::new(lr).map(drop), e, "AdamW lr {lr}");
        assert_eq!(RmsProp::new(lr).map(drop), e, "RmsProp lr {lr}");
        // The learning rate is checked first.
        assert_eq!(Momentum::new(lr, 7.0).map(drop), e);
    }
    for lr in GOOD_LRS {
        let bits = Ok(lr.to_bits());
        assert_eq!(Sgd::new(lr).map(|o| o.lr().to_bits()), bits);
        assert_eq!(Momentum::new(lr, 0.5).map(|o| o.lr().to_bits()), bits);
        assert_eq!(Adam::new(lr).map(|o| o.lr().to_bits()), bits);
        assert_eq!(AdamW::new(lr).map(|o| o.lr().to_bits()), bits);
        assert_eq!(RmsProp::new(lr).map(|o| o.lr().to_bits()), bits);
    }
}

#[test]
fn momentum_factor() {
    for m in NOT_FINITE.into_iter().chain(OUTSIDE_0_1_OPEN) {
        assert_eq!(
            Momentum::new(0.1, m),
            Err(Error::InvalidHyperparameter(H::Momentum)),
            "momentum {m}"
        );
    }
    for m in INSIDE_0_1_OPEN {
        assert_eq!(Momentum::new(0.1, m).map(|o| o.momentum()), Ok(m));
    }
}

#[test]
fn dampening() {
    let base = Momentum::new(0.1, 0.9).unwrap();
    for d in NOT_FINITE.into_iter().chain([-1e-45, -0.5, 1.0000001, 3.0]) {
        assert_eq!(
            base.with_dampening(d),
            Err(Error::InvalidHyperparameter(H::Dampening)),
            "dampening {d}"
        );
    }
    for d in [0.0, 1e-45, 0.5, 1.0] {
        assert!(base.with_dampening(d).is_ok(), "dampening {d}");
    }
    // With Nesterov on, only 0 is allowed (PyTorch: "Nesterov momentum requires a momentum and
    // zero dampening").
    let nesterov = base.with_nesterov(true).unwrap();
    for d in [1e-45, 0.1, 1.0] {
        assert_eq!(
            nesterov.with_dampening(d),
            Err(Error::InvalidHyperparameter(H::Dampening)),
            "Nesterov and dampening {d}"
        );
    }
    assert!(nesterov.with_dampening(0.0).is_ok());
}

#[test]
fn nesterov() {
    // Nesterov needs a momentum...
    let no_momentum = Momentum::new(0.1, 0.0).unwrap();
    assert_eq!(
        no_momentum.with_nesterov(true),
        Err(Error::InvalidHyperparameter(H::Nesterov))
    );
    // ...and no dampening.
    let damped = Momentum::new(0.1, 0.9)
        .unwrap()
        .with_dampening(0.1)
        .unwrap();
    assert_eq!(
        damped.with_nesterov(true),
        Err(Error::InvalidHyperparameter(H::Nesterov))
    );
    // Turning it off is always fine; turning it on with momentum > 0 and no dampening too.
    assert!(no_momentum.with_nesterov(false).is_ok());
    assert!(damped.with_nesterov(false).is_ok());
    let tiny = Momentum::new(0.1, 1e-45).unwrap();
    assert!(tiny.with_nesterov(true).is_ok());
    // Dampening set back to 0 makes it valid again.
    assert!(
        damped
            .with_dampening(0.0)
            .and_then(|o| o.with_nesterov(true))
            .is_ok()
    );
}

#[test]
fn weight_decay() {
    let e = Err(Error::InvalidHyperparameter(H::WeightDecay));
    for wd in NOT_FINITE.into_iter().chain(NEGATIVE) {
        let momentum = Momentum::new(0.1, 0.9).unwrap();
        assert_eq!(
            momentum.with_weight_decay(wd).map(drop),
            e,
            "Momentum wd {wd}"
        );
        let adam = Adam::new(0.1).unwrap();
        assert_eq!(adam.with_weight_decay(wd).map(drop), e, "Adam wd {wd}");
        let adamw = AdamW::new(0.1).unwrap();
        assert_eq!(adamw.with_weight_decay(wd).map(drop), e, "AdamW wd {wd}");
        let rms = RmsProp::new(0.1).unwrap();
        assert_eq!(rms.with_weight_decay(wd).map(drop), e, "RmsProp wd {wd}");
    }
    for wd in NON_NEGATIVE {
        assert!(
            Momentum::new(0.1, 0.9)
                .unwrap()
                .with_weight_decay(wd)
                .is_ok()
        );
        let adam = Adam::new(0.1).unwrap().with_weight_decay(wd);
        assert_eq!(adam.map(|o| o.weight_decay()), Ok(wd));
        let adamw = AdamW::new(0.1).unwrap().with_weight_decay(wd);
        assert_eq!(adamw.map(|o| o.weight_decay()), Ok(wd));
        assert!(RmsProp::new(0.1).unwrap().with_weight_decay(wd).is_ok());
    }
    // The documented defaults: none for Adam, PyTorch's 0.01 for AdamW.
    assert_eq!(Adam::new(0.1).unwrap().weight_decay(), 0.0);
    assert_eq!(AdamW::new(0.1).unwrap().weight_decay(), 0.01);
}

#[test]
fn betas() {
    for b in NOT_FINITE.into_iter().chain(OUTSIDE_0_1_OPEN) {
        let e1 = Err(Error::InvalidHyperparameter(H::Beta1));
        let e2 = Err(Error::InvalidHyperparameter(H::Beta2));
        let adam = Adam::new(0.01).unwrap();
        let adamw = AdamW::new(0.01).unwrap();
        assert_eq!(adam.with_betas(b, 0.999).map(drop), e1, "Adam beta1 {b}");
        assert_eq!(adam.with_betas(0.9, b).map(drop), e2, "Adam beta2 {b}");
        assert_eq!(adamw.with_betas(b, 0.999).map(drop), e1, "AdamW beta1 {b}");
        assert_eq!(adamw.with_betas(0.9, b).map(drop), e2, "AdamW beta2 {b}");
        // Both bad: β1 is reported.
        assert_eq!(adam.with_betas(b, b).map(drop), e1);
    }
    for b in INSIDE_0_1_OPEN {
        assert!(
            Adam::new(0.01).unwrap().with_betas(b, b).is_ok(),
            "betas {b}"
        );
        assert!(
            AdamW::new(0.01).unwrap().with_betas(b, b).is_ok(),
            "betas {b}"
        );
    }
}

#[test]
fn epsilon() {
    let e = Err(Error::InvalidHyperparameter(H::Epsilon));
    for eps in NOT_FINITE.into_iter().chain(NOT_POSITIVE) {
        let adam = Adam::new(0.01).unwrap();
        assert_eq!(adam.with_eps(eps).map(drop), e, "Adam eps {eps}");
        let adamw = AdamW::new(0.01).unwrap();
        assert_eq!(adamw.with_eps(eps).map(drop), e, "AdamW eps {eps}");
        let rms = RmsProp::new(0.01).unwrap();
        assert_eq!(rms.with_eps(eps).map(drop), e, "RmsProp eps {eps}");
    }
    for eps in [1e-45, 1e-8, 1.0, f32::MAX] {
        assert!(Adam::new(0.01).unwrap().with_eps(eps).is_ok());
        assert!(AdamW::new(0.01).unwrap().with_eps(eps).is_ok());
        assert!(RmsProp::new(0.01).unwrap().with_eps(eps).is_ok());
    }
}

#[test]
fn alpha() {
    for a in NOT_FINITE.into_iter().chain(OUTSIDE_0_1_OPEN) {
        assert_eq!(
            RmsProp::new(0.01).unwrap().with_alpha(a),
            Err(Error::InvalidHyperparameter(H::Alpha)),
            "alpha {a}"
        );
    }
    for a in INSIDE_0_1_OPEN {
        assert!(
            RmsProp::new(0.01).unwrap().with_alpha(a).is_ok(),
            "alpha {a}"
        );
    }
}

/// The constructors are `const fn`: an optimizer can be a `const` or a `static`, and a bad
/// value is an error there too.
#[test]
fn constructors_are_const() {
    const SGD: Result<Sgd, Error> = Sgd::new(0.1);
    const NESTEROV: Result<Momentum, Error> = match Momentum::new(0.1, 0.9) {
        Ok(m) => m.with_nesterov(true),
        Err(e) => Err(e),
    };
    const ADAM: Result<Adam, Error> = match Adam::new(1e-3) {
        Ok(a) => a.with_betas(0.9, 1.0),
        Err(e) => Err(e),
    };
    static RMS: Result<RmsProp, Error> = RmsProp::new(f32::NAN);
    assert!(SGD.is_ok() && NESTEROV.is_ok());
    assert_eq!(ADAM, Err(Error::InvalidHyperparameter(H::Beta2)));
    assert_eq!(RMS, Err(Error::InvalidLearningRate));
}

#[test]
fn every_hyperparameter_error_has_its_own_message() {
    let all = [
        H::Momentum,
        H::Dampening,
        H::Nesterov,
        H::WeightDecay,
        H::Beta1,
        H::Beta2,
        H::Epsilon,
        H::Alpha,
        H::MaxNorm,
    ];
    let mut messages: Vec<String> = all
        .iter()
        .map(|&h| {
            let m = Error::InvalidHyperparameter(h).to_string();
            assert_eq!(m, h.describe());
            m
        })
        .collect();
    messages.push(Error::InvalidLearningRate.to_string());
    messages.sort();
    messages.dedup();
    assert_eq!(messages.len(), all.len() + 1, "{messages:?}");
}

// ---------------------------------------------------------------------------------------------
// Gradient clipping.

type Model = Linear<2, 1>;
type X = Batch<2, 2>;

/// A buffered trainer with known gradients `dW = [[3], [0]]`, `db = [4]` (norm 5), set
/// directly in its buffer.
fn trainer_with_grads() -> BufferedTrainer<Model, X, Sgd> {
    let mut t: BufferedTrainer<Model, X, Sgd> = BufferedTrainer::new(Sgd::new(0.1).unwrap());
    let g = t.grads_mut();
    g.weight = [[3.0], [0.0]];
    g.bias = [4.0];
    t
}

fn grad_bits(t: &BufferedTrainer<Model, X, Sgd>) -> [u32; 3] {
    let g = t.grads();
    [g.weight[0][0], g.weight[1][0], g.bias[0]].map(f32::to_bits)
}

#[test]
fn clip_grad_norm_rejects_bad_max_norms_and_leaves_the_gradients() {
    for max_norm in bad_lrs() {
        let mut t = trainer_with_grads();
        let before = grad_bits(&t);
        assert_eq!(
            t.clip_grad_norm(max_norm),
            Err(Error::InvalidHyperparameter(H::MaxNorm)),
            "max_norm {max_norm}"
        );
        assert_eq!(
            grad_bits(&t),
            before,
            "max_norm {max_norm} changed the gradients"
        );
    }
}

#[test]
fn clip_grad_norm_rejects_non_finite_gradients_and_leaves_them() {
    for bad in NOT_FINITE {
        let mut t = trainer_with_grads();
        t.grads_mut().weight[1][0] = bad;
        let before = grad_bits(&t);
        assert_eq!(t.clip_grad_norm(1.0), Err(Error::NonFiniteGradient));
        assert_eq!(grad_bits(&t), before);
    }
    // Finite gradients whose squares overflow f32: the norm is not finite either.
    let mut t = trainer_with_grads();
    t.grads_mut().bias = [3e19];
    let before = grad_bits(&t);
    assert_eq!(t.clip_grad_norm(1.0), Err(Error::NonFiniteGradient));
    assert_eq!(grad_bits(&t), before);
}

#[test]
fn clip_grad_norm_scales_like_pytorch() {
    // Above the maximum: scaled by max_norm / (norm + 1e-6) (torch.nn.utils.clip_grad_norm_),
    // and the norm before clipping is returned.
    let mut t = trainer_with_grads();
    assert_eq!(t.clip_grad_norm(1.0), Ok(5.0));
    let scale = 1.0f32 / (5.0 + 1e-6);
    let g = t.grads();
    assert_eq!((g.weight, g.bias), ([[3.0 * scale], [0.0]], [4.0 * scale]));
    let norm = (g.weight[0][0].powi(2) + g.bias[0].powi(2)).sqrt();
    assert!(
        (norm - 1.0).abs() < 1e-6 && norm < 1.0,
        "clipped norm {norm}"
    );

    // At or below the maximum: untouched.
    for max_norm in [5.0, 5.000001, 1e30] {
        let mut t = trainer_with_grads();
        let before = grad_bits(&t);
        assert_eq!(t.clip_grad_norm(max_norm), Ok(5.0));
        assert_eq!(grad_bits(&t), before, "max_norm {max_norm}");
    }

    // The clipped gradients are what `apply` uses.
    let mut model = Model {
        weight: [[1.0], [1.0]],
        bias: [0.0],
    };
    let mut t = trainer_with_grads();
    t.clip_grad_norm(0.5).unwrap();
    let g = *t.grads();
    t.apply(&mut model).unwrap();
    assert_eq!(model.weight[0][0], 1.0 - 0.1 * g.weight[0][0]);
    assert_eq!(model.bias[0], -0.1 * g.bias[0]);

    // And after compute_grads on real data: the norm is that of the gradient buffer.
    let mut model = Model {
        weight: [[2.0], [-1.0]],
        bias: [0.5],
    };
    let mut t: BufferedTrainer<Model, X, Sgd> = BufferedTrainer::new(Sgd::new(0.1).unwrap());
    t.compute_grads(
        &mut model,
        &[[1.0, 2.0], [3.0, -1.0]],
        &Mse,
        &[[0.0], [1.0]],
    )
    .unwrap();
    let g = *t.grads();
    let want = (g.weight[0][0].powi(2) + g.weight[1][0].powi(2) + g.bias[0].powi(2)).sqrt();
    assert_eq!(t.grad_norm(), want);
    assert_eq!(t.clip_grad_norm(1e-3), Ok(want));
}
