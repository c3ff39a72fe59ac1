//! The hand-written matrix loops, in one place (private).
//!
//! # The summation-order contract
//!
//! Every output element is a sum in one fixed order, whatever the target, so results are
//! bit-identical on every platform (Rust never contracts `a * b + c` into a fused multiply-add;
//! the `fma` feature opts into the fused contract below):
//! - `y[b][o] = (Σ_i x[b][i]·w[i][o]) + bias[o]`, the sum over `i` ascending from `0.0`;
//! - `dx[b][i] = Σ_o dy[b][o]·w[i][o]`, over `o` ascending from `0.0`;
//! - `dw[i][o] += Σ_b x[b][i]·dy[b][o]` and `db[o] += Σ_b dy[b][o]`, over `b` ascending,
//!   starting from the value already in the buffer;
//! - the fused step: `g = Σ_b x[b][i]·dy[b][o]` over `b` ascending from `0.0`, then the
//!   optimizer's elementwise [`Update::update`](crate::Update::update) on `w[i][o]`, `g` and
//!   the state slot of `w[i][o]`: the same operations as the buffered step on a gradient
//!   buffer summed from zero, so both give the same bits.
//!
//! Three families compute exactly those sequences of operations, one file each:
//! - [`naive`]: one output row at a time, the output index innermost. The reference of the
//!   bit-identity tests; on targets other than `x86_64` its `input_grad` and `col_sums` are
//!   used.
//! - [`compact`], on every target but `x86_64` (Cortex-M, RISC-V microcontrollers, ...):
//!   `affine` and the weight gradients in blocks of 8 outputs whose accumulators stay in
//!   registers, even at `opt-level = "s"`.
//! - `tiled`, on `x86_64` only: register tiles whose accumulators stay in vector registers.
//!
//! Only *which* elements are computed side by side differs between them, never the operations
//! on one element; `kernels_match_naive_bit_for_bit` below checks it on many shapes.
//!
//! # The fused contract (`fma` feature, on a target with FMA)
//!
//! Every product-and-add `acc + a·b` of the sums above goes through [`mul_add`], which is
//! `acc + a * b` (two roundings) by default and one fused multiply-add `fma(a, b, acc)` (one
//! rounding) with the `fma` feature on a target with FMA (`target_feature = "fma"`, e.g.
//! x86-64 built with `-C target-cpu=native`). The order of the sums is the same; only the
//! rounding of each step differs. So the fused build gives the same bits on every target
//! where it is enabled, whichever kernel family runs there, and other bits than the default
//! build. The bias add, `col_sums` and everything outside these kernels (losses, optimizers,
//! `expf`) are the same in both builds. Without target FMA the feature compiles to exactly
//! the default build.

use crate::module::Batch;

/// Whether this build's matrix kernels use fused multiply-add: the `fma` feature on a target
/// with FMA (`target_feature = "fma"`). It tells which summation contract, and so which result
/// bits, the build gives: with `false` (the default, and every target without FMA), the same
/// bits on every target; with `true`, the same bits on every target where it is `true`, and
/// other bits than with `false`.
///
/// ```
/// // `cargo build` with `--features fma` and `RUSTFLAGS="-C target-cpu=native"` on an
/// // x86-64 with FMA gives `true`.
/// if constnn::FUSED_MULTIPLY_ADD {
///     println!("fused multiply-add: results differ from the default build's bits");
/// }
/// ```
pub const FUSED_MULTIPLY_ADD: bool = cfg!(all(feature = "fma", target_feature = "fma"));

/// `acc + a·b`, the one step of every sum of products in the kernels: rounded twice (the
/// default, portable bits) or, under the fused contract, once.
#[inline(always)]
pub(crate) fn mul_add(acc: f32, a: f32, b: f32) -> f32 {
    #[cfg(all(feature = "fma", target_feature = "fma"))]
    {
        a.mul_add(b, acc)
    }
    #[cfg(not(all(feature = "fma", target_feature = "fma")))]
    {
        acc + a * b
    }
}

#[cfg(any(test, not(target_arch = "x86_64")))]
pub(crate) mod compact;
#[cfg(any(test, not(target_arch = "x86_64")))]
// Outside tests, microcontrollers use only `input_grad` and `col_sums` of these.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod naive;
#[cfg(target_arch = "x86_64")]
mod tiled;

#[cfg(target_arch = "x86_64")]
pub(crate) use tiled::{affine, col_sums, input_grad, weight_grad, weight_grad_step};

#[cfg(not(target_arch = "x86_64"))]
pub(crate) use compact::{affine, weight_grad, weight_grad_step};
#[cfg(not(target_arch = "x86_64"))]
pub(crate) use naive::{col_sums, input_grad};

/// The weight gradient and the fused step, one row of `dW` at a time, for a given row kernel
/// `row(x, i, dy, acc)` that adds row `i` of `xᵀ·dy` into `acc` (shared by `naive` and `compact`).
#[cfg(any(test, not(target_arch = "x86_64")))]
mod by_rows {
    use super::Batch;
    use crate::optim::Update;

    /// A row kernel: adds row `i` of `xᵀ·dy` into `acc`.
    pub(super) type Row<const B: usize, const IN: usize, const OUT: usize> =
        fn(&Batch<B, IN>, usize, &Batch<B, OUT>, &mut [f32; OUT]);

    /// `dw += xᵀ·dy`.
    #[inline(always)]
    pub(super) fn weight_grad<const B: usize, const IN: usize, const OUT: usize>(
        x: &Batch<B, IN>,
        dy: &Batch<B, OUT>,
        dw: &mut [[f32; OUT]; IN],
        row: Row<B, IN, OUT>,
    ) {
        for (i, g) in dw.iter_mut().enumerate() {
            row(x, i, dy, g);
        }
    }

    /// Each gradient row summed from zero, then the optimizer's update of that row.
    #[inline(always)]
    pub(super) fn weight_grad_step<U: Update, const B: usize, const IN: usize, const OUT: usize>(
        x: &Batch<B, IN>,
        dy: &Batch<B, OUT>,
        w: &mut [[f32; OUT]; IN],
        state: &mut [[U::Slot; OUT]; IN],
        update: &U,
        row: Row<B, IN, OUT>,
    ) {
        for (i, (wr, sr)) in w.iter_mut().zip(state.iter_mut()).enumerate() {
            let mut g = [0.0; OUT];
            row(x, i, dy, &mut g);
            update.update(wr, &g, sr);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::optim::Update;

    #[test]
    fn affine_matches_naive_loop() {
        let x = [[1.0, 2.0], [3.0, -4.0], [0.5, 0.25]];
        let w = [[1.0, 0.0, -1.0], [2.0, 3.0, 0.5]];
        let b = [0.5, -0.5, 1.0];
        let y = affine(&x, &w, &b);
        for r in 0..3 {
            for o in 0..3 {
                let e = x[r][0] * w[0][o] + x[r][1] * w[1][o] + b[o];
                assert_eq!(y[r][o], e);
            }
        }
    }

    #[test]
    fn grads_match_naive_loops() {
        let x = [[1.0, 2.0], [3.0, -4.0]];
        let w = [[1.0, 0.0, -1.0], [2.0, 3.0, 0.5]];
        let dy = [[0.5, 1.0, -2.0], [1.5, -1.0, 0.25]];
        let dx = input_grad(&dy, &w);
        assert_eq!(dx[1][0], 1.5 - 0.0 - 0.25);
        assert_eq!(dx[0][1], 0.5 * 2.0 + 1.0 * 3.0 + -2.0 * 0.5);
        let mut dw = [[10.0; 3]; 2];
        weight_grad(&x, &dy, &mut dw);
        assert_eq!(
            dw[1],
            [
                10.0 + 2.0 * 0.5 - 4.0 * 1.5,
                10.0 + 2.0 + 4.0,
                10.0 - 4.0 - 1.0
            ]
        );
        let mut s = [0.0; 3];
        col_sums(&dy, &mut s);
        assert_eq!(s, [2.0, 0.0, -1.75]);
    }

    /// `-1 + a·a` for `a = 1 + 2⁻¹²`: `a·a = 1 + 2⁻¹¹ + 2⁻²⁴` exactly, a tie that rounds to
    /// `1 + 2⁻¹¹`, so two roundings give `2⁻¹¹` and one (fused) gives `2⁻¹¹ + 2⁻²⁴`.
    const A: f32 = 1.0 + 1.0 / 4096.0;
    const TWO_ROUNDINGS: f32 = 1.0 / 2048.0;
    const ONE_ROUNDING: f32 = 1.0 / 2048.0 + 1.0 / 16_777_216.0;

    /// The step `acc + a·b` of every kernel family, on shapes that take every tile width and
    /// the padded remainder, is rounded as this build's contract says: once under
    /// [`FUSED_MULTIPLY_ADD`], twice otherwise.
    #[test]
    fn each_product_is_rounded_as_the_contract_says() {
        let expected = if FUSED_MULTIPLY_ADD {
            ONE_ROUNDING
        } else {
            TWO_ROUNDINGS
        };
        assert_ne!(ONE_ROUNDING, TWO_ROUNDINGS);
        let all = |v: &[f32]| v.iter().all(|&e| e.to_bits() == expected.to_bits());

        // y[b][o] = (0 + 1·(-1)) + A·A, then + 0.
        let x = [[1.0, A]; 9];
        let w = [[-1.0; 37], [A; 37]];
        let bias = [0.0; 37];
        for (name, y) in [
            ("affine", affine(&x, &w, &bias)),
            ("naive::affine", naive::affine(&x, &w, &bias)),
            ("compact::affine", compact::affine(&x, &w, &bias)),
        ] {
            assert!(all(y.as_flattened()), "{name}: {y:?}");
        }

        // dx[b][i] = (0 + 1·(-1)) + A·A.
        let dy = [[1.0, A]; 9];
        let w = [[-1.0, A]; 37];
        for (name, dx) in [
            ("input_grad", input_grad(&dy, &w)),
            ("naive::input_grad", naive::input_grad(&dy, &w)),
        ] {
            assert!(all(dx.as_flattened()), "{name}: {dx:?}");
        }

        // dw[i][o] = -1 (in the buffer) + A·A.
        let x = [[A; 9]];
        let dy = [[A; 37]];
        type Kernel = fn(&Batch<1, 9>, &Batch<1, 37>, &mut [[f32; 37]; 9]);
        for (name, kernel) in [
            ("weight_grad", weight_grad as Kernel),
            ("naive::weight_grad", naive::weight_grad),
            ("compact::weight_grad", compact::weight_grad),
        ] {
            let mut dw = [[-1.0; 37]; 9];
            kernel(&x, &dy, &mut dw);
            assert!(all(dw.as_flattened()), "{name}: {dw:?}");
        }

        // The fused step: g = (0 + 1·(-1)) + A·A, then w = 0 - 1·g.
        let x = [[1.0; 9], [A; 9]];
        let dy = [[-1.0; 37], [A; 37]];
        let sgd = crate::Sgd::new(1.0).unwrap();
        type Step = fn(
            &Batch<2, 9>,
            &Batch<2, 37>,
            &mut [[f32; 37]; 9],
            &mut [[[f32; 0]; 37]; 9],
            &crate::Sgd,
        );
        for (name, step) in [
            ("weight_grad_step", weight_grad_step as Step),
            ("naive::weight_grad_step", naive::weight_grad_step),
            ("compact::weight_grad_step", compact::weight_grad_step),
        ] {
            let mut w = [[0.0; 37]; 9];
            step(&x, &dy, &mut w, &mut [[[]; 37]; 9], &sgd);
            let g = w.map(|r| r.map(|v| -v));
            assert!(all(g.as_flattened()), "{name}: {w:?}");
        }
    }

    /// Random values of varied magnitude (2^-20 to 2^20 times N(0, 1), so that any change of
    /// summation order shows in the last bits), with exact zeros of both signs and ones; or,
    /// with `zeros`, mostly zeros of both signs and a few ±1 (sums of only zero products show
    /// whether a sum starts from `0.0`, and `-0.0 + 0.0` which operand comes first).
    fn fill(v: &mut [f32], rng: &mut crate::XorShiftRng, zeros: bool) {
        use rand_core::Rng;
        for e in v {
            let k = rng.next_u32();
            *e = if zeros {
                [0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 1.0, -1.0][k as usize % 8]
            } else {
                match k % 16 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => 1.0,
                    _ => {
                        let scale = f32::from_bits((107 + (k >> 8) % 41) << 23);
                        crate::standard_normal(rng) * scale
                    }
                }
            };
        }
    }

    fn same_bits(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    /// Every kernel in use against [`naive`], bit for bit, on one shape.
    fn check_shape<const B: usize, const IN: usize, const OUT: usize>(seed: u64) {
        check_values::<B, IN, OUT>(seed, false);
        check_values::<B, IN, OUT>(seed, true);
    }

    /// The fused step of every kernel family against [`naive`], bit for bit, parameters and state.
    fn check_step<U: Update, const B: usize, const IN: usize, const OUT: usize>(
        x: &Batch<B, IN>,
        dy: &Batch<B, OUT>,
        w: &[[f32; OUT]; IN],
        s: &[[U::Slot; OUT]; IN],
        update: &U,
        shape: (usize, usize, usize, bool),
    ) {
        let (mut w_ref, mut s_ref) = (*w, *s);
        naive::weight_grad_step(x, dy, &mut w_ref, &mut s_ref, update);
        let (mut w1, mut s1) = (*w, *s);
        weight_grad_step(x, dy, &mut w1, &mut s1, update);
        let (mut w_c, mut s_c) = (*w, *s);
        compact::weight_grad_step(x, dy, &mut w_c, &mut s_c, update);
        for (name, wk, sk) in [("in use", &w1, &s1), ("compact", &w_c, &s_c)] {
            assert!(
                same_bits(wk.as_flattened(), w_ref.as_flattened()),
                "weight_grad_step ({name}) {shape:?}"
            );
            let floats = |s: &[[U::Slot; OUT]; IN]| -> std::vec::Vec<f32> {
                crate::Slot::floats(s.as_flattened()).to_vec()
            };
            assert!(
                same_bits(&floats(sk), &floats(&s_ref)),
                "weight_grad_step state ({name}) {shape:?}"
            );
        }
    }

    fn check_values<const B: usize, const IN: usize, const OUT: usize>(seed: u64, zeros: bool) {
        use rand_core::SeedableRng;
        let mut rng = crate::XorShiftRng::seed_from_u64(seed);
        let mut x = [[0.0f32; IN]; B];
        let mut w = [[0.0f32; OUT]; IN];
        let mut bias = [0.0f32; OUT];
        let mut dy = [[0.0f32; OUT]; B];
        let mut dw = [[0.0f32; OUT]; IN];
        let mut db = [0.0f32; OUT];
        fill(x.as_flattened_mut(), &mut rng, zeros);
        fill(w.as_flattened_mut(), &mut rng, zeros);
        fill(&mut bias, &mut rng, zeros);
        fill(dy.as_flattened_mut(), &mut rng, zeros);
        fill(dw.as_flattened_mut(), &mut rng, zeros);
        fill(&mut db, &mut rng, zeros);
        let shape = (B, IN, OUT, zeros);

        let y = affine(&x, &w, &bias);
        let y_ref = naive::affine(&x, &w, &bias);
        assert!(
            same_bits(y.as_flattened(), y_ref.as_flattened()),
            "affine {shape:?}"
        );

        let dx = input_grad(&dy, &w);
        let dx_ref = naive::input_grad(&dy, &w);
        assert!(
            same_bits(dx.as_flattened(), dx_ref.as_flattened()),
            "input_grad {shape:?}"
        );

        let mut g = dw;
        let mut g_ref = dw;
        weight_grad(&x, &dy, &mut g);
        naive::weight_grad(&x, &dy, &mut g_ref);
        assert!(
            same_bits(g.as_flattened(), g_ref.as_flattened()),
            "weight_grad {shape:?}"
        );

        let sgd = crate::Sgd::new(0.375 + (seed % 7) as f32 * 1e-3).unwrap();
        check_step(&x, &dy, &w, &[[[]; OUT]; IN], &sgd, shape);
        // A stateful update (Adam, step 3), from random moments (the second one non-negative).
        let adam = crate::Optimizer::begin(&crate::Adam::new(0.01).unwrap(), 3);
        let mut s = [[[0.0f32; 2]; OUT]; IN];
        fill(s.as_flattened_mut().as_flattened_mut(), &mut rng, zeros);
        for [_, v] in s.as_flattened_mut() {
            *v = v.abs();
        }
        check_step(&x, &dy, &w, &s, &adam, shape);

        // The microcontroller kernels, checked on the host too.
        let y_c = compact::affine(&x, &w, &bias);
        assert!(
            same_bits(y_c.as_flattened(), y_ref.as_flattened()),
            "compact::affine {shape:?}"
        );
        let mut g_c = dw;
        compact::weight_grad(&x, &dy, &mut g_c);
        assert!(
            same_bits(g_c.as_flattened(), g_ref.as_flattened()),
            "compact::weight_grad {shape:?}"
        );

        let mut s = db;
        let mut s_ref = db;
        col_sums(&dy, &mut s);
        naive::col_sums(&dy, &mut s_ref);
        assert!(same_bits(&s, &s_ref), "col_sums {shape:?}");
    }

    macro_rules! check_shapes {
        ($($b:literal $i:literal $o:literal),* $(,)?) => {{
            let mut seed = 0;
            $(
                seed += 1;
                check_shape::<$b, $i, $o>(seed);
            )*
        }};
    }

    /// The kernels in use (tiled on x86_64) give the same bits as the plain loops,
    /// on shapes that exercise every tile width and remainder, and the benchmark's shapes.
    #[test]
    fn kernels_match_naive_bit_for_bit() {
        // The 784×128 layer needs ~3 MB of stack for its copies.
        let big = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(|| check_shape::<32, 784, 128>(99))
            .unwrap();
        check_shapes!(
            1 1 1, 1 3 2, 2 1 5, 3 5 7, 4 4 4, 5 7 3, 7 9 13, 8 4 16, 8 16 3, 9 17 33,
            10 64 32, 10 32 10, 11 31 63, 4 8 65, 13 65 100, 6 100 129, 3 33 200,
            16 128 64, 17 63 127, 32 128 10, 33 10 128, 2 40 37, 10 784 16, 32 16 8,
            0 3 2, 2 0 3, 2 3 0,
        );
        big.join().unwrap();
    }
}
