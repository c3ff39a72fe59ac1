//! The int8 fully connected layer.

use crate::error::Error;
use crate::module::Module;
use crate::quant::fixed_point::quantize_multiplier;
#[cfg(all(target_arch = "arm", target_has_atomic = "32"))]
use crate::quant::kernel_smlal::Packed;
use crate::quant::params::QParams;

/// How the weights are stored: `[[i8; IN]; OUT]`, `weight[o]` the row of output `o`; on Arm
/// targets with a 64-bit multiply-accumulate (ARMv7-M, ARMv7E-M, ARMv8-M Mainline), two
/// bytes per weight in the layout of their kernel (`kernel_smlal.rs`).
#[cfg(not(all(target_arch = "arm", target_has_atomic = "32")))]
type Weights<const IN: usize, const OUT: usize> = [[i8; IN]; OUT];
#[cfg(all(target_arch = "arm", target_has_atomic = "32"))]
type Weights<const IN: usize, const OUT: usize> = Packed<IN, OUT>;

/// The weights in their stored form.
#[cfg(not(all(target_arch = "arm", target_has_atomic = "32")))]
const fn store<const IN: usize, const OUT: usize>(w: &[[i8; IN]; OUT]) -> Weights<IN, OUT> {
    *w
}
#[cfg(all(target_arch = "arm", target_has_atomic = "32"))]
const fn store<const IN: usize, const OUT: usize>(w: &[[i8; IN]; OUT]) -> Weights<IN, OUT> {
    Packed::pack(w)
}

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
/// [`multiply_by_quantized_multiplier`](crate::quant::multiply_by_quantized_multiplier) of the
/// real factor `s_in · s_w[o] / s_out`:
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
/// clamp): 2348 for `QLinear<64, 32>`, 424 for `QLinear<32, 10>`. On Arm targets with a
/// 64-bit multiply-accumulate (ARMv7-M, ARMv7E-M, ARMv8-M Mainline: Cortex-M3/M4/M7/M33/M55)
/// the weights are stored two bytes each, in the layout of that target's kernel (two products
/// per `smlal`; see `src/quant/kernel_smlal.rs`): `IN·OUT` bytes more, 4396 and 744.
/// [`weight`](Self::weight) returns the same `i8` weights on every target.
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
    weight: Weights<IN, OUT>,
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
        }
        Self::from_parts(weight, bias, multiplier, shift, input, output, relu)
    }

    /// A layer from its stored parts, requantization constants included: the inverse of the
    /// accessors ([`weight`](Self::weight), [`bias`](Self::bias),
    /// [`multiplier`](Self::multiplier), [`shift`](Self::shift), [`input`](Self::input),
    /// [`output`](Self::output), and whether [`activation_range`](Self::activation_range)
    /// starts at the output zero point).
    ///
    /// A `const fn` with no float arithmetic: a model stored as bytes becomes a `static` layer
    /// at compile time (`static L: QLinear<…> = match QLinear::from_parts(…) { … }`), in flash
    /// with no code to build it, which is how a firmware that only runs inference embeds its
    /// model. The input zero point is folded into the bias here, as in
    /// [`from_quantized`](Self::from_quantized).
    ///
    /// # Errors
    ///
    /// [`Error::ScaleOutOfRange`] if a scale is not finite and positive, a multiplier is
    /// neither 0 nor in `[2^30, 2^31)`, or a shift is outside `−31..=30` (what
    /// [`quantize_multiplier`] can return).
    ///
    /// # Examples
    ///
    /// ```
    /// use constnn::quant::{QLinear, QParams};
    ///
    /// let input = QParams { scale: 0.5, zero_point: 3 };
    /// let output = QParams { scale: 1.0, zero_point: -10 };
    /// let q = QLinear::<2, 1>::from_quantized([[1, 2]], [4], &[1.0], input, output, true)?;
    /// let r = QLinear::from_parts(
    ///     q.weight(), q.bias(), *q.multiplier(), *q.shift(), q.input(), q.output(), true,
    /// )?;
    /// assert_eq!(r, q);
    /// # Ok::<(), constnn::Error>(())
    /// ```
    pub const fn from_parts(
        weight: [[i8; IN]; OUT],
        bias: [i32; OUT],
        multiplier: [i32; OUT],
        shift: [i8; OUT],
        input: QParams,
        output: QParams,
        relu: bool,
    ) -> Result<Self, Error> {
        let (a, b) = (input.scale, output.scale);
        if !(a.is_finite() && a > 0.0 && b.is_finite() && b > 0.0) {
            return Err(Error::ScaleOutOfRange);
        }
        let mut folded_bias = [0; OUT];
        let z = input.zero_point as i32;
        let mut o = 0;
        while o < OUT {
            if !(multiplier[o] == 0 || multiplier[o] >= 1 << 30) || shift[o] < -31 || shift[o] > 30
            {
                return Err(Error::ScaleOutOfRange);
            }
            let mut sum = 0i32;
            let mut i = 0;
            while i < IN {
                sum = sum.wrapping_add(weight[o][i] as i32);
                i += 1;
            }
            folded_bias[o] = bias[o].wrapping_sub(z.wrapping_mul(sum));
            o += 1;
        }
        Ok(Self {
            weight: store(&weight),
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
    pub fn weight(&self) -> [[i8; IN]; OUT] {
        #[cfg(not(all(target_arch = "arm", target_has_atomic = "32")))]
        return self.weight;
        #[cfg(all(target_arch = "arm", target_has_atomic = "32"))]
        return self.weight.unpack();
    }

    /// The `i32` bias (at scale `s_in · s_w[o]`), as stored in a TFLite model: the folded bias
    /// with `z_in · Σ_i w[o][i]` added back.
    pub fn bias(&self) -> [i32; OUT] {
        let z = i32::from(self.input_zero_point);
        let weight = self.weight();
        core::array::from_fn(|o| {
            let sum = weight[o]
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

    /// One input row to one output row. Not inlined on the Cortex-M0: there the input row of
    /// the second layer lives on the stack, and Thumb-1 cannot index from `sp` with a
    /// register, so an inlined loop recomputes the address of every byte (9 instructions per
    /// product instead of 7); through a call, the row's address is in a register.
    #[cfg_attr(all(target_arch = "arm", not(target_has_atomic = "32")), inline(never))]
    #[cfg_attr(not(all(target_arch = "arm", not(target_has_atomic = "32"))), inline)]
    fn forward_row(&self, x: &[i8; IN], y: &mut [i8; OUT]) {
        #[cfg(all(target_arch = "arm", target_has_atomic = "32"))]
        {
            let z = i32::from(self.output_zero_point);
            let (lo, hi) = (i32::from(self.act_min), i32::from(self.act_max));
            let (m, s) = (&self.multiplier, &self.shift);
            let stage = |o: usize, acc| requantize(acc, m[o], i32::from(s[o]), z, lo, hi);
            crate::quant::kernel_smlal::forward(&self.weight, &self.folded_bias, x, y, stage);
        }
        #[cfg(not(all(target_arch = "arm", target_has_atomic = "32")))]
        if BLOCKED {
            let acc = accumulate_blocked(&self.weight, &self.folded_bias, x);
            self.requantize(&acc, y);
        } else {
            self.forward_row_plain(x, y);
        }
    }

    /// The plain kernel and the output stage fused, output by output: no accumulator array,
    /// so on the Cortex-M0 the output stage's values stay in registers. Two rows per pass
    /// ([`dot2`]) on the Cortex-M0, one ([`dot`]) elsewhere.
    #[cfg(not(all(target_arch = "arm", target_has_atomic = "32")))]
    #[inline(always)]
    fn forward_row_plain(&self, x: &[i8; IN], y: &mut [i8; OUT]) {
        if TWO_ROWS {
            self.forward_row_pairs(x, y);
        } else {
            self.forward_row_single(x, y);
        }
    }

    /// The output stage of output `o`.
    #[cfg(not(all(target_arch = "arm", target_has_atomic = "32")))]
    #[inline(always)]
    fn output_stage(&self, o: usize, acc: i32) -> i8 {
        let z = i32::from(self.output_zero_point);
        let (lo, hi) = (i32::from(self.act_min), i32::from(self.act_max));
        requantize(acc, self.multiplier[o], i32::from(self.shift[o]), z, lo, hi)
    }

    /// One [`dot`] per output.
    #[cfg(not(all(target_arch = "arm", target_has_atomic = "32")))]
    #[inline(always)]
    fn forward_row_single(&self, x: &[i8; IN], y: &mut [i8; OUT]) {
        for (o, ((row, &b), yo)) in self.weight.iter().zip(&self.folded_bias).zip(y).enumerate() {
            *yo = self.output_stage(o, dot(x, row, b));
        }
    }

    /// One [`dot2`] per two outputs, and a [`dot`] for an odd last one.
    #[cfg(not(all(target_arch = "arm", target_has_atomic = "32")))]
    #[inline(always)]
    fn forward_row_pairs(&self, x: &[i8; IN], y: &mut [i8; OUT]) {
        let (pairs, rest) = self.weight.as_chunks::<2>();
        let (ys, y_rest) = y.as_chunks_mut::<2>();
        let (bs, b_rest) = self.folded_bias.as_chunks::<2>();
        for (o, (([r0, r1], [b0, b1]), yo)) in pairs.iter().zip(bs).zip(ys).enumerate() {
            let (a0, a1) = dot2(x, r0, r1, *b0, *b1);
            *yo = [
                self.output_stage(2 * o, a0),
                self.output_stage(2 * o + 1, a1),
            ];
        }
        for ((row, &b), yo) in rest.iter().zip(b_rest).zip(y_rest) {
            *yo = self.output_stage(OUT - 1, dot(x, row, b));
        }
    }

    #[cfg_attr(all(target_arch = "arm", target_has_atomic = "32"), allow(dead_code))]
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

/// Whether this target accumulates in blocks of 4 output rows ([`accumulate_blocked`]):
/// RISC-V microcontrollers (enough registers). The Arm cores with `smlal` (ARMv7-M and up)
/// use their own kernel and weight layout (`kernel_smlal.rs`); elsewhere the plain kernel
/// ([`QLinear::forward_row_plain`]). All are compiled (and tested) on the host.
#[cfg_attr(all(target_arch = "arm", target_has_atomic = "32"), allow(dead_code))]
const BLOCKED: bool = cfg!(target_arch = "riscv32");

/// `b + Σ_i x[i]·w[i]`. Its own function on the Cortex-M0, so that the register allocation of
/// the output stage around it cannot disturb its 7-instruction loop (inlined, the loop has
/// picked up register moves); a call per output costs less.
#[cfg_attr(all(target_arch = "arm", not(target_has_atomic = "32")), inline(never))]
#[cfg_attr(
    not(all(target_arch = "arm", not(target_has_atomic = "32"))),
    inline(always)
)]
#[cfg_attr(all(target_arch = "arm", target_has_atomic = "32"), allow(dead_code))]
fn dot<const IN: usize>(x: &[i8; IN], w: &[i8; IN], b: i32) -> i32 {
    x.iter().zip(w).fold(b, |a, (&xi, &wi)| {
        a.wrapping_add(i32::from(xi) * i32::from(wi))
    })
}

/// Whether the plain kernel takes two output rows per pass over the input ([`dot2`]): the
/// Cortex-M0 (ARMv6-M, the Arm target without 32-bit compare-and-swap; see
/// [`requantize`]'s selection below).
#[cfg_attr(all(target_arch = "arm", target_has_atomic = "32"), allow(dead_code))]
const TWO_ROWS: bool = cfg!(all(target_arch = "arm", not(target_has_atomic = "32")));

/// `(a + Σ_i x[i]·w0[i], b + Σ_i x[i]·w1[i])`: two outputs per pass, each input loaded once
/// for both. On the Cortex-M0 that is 11 instructions per two products (`ldrsb` of the input
/// and of both weights, two `muls` and `adds`, the loop test) against 7 per product for
/// [`dot`]: Thumb-1's `ldrsb` takes only a register offset, so the loop counter and its test
/// are what one product costs beyond its load, multiply and add, and two rows share them.
/// Its own function there, as [`dot`].
#[cfg_attr(all(target_arch = "arm", not(target_has_atomic = "32")), inline(never))]
#[cfg_attr(
    not(all(target_arch = "arm", not(target_has_atomic = "32"))),
    inline(always)
)]
#[cfg_attr(all(target_arch = "arm", target_has_atomic = "32"), allow(dead_code))]
fn dot2<const IN: usize>(x: &[i8; IN], w0: &[i8; IN], w1: &[i8; IN], a: i32, b: i32) -> (i32, i32) {
    let (mut a, mut b) = (a, b);
    for ((&xi, &p), &q) in x.iter().zip(w0).zip(w1) {
        let xi = i32::from(xi);
        a = a.wrapping_add(xi * i32::from(p));
        b = b.wrapping_add(xi * i32::from(q));
    }
    (a, b)
}

/// One row at a time, a plain reduction per output (fused with the output stage in
/// [`QLinear::forward_row_plain`]). The kernel of:
///
/// - the Cortex-M0, where it is the tightest loop LLVM makes (`ldrsb`, `ldrsb`, `muls`, `adds`
///   and the loop test: 7 instructions per product): Thumb-1's `ldrsb` only takes a register
///   offset and the core has 8 low registers, so blocking rows or unrolling makes LLVM spill
///   and rematerialize offsets, which costs more than it saves;
/// - hosts with SIMD (x86-64, AArch64), where LLVM vectorizes this reduction (at
///   `opt-level = 3` on x86-64: sign extension and `pmaddwd`), which the blocked form prevents.
#[cfg(test)]
fn accumulate_plain<const IN: usize, const OUT: usize>(
    w: &[[i8; IN]; OUT],
    bias: &[i32; OUT],
    x: &[i8; IN],
) -> [i32; OUT] {
    let mut acc = *bias;
    for (a, row) in acc.iter_mut().zip(w) {
        for (&xi, &wi) in x.iter().zip(row) {
            *a = a.wrapping_add(i32::from(xi) * i32::from(wi));
        }
    }
    acc
}

/// Blocks of 4 output rows, four inputs per loop trip: each input loaded serves the 4 rows,
/// with one loop counter update per 16 products, even at `opt-level = "s"` (the block is
/// written out row by row: `opt-level = "s"` would not unroll a loop over rows).
///
/// The input is first packed two values per word, `(x[2k] as u16) | (x[2k+1] << 16)`, once
/// per row: one load then serves two inputs, and on a Cortex-M4 LLVM multiplies the halves
/// straight from the word (`smlabb` and `smlatb`, no extraction). That leaves 40 instructions
/// per 16 products (16 weight loads and 16 multiply-accumulates among them) against 48 from
/// `i8` inputs. The buffer has `IN` words, the first `IN/2` used, as `IN/2` cannot be a
/// type's length. Rows left over after the blocks, and inputs after the last multiple of 4,
/// go one at a time.
#[inline(always)]
#[cfg_attr(all(target_arch = "arm", target_has_atomic = "32"), allow(dead_code))]
fn accumulate_blocked<const IN: usize, const OUT: usize>(
    w: &[[i8; IN]; OUT],
    bias: &[i32; OUT],
    x: &[i8; IN],
) -> [i32; OUT] {
    let mut acc = *bias;
    let (pairs, _) = x.as_chunks::<2>();
    let mut packed = [0u32; IN];
    for (p, xs) in packed.iter_mut().zip(pairs) {
        *p = u32::from(xs[0] as u16) | (u32::from(xs[1] as u16) << 16);
    }
    let (quads, _) = packed.as_chunks::<2>();
    let tail_start = IN - IN % 4;
    let (rows, rest) = w.as_chunks::<4>();
    let (accs, acc_rest) = acc.as_chunks_mut::<4>();
    for ([w0, w1, w2, w3], s) in rows.iter().zip(accs) {
        let [mut a0, mut a1, mut a2, mut a3] = *s;
        let (c0, _) = w0.as_chunks::<4>();
        let (c1, _) = w1.as_chunks::<4>();
        let (c2, _) = w2.as_chunks::<4>();
        let (c3, _) = w3.as_chunks::<4>();
        for ((((xk, k0), k1), k2), k3) in quads.iter().zip(c0).zip(c1).zip(c2).zip(c3) {
            let (p, q) = (xk[0] as i32, xk[1] as i32);
            // The low halves sign-extended, and the high halves: x[4k..4k+4].
            let (x0, x1, x2, x3) = ((p << 16) >> 16, p >> 16, (q << 16) >> 16, q >> 16);
            let mac = |a: i32, k: &[i8; 4]| {
                a.wrapping_add(x0 * i32::from(k[0]))
                    .wrapping_add(x1 * i32::from(k[1]))
                    .wrapping_add(x2 * i32::from(k[2]))
                    .wrapping_add(x3 * i32::from(k[3]))
            };
            a0 = mac(a0, k0);
            a1 = mac(a1, k1);
            a2 = mac(a2, k2);
            a3 = mac(a3, k3);
        }
        let tail = |a: i32, row: &[i8; IN]| {
            x[tail_start..]
                .iter()
                .zip(&row[tail_start..])
                .fold(a, |a, (&x, &w)| a.wrapping_add(i32::from(x) * i32::from(w)))
        };
        *s = [tail(a0, w0), tail(a1, w1), tail(a2, w2), tail(a3, w3)];
    }
    for (row, a) in rest.iter().zip(acc_rest) {
        *a = dot(x, row, *a);
    }
    acc
}

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
            self.forward_row(xr, yr);
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
    fn blocked_and_plain_kernels_agree() {
        let mut state = 0x9e37_79b9u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        fn check<const IN: usize, const OUT: usize>(next: &mut impl FnMut() -> u32) {
            let w: [[i8; IN]; OUT] =
                core::array::from_fn(|_| core::array::from_fn(|_| next() as i8));
            let b: [i32; OUT] = core::array::from_fn(|_| next() as i32);
            for _ in 0..50 {
                let x: [i8; IN] = core::array::from_fn(|_| next() as i8);
                assert_eq!(accumulate_blocked(&w, &b, &x), accumulate_plain(&w, &b, &x));
            }
        }
        check::<64, 32>(&mut next);
        check::<32, 10>(&mut next);
        // The two-row dot product against two single ones.
        let x: [i8; 33] = core::array::from_fn(|_| next() as i8);
        let w: [[i8; 33]; 2] = core::array::from_fn(|_| core::array::from_fn(|_| next() as i8));
        let (a, b) = (next() as i32, next() as i32);
        assert_eq!(
            dot2(&x, &w[0], &w[1], a, b),
            (dot(&x, &w[0], a), dot(&x, &w[1], b))
        );
        check::<7, 5>(&mut next);
        check::<3, 4>(&mut next);
        check::<1, 1>(&mut next);
        check::<133, 9>(&mut next);
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
                let want = reference(&q, &x);
                assert_eq!(q.forward(&[x])[0], want);
                // Both kernels, whichever this target uses.
                let mut y = [0; 5];
                q.forward_row_plain(&x, &mut y);
                assert_eq!(y, want);
                q.forward_row_single(&x, &mut y);
                assert_eq!(y, want);
                q.forward_row_pairs(&x, &mut y);
                assert_eq!(y, want);
                q.requantize(&accumulate_blocked(&q.weight, &q.folded_bias, &x), &mut y);
                assert_eq!(y, want);
            }
        }
    }
}
