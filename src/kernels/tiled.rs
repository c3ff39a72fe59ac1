//! Register-tiled loops for x86-64 (SSE2, AVX2 or AVX-512).
//!
//! Register tiles of `R` rows × `W` outputs whose accumulators stay in registers for a whole
//! reduction, so that each vector of weights (or of `dy`) loaded from memory serves `R` rows.
//! Each accumulator still receives its products one by one in the documented order: only
//! *which* elements are computed side by side changes, never the operations on one element.
//! Columns left over at the end of a row are computed in a zero-padded tile whose padding lanes
//! are never stored. `dx = dy·Wᵀ` (a sum over `o`, which a vectorized horizontal sum would
//! reorder) is vectorized across `i` instead: a block of rows of `W` is transposed into a small
//! buffer, then every lane runs its own sequential sum over `o`.
//!
//! The code is plain safe Rust: its speed comes from LLVM's auto-vectorizer, which is steered
//! by the loop structure (see `rank1`, `trip` and the epilogues); the tile sizes are picked by
//! target feature at compile time.

use super::{Batch, mul_add};
use crate::optim::{Slot, Update};

/// The register tile of a kernel: `w` outputs (the vectorized dimension) × `r` rows; the
/// `w·r` accumulators take about half of the vector registers.
struct Tile {
    w: usize,
    r: usize,
}

impl Tile {
    /// Rows of a tile `w` outputs wide: narrower tiles (remainders) take more rows, up to
    /// [`MAX_ROWS`], so that they keep about as many independent accumulators.
    const fn rows(&self, w: usize) -> usize {
        let r = self.r * self.w / w;
        if r < self.r {
            self.r
        } else if r > MAX_ROWS {
            MAX_ROWS
        } else {
            r
        }
    }
}

/// See [`Tile::rows`].
const MAX_ROWS: usize = 8;

/// Floats per vector register.
const LANES: usize = if cfg!(target_feature = "avx512f") {
    16
} else if cfg!(target_feature = "avx") {
    8
} else {
    4
};

/// Picks a kernel's tile by target features: AVX-512 (32 zmm registers of 16 floats),
/// AVX2 (16 ymm of 8), SSE2 (16 xmm of 4, the default `x86_64` target). The sizes below
/// were chosen by measuring the benchmark's layer shapes on an AMD Zen 4 (`BENCHMARKS.md`).
const fn tile(avx512: Tile, avx2: Tile, sse2: Tile) -> Tile {
    if cfg!(target_feature = "avx512f") {
        avx512
    } else if cfg!(target_feature = "avx2") {
        avx2
    } else {
        sse2
    }
}

/// [`affine`] with fewer than [`MANY_ROWS`] batch rows: `r` rows × `w` outputs. With
/// AVX-512 the same tile as [`AFFINE_MANY`]: on the digits model's first layer (batch 10,
/// 64 → 32) 8 rows × 16 outputs were faster than 4 rows × 32 (`BENCHMARKS.md`).
const AFFINE_FEW: Tile = tile(
    Tile { w: 16, r: 8 },
    Tile { w: 16, r: 4 },
    Tile { w: 32, r: 1 },
);

/// [`affine`] with at least [`MANY_ROWS`] batch rows: more rows per tile, so that each
/// weight vector loaded serves more rows (the weights of a large layer come from L2).
const AFFINE_MANY: Tile = tile(
    Tile { w: 16, r: 8 },
    Tile { w: 16, r: 4 },
    Tile { w: 12, r: 3 },
);

/// See [`AFFINE_MANY`].
const MANY_ROWS: usize = 16;

/// [`weight_grad`] and [`weight_grad_step`]: `r` rows of `dW` × `w` outputs.
const WGRAD: Tile = tile(
    Tile { w: 16, r: 8 },
    Tile { w: 16, r: 4 },
    Tile { w: 12, r: 3 },
);

/// [`input_grad`]: `r` batch rows × `w` inputs.
const IGRAD: Tile = tile(
    Tile { w: 32, r: 4 },
    Tile { w: 16, r: 4 },
    Tile { w: 8, r: 4 },
);

/// Outputs per chunk of the transposed weight block of [`input_grad`]: bounds its stack
/// buffer to `IGRAD.w × OCHUNK` floats (4 KiB with AVX-512).
const OCHUNK: usize = 32;

/// Runs `$body` with `$start` and the `const $w: usize` of each tile covering `0..$n`:
/// tiles of `$max` (at most 64), then the remainder as a sum of powers of two below it
/// (e.g. `10 = 8 + 2`). All sizes are constants, so the dispatch folds away.
macro_rules! tiles {
    ($n:expr, $max:expr, $start:ident, $w:ident, $body:block) => {{
        let n: usize = $n;
        let mut $start = 0usize;
        {
            const $w: usize = $max;
            while $start + $w <= n {
                $body
                $start += $w;
            }
        }
        tiles!(@rest n, $max, $start, $w, $body, 32, 16, 8, 4, 2, 1);
    }};
    (@rest $n:ident, $max:expr, $start:ident, $w:ident, $body:block, $($size:literal),*) => {
        $({
            const $w: usize = $size;
            if $w < $max && $start + $w <= $n {
                $body
                $start += $w;
            }
        })*
    };
}

/// As [`tiles!`] for the vectorized dimension, with `$real` (the number of real columns
/// of the tile) bound too: tiles of `$max`, then of the powers of two below it down to
/// [`PAD`]; if fewer than [`PAD`] columns are left, one zero-padded tile [`PAD`] wide
/// whose padding is never stored.
macro_rules! col_tiles {
    ($n:expr, $max:expr, $start:ident, $w:ident, $real:ident, $body:block) => {{
        let n: usize = $n;
        let mut $start = 0usize;
        {
            const $w: usize = $max;
            let $real = $w;
            while $start + $w <= n {
                $body
                $start += $w;
            }
        }
        col_tiles!(@rest n, $max, $start, $w, $real, $body, 32, 16, 8, 4);
        if $start < n {
            const $w: usize = PAD;
            let $real = n - $start;
            $body
        }
    }};
    (@rest $n:ident, $max:expr, $start:ident, $w:ident, $real:ident, $body:block,
     $($size:literal),*) => {
        $({
            const $w: usize = $size;
            let $real = $w;
            if $w < $max && $w >= PAD && $start + $w <= $n {
                $body
                $start += $w;
            }
        })*
    };
}

/// The narrowest column tile. A remainder of 1–3 columns is computed as one tile of 4
/// columns, zero-padded (LLVM vectorizes tiles of 1–3 columns and several rows across the
/// rows, with gathers and spills). Padding more (e.g. 10 columns as 16) is slower: a
/// padded row is assembled from scalar loads, as safe Rust has no masked load.
const PAD: usize = 4;

/// The trip count `n` of the reduction loop of an `R × W` tile. For small tiles (fewer than
/// 4 vectors of accumulators) it is made opaque to the optimizer, which still knows it is
/// at most `n`: LLVM would unroll such a short loop in full, then hoist all of its loads
/// out of the enclosing loops and spill them. Larger tiles keep the constant, so that
/// their loop is partially unrolled.
#[inline(always)]
fn trip<const R: usize, const W: usize>(n: usize) -> usize {
    if R * W < 4 * LANES {
        core::hint::black_box(n).min(n)
    } else {
        n
    }
}

/// `row[o0..o0 + real]`, padded with zeros to `W` values.
#[inline(always)]
fn load<const W: usize>(row: &[f32], o0: usize, real: usize) -> [f32; W] {
    if real == W {
        *part::<W>(row, o0)
    } else {
        core::array::from_fn(|l| if l < real { row[o0 + l] } else { 0.0 })
    }
}

/// `row[o0..o0 + real]` of optimizer state, padded with zero slots to `W`.
#[inline(always)]
fn load_slots<S: Slot, const W: usize>(row: &[S], o0: usize, real: usize) -> [S; W] {
    core::array::from_fn(|l| if l < real { row[o0 + l] } else { S::ZERO })
}

/// Stores the first `real` values of `v` to `row[o0..]`.
#[inline(always)]
fn store<T: Copy, const W: usize>(row: &mut [T], o0: usize, real: usize, v: &[T; W]) {
    if real == W {
        *part_mut::<T, W>(row, o0) = *v;
    } else {
        row[o0..o0 + real].copy_from_slice(&v[..real]);
    }
}

/// The `W` values of `row` from `o0`.
#[inline(always)]
fn part<const W: usize>(row: &[f32], o0: usize) -> &[f32; W] {
    row[o0..o0 + W].try_into().unwrap()
}

/// The `W` values of `row` from `o0`, mutably.
#[inline(always)]
fn part_mut<T, const W: usize>(row: &mut [T], o0: usize) -> &mut [T; W] {
    (&mut row[o0..o0 + W]).try_into().unwrap()
}

/// `acc[r][l] += a[r]·v[l]` (through [`mul_add`]): one step of a tile's reduction.
///
/// Written with `l` outside and `r` inside: after full unrolling, that statement order
/// makes LLVM's SLP vectorizer build vectors along `l` (one load of `v` per vector, `a[r]`
/// broadcast), where the opposite nesting gave vectors along `r` (gathers).
#[inline(always)]
fn rank1<const RR: usize, const W: usize>(acc: &mut [[f32; W]; RR], a: &[f32; RR], v: &[f32; W]) {
    for (l, &vl) in v.iter().enumerate() {
        for (accr, &ar) in acc.iter_mut().zip(a) {
            accr[l] = mul_add(accr[l], ar, vl);
        }
    }
}

/// `y = x·W + b`: tiles of `R` batch rows × `W` outputs, the sum over `i` in registers.
pub(crate) fn affine<const B: usize, const IN: usize, const OUT: usize>(
    x: &Batch<B, IN>,
    w: &[[f32; OUT]; IN],
    bias: &[f32; OUT],
) -> Batch<B, OUT> {
    let mut y = [[0.0; OUT]; B];
    macro_rules! affine_tiles {
        ($tile:expr) => {
            col_tiles!(OUT, $tile.w, o0, WT, real, {
                tiles!(B, $tile.rows(WT), b0, RT, {
                    let mut acc = [[0.0f32; WT]; RT];
                    for (i, wr) in w.iter().enumerate().take(trip::<RT, WT>(IN)) {
                        let a: [f32; RT] = core::array::from_fn(|r| x[b0 + r][i]);
                        rank1(&mut acc, &a, &load::<WT>(wr, o0, real));
                    }
                    let bv = load::<WT>(bias, o0, real);
                    // `l` outside, `r` inside, as in `rank1`: the other nesting let
                    // LLVM vectorize the loop over rows (gathers, scatters).
                    for (l, &bl) in bv.iter().enumerate() {
                        for accr in acc.iter_mut() {
                            accr[l] += bl;
                        }
                    }
                    for (r, accr) in acc.iter().enumerate() {
                        store(&mut y[b0 + r], o0, real, accr);
                    }
                });
            })
        };
    }
    if B >= MANY_ROWS {
        affine_tiles!(AFFINE_MANY);
    } else {
        affine_tiles!(AFFINE_FEW);
    }
    y
}

/// `dx = dy·Wᵀ`: lanes across `i`, each lane a sequential sum over `o`.
///
/// For each block of `W` inputs and chunk of up to [`OCHUNK`] outputs, `w[i][o]` is
/// transposed into `wt[o][i]`; then tiles of `R` batch rows × `W` inputs run the sum over
/// the chunk's `o` in registers, continuing from the previous chunk's partial sums.
pub(crate) fn input_grad<const B: usize, const IN: usize, const OUT: usize>(
    dy: &Batch<B, OUT>,
    w: &[[f32; OUT]; IN],
) -> Batch<B, IN> {
    let mut dx = [[0.0; IN]; B];
    col_tiles!(IN, IGRAD.w, i0, WT, real, {
        let mut wt = [[0.0f32; WT]; OCHUNK];
        let mut oc0 = 0;
        while oc0 < OUT {
            let oc = if OUT - oc0 < OCHUNK {
                OUT - oc0
            } else {
                OCHUNK
            };
            for (l, wr) in w[i0..i0 + real].iter().enumerate() {
                for (t, &v) in wt[..oc].iter_mut().zip(&wr[oc0..oc0 + oc]) {
                    t[l] = v;
                }
            }
            tiles!(B, IGRAD.rows(WT), b0, RT, {
                let mut acc = [[0.0f32; WT]; RT];
                if oc0 > 0 {
                    for (r, accr) in acc.iter_mut().enumerate() {
                        *accr = load(&dx[b0 + r], i0, real);
                    }
                }
                for (o, wto) in wt[..oc].iter().enumerate().take(trip::<RT, WT>(oc)) {
                    let a: [f32; RT] = core::array::from_fn(|r| dy[b0 + r][oc0 + o]);
                    rank1(&mut acc, &a, wto);
                }
                for (r, accr) in acc.iter().enumerate() {
                    store(&mut dx[b0 + r], i0, real, accr);
                }
            });
            oc0 += oc;
        }
    });
    dx
}

/// Runs `$done` for each tile of `R` inputs (from `$i0`) × `W` outputs (from `$o0`, of
/// which `$real` exist) of `xᵀ·dy`, once `$acc` (initialized by `$init`) has received
/// `x[b][i]·dy[b][o]` for `b` ascending.
macro_rules! weight_grad_tiles {
    ($x:ident, $dy:ident, $in:expr, $out:expr,
     |$i0:ident, $o0:ident, $real:ident, $acc:ident| $init:block $done:block) => {
        col_tiles!($out, WGRAD.w, $o0, WT, $real, {
            tiles!($in, WGRAD.rows(WT), $i0, RT, {
                let mut $acc: [[f32; WT]; RT] = $init;
                for (xr, dyr) in $x.iter().zip($dy) {
                    rank1(&mut $acc, part::<RT>(xr, $i0), &load::<WT>(dyr, $o0, $real));
                }
                $done
            });
        });
    };
}

/// `dw += xᵀ·dy`: tiles of `R` rows of `dw` × `W` outputs, the sum over `b` in registers,
/// starting from the values in `dw`.
pub(crate) fn weight_grad<const B: usize, const IN: usize, const OUT: usize>(
    x: &Batch<B, IN>,
    dy: &Batch<B, OUT>,
    dw: &mut [[f32; OUT]; IN],
) {
    weight_grad_tiles!(x, dy, IN, OUT, |i0, o0, real, acc| {
        core::array::from_fn(|r| load(&dw[i0 + r], o0, real))
    } {
        for (r, accr) in acc.iter().enumerate() {
            store(&mut dw[i0 + r], o0, real, accr);
        }
    });
}

/// The fused step: each tile of `g = xᵀ·dy` summed from zero in registers (no gradient
/// buffer), then [`Update::update`] on that tile of `w` and of its optimizer state.
pub(crate) fn weight_grad_step<U: Update, const B: usize, const IN: usize, const OUT: usize>(
    x: &Batch<B, IN>,
    dy: &Batch<B, OUT>,
    w: &mut [[f32; OUT]; IN],
    state: &mut [[U::Slot; OUT]; IN],
    update: &U,
) {
    weight_grad_tiles!(x, dy, IN, OUT, |i0, o0, real, acc| { [[0.0; WT]; RT] } {
        // Through contiguous copies of the weight and state tiles, so that the update loop
        // runs along the tile (updating row by row in place let LLVM vectorize across rows,
        // with gathers and scatters). A zero-sized state (SGD) costs nothing here.
        let mut wt: [[f32; WT]; RT] = core::array::from_fn(|r| load(&w[i0 + r], o0, real));
        let mut st: [[U::Slot; WT]; RT] =
            core::array::from_fn(|r| load_slots(&state[i0 + r], o0, real));
        update.update(wt.as_flattened_mut(), acc.as_flattened(), st.as_flattened_mut());
        for (r, (wtr, str_)) in wt.iter().zip(&st).enumerate() {
            store(&mut w[i0 + r], o0, real, wtr);
            store(&mut state[i0 + r], o0, real, str_);
        }
    });
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
