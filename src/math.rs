//! The hand-written matrix loops, in one place (private).
//!
//! Every output element is a sum in one fixed order, whatever the target, so results are
//! bit-identical on every platform (Rust never contracts `a * b + c` into a fused multiply-add):
//! - `y[b][o] = (Σ_i x[b][i]·w[i][o]) + bias[o]`, the sum over `i` ascending from `0.0`;
//! - `dx[b][i] = Σ_o dy[b][o]·w[i][o]`, over `o` ascending from `0.0`;
//! - `dw[i][o] += Σ_b x[b][i]·dy[b][o]` and `db[o] += Σ_b dy[b][o]`, over `b` ascending,
//!   starting from the value already in the buffer.
//!
//! The loops run with the output index innermost, so the compiler vectorizes across outputs
//! without changing any element's summation order.

use crate::module::Batch;

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
                *a += xi * wv;
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
pub(crate) fn dot<const N: usize>(a: &[f32; N], b: &[f32; N]) -> f32 {
    let mut s = 0.0;
    for (&x, &y) in a.iter().zip(b) {
        s += x * y;
    }
    s
}

/// Row `i` of `xᵀ·dy`, added into `acc`: `acc[o] += Σ_b x[b][i]·dy[b][o]`.
#[inline]
pub(crate) fn weight_grad_row<const B: usize, const IN: usize, const OUT: usize>(
    x: &Batch<B, IN>,
    i: usize,
    dy: &Batch<B, OUT>,
    acc: &mut [f32; OUT],
) {
    for (xr, dyr) in x.iter().zip(dy) {
        let xi = xr[i];
        for (a, &d) in acc.iter_mut().zip(dyr) {
            *a += xi * d;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut row = [10.0; 3];
        weight_grad_row(&x, 1, &dy, &mut row);
        assert_eq!(
            row,
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
}
