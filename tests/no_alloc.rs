//! The library never touches the heap: a counting `#[global_allocator]` sees no allocation
//! (and no deallocation) while complete training steps (every optimizer and every loss, through
//! `Trainer` and `BufferedTrainer`, and the SGD one-liners), inference and the data helpers run.
//!
//! The counter is armed per thread (a `thread_local!` flag), so the test harness allocating on
//! its own threads cannot disturb it, and the tests of this file may run in parallel.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::Mutex;

use common::{EachOptimizer, param_bits, rand_batch};
use constnn::rand_core::SeedableRng;
use constnn::{
    Batch, BceWithLogits, BufferedTrainer, CacheOf, CrossEntropy, GradsOf, Linear, Loss, Module,
    Mse, Optimizer, Params, Relu, Remainder, Sgd, SoftCrossEntropy, Trainer, XorShiftRng, Zeroed,
    argmax, batches, count_correct, cross_entropy, cross_entropy_with_logits,
    cross_entropy_with_targets, shuffle, softmax, standard_normal, top_k, train_step,
    train_step_fused,
};

/// Passes every call to the system allocator, counting the calls made by the current thread
/// while it is armed.
struct CountingAllocator;

thread_local! {
    // `const` initializers with no destructor: reading them never allocates.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

fn note_call() {
    // `try_with`: during thread teardown the slots may be gone; nothing is armed then.
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = CALLS.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees carry over; the counting touches only thread-local `Cell`s.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_call();
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_call();
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_call();
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_call();
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Runs `f` with the counter armed on this thread; returns its result and the number of
/// allocator calls (alloc, alloc_zeroed, realloc, dealloc) it made.
fn count_heap_calls<R>(f: impl FnOnce() -> R) -> (R, usize) {
    CALLS.with(|c| c.set(0));
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    (r, CALLS.with(Cell::get))
}

#[test]
fn the_counter_sees_allocations() {
    // Proof that the instrumentation works: deliberate heap use while armed is counted.
    let (_, calls) = count_heap_calls(|| drop(black_box(Vec::<u8>::with_capacity(1))));
    assert_eq!(calls, 2, "one alloc and one dealloc expected");
    let (_, calls) = count_heap_calls(|| drop(black_box(Box::new(black_box(7u64)))));
    assert_eq!(calls, 2);
    let (_, calls) = count_heap_calls(|| black_box(String::from("x")).len());
    assert!(calls >= 1);
    // …and nothing is counted while disarmed.
    drop(black_box(Vec::<u8>::with_capacity(1)));
    let (_, calls) = count_heap_calls(|| black_box(1 + 1));
    assert_eq!(calls, 0);
}

type Mlp = (Linear<64, 32>, Relu, Linear<32, 10>);
const B: usize = 10;
const SAMPLES: usize = 35;

// The buffered step's whole training state in `static`s, as on a microcontroller (the types
// have a `const ZERO`, so no lazy initialization is needed).
static MODEL: Mutex<Mlp> = Mutex::new(Mlp::ZERO);
static GRADS: Mutex<GradsOf<Mlp>> = Mutex::new(Zeroed::ZERO);
static CACHE: Mutex<CacheOf<Mlp, Batch<B, 64>>> = Mutex::new(Zeroed::ZERO);

/// What the armed region produced, checked after disarming.
struct Outcome {
    losses: [f32; 8],
    losses_fused: [f32; 8],
    logits: Batch<1, 64>,
    probabilities: Batch<1, 10>,
    top3: heapless::Vec<usize, 3>,
    predicted: usize,
    correct: usize,
    soft_loss: f32,
    eval_loss: f32,
    errors: [bool; 2],
    extra: f32,
}

#[test]
fn training_and_inference_do_not_allocate() {
    // Everything the armed region needs is created first: the data set, the guards on the
    // static training state, and a second model and cache (locals) for the fused step.
    let mut data_rng = XorShiftRng::seed_from_u64(77);
    let data: Batch<SAMPLES, 64> = rand_batch(&mut data_rng, 0.0, 16.0);
    let labels: [usize; SAMPLES] = core::array::from_fn(|i| i % 10);
    let mut model = MODEL.lock().unwrap();
    let mut grads = GRADS.lock().unwrap();
    let mut cache = CACHE.lock().unwrap();
    let mut fused: Mlp = Zeroed::ZERO;
    let mut fused_cache: CacheOf<Mlp, Batch<B, 64>> = Zeroed::ZERO;
    let before = param_bits(&*model);

    let (outcome, calls) = count_heap_calls(|| {
        let mut rng = XorShiftRng::seed_from_u64(1);
        model.init(&mut rng);
        fused.init(&mut XorShiftRng::seed_from_u64(1));
        let sgd = Sgd::new(0.01).expect("valid learning rate");

        let mut order: [usize; SAMPLES] = core::array::from_fn(|i| i);
        let mut losses = [0.0; 8];
        let mut losses_fused = [0.0; 8];
        let mut step = 0;
        for _epoch in 0..2 {
            shuffle(&mut order, &mut rng);
            for idx in batches::<B, _>(&order, Remainder::Wrap) {
                let x: Batch<B, 64> = idx.map(|i| data[i]);
                let y: [usize; B] = idx.map(|i| labels[i]);
                losses[step] = train_step(&mut *model, &mut *cache, &mut *grads, &x, &y, &sgd)
                    .expect("finite loss");
                losses_fused[step] = train_step_fused(&mut fused, &mut fused_cache, &x, &y, &sgd)
                    .expect("finite loss");
                step += 1;
            }
        }

        // Inference on one sample, and the classification helpers.
        let sample: Batch<1, 64> = [data[3]];
        let out = model.forward(&sample);
        let probabilities = softmax(&out);
        let top3 = top_k::<3, 10>(&out[0]);
        let predicted = argmax(&out[0]);
        let x: Batch<B, 64> = core::array::from_fn(|i| data[i]);
        let y: [usize; B] = core::array::from_fn(|i| labels[i]);
        let logits = model.forward(&x);
        let correct = count_correct(&logits, &y);
        let eval_loss = cross_entropy(&logits, &y).expect("finite loss");
        let one_hot: Batch<1, 10> = [core::array::from_fn(|c| f32::from(c == 3))];
        let (soft_loss, _) = cross_entropy_with_targets(&out, &one_hot).expect("finite loss");

        // The error paths build their errors without allocating too.
        let errors = [
            cross_entropy_with_logits(&out, &[10]).is_err(),
            Sgd::new(f32::NAN).is_err(),
        ];
        // A layer built on the stack from a generator, and a raw normal draw.
        let layer = Linear::<64, 32>::from_rng(&mut rng);
        let extra = layer.weight[5][7] + standard_normal(&mut rng);

        Outcome {
            losses,
            losses_fused,
            logits: sample,
            probabilities,
            top3,
            predicted,
            correct,
            soft_loss,
            eval_loss,
            errors,
            extra,
        }
    });

    assert_eq!(calls, 0, "the library used the heap {calls} times");

    // The armed region really did the work.
    let o = black_box(outcome);
    assert!(o.losses.iter().all(|l| l.is_finite() && *l > 0.0));
    assert_eq!(o.losses, o.losses_fused, "fused and buffered steps differ");
    assert_ne!(param_bits(&*model), before);
    assert_eq!(param_bits(&*model), param_bits(&fused));
    assert_eq!(o.logits, [data[3]]);
    assert!((o.probabilities[0].iter().sum::<f32>() - 1.0).abs() < 1e-5);
    assert_eq!(o.top3.len(), 3);
    assert_eq!(o.top3[0], o.predicted);
    assert!(o.correct <= B);
    assert!(o.soft_loss.is_finite() && o.eval_loss.is_finite());
    assert_eq!(o.errors, [true, true]);
    assert!(o.extra.is_finite());
}

/// Steps of every kind with optimizer `opt` and `loss` on `(x, target)`: the fused step, the
/// fused step in place, and the buffered step taken apart (accumulate, compute, clip, apply) and
/// whole. Returns the losses and the fused and buffered models.
fn steps_of_every_kind<O, L>(
    opt: O,
    loss: &L,
    x: &Batch<B, 64>,
    target: &L::Target,
) -> ([f32; 5], Mlp, Mlp)
where
    O: Optimizer + Copy,
    L: Loss<Batch<B, 10>>,
{
    let mut fused_model = Mlp::ZERO;
    fused_model.init(&mut XorShiftRng::seed_from_u64(3));
    let mut buffered_model = fused_model;
    let mut fused: Trainer<Mlp, Batch<B, 64>, O> = Trainer::new(opt);
    let mut buffered: BufferedTrainer<Mlp, Batch<B, 64>, O> = BufferedTrainer::new(opt);
    let mut losses = [0.0; 5];
    losses[0] = fused.step(&mut fused_model, x, loss, target).unwrap();
    *fused.input_mut() = *x;
    losses[1] = fused.step_in_place(&mut fused_model, loss, target).unwrap();
    losses[2] = buffered
        .accumulate_grads(&mut buffered_model, x, loss, target)
        .unwrap();
    // compute_grads starts from zero again: what the fused step did.
    losses[3] = buffered
        .compute_grads(&mut buffered_model, x, loss, target)
        .unwrap();
    buffered.clip_grad_norm(1e30).unwrap();
    buffered.apply(&mut buffered_model).unwrap();
    losses[4] = buffered.step(&mut buffered_model, x, loss, target).unwrap();
    (losses, fused_model, buffered_model)
}

#[test]
fn every_optimizer_and_loss_trains_without_allocating() {
    struct Run {
        x: Batch<B, 64>,
        labels: [usize; B],
        soft: Batch<B, 10>,
        regression: Batch<B, 10>,
        checked: usize,
    }
    impl EachOptimizer for Run {
        fn run<O: Optimizer + Copy>(&mut self, name: &str, opt: O) {
            let (x, labels, soft, regression) =
                (&self.x, &self.labels, &self.soft, &self.regression);
            let (results, calls) = count_heap_calls(|| {
                [
                    steps_of_every_kind(opt, &CrossEntropy, x, labels),
                    steps_of_every_kind(opt, &SoftCrossEntropy, x, soft),
                    steps_of_every_kind(opt, &Mse, x, regression),
                    steps_of_every_kind(opt, &BceWithLogits, x, soft),
                ]
            });
            assert_eq!(calls, 0, "{name}: the library used the heap {calls} times");
            let mut start = Mlp::ZERO;
            start.init(&mut XorShiftRng::seed_from_u64(3));
            for (losses, fused, buffered) in black_box(results) {
                assert!(
                    losses.iter().all(|l| l.is_finite() && *l > 0.0),
                    "{name}: {losses:?}"
                );
                // The two buffered steps saw the same batches as the two fused ones.
                assert_eq!(
                    param_bits(&fused),
                    param_bits(&buffered),
                    "{name}: fused != buffered"
                );
                assert_ne!(
                    param_bits(&fused),
                    param_bits(&start),
                    "{name}: nothing trained"
                );
            }
            self.checked += 1;
        }
    }
    let mut rng = XorShiftRng::seed_from_u64(78);
    let mut soft: Batch<B, 10> = rand_batch(&mut rng, 0.0, 1.0);
    for row in &mut soft {
        let s: f32 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= s);
    }
    let mut run = Run {
        x: rand_batch(&mut rng, 0.0, 1.0),
        labels: core::array::from_fn(|i| i % 10),
        soft,
        regression: rand_batch(&mut rng, -1.0, 1.0),
        checked: 0,
    };
    common::every_optimizer(&mut run);
    assert_eq!(run.checked, 9);
}

// The layers beyond Linear and Relu, in a named-struct model trained by the 0.2 trainers.
constnn::sequential! {
    #[derive(Clone, Copy)]
    struct Layered {
        hidden: Linear<64, 32>,
        norm: constnn::BatchNorm1d<32>,
        act: constnn::LeakyRelu,
        drop: constnn::Dropout,
        mid: Linear<32, 16>,
        squash: constnn::Sigmoid,
        tanh: (Linear<16, 16>, constnn::Tanh),
        out: Linear<16, 10>,
    }
}

static LAYERED_TRAINER: Mutex<constnn::Trainer<Layered, Batch<B, 64>, constnn::Adam>> =
    Mutex::new(constnn::Trainer::new(match constnn::Adam::new(1e-3) {
        Ok(adam) => adam,
        Err(_) => panic!("valid learning rate"),
    }));

#[test]
fn new_layers_do_not_allocate() {
    use constnn::{BatchNorm1d, CrossEntropy, DropRate, Dropout, EvalStats, LeakyRelu};

    let mut data_rng = XorShiftRng::seed_from_u64(78);
    let data: Batch<SAMPLES, 64> = rand_batch(&mut data_rng, -1.0, 1.0);
    let labels: [usize; SAMPLES] = core::array::from_fn(|i| i % 10);
    let mut trainer = LAYERED_TRAINER.lock().unwrap();
    let mut buffered: Box<constnn::BufferedTrainer<Layered, Batch<B, 64>, Sgd>> =
        Box::new(constnn::BufferedTrainer::new(Sgd::new(0.01).unwrap()));
    let mut model = Layered::ZERO;
    let mut twin = Layered::ZERO;

    let (outcome, calls) = count_heap_calls(|| {
        let mut rng = XorShiftRng::seed_from_u64(3);
        model.drop = Dropout::new(DropRate::new(0.3).expect("valid rate"));
        model.init(&mut rng);
        twin = model;
        let mut losses = [0.0f32; 6];
        let mut order: [usize; SAMPLES] = core::array::from_fn(|i| i);
        let mut step = 0;
        for _epoch in 0..2 {
            shuffle(&mut order, &mut rng);
            for idx in batches::<B, _>(&order, Remainder::Drop) {
                let x: Batch<B, 64> = idx.map(|i| data[i]);
                let y: [usize; B] = idx.map(|i| labels[i]);
                losses[step] = trainer
                    .step(&mut model, &x, &CrossEntropy, &y)
                    .expect("finite loss");
                buffered
                    .step(&mut twin, &x, &CrossEntropy, &y)
                    .expect("finite loss");
                step += 1;
            }
        }
        // Inference one sample at a time, and a batch in the notebook's batch-statistics mode.
        let one = model.forward(&[data[0]]);
        model.norm = model.norm.with_eval_stats(EvalStats::Batch);
        let x: Batch<B, 64> = core::array::from_fn(|i| data[i]);
        let batch = model.forward(&x);
        let errors = [
            DropRate::new(1.0).is_err(),
            LeakyRelu::new(2.0).is_err(),
            BatchNorm1d::<4>::new().with_eps(0.0).is_err(),
            BatchNorm1d::<4>::new().with_momentum(2.0).is_err(),
        ];
        (losses, step, one, batch, errors)
    });

    assert_eq!(calls, 0, "the new layers used the heap {calls} times");
    let (losses, step, one, batch, errors) = black_box(outcome);
    assert_eq!(step, 6);
    assert!(losses.iter().all(|l| l.is_finite() && *l > 0.0));
    assert!(
        one[0]
            .iter()
            .chain(batch.as_flattened())
            .all(|v| v.is_finite())
    );
    assert_eq!(errors, [true; 4]);
    assert_ne!(model.norm.running_mean, [0.0; 32]);
    assert_ne!(param_bits(&twin), param_bits(&model));
}

#[test]
fn weights_formats_do_not_allocate() {
    use constnn::format::container::{Blob, Encoder, blob_len_f32};
    use constnn::format::npy::{Npy, len_f32, write_f32};
    use constnn::format::safetensors::{SafeTensors, TensorSpec, Writer, write_len};
    use constnn::format::{Crc32, crc32};

    const MLP_ST: &[u8] = include_bytes!("data/formats/mlp.safetensors");
    const ESCAPED_ST: &[u8] = include_bytes!("data/formats/escaped.safetensors");
    const V2_NPY: &[u8] = include_bytes!("data/formats/v2.npy");
    const SPECS: [TensorSpec; 2] = [
        TensorSpec {
            name: "0.weight",
            shape: &[2, 3],
        },
        TensorSpec {
            name: "quo\"te",
            shape: &[2],
        },
    ];
    let model: Linear<3, 2> = Linear {
        weight: [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
        bias: [0.5, -0.5],
    };

    let ((sum, fixture_bias, fixture_v2, checks), calls) = count_heap_calls(|| {
        let mut sum = 0.0f32;
        // The container: save through `visit`, validate, load through `visit_mut`.
        let mut blob = [0u8; blob_len_f32(8, 0)];
        let mut enc = Encoder::new(&mut blob, 42, 8).expect("buffer large enough");
        model.visit(&mut |p: &[f32]| enc.push(p));
        enc.finish().expect("all values pushed");
        let parsed = Blob::parse(&blob, 42, 8, None).expect("valid blob");
        let mut back: Linear<3, 2> = Linear::ZERO;
        let mut values = parsed.payload();
        back.visit_mut(&mut |p: &mut [f32]| {
            values.fill(p);
        });
        sum += back.weight[2][1] + back.bias[0];
        let wrong_model = Blob::parse(&blob, 43, 8, None).is_err();
        blob[40] ^= 1;
        let corrupt = Blob::parse(&blob, 42, 8, None).is_err();

        // safetensors: write (escaped name, transposed weight), read back, read a fixture.
        let mut st = [0u8; write_len(&SPECS, &[("format", "pt")])];
        let mut w = Writer::new(&mut st, &SPECS, &[("format", "pt")]).expect("valid specs");
        w.push_transposed(model.weight.as_flattened(), 3, 2);
        w.push(&model.bias);
        w.finish().expect("all values pushed");
        let file = SafeTensors::<4>::parse(&st).expect("valid file");
        let mut w_io = [0.0f32; 6];
        file.get("0.weight")
            .expect("present")
            .read_f32_transposed(2, 3, &mut w_io)
            .expect("F32 [2, 3]");
        sum += w_io[5];
        let reference = SafeTensors::<8>::parse(MLP_ST).expect("valid fixture");
        let mut bias = [0.0f32; 4];
        reference
            .get("0.bias")
            .expect("present")
            .read_f32(&mut bias)
            .expect("F32 [4]");
        let fixture_bias = bias[0];
        let escaped = SafeTensors::<8>::parse(ESCAPED_ST).expect("valid fixture");
        let found = escaped.get("emoji\u{1F600}").is_some();
        let bad_json = SafeTensors::<4>::parse(&MLP_ST[..100]).is_err();

        // .npy: write, read back, read a version 2.0 fixture.
        let mut npy = [0u8; len_f32(&[3, 2])];
        write_f32(&mut npy, &[3, 2], model.weight.as_flattened()).expect("buffer large enough");
        let mut flat = [0.0f32; 6];
        Npy::parse(&npy)
            .expect("valid file")
            .read_f32(&mut flat)
            .expect("<f4");
        sum += flat[4];
        let v2 = Npy::parse(V2_NPY).expect("valid fixture");
        let mut four = [0.0f32; 4];
        v2.read_f32(&mut four).expect("<f4 (2, 2)");
        let fixture_v2 = four[0];
        let bad_npy = Npy::parse(&npy[..50]).is_err();

        let crc = Crc32::new().update(&npy).finish() == crc32(&npy);
        (
            sum,
            fixture_bias,
            fixture_v2,
            [wrong_model, corrupt, found, bad_json, bad_npy, crc],
        )
    });
    assert_eq!(calls, 0, "the weights formats used the heap {calls} times");
    assert!(checks.iter().all(|&b| b), "{checks:?}");
    // weight[2][1] + bias[0] after the container round trip, the same weight through
    // safetensors (transposed and back) and through .npy (flat index 4 = weight[2][0]).
    assert_eq!(sum, 6.0 + 0.5 + 6.0 + 5.0);
    // The fixtures' first values, as read outside the armed region.
    let mut bias = [0.0f32; 4];
    SafeTensors::<8>::parse(MLP_ST)
        .unwrap()
        .get("0.bias")
        .unwrap()
        .read_f32(&mut bias)
        .unwrap();
    let mut four = [0.0f32; 4];
    Npy::parse(V2_NPY).unwrap().read_f32(&mut four).unwrap();
    assert_eq!((fixture_bias, fixture_v2), (bias[0], four[0]));
}

#[test]
fn quantizing_and_int8_inference_do_not_allocate() {
    use constnn::format::{load_quantized, quantized_len, save_quantized};
    use constnn::quant::{Calibration, QuantizedOf};

    type Mlp = (Linear<16, 8>, Relu, Linear<8, 4>);
    let mut model = Mlp::ZERO;
    model.init(&mut XorShiftRng::seed_from_u64(5));
    let x: Batch<6, 16> = rand_batch(&mut XorShiftRng::seed_from_u64(6), -1.0, 1.0);

    let ((classes, reloaded_same), calls) = count_heap_calls(|| {
        // What a device that fine-tuned itself does: calibrate, re-quantize, classify, store.
        let mut calibration = Calibration::<Mlp>::new();
        calibration.observe(&model, black_box(&x));
        let q: QuantizedOf<Mlp> = calibration.quantize(&model).expect("calibrated");
        let classes = q.classify(&q.quantize_input(&x));
        let mut flash = [0u8; quantized_len::<QuantizedOf<Mlp>>()];
        save_quantized(&q, &mut flash).expect("exact buffer");
        let mut back = q;
        back.input.scale *= 2.0;
        load_quantized(&mut back, &flash).expect("valid blob");
        (classes, back == q)
    });
    assert_eq!(calls, 0, "quantization used the heap {calls} times");
    assert!(reloaded_same);
    // The same classes as the model quantized outside the armed region.
    let mut calibration = Calibration::<Mlp>::new();
    calibration.observe(&model, &x);
    let q = calibration.quantize(&model).unwrap();
    assert_eq!(classes, q.classify(&q.quantize_input(&x)));
}
