//! The seed notebook's numbers (notebook 09: `Linear(10,3)`, `Relu`, softmax cross-entropy),
//! regenerated in float64 numpy and stored in `tests/data/seed_vectors.json` (see
//! `tests/data/README.md`), checked against the library in `f32`.
//!
//! The library's inputs (`x`, `w`, `b`) are the fixture's float64 values rounded to `f32`; the
//! expected outputs stay in float64.

use constnn::{
    Backward, Batch, CacheOf, GradsOf, Linear, Module, Relu, Sgd, Zeroed, cross_entropy,
    cross_entropy_with_logits, cross_entropy_with_targets, softmax, train_step,
};
use serde_json::Value;

/// Absolute tolerance for every `f32` result against the float64 reference. The values are of
/// order 1–5 and every result is a sum of at most 10 products, so the `f32` rounding (of the
/// inputs and of the arithmetic) is a few `1e-7`; `1e-5` leaves a wide margin while still being
/// far below any real mistake (the smallest expected entry that is not zero is ~0.01).
const TOL: f64 = 1e-5;

const B: usize = 5;
const IN: usize = 10;
const OUT: usize = 3;

fn fixture() -> Value {
    serde_json::from_str(include_str!("data/seed_vectors.json")).expect("valid JSON fixture")
}

fn scalar(v: &Value) -> f64 {
    v.as_f64().expect("a number")
}

fn vector<const N: usize>(v: &Value) -> [f64; N] {
    let a = v.as_array().expect("an array");
    assert_eq!(a.len(), N, "vector length");
    core::array::from_fn(|i| scalar(&a[i]))
}

fn matrix<const R: usize, const C: usize>(v: &Value) -> [[f64; C]; R] {
    let a = v.as_array().expect("an array of rows");
    assert_eq!(a.len(), R, "row count");
    core::array::from_fn(|r| vector::<C>(&a[r]))
}

fn to_f32<const R: usize, const C: usize>(m: &[[f64; C]; R]) -> [[f32; C]; R] {
    m.map(|row| row.map(|v| v as f32))
}

#[track_caller]
fn assert_close<const R: usize, const C: usize>(
    what: &str,
    got: &[[f32; C]; R],
    want: &[[f64; C]; R],
    tol: f64,
) {
    for r in 0..R {
        for c in 0..C {
            let (g, w) = (f64::from(got[r][c]), want[r][c]);
            assert!(
                (g - w).abs() <= tol,
                "{what}[{r}][{c}]: got {g}, expected {w} (|diff| {} > {tol})",
                (g - w).abs()
            );
        }
    }
}

/// The seed's layer with the fixture's weights: `weight[i][o] = w[i][o]`, no transpose.
fn seed_linear(f: &Value) -> Linear<IN, OUT> {
    Linear {
        weight: to_f32(&matrix::<IN, OUT>(&f["w"])),
        bias: vector::<OUT>(&f["b"]).map(|v| v as f32),
    }
}

fn seed_x(f: &Value) -> Batch<B, IN> {
    to_f32(&matrix::<B, IN>(&f["x"]))
}

fn target_classes(f: &Value) -> [usize; B] {
    let a = f["target_classes"].as_array().expect("an array");
    assert_eq!(a.len(), B);
    core::array::from_fn(|i| a[i].as_u64().expect("a class index") as usize)
}

/// `y2 = relu(x·w + b)` through the library, as in the notebook.
fn seed_logits(f: &Value) -> Batch<B, OUT> {
    let y1 = seed_linear(f).forward(&seed_x(f));
    Relu.forward(&y1)
}

#[test]
fn fixture_is_consistent() {
    let f = fixture();
    assert_eq!(f["linear_backward_dy"], "ones(5,3)");
    // The one-hot targets and the class labels describe the same targets (0, 0, 2, 2, 0).
    let t = matrix::<B, OUT>(&f["targets_one_hot"]);
    let classes = target_classes(&f);
    assert_eq!(classes, [0, 0, 2, 2, 0]);
    for (row, &c) in t.iter().zip(&classes) {
        for (k, &v) in row.iter().enumerate() {
            assert_eq!(v, if k == c { 1.0 } else { 0.0 });
        }
    }
}

#[test]
fn linear_forward_matches_seed() {
    let f = fixture();
    let y = seed_linear(&f).forward(&seed_x(&f));
    assert_close(
        "linear_forward_y",
        &y,
        &matrix::<B, OUT>(&f["linear_forward_y"]),
        TOL,
    );
}

#[test]
fn linear_backward_matches_seed() {
    let f = fixture();
    let mut layer = seed_linear(&f);
    let mut cache: Batch<B, IN> = Zeroed::ZERO;
    let y = layer.forward_train(&seed_x(&f), &mut cache);
    assert_close(
        "forward_train y",
        &y,
        &matrix::<B, OUT>(&f["linear_forward_y"]),
        TOL,
    );

    let dy = [[1.0f32; OUT]; B];
    let mut grads = Linear::<IN, OUT>::ZERO;
    let dx = layer.backward(&cache, &dy, &mut grads);
    assert_close(
        "linear_backward_dx",
        &dx,
        &matrix::<B, IN>(&f["linear_backward_dx"]),
        TOL,
    );
    assert_close(
        "linear_dw",
        &grads.weight,
        &matrix::<IN, OUT>(&f["linear_dw"]),
        TOL,
    );
    assert_close(
        "linear_db",
        &[grads.bias],
        &[vector::<OUT>(&f["linear_db"])],
        TOL,
    );

    // backward_params fills the same parameter gradients, bit for bit.
    let mut grads2 = Linear::<IN, OUT>::ZERO;
    layer.backward_params(&cache, &dy, &mut grads2);
    assert_eq!(grads2, grads);
}

#[test]
fn relu_forward_and_mask_match_seed() {
    let f = fixture();
    let y1 = seed_linear(&f).forward(&seed_x(&f));
    let mut mask = [[false; OUT]; B];
    let y2 = Relu.forward_train(&y1, &mut mask);
    assert_close(
        "relu_forward_y",
        &y2,
        &matrix::<B, OUT>(&f["relu_forward_y"]),
        TOL,
    );
    assert_eq!(y2, Relu.forward(&y1));

    // relu.backward(1): the 0/1 mask, exactly.
    let dx = Relu.backward(&mask, &[[1.0; OUT]; B], &mut ());
    let want = matrix::<B, OUT>(&f["relu_backward_dx_for_dy_1"]);
    for r in 0..B {
        for c in 0..OUT {
            assert!(want[r][c] == 0.0 || want[r][c] == 1.0);
            assert_eq!(f64::from(dx[r][c]), want[r][c], "mask[{r}][{c}]");
        }
    }
}

#[test]
fn cross_entropy_loss_matches_exact_not_seed_eps() {
    let f = fixture();
    let y2 = seed_logits(&f);
    let (loss, _) = cross_entropy_with_logits(&y2, &target_classes(&f)).unwrap();
    let loss = f64::from(loss);
    let exact = scalar(&f["ce_loss_exact"]);
    let seed_eps = scalar(&f["ce_loss_seed_eps"]);
    assert!((exact - 0.777_658_27).abs() < 1e-8 && (seed_eps - 0.777_658_04).abs() < 1e-8);
    assert!(
        (loss - exact).abs() <= TOL,
        "loss {loss}, exact {exact} (|diff| {})",
        (loss - exact).abs()
    );

    // Why the seed's loss is lower: it computes -mean_b ln(p_b + 1e-7) (p_b the probability of
    // row b's class), and ln(p + ε) ≈ ln p + ε/p, so it is below the exact loss by about
    // mean_b(1e-7 / p_b). Recompute that from the library's own softmax:
    let p = softmax(&y2);
    let classes = target_classes(&f);
    let predicted_gap = (0..B)
        .map(|b| 1e-7 / f64::from(p[b][classes[b]]))
        .sum::<f64>()
        / B as f64;
    let fixture_gap = exact - seed_eps;
    assert!(
        (fixture_gap - 2.3e-7).abs() < 0.05e-7,
        "fixture gap {fixture_gap}"
    );
    assert!(
        (fixture_gap - predicted_gap).abs() < 1e-9,
        "gap {fixture_gap} vs predicted {predicted_gap}"
    );
    // Our f32 loss sits on the exact value, ~4 f32 ulps (ulp = 6e-8 here) above the seed's: the
    // gap is visible in f32, and our loss is within one ulp of the exact value, i.e. nearer the
    // exact loss than the seed's eps version by a clear margin.
    let ulp = f64::from(f32::EPSILON) / 2.0; // the spacing of f32 in [0.5, 1)
    assert!(
        (loss - exact).abs() <= ulp,
        "loss {loss} more than 1 ulp from exact {exact}"
    );
    assert!(
        (loss - seed_eps - fixture_gap).abs() <= ulp,
        "loss - seed_eps = {} (expected ~{fixture_gap})",
        loss - seed_eps
    );
}

#[test]
fn cross_entropy_gradient_matches_seed_mean_and_sum() {
    let f = fixture();
    let y2 = seed_logits(&f);
    let (_, grad) = cross_entropy_with_logits(&y2, &target_classes(&f)).unwrap();
    assert_close(
        "ce_backward_mean_reduction",
        &grad,
        &matrix::<B, OUT>(&f["ce_backward_mean_reduction"]),
        TOL,
    );
    // The seed's CELoss.backward() is softmax - t, the gradient of the *summed* loss: N times
    // ours. (The tolerance scales with N, as N·grad carries N times grad's rounding.)
    let seed_sum = matrix::<B, OUT>(&f["ce_backward_seed_sum_reduction"]);
    let n_times = grad.map(|row| row.map(|g| g * B as f32));
    assert_close(
        "N x gradient vs ce_backward_seed_sum_reduction",
        &n_times,
        &seed_sum,
        TOL,
    );
    // And the two reductions really differ (ours is not the seed's unscaled gradient).
    assert!((f64::from(grad[0][0]) - seed_sum[0][0]).abs() > 0.1);
}

#[test]
fn one_hot_targets_are_bit_identical_to_class_labels() {
    let f = fixture();
    let y2 = seed_logits(&f);
    let one_hot = to_f32(&matrix::<B, OUT>(&f["targets_one_hot"]));
    let (la, ga) = cross_entropy_with_logits(&y2, &target_classes(&f)).unwrap();
    let (lb, gb) = cross_entropy_with_targets(&y2, &one_hot).unwrap();
    assert_eq!(la.to_bits(), lb.to_bits());
    // The loss-only evaluation function gives the same bits too.
    let lc = cross_entropy(&y2, &target_classes(&f)).unwrap();
    assert_eq!(la.to_bits(), lc.to_bits());
    for (ra, rb) in ga.iter().zip(&gb) {
        for (a, b) in ra.iter().zip(rb) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }
}

#[test]
fn train_step_matches_hand_computed_sgd() {
    let f = fixture();
    const LR: f32 = 0.1;
    let mut model = (seed_linear(&f), Relu);
    let mut cache: CacheOf<(Linear<IN, OUT>, Relu), Batch<B, IN>> = Zeroed::ZERO;
    let mut grads: GradsOf<(Linear<IN, OUT>, Relu)> = Zeroed::ZERO;
    // Garbage in the buffer first: train_step must zero it, not accumulate onto it.
    grads.0.weight = [[123.0; OUT]; IN];
    grads.0.bias = [-7.0; OUT];
    let sgd = Sgd::new(LR).unwrap();
    let loss = train_step(
        &mut model,
        &mut cache,
        &mut grads,
        &seed_x(&f),
        &target_classes(&f),
        &sgd,
    )
    .unwrap();
    assert!((f64::from(loss) - scalar(&f["ce_loss_exact"])).abs() <= TOL);

    // By hand, in float64 from the fixture: dlogits (mean reduction) through the ReLU mask,
    // then dW = xᵀ·d, db = Σ_b d, and w ← w − lr·dW.
    let x = matrix::<B, IN>(&f["x"]);
    let w = matrix::<IN, OUT>(&f["w"]);
    let b = vector::<OUT>(&f["b"]);
    let dl = matrix::<B, OUT>(&f["ce_backward_mean_reduction"]);
    let mask = matrix::<B, OUT>(&f["relu_backward_dx_for_dy_1"]);
    let mut dw = [[0.0f64; OUT]; IN];
    let mut db = [0.0f64; OUT];
    for r in 0..B {
        for o in 0..OUT {
            let d = dl[r][o] * mask[r][o];
            db[o] += d;
            for i in 0..IN {
                dw[i][o] += x[r][i] * d;
            }
        }
    }
    let lr = f64::from(LR);
    let w_new: [[f64; OUT]; IN] =
        core::array::from_fn(|i| core::array::from_fn(|o| w[i][o] - lr * dw[i][o]));
    let b_new: [f64; OUT] = core::array::from_fn(|o| b[o] - lr * db[o]);

    assert_close("grads.weight", &grads.0.weight, &dw, TOL);
    assert_close("grads.bias", &[grads.0.bias], &[db], TOL);
    assert_close("w - lr*dW", &model.0.weight, &w_new, TOL);
    assert_close("b - lr*db", &[model.0.bias], &[b_new], TOL);
    // The step moved the weights by a visible amount (lr·dW is not below the tolerance).
    let moved = (0..IN)
        .flat_map(|i| (0..OUT).map(move |o| (i, o)))
        .map(|(i, o)| (lr * dw[i][o]).abs())
        .fold(0.0, f64::max);
    assert!(moved > 100.0 * TOL, "largest update {moved}");
}
