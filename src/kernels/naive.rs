//! The plain loops: one output row at a time, the output index innermost.
//!
//! The reference of the bit-identity tests. On targets other than `x86_64` its `input_grad` and
//! `col_sums` are the ones in use.

use super::Batch;
use crate::optim::Update;

/// `y = x·W + b`.
pub(crate) fn affine<const B: usize, const IN: usize, const OUT: usize>(
    x: &Batch<B, IN>,
    w: &[[f32; OUT]; IN],
    bias: &[f32; OUT],
) -> Batch<B, OUT> {
    let mut y = [[0.0; OUT]; B];
    for (xr, yr) in x.iter().zip(y.iter_mut()) {
        // Each output row is its own accumulator (no row-sized temporary on the stack).
        for (&xi, wr) in xr.iter().zip(w) {
            for (a, &wv) in yr.iter_mut().zip(wr) {
                *a = super::mul_add(*a, xi, wv);
            }
        }
        for (a, &bv) in yr.iter_mut().zip(bias) {
            *a += bv;
        }
    }
    y
}

/// `dx = dy·Wᵀ`.
pub(crate) fn input_grad<const B: usize, const IN: usize, const OUT: usize>(
    dy: &Batch<B, OUT>,
    w: &[[f32; OUT]; IN],
) -> Batch<B, IN> {
    let mut dx = [[0.0; IN]; B];
    for (dyr, dxr) in dy.iter().zip(dx.iter_mut()) {
        for (d, wr) in dxr.iter_mut().zip(w) {
            *d = dot(dyr, wr);
        }
    }
    dx
}

/// `Σ_o a[o]·b[o]`, `o` ascending.
#[inline]
fn dot<const N: usize>(a: &[f32; N], b: &[f32; N]) -> f32 {
    let mut s = 0.0;
    for (&x, &y) in a.iter().zip(b) {
        s = super::mul_add(s, x, y);
    }
    s
}

/// Row `i` of `xᵀ·dy`, added into `acc`: `acc[o] += Σ_b x[b][i]·dy[b][o]`.
#[inline]
fn weight_grad_row<const B: usize, const IN: usize, const OUT: usize>(
    x: &Batch<B, IN>,
    i: usize,
    dy: &Batch<B, OUT>,
    acc: &mut [f32; OUT],
) {
    for (xr, dyr) in x.iter().zip(dy) {
        let xi = xr[i];
        for (a, &d) in acc.iter_mut().zip(dyr) {
            *a = super::mul_add(*a, xi, d);
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

/// The fused step: each row of `g = xᵀ·dy` summed from zero, then [`Update::update`] on that
/// row of `w` and of its optimizer state.
pub(crate) fn weight_grad_step<U: Update, const B: usize, const IN: usize, const OUT: usize>(
    x: &Batch<B, IN>,
    dy: &Batch<B, OUT>,
    w: &mut [[f32; OUT]; IN],
    state: &mut [[U::Slot; OUT]; IN],
    update: &U,
) {
    super::by_rows::weight_grad_step(x, dy, w, state, update, weight_grad_row);
}

/// Column sums of `dy`, added into `acc`: `acc[o] += Σ_b dy[b][o]`.
#[inline]
pub(crate) fn col_sums<const B: usize, const OUT: usize>(dy: &Batch<B, OUT>, acc: &mut [f32; OUT]) {
    for dyr in dy {
        for (a, &d) in acc.iter_mut().zip(dyr) {
            *a += d;
        }
    }
}
