//! The fine-tuning firmware's run on the host, bit for bit (`examples/common/finetune_run.rs`,
//! included unchanged; the firmware is `examples/cortex-m/src/bin/finetune.rs`).
//!
//! Checks that the committed pretrained blob is exactly what the host's pretraining produces,
//! that the compile-time model built from it equals `load_weights`'s, that a run interrupted by
//! a checkpoint and a "reset" ends with the bits of an uninterrupted run, that fine-tuning
//! through the features equals training a `(Frozen<(Linear, Relu)>, Linear)` model on the
//! images, and pins what each board prints (`.ci/embedded.sh` compares the firmware's lines
//! with the `host finetune-<board>:` lines printed here).
//!
//! `CONSTNN_BLESS=1 cargo test --test finetune_run` rewrites the blob.

#[path = "../examples/common/finetune_run.rs"]
mod finetune_run;

use std::sync::OnceLock;

use constnn::{
    Batch, CrossEntropy, Frozen, Linear, Params, Relu, Sgd, Trainer, Zeroed, const_model,
    load_weights, save_weights, weights_len,
};
use finetune_run::data::{self, Digits};
use finetune_run::{
    CHECKPOINT_LEN, Config, HIDDEN, Head, HeadTrainer, Mlp, NEW_CLASSES, Outcome, PIXELS,
    TRAIN_ROWS, m0, m4f,
};

const CSV: &str = include_str!("../data/digits.csv");
const SPLIT: &str = include_str!("../data/digits_split.txt");
const BLOB_PATH: &str = "examples/common/digits_pretrained_0to7.cnnw";

/// The firmware's pretrained model, built and checked at compile time as on the device.
static PRETRAINED: Mlp = const_model!(
    include_bytes!("../examples/common/digits_pretrained_0to7.cnnw") => (Linear, Relu, Linear)
);

fn digits() -> &'static Digits {
    static DIGITS: OnceLock<Box<Digits>> = OnceLock::new();
    DIGITS.get_or_init(|| {
        let mut digits = Box::new(Digits::ZERO);
        data::parse_digits(CSV, SPLIT, &mut digits).expect("data/ is malformed");
        digits
    })
}

fn bits<P: Params>(p: &P) -> Vec<u32> {
    let mut v = Vec::new();
    p.visit(&mut |s: &[f32]| v.extend(s.iter().map(|x| x.to_bits())));
    v
}

#[test]
fn the_committed_blob_is_the_hosts_pretraining() {
    let mut model = Box::new(Mlp::ZERO);
    let mut trainer = Box::new(Trainer::<Mlp, Batch<10, PIXELS>, Sgd>::new(
        Sgd::new(finetune_run::PRETRAIN_LR).unwrap(),
    ));
    let mut order = Box::new([0u16; TRAIN_ROWS]);
    finetune_run::pretrain(&mut model, &mut trainer, &mut order, digits().train()).unwrap();
    let mut blob = vec![0u8; weights_len::<Mlp>()];
    save_weights(&*model, &mut blob).unwrap();
    let path = format!("{}/{BLOB_PATH}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("CONSTNN_BLESS").is_some() {
        std::fs::write(&path, &blob).unwrap();
    }
    let committed = std::fs::read(&path).unwrap();
    assert!(
        committed == blob,
        "{BLOB_PATH} is not the host's pretraining (CONSTNN_BLESS=1)"
    );
    assert_eq!(bits(&*model), bits(&PRETRAINED));
}

#[test]
fn the_compile_time_model_is_load_weights_bit_for_bit() {
    let blob = include_bytes!("../examples/common/digits_pretrained_0to7.cnnw");
    let mut loaded = Box::new(Mlp::ZERO);
    load_weights(&mut *loaded, blob).unwrap();
    assert_eq!(bits(&*loaded), bits(&PRETRAINED));
    assert_eq!(bits(&*loaded).len(), 2410);
}

#[test]
fn the_pretrained_model_knows_0_to_7_and_not_8_or_9() {
    let acc = finetune_run::accuracy(&PRETRAINED.0, &PRETRAINED.2, digits().test());
    let test = digits().test();
    let new_total = test
        .labels
        .iter()
        .filter(|l| NEW_CLASSES.contains(l))
        .count();
    assert_eq!(new_total, usize::from(finetune_run::Accuracy::new_total()));
    assert_eq!(acc.new_correct, 0, "it never saw an 8 or a 9");
    // At least 97 % of the 0–7 test images.
    assert!(
        f64::from(acc.correct) >= 0.97 * (450 - new_total) as f64,
        "{acc:?}"
    );
}

/// A fine-tuning run on the host: the trained head, its trainer, the last loss.
struct Finished<const B: usize> {
    head: Box<Head>,
    trainer: Box<HeadTrainer<B>>,
    loss: Option<f32>,
}

fn run<const B: usize>(
    config: &Config,
    from: Option<&[u8]>,
    until: u64,
    mut epochs: impl FnMut(u16, f32),
) -> Finished<B> {
    let mut head = Box::new(PRETRAINED.2);
    let mut trainer = Box::new(HeadTrainer::<B>::new(config.optimizer));
    if let Some(ckpt) = from {
        trainer.load_checkpoint(&mut head, ckpt).unwrap();
    }
    let mut order = Box::new([0u16; TRAIN_ROWS]);
    let loss = finetune_run::finetune(
        &PRETRAINED.0,
        &mut head,
        &mut trainer,
        &mut order,
        digits().train(),
        config,
        until,
        finetune_run::step,
        &mut epochs,
    )
    .unwrap();
    Finished {
        head,
        trainer,
        loss,
    }
}

/// Both boots of one board, against an uninterrupted run and the pinned values; prints the
/// lines the firmware must print.
fn two_boots<const B: usize>(board: &str, config: &Config) {
    let test = digits().test();
    let before = finetune_run::accuracy(&PRETRAINED.0, &PRETRAINED.2, test);

    // Boot 1: from the pretrained head up to the stop step, then the checkpoint.
    let boot1 = run::<B>(config, None, config.stop_step, |_, _| {});
    assert_eq!(boot1.trainer.steps(), config.stop_step);
    assert!(boot1.loss.is_some(), "boot 1 runs at least one whole epoch");
    let mut ckpt = [0u8; CHECKPOINT_LEN];
    assert_eq!(
        boot1.trainer.save_checkpoint(&boot1.head, &mut ckpt),
        Ok(CHECKPOINT_LEN)
    );
    let crc = u32::from_le_bytes(ckpt[CHECKPOINT_LEN - 4..].try_into().unwrap());

    // Boot 2: a fresh trainer from the checkpoint, to the end.
    let mut epochs2 = Vec::new();
    let boot2 = run::<B>(config, Some(&ckpt), u64::MAX, |e, l| epochs2.push((e, l)));
    // Uninterrupted.
    let mut epochs_all = Vec::new();
    let all = run::<B>(config, None, u64::MAX, |e, l| epochs_all.push((e, l)));

    let total = u64::from(config.epochs) * finetune_run::steps_per_epoch::<B>();
    assert_eq!(all.trainer.steps(), total);
    assert_eq!(boot2.trainer.steps(), total);
    assert_eq!(
        bits(&*boot2.head),
        bits(&*all.head),
        "resumed = uninterrupted"
    );
    assert_eq!(boot2.loss.map(f32::to_bits), all.loss.map(f32::to_bits));
    assert_eq!(
        &epochs_all[epochs_all.len() - epochs2.len()..],
        &epochs2[..]
    );
    let mut ckpt_all = [0u8; CHECKPOINT_LEN];
    let mut ckpt_resumed = [0u8; CHECKPOINT_LEN];
    all.trainer
        .save_checkpoint(&all.head, &mut ckpt_all)
        .unwrap();
    boot2
        .trainer
        .save_checkpoint(&boot2.head, &mut ckpt_resumed)
        .unwrap();
    assert_eq!(ckpt_all, ckpt_resumed, "momentum and step count too");

    let after = Outcome {
        accuracy: finetune_run::accuracy(&PRETRAINED.0, &boot2.head, test),
        loss_bits: boot2.loss.unwrap().to_bits(),
        head_fnv: finetune_run::head_fnv(&boot2.head),
    };
    println!(
        "host finetune-{board}: before correct={} new_correct={} steps={} checkpoint_crc={crc:#010x}",
        before.correct, before.new_correct, config.stop_step
    );
    println!(
        "host finetune-{board}: after correct={} new_correct={} loss_bits={:#010x} head_fnv={:#010x}",
        after.accuracy.correct, after.accuracy.new_correct, after.loss_bits, after.head_fnv
    );
    assert_eq!(before, config.before, "{board}: before");
    assert_eq!(crc, config.checkpoint_crc, "{board}: checkpoint");
    assert_eq!(after, config.after, "{board}: after");
    // It learns the new digits and keeps the old ones.
    assert!(after.accuracy.new_correct >= 70, "{after:?}");
    assert!(after.accuracy.correct >= 420, "{after:?}");
}

#[test]
fn m4f_resumes_bit_for_bit() {
    two_boots::<{ m4f::BATCH }>("mps2-an386", &m4f::CONFIG);
}

#[test]
fn m0_resumes_bit_for_bit() {
    two_boots::<{ m0::BATCH }>("microbit", &m0::CONFIG);
}

/// The features path (body in flash, only the head trained) is the library's `Frozen` path:
/// the same steps through a `(Frozen<(Linear, Relu)>, Linear)` model trained on the images
/// give the same head, bit for bit.
#[test]
fn features_path_equals_a_frozen_body_model() {
    const B: usize = m0::BATCH;
    type Net = (Frozen<(Linear<PIXELS, HIDDEN>, Relu)>, Head);
    let config = m0::CONFIG;
    let until = 2 * finetune_run::steps_per_epoch::<B>() + 17;
    let reference = run::<B>(&config, None, until, |_, _| {});

    let mut net = Box::new((Frozen((PRETRAINED.0, Relu)), PRETRAINED.2));
    let mut trainer = Box::new(Trainer::<Net, Batch<B, PIXELS>, _>::new(config.optimizer));
    let mut order = Box::new([0u16; TRAIN_ROWS]);
    let data = digits().train();
    'epochs: for epoch in 0.. {
        finetune_run::epoch_order(&mut order, config.seed, epoch);
        for rows in constnn::batches::<B, u16>(&*order, constnn::Remainder::Wrap) {
            if trainer.steps() == until {
                break 'epochs;
            }
            let mut labels = [0; B];
            for ((x, label), &row) in trainer.input_mut().iter_mut().zip(&mut labels).zip(&rows) {
                data::normalize(&data.pixels[usize::from(row)], x);
                *label = usize::from(data.labels[usize::from(row)]);
            }
            trainer
                .step_in_place(&mut net, &CrossEntropy, &labels)
                .unwrap();
        }
    }
    assert_eq!(bits(&net.1), bits(&*reference.head));
    assert_eq!(
        bits(&net.0.0.0),
        bits(&PRETRAINED.0),
        "the body never changes"
    );
}

#[test]
fn a_corrupt_checkpoint_is_refused_and_changes_nothing() {
    let config = m0::CONFIG;
    let boot1 = run::<{ m0::BATCH }>(&config, None, 10, |_, _| {});
    let mut ckpt = [0u8; CHECKPOINT_LEN];
    boot1
        .trainer
        .save_checkpoint(&boot1.head, &mut ckpt)
        .unwrap();
    for at in [0, 8, 24, 40, CHECKPOINT_LEN - 1] {
        let mut bad = ckpt;
        bad[at] ^= 0x10;
        let mut head = PRETRAINED.2;
        let mut trainer = HeadTrainer::<{ m0::BATCH }>::new(config.optimizer);
        assert!(
            trainer.load_checkpoint(&mut head, &bad).is_err(),
            "byte {at}"
        );
        assert_eq!(bits(&head), bits(&PRETRAINED.2));
        assert_eq!(trainer.steps(), 0);
    }
    // An erased sector (all 0xFF, or never written: all 0) is not a checkpoint either.
    let mut head = PRETRAINED.2;
    let mut trainer = HeadTrainer::<{ m0::BATCH }>::new(config.optimizer);
    assert!(
        trainer
            .load_checkpoint(&mut head, &[0xFF; CHECKPOINT_LEN])
            .is_err()
    );
    assert!(
        trainer
            .load_checkpoint(&mut head, &[0; CHECKPOINT_LEN])
            .is_err()
    );
}
