//! Host benchmark: one SGD training step, and inference, of
//! `(Linear<IN, H>, Relu, Linear<H, OUT>)` with softmax cross-entropy, single thread.
//!
//! Same workload and timing method as the peers in `shared/peers` (numpy, torch, dfdx):
//!
//! - configs (IN-H-OUT, batch N): T = 4-16-3, N = 8; D = 64-32-10, N = 10; M = 784-128-10, N = 32;
//! - train step = [`train_step`]: forward, mean softmax cross-entropy on class labels, backward
//!   without the first layer's input gradient, `w -= lr·dw, b -= lr·db` (lr = 1e-3);
//!   He-normal weights, zero bias;
//! - data: a bank of 8 fixed batches, `x ~ N(0, 1)` ([`standard_normal`]), class of row `r`
//!   of bank batch `b`: `(r·7 + b·3 + (r·b) % 5) % OUT` (the peers' formula), cycled through;
//! - inference = `forward` + [`argmax`] of every row;
//! - int8 inference (configs D and M, `mode=infer_int8`): the model quantized after training
//!   (`constnn::quant`, calibrated on the 8 bank batches), timed from the same `f32` batch:
//!   `quantize_input` + int8 `forward` + [`argmax_i8`] of every row (stderr also times it
//!   from already-quantized input, `mode=infer_int8_preq`);
//! - timing: double the iteration count until one run takes ≥ REP_SECS/4 (75 ms; this is
//!   also the warm-up), scale to ~REP_SECS per repetition, REPS repetitions, report the median.
//!
//! stdout, one line per config and mode:
//! `peer=constnn config=<T|D|M> mode=<train|infer|infer_int8> steps_per_s=<f> ns_per_step=<f>`;
//! stderr: `#` lines with the FLOPs per step, min/median/max and GFLOP/s per line, and a
//! sanity line per config (loss on bank batch 0 before/after, parameters finite).
//!
//! For config D, the same step is also timed with each stateful optimizer of the fused
//! [`Trainer`] (`mode=train_momentum`, `train_adam`, `train_adamw`, `train_rmsprop`; the SGD
//! hyperparameters' learning rate, PyTorch's defaults otherwise).
//!
//! Env: `BENCH_REPS` (7), `BENCH_REP_SECS` (0.3), `BENCH_CONFIGS` (`T,D,M`), and
//! `BENCH_FUSED=1` to also time [`train_step_fused`] (stderr only, `mode=train_fused`).
//!
//! Run: `cargo run --release --example bench`, or with `RUSTFLAGS="-C target-cpu=native"`;
//! add `--features fma` for the fused kernels (other `check:` hashes: another contract).

use constnn::quant::{Calibration, argmax_i8};
use constnn::{
    Adam, AdamW, Batch, CacheOf, CrossEntropy, GradsOf, Linear, Module, Momentum, Optimizer,
    Params, Relu, RmsProp, Sgd, Trainer, XorShiftRng, Zeroed, argmax, cross_entropy,
    standard_normal, train_step, train_step_fused,
};
use rand_core::SeedableRng;
use std::hint::black_box;

#[path = "common/fnv.rs"]
mod fnv;

use fnv::Fnv1a;
use std::time::Instant;

const BANK: usize = 8;
const LR: f32 = 1e-3;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn reps() -> usize {
    env_or("BENCH_REPS", 7usize).max(1)
}

fn rep_secs() -> f64 {
    env_or("BENCH_REP_SECS", 0.3f64)
}

fn config_selected(c: &str) -> bool {
    let sel = std::env::var("BENCH_CONFIGS").unwrap_or_else(|_| "T,D,M".to_string());
    sel.split(',').any(|s| s.trim() == c)
}

/// Useful FLOPs per step, 2·m·n·k per matrix product: train = x·W1, h·W2, hᵀ·dy, dy·W2ᵀ,
/// xᵀ·dh = 2·N·H·(2·IN + 3·OUT); infer = x·W1, h·W2 = 2·N·H·(IN + OUT).
fn flops(train: bool, i: usize, h: usize, o: usize, n: usize) -> f64 {
    if train {
        (2 * n * h * (2 * i + 3 * o)) as f64
    } else {
        (2 * n * h * (i + o)) as f64
    }
}

/// `f(k)` runs `k` steps. Returns the ns per step of each repetition and the iterations per
/// repetition. The doubling calibration doubles as the warm-up.
fn measure<F: FnMut(u64)>(mut f: F) -> (Vec<f64>, u64) {
    let target = rep_secs();
    let mut iters: u64 = 1;
    loop {
        let t0 = Instant::now();
        f(iters);
        let dt = t0.elapsed().as_secs_f64();
        if dt >= target / 4.0 {
            iters = ((iters as f64) * target / dt).max(1.0) as u64;
            break;
        }
        iters *= 2;
    }
    let mut out = Vec::with_capacity(reps());
    for _ in 0..reps() {
        let t0 = Instant::now();
        f(iters);
        out.push(t0.elapsed().as_nanos() as f64 / iters as f64);
    }
    (out, iters)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        0.5 * (s[m - 1] + s[m])
    }
}

fn report(cfg: &str, mode: &str, ns: &[f64], iters: u64, flops: f64, stdout: bool) {
    let med = median(ns);
    if stdout {
        println!(
            "peer=constnn config={cfg} mode={mode} steps_per_s={:.1} ns_per_step={med:.1}",
            1e9 / med
        );
    }
    let lo = ns.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ns.iter().copied().fold(0.0, f64::max);
    eprintln!(
        "# peer=constnn config={cfg} mode={mode} reps={} iters_per_rep={iters} min_ns={lo:.1} \
         median_ns={med:.1} max_ns={hi:.1} spread_pct={:.1} gflops={:.3}",
        ns.len(),
        100.0 * (hi - lo) / med,
        flops / med
    );
}

/// The bank of 8 fixed batches: `x ~ N(0, 1)`, classes from the peers' formula.
fn make_bank<const N: usize, const IN: usize, const OUT: usize>(
    rng: &mut XorShiftRng,
) -> Vec<(Batch<N, IN>, [usize; N])> {
    (0..BANK)
        .map(|b| {
            let mut x = [[0.0f32; IN]; N];
            for v in x.as_flattened_mut() {
                *v = standard_normal(rng);
            }
            let labels: [usize; N] = core::array::from_fn(|r| (r * 7 + b * 3 + (r * b) % 5) % OUT);
            (x, labels)
        })
        .collect()
}

fn all_finite<P: Params>(p: &P) -> bool {
    let mut ok = true;
    p.visit(&mut |s: &[f32]| ok &= s.iter().all(|v| v.is_finite()));
    ok
}

/// FNV-1a (64 bits) over the little-endian bytes of every parameter's bits, in `visit` order.
fn param_hash<P: Params>(p: &P) -> u64 {
    fnv::params(p)
}

fn bench<const IN: usize, const H: usize, const OUT: usize, const N: usize>(cfg: &str, int8: bool) {
    let (f_train, f_infer) = (flops(true, IN, H, OUT, N), flops(false, IN, H, OUT, N));
    eprintln!(
        "# peer=constnn config={cfg} shape={IN}-{H}-{OUT} batch={N} useful_flops_per_step: \
         train={f_train} infer={f_infer}"
    );
    let mut rng = XorShiftRng::seed_from_u64(1);
    // Boxed: config M's model and gradients are 400 KB each, its input cache 100 KB.
    let mut model: Box<(Linear<IN, H>, Relu, Linear<H, OUT>)> = Box::new(Zeroed::ZERO);
    model.init(&mut rng);
    let mut grads: Box<GradsOf<(Linear<IN, H>, Relu, Linear<H, OUT>)>> = Box::new(Zeroed::ZERO);
    let mut cache: Box<CacheOf<(Linear<IN, H>, Relu, Linear<H, OUT>), Batch<N, IN>>> =
        Box::new(Zeroed::ZERO);
    let bank = make_bank::<N, IN, OUT>(&mut rng);
    let sgd = Sgd::new(LR).expect("valid learning rate");

    let loss0 = |m: &(Linear<IN, H>, Relu, Linear<H, OUT>)| {
        cross_entropy(&m.forward(&bank[0].0), &bank[0].1)
    };
    let before = loss0(&model);

    // Bit-reproducibility check (not timed): the parameters after CHECK_STEPS steps on a copy
    // of the model. The same line must come out of every build (default, native, before/after
    // an optimization of the kernels).
    const CHECK_STEPS: usize = 64;
    let mut copy = model.clone();
    // One FNV round per loss's (and below, per logit's) 32 bits, 64-bit state; this one starts
    // from 0, not from the offset basis (as it always has: the printed value is kept).
    let mut losses = Fnv1a::<u64>(0);
    for s in 0..CHECK_STEPS {
        let (x, labels) = &bank[s % BANK];
        let loss =
            train_step(&mut *copy, &mut *cache, &mut *grads, x, labels, &sgd).expect("finite loss");
        losses.write_word(loss.to_bits());
    }
    let losses = losses.0;
    let mut fused = model.clone();
    for s in 0..CHECK_STEPS {
        let (x, labels) = &bank[s % BANK];
        train_step_fused(&mut *fused, &mut *cache, x, labels, &sgd).expect("finite loss");
    }
    let mut logits = Fnv1a::<u64>::new();
    for (x, _) in &bank {
        for v in copy.forward(x).as_flattened() {
            logits.write_word(v.to_bits());
        }
    }
    let logits = logits.0;
    eprintln!(
        "# peer=constnn config={cfg} check: after {CHECK_STEPS} train_step calls \
         params_fnv1a={:016x} (train_step_fused: {:016x}) losses_fnv={losses:016x} \
         logits_fnv={logits:016x} loss={:.6}",
        param_hash(&*copy),
        param_hash(&*fused),
        loss0(&copy).unwrap_or(f32::NAN)
    );
    drop((copy, fused));

    let (ns, iters) = measure(|k| {
        for s in 0..k {
            let (x, labels) = &bank[s as usize % BANK];
            let loss = train_step(
                &mut *model,
                &mut *cache,
                &mut *grads,
                black_box(x),
                labels,
                &sgd,
            )
            .expect("finite loss");
            black_box(loss);
        }
    });
    report(cfg, "train", &ns, iters, f_train, true);
    eprintln!(
        "# peer=constnn config={cfg} sanity: loss(batch0) {:.4} -> {:.4} finite={}",
        before.unwrap_or(f32::NAN),
        loss0(&model).unwrap_or(f32::NAN),
        all_finite(&*model)
    );

    let (ns, iters) = measure(|k| {
        for s in 0..k {
            let (x, _) = &bank[s as usize % BANK];
            let logits = black_box(&*model).forward(black_box(x));
            let classes: [usize; N] = core::array::from_fn(|r| argmax(&logits[r]));
            black_box(&classes);
        }
    });
    report(cfg, "infer", &ns, iters, f_infer, true);

    if int8 {
        let mut calibration = Calibration::<(Linear<IN, H>, Relu, Linear<H, OUT>)>::new();
        for (x, _) in &bank {
            calibration.observe(&*model, x);
        }
        let q = Box::new(calibration.quantize(&*model).expect("calibrated"));
        let mut agree = 0;
        for (x, _) in &bank {
            let classes = q.classify(&q.quantize_input(x));
            let logits = model.forward(x);
            agree += (0..N).filter(|&r| classes[r] == argmax(&logits[r])).count();
        }
        eprintln!(
            "# peer=constnn config={cfg} int8: {} bytes (f32: {}), argmax agreement with f32 on \
             the bank {agree}/{}",
            size_of_val(&*q),
            size_of_val(&*model),
            BANK * N
        );
        let (ns, iters) = measure(|k| {
            for s in 0..k {
                let (x, _) = &bank[s as usize % BANK];
                let q = black_box(&*q);
                let logits = q.forward(&q.quantize_input(black_box(x)));
                let classes: [usize; N] = core::array::from_fn(|r| argmax_i8(&logits[r]));
                black_box(&classes);
            }
        });
        report(cfg, "infer_int8", &ns, iters, f_infer, true);
        let xq: Vec<[[i8; IN]; N]> = bank.iter().map(|(x, _)| q.quantize_input(x)).collect();
        let (ns, iters) = measure(|k| {
            for s in 0..k {
                let logits = black_box(&*q).forward(black_box(&xq[s as usize % BANK]));
                let classes: [usize; N] = core::array::from_fn(|r| argmax_i8(&logits[r]));
                black_box(&classes);
            }
        });
        report(cfg, "infer_int8_preq", &ns, iters, f_infer, false);
    }

    if env_or("BENCH_FUSED", 0u32) == 1 {
        // The same step without a gradient buffer (bit-identical parameters).
        let (ns, iters) = measure(|k| {
            for s in 0..k {
                let (x, labels) = &bank[s as usize % BANK];
                let loss = train_step_fused(&mut *model, &mut *cache, black_box(x), labels, &sgd)
                    .expect("finite loss");
                black_box(loss);
            }
        });
        report(cfg, "train_fused", &ns, iters, f_train, false);
    }

    if cfg == "D" {
        let model = &mut *model;
        let bank = &bank;
        optimizer_line(
            cfg,
            "train_momentum",
            model,
            bank,
            Momentum::new(LR, 0.9),
            f_train,
        );
        optimizer_line(cfg, "train_adam", model, bank, Adam::new(LR), f_train);
        optimizer_line(cfg, "train_adamw", model, bank, AdamW::new(LR), f_train);
        optimizer_line(cfg, "train_rmsprop", model, bank, RmsProp::new(LR), f_train);
    }
}

/// Times the fused [`Trainer`] step with optimizer `opt` on a copy of `model`.
fn optimizer_line<
    O: Optimizer,
    const IN: usize,
    const H: usize,
    const OUT: usize,
    const N: usize,
>(
    cfg: &str,
    mode: &str,
    model: &(Linear<IN, H>, Relu, Linear<H, OUT>),
    bank: &[(Batch<N, IN>, [usize; N])],
    opt: Result<O, constnn::Error>,
    flops: f64,
) {
    let mut model = Box::new(*model);
    let mut trainer: Box<Trainer<(Linear<IN, H>, Relu, Linear<H, OUT>), Batch<N, IN>, O>> =
        Box::new(Trainer::new(opt.expect("valid hyperparameters")));
    let (ns, iters) = measure(|k| {
        for s in 0..k {
            let (x, labels) = &bank[s as usize % BANK];
            let loss = trainer
                .step(&mut *model, black_box(x), &CrossEntropy, labels)
                .expect("finite loss");
            black_box(loss);
        }
    });
    report(cfg, mode, &ns, iters, flops, true);
}

fn main() {
    eprintln!(
        "# peer=constnn build: sse2={} avx2={} fma={} avx512f={} (rustc -C target-cpu=native \
         enables the last three on Zen 4) fused_multiply_add={} (the `fma` feature on a target \
         with FMA) reps={} rep_secs={}",
        cfg!(target_feature = "sse2"),
        cfg!(target_feature = "avx2"),
        cfg!(target_feature = "fma"),
        cfg!(target_feature = "avx512f"),
        constnn::FUSED_MULTIPLY_ADD,
        reps(),
        rep_secs()
    );
    if config_selected("T") {
        bench::<4, 16, 3, 8>("T", false);
    }
    if config_selected("D") {
        bench::<64, 32, 10, 10>("D", true);
    }
    if config_selected("M") {
        bench::<784, 128, 10, 32>("M", true);
    }
}
