//! The firmware's training run on the host, bit for bit.
//!
//! `examples/cortex-m` trains the digits model on a Cortex-M4F and a Cortex-M0 (QEMU) with the
//! code of `examples/common/digits_run.rs`, included here unchanged. These tests run the same
//! configurations on the host and pin what they end with (`digits_run::m4f::RUN.expect`,
//! `digits_run::m0::RUN.expect`); the firmware checks the same constants on the device and
//! `.ci/embedded.sh` also compares the lines both print. The data comes from `data/digits.csv`
//! through `digits_data::parse_digits` (`examples/common/digits_data.rs`), the parser the
//! firmware's `build.rs` uses.
//!
//! They also check that the in-place step is bit-identical to `Trainer::step`, the buffered
//! step and the one-liners, the RAM figures, and three failure modes of other embedded NN
//! libraries that constnn must not have.

#[path = "../examples/common/digits_run.rs"]
mod digits_run;

use std::sync::OnceLock;

use constnn::{
    Batch, BufferedTrainer, CacheOf, CrossEntropy, Error, GradsOf, Module, Params, Sgd, Zeroed,
    argmax, cross_entropy_with_logits, softmax, train_bytes, train_bytes_buffered, train_step,
    train_step_fused,
};
use digits_run::data::{self, Digits, MEAN, NORMALIZED, STD};
use digits_run::{
    DigitsTrainer, Mlp, Outcome, PIXELS, Run, TEST_ROWS, TRAIN_ROWS, Workspace, m0, m4f,
};

const CSV: &str = include_str!("../data/digits.csv");
const SPLIT: &str = include_str!("../data/digits_split.txt");

/// The data set as the firmware stores it, parsed once.
fn digits() -> &'static Digits {
    static DIGITS: OnceLock<Box<Digits>> = OnceLock::new();
    DIGITS.get_or_init(|| {
        let mut digits = Box::new(Digits::ZERO);
        data::parse_digits(CSV, SPLIT, &mut digits).expect("data/ is malformed");
        digits
    })
}

/// What a run leaves: every epoch's loss bits, every parameter's bits, and the outcome.
struct Trained {
    epoch_loss_bits: Vec<u32>,
    param_bits: Vec<u32>,
    outcome: Outcome,
}

/// Every parameter's `to_bits`, in `Params::visit` order.
fn param_bits(model: &Mlp) -> Vec<u32> {
    let mut bits = Vec::with_capacity(Mlp::NUM_PARAMS);
    model.visit(&mut |p: &[f32]| bits.extend(p.iter().map(|v| v.to_bits())));
    bits
}

/// A fresh workspace and trainer for `run`, boxed (the host's stack need not hold them).
fn fresh<const B: usize>(run: &Run) -> (Box<Workspace>, Box<DigitsTrainer<B>>) {
    (
        Box::new(Workspace::ZERO),
        Box::new(DigitsTrainer::<B>::new(run.sgd)),
    )
}

/// Runs `digits_run::train` with batch `B` and the given step function, as the firmware does.
fn train_with<const B: usize>(
    run: &Run,
    step: impl FnMut(&mut Mlp, &mut DigitsTrainer<B>, &[usize; B]) -> Result<f32, Error>,
) -> Trained {
    let digits = digits();
    let (mut ws, mut trainer) = fresh::<B>(run);
    let mut epoch_loss_bits = Vec::new();
    let loss = digits_run::train(
        &mut ws,
        &mut trainer,
        digits.train(),
        run,
        step,
        |_, loss| epoch_loss_bits.push(loss.to_bits()),
    )
    .expect("training failed");
    Trained {
        epoch_loss_bits,
        param_bits: param_bits(&ws.model),
        outcome: Outcome {
            test_correct: digits_run::count_correct(&mut ws.model, &mut trainer, digits.test()),
            loss_bits: loss.to_bits(),
            weights_fnv: digits_run::weights_fnv(&ws.model),
        },
    }
}

/// The firmware's run: `Trainer::step_in_place`.
fn train<const B: usize>(run: &Run) -> Trained {
    train_with::<B>(run, digits_run::step)
}

/// Checks a configuration's host run against its pinned outcome, and prints the values in the
/// firmware's format (`.ci/embedded.sh` compares the two lines).
fn check_pinned<const B: usize>(board: &str, run: &Run) {
    let got = train::<B>(run).outcome;
    println!(
        "host {board}: test_accuracy_permille={} loss_bits={:#010x} weights_fnv={:#010x}",
        got.accuracy_permille(),
        got.loss_bits,
        got.weights_fnv
    );
    assert_eq!(
        got, run.expect,
        "{board}: the host run differs from the values pinned in trainer.rs (update them and \
         check the firmware again)"
    );
    assert!(got.passes(), "{board}: test accuracy below 0.95: {got:?}");
}

#[test]
fn m4f_run_ends_with_the_pinned_bits() {
    check_pinned::<{ m4f::BATCH }>("mps2-an386", &m4f::RUN);
}

#[test]
fn m0_run_ends_with_the_pinned_bits() {
    check_pinned::<{ m0::BATCH }>("microbit", &m0::RUN);
}

/// The firmware's `Trainer::step_in_place`, `Trainer::step` on a copy of the batch, the
/// `BufferedTrainer` and the one-liners `train_step_fused` and `train_step` produce the same
/// bits, every epoch, on the M0 configuration.
#[test]
fn in_place_fused_and_buffered_steps_give_the_same_bits() {
    const B: usize = m0::BATCH;
    let sgd = m0::RUN.sgd;
    let in_place = train::<B>(&m0::RUN);
    let fused = train_with::<B>(&m0::RUN, |model, trainer, labels| {
        let x = *trainer.input_mut(); // the batch `digits_run::train` wrote into the cache
        trainer.step(model, &x, &CrossEntropy, labels)
    });
    let mut buffered_trainer: Box<BufferedTrainer<Mlp, Batch<B, PIXELS>, Sgd>> =
        Box::new(BufferedTrainer::new(sgd));
    let buffered = train_with::<B>(&m0::RUN, |model, trainer, labels| {
        let x = *trainer.input_mut();
        buffered_trainer.step(model, &x, &CrossEntropy, labels)
    });
    let mut cache: Box<CacheOf<Mlp, Batch<B, PIXELS>>> = Box::new(Zeroed::ZERO);
    let one_liner_fused = train_with::<B>(&m0::RUN, |model, trainer, labels| {
        let x = *trainer.input_mut();
        train_step_fused(model, &mut cache, &x, labels, &sgd)
    });
    let mut cache: Box<CacheOf<Mlp, Batch<B, PIXELS>>> = Box::new(Zeroed::ZERO);
    let mut grads: Box<GradsOf<Mlp>> = Box::new(Zeroed::ZERO);
    let one_liner_buffered = train_with::<B>(&m0::RUN, |model, trainer, labels| {
        let x = *trainer.input_mut();
        train_step(model, &mut cache, &mut grads, &x, labels, &sgd)
    });
    for other in [&fused, &buffered, &one_liner_fused, &one_liner_buffered] {
        assert_eq!(in_place.epoch_loss_bits, other.epoch_loss_bits);
        assert_eq!(in_place.param_bits, other.param_bits);
        assert_eq!(in_place.outcome, other.outcome);
    }
}

/// The firmware evaluates the test split `B` images at a time with the training forward pass
/// (`digits_run::count_correct`, `Trainer::forward_in_place`); every logit has the bits of
/// plain single-image inference (`Module::forward` on a batch of one), so the count is the
/// same. Also for batch 4, whose last batch (450 = 112·4 + 2) is short.
#[test]
fn batched_evaluation_is_single_image_inference() {
    let digits = digits();
    let test = digits.test();
    let run = Run {
        epochs: 1,
        ..m0::RUN
    };
    let (mut ws, mut trainer) = fresh::<{ m0::BATCH }>(&run);
    digits_run::train(
        &mut ws,
        &mut trainer,
        digits.train(),
        &run,
        digits_run::step,
        |_, _| {},
    )
    .unwrap();
    let model = ws.model;
    let single: Vec<[f32; 10]> = test
        .pixels
        .iter()
        .map(|pixels| {
            let mut x = [[0.0; PIXELS]];
            data::normalize(pixels, &mut x[0]);
            model.forward(&x)[0]
        })
        .collect();
    let correct = single
        .iter()
        .zip(test.labels)
        .filter(|(logits, label)| argmax(logits) == usize::from(**label))
        .count();

    let mut batched = Vec::new();
    for pixels in test.pixels.chunks(m0::BATCH) {
        for (x, p) in trainer.input_mut().iter_mut().zip(pixels) {
            data::normalize(p, x);
        }
        let logits = trainer.forward_in_place(&mut ws.model);
        batched.extend_from_slice(&logits[..pixels.len()]);
    }
    let bits =
        |rows: &[[f32; 10]]| -> Vec<u32> { rows.iter().flatten().map(|v| v.to_bits()).collect() };
    assert_eq!(bits(&batched), bits(&single));
    assert_eq!(param_bits(&ws.model), param_bits(&model));

    assert_eq!(
        usize::from(digits_run::count_correct(&mut ws.model, &mut trainer, test)),
        correct
    );
    let mut trainer10 = Box::new(DigitsTrainer::<10>::new(run.sgd));
    assert_eq!(
        usize::from(digits_run::count_correct(
            &mut ws.model,
            &mut trainer10,
            test
        )),
        correct
    );
}

/// `Outcome::accuracy_permille`, computed without a division, is `⌊1000 · correct / 450⌋`
/// for every possible count.
#[test]
fn accuracy_permille_is_the_rounded_down_ratio() {
    for correct in 0..=TEST_ROWS as u16 {
        let outcome = Outcome {
            test_correct: correct,
            loss_bits: 0,
            weights_fnv: 0,
        };
        assert_eq!(
            outcome.accuracy_permille(),
            u32::from(correct) * 1000 / TEST_ROWS as u32,
            "{correct} / {TEST_ROWS}"
        );
    }
}

/// Training needs parameters + caches (+ the optimizer's state, none for SGD): `train_bytes`,
/// all known at compile time; a gradient buffer (`train_bytes_buffered`) would add as much
/// again as the parameters. The firmware adds the trainer's step count and learning rate, and
/// the order of the training rows.
#[test]
fn training_ram_is_known_at_compile_time() {
    const PARAMS: usize = 4 * (64 * 32 + 32 + 32 * 10 + 10);
    // Per sample: the first layer's input (64 f32), the ReLU mask (32 bool), the second
    // layer's input (32 f32).
    const CACHE_PER_SAMPLE: usize = 4 * 64 + 32 + 4 * 32;
    type X<const B: usize> = Batch<B, PIXELS>;
    const _: () = assert!(size_of::<Mlp>() == PARAMS && PARAMS == 9640);
    const _: () = assert!(size_of::<GradsOf<Mlp>>() == PARAMS);
    const _: () = assert!(size_of::<CacheOf<Mlp, X<10>>>() == 10 * CACHE_PER_SAMPLE);
    const _: () = assert!(train_bytes::<Mlp, X<10>, Sgd>() == PARAMS + 10 * CACHE_PER_SAMPLE);
    const _: () =
        assert!(train_bytes_buffered::<Mlp, X<10>, Sgd>() == 2 * PARAMS + 10 * CACHE_PER_SAMPLE);
    // At batch 10 the fused step saves the whole gradient buffer, 9640 of 23 440 bytes.
    assert_eq!(train_bytes_buffered::<Mlp, X<10>, Sgd>(), 23_440);
    assert_eq!(train_bytes::<Mlp, X<10>, Sgd>(), 13_800);
    // The firmware's whole training state: that, plus the trainer's step count (u64) and
    // learning rate (f32), plus the order of the 1347 training rows (u16), each struct padded
    // to its alignment. The batch is written into the first layer's cache: no bytes of its
    // own.
    assert_eq!(size_of::<Workspace>(), PARAMS + 2 * TRAIN_ROWS + 2);
    assert_eq!(
        size_of::<DigitsTrainer<10>>(),
        10 * CACHE_PER_SAMPLE + 8 + 4 + 4
    );
    assert_eq!(
        digits_run::ram_bytes::<{ m4f::BATCH }>(),
        13_800 + 12 + 2694 + 6
    );
    assert_eq!(digits_run::ram_bytes::<{ m4f::BATCH }>(), 16_512);
    assert_eq!(
        digits_run::ram_bytes::<{ m0::BATCH }>(),
        PARAMS + m0::BATCH * CACHE_PER_SAMPLE + 12 + 2 * TRAIN_ROWS + 6
    );
    assert_eq!(digits_run::ram_bytes::<{ m0::BATCH }>(), 14_016);
}

/// `MEAN`, `STD` and `NORMALIZED` are what the data says, computed here exactly.
#[test]
fn normalization_comes_from_the_data() {
    let (n, sum, sum_sq) = digits().pixel_moments();
    assert_eq!((n, sum, sum_sq), (115_008, 561_718, 6_907_012));
    // One rounding each: the correctly rounded f64 mean and (population) standard deviation.
    let mean = sum as f64 / n as f64;
    let std = (((n * sum_sq - sum * sum) as f64) / ((n * n) as f64)).sqrt();
    assert_eq!(mean.to_bits(), MEAN.to_bits());
    assert_eq!(std.to_bits(), STD.to_bits());
    // The notebook's printed values.
    assert_eq!(MEAN, 4.884164579855314);
    assert_eq!(STD, 6.016787548672236);
    for (p, &x) in NORMALIZED.iter().enumerate() {
        assert_eq!(x, ((p as f64 - mean) / std) as f32, "pixel {p}");
    }
    assert_eq!(NORMALIZED[0].to_bits(), 0xbf4fcf41);
    assert_eq!(NORMALIZED[16].to_bits(), 0x3fec79e7);
}

#[test]
fn split_is_the_notebooks() {
    let digits = digits();
    assert_eq!(digits.train_pixels.len(), TRAIN_ROWS);
    assert_eq!(digits.test_pixels.len(), TEST_ROWS);
    let mut per_class = [0; 10];
    for &l in digits.train_labels.iter().chain(&digits.test_labels) {
        per_class[usize::from(l)] += 1;
    }
    assert_eq!(
        per_class,
        [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    // Row 0 of the CSV is test row 0; row 1 is training row 0.
    assert_eq!(digits.test_labels[0], 0);
    assert_eq!(digits.train_labels[0], 1);
    let mut scratch = Box::new(Digits::ZERO);
    assert_eq!(
        data::parse_digits(CSV, "# no indices\n", &mut scratch),
        Err(data::ParseError::Split)
    );
    let bad_pixel = CSV.replacen("\n0,0,5,", "\n0,0,17,", 1);
    assert_eq!(
        data::parse_digits(&bad_pixel, SPLIT, &mut scratch),
        Err(data::ParseError::Row(0))
    );
}

/// `-ln softmax(z)[label]` and its gradient in f64, each row with its own max.
fn reference_loss<const B: usize, const C: usize>(
    z: &Batch<B, C>,
    labels: &[usize; B],
) -> (f64, [[f64; C]; B]) {
    let mut loss = 0.0;
    let mut grad = [[0.0; C]; B];
    for ((row, &label), g) in z.iter().zip(labels).zip(&mut grad) {
        let m = row
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        let s: f64 = row.iter().map(|&v| (f64::from(v) - m).exp()).sum();
        loss += s.ln() - (f64::from(row[label]) - m);
        for (c, gv) in g.iter_mut().enumerate() {
            let p = (f64::from(row[c]) - m).exp() / s;
            *gv = (p - if c == label { 1.0 } else { 0.0 }) / B as f64;
        }
    }
    (loss / B as f64, grad)
}

/// A library that shifts every row by one maximum (row 0's, or the batch's) turns row 0 into
/// `exp(-1000) = 0` and a `ln 0`, or row 1 into `exp(1000) = inf`. constnn uses each row's own.
#[test]
fn softmax_uses_each_rows_own_max() {
    let logits = [[0.001, -0.002, 0.0005], [1000.0, 998.0, 995.0]];
    let labels = [0, 1];
    let (loss, grad) = cross_entropy_with_logits(&logits, &labels).unwrap();
    let (ref_loss, ref_grad) = reference_loss(&logits, &labels);
    assert!(loss.is_finite());
    assert!(
        (f64::from(loss) - ref_loss).abs() <= 1e-6 * ref_loss,
        "{loss} vs {ref_loss}"
    );
    for (g, r) in grad.iter().flatten().zip(ref_grad.iter().flatten()) {
        assert!((f64::from(*g) - r).abs() <= 1e-7, "{g} vs {r}");
    }
    for row in softmax(&logits) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() <= 2.0 * f32::EPSILON);
    }
}

/// A label ≥ the number of classes, or a non-finite input, is an error found before anything
/// is updated: no write out of bounds, and the parameters (and the gradient buffer) keep every
/// bit, through the firmware's step and the others.
#[test]
fn out_of_range_label_or_bad_input_is_an_error_and_changes_nothing() {
    let digits = digits();
    let run = Run {
        epochs: 1,
        ..m0::RUN
    };
    let (mut ws, mut trainer) = fresh::<2>(&run);
    digits_run::train(
        &mut ws,
        &mut trainer,
        digits.train(),
        &run,
        digits_run::step,
        |_, _| {},
    )
    .unwrap();
    let sgd = run.sgd;
    let before = ws.model;
    let expected = Err(Error::LabelOutOfRange {
        row: 1,
        label: 10,
        classes: 10,
    });
    let bad = [3, 10];

    let logits = [[0.0; 10]; 2];
    assert_eq!(
        cross_entropy_with_logits(&logits, &bad).map(|_| ()),
        expected
    );
    let x = *trainer.input_mut();
    let r = digits_run::step(&mut ws.model, &mut trainer, &bad);
    assert_eq!(r.map(|_| ()), expected);
    let r = trainer.step(&mut ws.model, &x, &CrossEntropy, &bad);
    assert_eq!(r.map(|_| ()), expected);
    let mut cache: CacheOf<Mlp, Batch<2, PIXELS>> = Zeroed::ZERO;
    let r = train_step_fused(&mut ws.model, &mut cache, &x, &bad, &sgd);
    assert_eq!(r.map(|_| ()), expected);
    let mut grads: GradsOf<Mlp> = Zeroed::ZERO;
    grads.0.bias = [7.0; 32]; // a pattern a write would change
    let grads_before = grads;
    let r = train_step(&mut ws.model, &mut cache, &mut grads, &x, &bad, &sgd);
    assert_eq!(r.map(|_| ()), expected);
    assert_eq!(param_bits(&ws.model), param_bits(&before));
    assert!(grads == grads_before);

    // A NaN or an infinity in the batch (row 1), in the cache as the firmware writes it.
    for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        trainer.input_mut()[1][17] = v;
        let r = digits_run::step(&mut ws.model, &mut trainer, &[3, 4]);
        assert_eq!(r, Err(Error::NonFiniteInput { row: 1 }));
        assert_eq!(param_bits(&ws.model), param_bits(&before));
    }
}

/// constnn's `expf` (libm's algorithm in software, the same bits on every target) against f64
/// `exp`, through the softmax that uses it: `p = softmax([0, z])[1] = e^z / (1 + e^z)` over `z ∈ [-87, 0]`, every
/// argument `expf` ever gets (the row maximum is subtracted first) down to the smallest normal
/// result. Within 1e-6 relative (expf's own error plus three f32 roundings); a fast exponential
/// approximation of the kind some embedded libraries use is off by ~1e-3.
#[test]
fn expf_is_accurate() {
    let mut worst = 0.0f64;
    for k in 0..=87_000 {
        let z = -(k as f32) / 1000.0;
        let p = softmax(&[[0.0, z]])[0];
        let e = f64::from(z).exp();
        for (got, want) in p.iter().zip([1.0 / (1.0 + e), e / (1.0 + e)]) {
            worst = worst.max((f64::from(*got) - want).abs() / want);
        }
    }
    assert!(worst < 1e-6, "worst relative error {worst:e}");
}
