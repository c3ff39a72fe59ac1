//! The int8 fully connected layer.

use crate::error::Error;
use crate::module::Module;
use crate::quant::fixed_point::quantize_multiplier;
use crate::quant::params::QParams;

/// An int8 fully connected layer (inference only): TFLite's per-channel int8 `FULLY_CONNECTED`.
///
/// For an int8 input row `x` (zero point `z_in`) and each output `o`:
///
/// ```text
/// acc[o] = bias[o] + Σ_i (x[i] − z_in) · w[o][i]                 (i32)
/// y[o]   = clamp(z_out + MBQM(acc[o], multiplier[o], shift[o]), act_min, act_max)
/// ```
///
/// where `MBQM` is TFLite's double-rounding
/// [`multiply_by_quantized_multiplier`] of the real factor `s_in · s_w[o] / s_out`:
///
/// - weights: symmetric, per output channel: `w_real[i][o] = s_w[o] · weight[o][i]`, zero
///   point 0, values in `−127..=127`;
/// - bias: `i32` at scale `s_in · s_w[o]`, zero point 0;
/// - input and output: asymmetric int8 ([`QParams`]);
/// - a fused ReLU is the clamp `act_min = z_out` (the real value 0), otherwise the clamp is
///   the int8 range.
///
/// **Layout**: `weight[o]` is the row of output `o`, `[[i8; IN]; OUT]` (TFLite's `[out, in]`
/// filter layout, and the transpose of [`Linear`](crate::Linear)'s `weight[i][o]`): each
/// output's dot product reads one contiguous row. At construction the input zero point is
/// folded into the bias, `bias'[o] = bias[o] − z_in · Σ_i w[o][i]` (as CMSIS-NN does), so the
/// inner loop is a pure `Σ x·w` in `i32` (wrapping, which is the same sum modulo 2^32).
///
/// Memory: `IN·OUT + 9·OUT + 12` bytes rounded up to a multiple of 4 (weights; per output a
/// folded bias, a multiplier and a shift; the input and output scales and zero points and the
/// clamp): 2348 for `QLinear<64, 32>`, 424 for `QLinear<32, 10>`.
///
/// # Examples
///
/// ```
/// use constnn::Module;
/// use constnn::quant::{QLinear, QParams};
///
/// let input = QParams { scale: 0.5, zero_point: 0 };
/// let output = QParams { scale: 1.0, zero_point: -10 };
/// // y = 0.5·(x·w + bias) with w = [1, 2], weight scale 1.
/// let q = QLinear::<2, 1>::from_quantized([[1, 2]], [4], &[1.0], input, output, false)?;
/// assert_eq!(q.forward(&[[2, 3]]), [[-10 + 6]]); // 0.5·(2 + 6 + 4) = 6
/// # Ok::<(), constnn::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QLinear<const IN: usize, const OUT: usize> {
    weight: [[i8; IN]; OUT],
    /// `bias[o] − z_in · Σ_i weight[o][i]`, wrapping.
    folded_bias: [i32; OUT],
    multiplier: [i32; OUT],
    shift: [i8; OUT],
    /// The scales as bits, so that the layer is `Eq`; four `i8` fields pack after them.
    input_scale: u32,
    output_scale: u32,
    input_zero_point: i8,
    output_zero_point: i8,
    act_min: i8,
    act_max: i8,
}

impl<const IN: usize, const OUT: usize> QLinear<IN, OUT> {
    /// A layer from its quantized parts, as stored in a TFLite model: int8 weights
    /// `weight[o][i]`, `i32` bias at scale `s_in · weight_scales[o]`, the per-channel weight
    /// scales, the input and output parameters, and whether a ReLU is fused.
    ///
    /// The requantization constants are `quantize_multiplier(s_in · s_w[o] / s_out)` with the
    /// product and quotient in `f64` from the `f32` scales, as TFLite computes them. A weight
    /// scale of 0 (an all-zero channel) gives multiplier 0: that output is `z_out`.
    ///
    /// # Errors
    ///
    /// [`Error::ScaleOutOfRange`] if a scale is not finite and positive (a weight scale may be
    /// 0), or a multiplier is out of range ([`quantize_multiplier`]).
    pub fn from_quantized(
        weight: [[i8; IN]; OUT],
        bias: [i32; OUT],
        weight_scales: &[f32; OUT],
        input: QParams,
        output: QParams,
        relu: bool,
    ) -> Result<Self, Error> {
        let input = input.validate()?;
        let output = output.validate()?;
        let mut multiplier = [0; OUT];
        let mut shift = [0; OUT];
        let mut folded_bias = [0; OUT];
        for o in 0..OUT {
            let s_w = weight_scales[o];
            if !(s_w.is_finite() && s_w >= 0.0) {
                return Err(Error::ScaleOutOfRange);
            }
            let real = f64::from(input.scale) * f64::from(s_w) / f64::from(output.scale);
            let (m, s) = quantize_multiplier(real)?;
            multiplier[o] = m;
            // quantize_multiplier returns shifts in -31..=30.
            shift[o] = s as i8;
            let sum = weight[o]
                .iter()
                .fold(0i32, |a, &w| a.wrapping_add(i32::from(w)));
            folded_bias[o] = bias[o].wrapping_sub(i32::from(input.zero_point).wrapping_mul(sum));
        }
        Ok(Self {
            weight,
            folded_bias,
            multiplier,
            shift,
            input_scale: input.scale.to_bits(),
            output_scale: output.scale.to_bits(),
            input_zero_point: input.zero_point,
            output_zero_point: output.zero_point,
            act_min: if relu { output.zero_point } else { -128 },
            act_max: 127,
        })
    }

    /// The int8 weights, `weight()[o][i]` (one row per output).
    pub fn weight(&self) -> &[[i8; IN]; OUT] {
        &self.weight
    }

    /// The `i32` bias (at scale `s_in · s_w[o]`), as stored in a TFLite model: the folded bias
    /// with `z_in · Σ_i w[o][i]` added back.
    pub fn bias(&self) -> [i32; OUT] {
        let z = i32::from(self.input_zero_point);
        core::array::from_fn(|o| {
            let sum = self.weight[o]
                .iter()
                .fold(0i32, |a, &w| a.wrapping_add(i32::from(w)));
            self.folded_bias[o].wrapping_add(z.wrapping_mul(sum))
        })
    }

    /// The bias with the input zero point folded in: `bias[o] − z_in · Σ_i w[o][i]`.
    pub fn folded_bias(&self) -> &[i32; OUT] {
        &self.folded_bias
    }

    /// The per-channel Q0.31 multipliers (see [`quantize_multiplier`]).
    pub fn multiplier(&self) -> &[i32; OUT] {
        &self.multiplier
    }

    /// The per-channel shifts (positive = left; see [`quantize_multiplier`]).
    pub fn shift(&self) -> &[i8; OUT] {
        &self.shift
    }

    /// The quantization of the input.
    pub fn input(&self) -> QParams {
        QParams {
            scale: f32::from_bits(self.input_scale),
            zero_point: self.input_zero_point,
        }
    }

    /// The quantization of the output.
    pub fn output(&self) -> QParams {
        QParams {
            scale: f32::from_bits(self.output_scale),
            zero_point: self.output_zero_point,
        }
    }

    /// The output clamp `(act_min, act_max)`: `(z_out, 127)` with a fused ReLU, else
    /// `(−128, 127)`.
    pub fn activation_range(&self) -> (i8, i8) {
        (self.act_min, self.act_max)
    }

    /// The `i32` accumulators of one input row: `folded_bias[o] + Σ_i x[i]·w[o][i]`.
    ///
    /// Blocks of [`ROWS`] outputs share each input byte loaded (see `dot_rows`).
    #[inline]
    fn accumulate(&self, x: &[i8; IN]) -> [i32; OUT] {
        let mut acc = self.folded_bias;
        let (rows, rest) = self.weight.as_chunks::<ROWS>();
        let (accs, acc_rest) = acc.as_chunks_mut::<ROWS>();
        for (w, a) in rows.iter().zip(accs) {
            dot_rows(x, w, a);
        }
        for (w, a) in rest.iter().zip(acc_rest) {
            dot_row(x, w, a);
        }
        acc
    }

    /// `clamp(z_out + MBQM(acc, m, shift), act_min, act_max)` for every output.
    #[inline]
    fn requantize(&self, acc: &[i32; OUT], y: &mut [i8; OUT]) {
        let z = i32::from(self.output_zero_point);
        let (lo, hi) = (i32::from(self.act_min), i32::from(self.act_max));
        for o in 0..OUT {
            let (m, s) = (self.multiplier[o], i32::from(self.shift[o]));
            y[o] = requantize(acc[o], m, s, z, lo, hi);
        }
    }
}

/// `a + Σ_j x[j]·w[j]` over four inputs (wrapping `i32`; the order of integer additions does
/// not change the result).
#[inline(always)]
fn mac4(a: i32, x: &[i8; 4], w: &[i8; 4]) -> i32 {
    a.wrapping_add(i32::from(x[0]) * i32::from(w[0]))
        .wrapping_add(i32::from(x[1]) * i32::from(w[1]))
        .wrapping_add(i32::from(x[2]) * i32::from(w[2]))
        .wrapping_add(i32::from(x[3]) * i32::from(w[3]))
}

/// `a + Σ_i x[i]·w[i]` over a tail of fewer than four inputs.
#[inline(always)]
fn mac_tail(a: i32, x: &[i8], w: &[i8]) -> i32 {
    x.iter()
        .zip(w)
        .fold(a, |a, (&x, &w)| a.wrapping_add(i32::from(x) * i32::from(w)))
}

/// `s[r] += Σ_i x[i]·w[r][i]` for 4 weight rows at once, four inputs per loop trip: each input
/// byte loaded serves the 4 rows (the loads of `x` in one trip are shared by the four
/// `mac4`), and there is one loop counter update per 16 products, even at `opt-level = "s"`.
/// Written out row by row rather than as a loop over rows, which `opt-level = "s"` would not
/// unroll. Used on microcontrollers with enough registers (ARMv7-M/ARMv8-M, RISC-V).
#[cfg(any(
    all(target_arch = "arm", target_has_atomic = "32"),
    target_arch = "riscv32"
))]
#[inline(always)]
fn dot_rows<const IN: usize>(x: &[i8; IN], w: &[[i8; IN]; ROWS], s: &mut [i32; ROWS]) {
    let [mut a0, mut a1, mut a2, mut a3] = *s;
    let [w0, w1, w2, w3] = w;
    let (xc, xt) = x.as_chunks::<4>();
    let (c0, t0) = w0.as_chunks::<4>();
    let (c1, t1) = w1.as_chunks::<4>();
    let (c2, t2) = w2.as_chunks::<4>();
    let (c3, t3) = w3.as_chunks::<4>();
    for ((((xk, k0), k1), k2), k3) in xc.iter().zip(c0).zip(c1).zip(c2).zip(c3) {
        // Input-major within the trip, written out (`opt-level = "s"` would not unroll a
        // loop over `j`): each `x[j]` is live for its four products only.
        let mut step = |j: usize| {
            let xi = i32::from(xk[j]);
            a0 = a0.wrapping_add(xi * i32::from(k0[j]));
            a1 = a1.wrapping_add(xi * i32::from(k1[j]));
            a2 = a2.wrapping_add(xi * i32::from(k2[j]));
            a3 = a3.wrapping_add(xi * i32::from(k3[j]));
        };
        step(0);
        step(1);
        step(2);
        step(3);
    }
    *s = [
        mac_tail(a0, xt, t0),
        mac_tail(a1, xt, t1),
        mac_tail(a2, xt, t2),
        mac_tail(a3, xt, t3),
    ];
}

/// One row at a time, a plain reduction, elsewhere:
///
/// - on the Cortex-M0 it is the tightest loop LLVM makes (`ldrsb`, `ldrsb`, `muls`, `adds` and
///   the loop test: 7 instructions per product): Thumb-1's `ldrsb` only takes a register
///   offset and the core has 8 low registers, so blocking rows or unrolling makes LLVM spill
///   and rematerialize offsets, which costs more than it saves;
/// - on hosts with SIMD (x86-64, AArch64) LLVM vectorizes this reduction (at `opt-level = 3`
///   on x86-64: sign extension and `pmaddwd`), which the blocked form prevents.
#[cfg(not(any(
    all(target_arch = "arm", target_has_atomic = "32"),
    target_arch = "riscv32"
)))]
#[inline(always)]
fn dot_rows<const IN: usize>(x: &[i8; IN], w: &[[i8; IN]; ROWS], s: &mut [i32; ROWS]) {
    let mut a = s[0];
    for (&xi, &u) in x.iter().zip(&w[0]) {
        a = a.wrapping_add(i32::from(xi) * i32::from(u));
    }
    s[0] = a;
}

/// `*s += Σ_i x[i]·w[i]`: one row (the outputs left over after the blocks of [`ROWS`]).
#[inline(always)]
fn dot_row<const IN: usize>(x: &[i8; IN], w: &[i8; IN], s: &mut i32) {
    let (xc, xt) = x.as_chunks::<4>();
    let (wc, wt) = w.as_chunks::<4>();
    let a = xc.iter().zip(wc).fold(*s, |a, (xk, wk)| mac4(a, xk, wk));
    *s = mac_tail(a, xt, wt);
}

/// Output rows per block of the accumulation loop (see the two `dot_rows`).
#[cfg(not(any(
    all(target_arch = "arm", target_has_atomic = "32"),
    target_arch = "riscv32"
)))]
const ROWS: usize = 1;
/// Output rows per block of the accumulation loop (see the two `dot_rows`).
#[cfg(any(
    all(target_arch = "arm", target_has_atomic = "32"),
    target_arch = "riscv32"
))]
const ROWS: usize = 4;

/// The output stage: on targets without a 32×32→64 multiply the bit-identical 32-bit form
/// ([`multiply_by_quantized_multiplier_fast`](crate::quant::multiply_by_quantized_multiplier_fast)),
/// elsewhere one 64-bit product and a one-add second rounding (one `smull` on a Cortex-M4);
/// both give TFLite's bytes for every input (tested against the reference).
///
/// ARMv6-M (Cortex-M0/M0+/M1) is recognized as the Arm target without 32-bit compare-and-swap
/// atomics: stable Rust does not expose Arm's architecture features to `cfg`, and ARMv6-M is
/// the one Arm profile that lacks both `ldrex`/`strex` and `smull`.
#[cfg(all(target_arch = "arm", not(target_has_atomic = "32")))]
use crate::quant::fixed_point::requantize_narrow as requantize;
#[cfg(not(all(target_arch = "arm", not(target_has_atomic = "32"))))]
use crate::quant::fixed_point::requantize_wide as requantize;

impl<const B: usize, const IN: usize, const OUT: usize> Module<[[i8; IN]; B]> for QLinear<IN, OUT> {
    type Output = [[i8; OUT]; B];

    fn forward(&self, x: &[[i8; IN]; B]) -> [[i8; OUT]; B] {
        let mut y = [[0; OUT]; B];
        for (xr, yr) in x.iter().zip(y.iter_mut()) {
            let acc = self.accumulate(xr);
            self.requantize(&acc, yr);
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::fixed_point::multiply_by_quantized_multiplier;

    /// The plain definition, with the zero point subtracted in the loop (TFLite's reference).
    fn reference<const IN: usize, const OUT: usize>(
        q: &QLinear<IN, OUT>,
        x: &[i8; IN],
    ) -> [i8; OUT] {
        let bias = q.bias();
        let z_in = i32::from(q.input().zero_point);
        core::array::from_fn(|o| {
            let mut acc = bias[o];
            for (&xi, &wi) in x.iter().zip(&q.weight()[o]) {
                acc += (i32::from(xi) - z_in) * i32::from(wi);
            }
            let v = multiply_by_quantized_multiplier(acc, q.multiplier[o], q.shift[o].into());
            (v + i32::from(q.output().zero_point)).clamp(q.act_min.into(), 127) as i8
        })
    }

    #[test]
    fn folded_kernel_equals_reference() {
        let mut state = 0x1234_5678u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        let weight: [[i8; 7]; 5] = core::array::from_fn(|_| core::array::from_fn(|_| next() as i8));
        let bias: [i32; 5] = core::array::from_fn(|_| (next() % 4001) as i32 - 2000);
        let scales = [0.01, 0.02, 0.005, 0.0, 0.03];
        for relu in [false, true] {
            let q = QLinear::from_quantized(
                weight,
                bias,
                &scales,
                QParams {
                    scale: 0.05,
                    zero_point: 17,
                },
                QParams {
                    scale: 0.2,
                    zero_point: -3,
                },
                relu,
            )
            .unwrap();
            assert_eq!(q.bias(), bias);
            for _ in 0..200 {
                let x: [i8; 7] = core::array::from_fn(|_| next() as i8);
                assert_eq!(q.forward(&[x])[0], reference(&q, &x));
            }
        }
    }
}
