//! Register-blocked loops for microcontrollers (every target but `x86_64`).
//!
//! Blocks of 8 outputs whose accumulators stay in registers for a whole reduction, written out
//! so that this holds even at `opt-level = "s"` (a Cortex-M4F has 32 single-precision
//! registers). Each accumulator receives its products one by one in the documented order, so
//! the results are those of [`naive`](super::naive), bit for bit; outputs left over after the
//! last full block (`OUT % 8`) are summed one at a time.

use super::{Batch, mul_add};
use crate::optim::Update;

/// Outputs per block.
const L: usize = 8;

/// `a[k] += x·v[k]` for the 8 lanes (through [`mul_add`]), written out (no loop the optimizer
/// may keep rolled).
#[inline(always)]
fn mac8(a: &mut [f32; L], x: f32, v: &[f32; L]) {
    a[0] = mul_add(a[0], x, v[0]);
    a[1] = mul_add(a[1], x, v[1]);
    a[2] = mul_add(a[2], x, v[2]);
    a[3] = mul_add(a[3], x, v[3]);
    a[4] = mul_add(a[4], x, v[4]);
    a[5] = mul_add(a[5], x, v[5]);
    a[6] = mul_add(a[6], x, v[6]);
    a[7] = mul_add(a[7], x, v[7]);
}

/// `y = x·W + b`.
pub(crate) fn affine<const B: usize, const IN: usize, const OUT: usize>(
    x: &Batch<B, IN>,
    w: &[[f32; OUT]; IN],
    bias: &[f32; OUT],
) -> Batch<B, OUT> {
    let mut y = [[0.0; OUT]; B];
    let (bias_blocks, bias_rest) = bias.as_chunks::<L>();
    for (xr, yr) in x.iter().zip(y.iter_mut()) {
        let (blocks, rest) = yr.as_chunks_mut::<L>();
        for (k, (yb, bb)) in blocks.iter_mut().zip(bias_blocks).enumerate() {
            let mut a = [0.0f32; L];
            for (&xi, wr) in xr.iter().zip(w) {
                mac8(&mut a, xi, &wr.as_chunks::<L>().0[k]);
            }
            for ((yv, av), bv) in yb.iter_mut().zip(a).zip(bb) {
                *yv = av + bv;
            }
        }
        let o0 = OUT - rest.len();
        for (j, (yv, bv)) in rest.iter_mut().zip(bias_rest).enumerate() {
            let mut a = 0.0f32;
            for (&xi, wr) in xr.iter().zip(w) {
                a = mul_add(a, xi, wr[o0 + j]);
            }
            *yv = a + bv;
        }
    }
    y
}

/// Row `i` of `xᵀ·dy`, added into `acc`: `acc[o] += Σ_b x[b][i]·dy[b][o]`.
#[inline]
fn weight_grad_row<const B: usize, const IN: usize, const OUT: usize>(
    x: &Batch<B, IN>,
    i: usize,
    dy: &Batch<B, OUT>,
    acc: &mut [f32; OUT],
) {
    let (blocks, rest) = acc.as_chunks_mut::<L>();
    for (k, ab) in blocks.iter_mut().enumerate() {
        let mut a = *ab;
        for (xr, dyr) in x.iter().zip(dy) {
            mac8(&mut a, xr[i], &dyr.as_chunks::<L>().0[k]);
        }
        *ab = a;
    }
    let o0 = OUT - rest.len();
    for (j, av) in rest.iter_mut().enumerate() {
        for (xr, dyr) in x.iter().zip(dy) {
            *av = mul_add(*av, xr[i], dyr[o0 + j]);
        }
    }
}

/// `dw += xᵀ·dy`, row by row.
pub(crate) fn weight_grad<const B: usize, const IN: usize, const OUT: usize>(
    x: &Batch<B, IN>,
    dy: &Batch<B, OUT>,
    dw: &mut [[f32; OUT]; IN],
) {
    super::by_rows::weight_grad(x, dy, dw, weight_grad_row);
}

/// The fused step: each block of 8 of a row of `g = xᵀ·dy` summed from zero in registers, then
/// [`Update::update`] on that block of `w` and of its optimizer state (the update is
/// elementwise, so this is the row-by-row step, bit for bit, without a gradient row in memory
/// to clear, store and reload).
pub(crate) fn weight_grad_step<U: Update, const B: usize, const IN: usize, const OUT: usize>(
    x: &Batch<B, IN>,
    dy: &Batch<B, OUT>,
    w: &mut [[f32; OUT]; IN],
    state: &mut [[U::Slot; OUT]; IN],
    update: &U,
) {
    for (i, (wr, sr)) in w.iter_mut().zip(state.iter_mut()).enumerate() {
        let (w_blocks, w_rest) = wr.as_chunks_mut::<L>();
        let (s_blocks, s_rest) = sr.as_chunks_mut::<L>();
        for (k, (wb, sb)) in w_blocks.iter_mut().zip(s_blocks).enumerate() {
            let mut a = [0.0f32; L];
            for (xr, dyr) in x.iter().zip(dy) {
                mac8(&mut a, xr[i], &dyr.as_chunks::<L>().0[k]);
            }
            update.update(wb, &a, sb);
        }
        let o0 = OUT - w_rest.len();
        for (j, (wv, sv)) in w_rest.iter_mut().zip(s_rest).enumerate() {
            let mut a = 0.0f32;
            for (xr, dyr) in x.iter().zip(dy) {
                a = mul_add(a, xr[i], dyr[o0 + j]);
            }
            update.update(core::slice::from_mut(wv), &[a], core::slice::from_mut(sv));
        }
    }
}
