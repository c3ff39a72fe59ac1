//! The hand-written matrix loops, in one place (private).
//!
//! Every output element is a sum in one fixed order, whatever the target, so results are
//! bit-identical on every platform (Rust never contracts `a * b + c` into a fused multiply-add):
//! - `y[b][o] = (Σ_i x[b][i]·w[i][o]) + bias[o]`, the sum over `i` ascending from `0.0`;
//! - `dx[b][i] = Σ_o dy[b][o]·w[i][o]`, over `o` ascending from `0.0`;
//! - `dw[i][o] += Σ_b x[b][i]·dy[b][o]` and `db[o] += Σ_b dy[b][o]`, over `b` ascending,
//!   starting from the value already in the buffer;
//! - the fused SGD step: `g = Σ_b x[b][i]·dy[b][o]` over `b` ascending from `0.0`, then
//!   [`Sgd::update`], i.e. `w[i][o] -= lr·g`.
//!
//! Three implementations compute exactly those sequences of operations:
//! - `naive` (the loops of commit `698387b`; `affine` as of `54670e7`): one output row at a
//!   time, the output index innermost. The reference of the bit-identity tests; on targets
//!   other than `x86_64` its `input_grad` and `col_sums` are used.
//! - `compact`, on every target but `x86_64` (Cortex-M, RISC-V microcontrollers, ...): `affine`
//!   and the weight gradients in blocks of 8 outputs whose accumulators stay in registers, even
//!   at `opt-level = "s"`: 2.3× fewer instructions per training step than `naive` on a
//!   Cortex-M4F for 1 kB more flash (see `BENCHMARKS.md`).
//! - `tiled`, on `x86_64` only (where it is measured; see `BENCHMARKS.md`): register tiles of
//!   `R` rows × `W` outputs whose accumulators stay in registers for a whole reduction, so
//!   that each vector of weights (or of `dy`) loaded from memory serves `R` rows. Each
//!   accumulator still receives its products one by one in the documented order: only
//!   *which* elements are computed side by side changes, never the operations on one
//!   element. Columns left over at the end of a row are computed in a zero-padded tile whose
//!   padding lanes are never stored. `dx = dy·Wᵀ` (a sum over `o`, which a vectorized
//!   horizontal sum would reorder) is vectorized across `i` instead: a block of rows of `W`
//!   is transposed into a small buffer, then every lane runs its own sequential sum over `o`.
//!
//! The tiled code is plain safe Rust: its speed comes from LLVM's auto-vectorizer, which is
//! steered by the loop structure (see `rank1`, `trip` and the epilogues); the tile sizes are
//! picked by target feature at compile time.

use crate::module::Batch;
use crate::optim::Sgd;

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
    use super::{Batch, Sgd};

    /// `dw += xᵀ·dy`.
    #[inline(always)]
    pub(super) fn weight_grad<const B: usize, const IN: usize, const OUT: usize>(
        x: &Batch<B, IN>,
        dy: &Batch<B, OUT>,
        dw: &mut [[f32; OUT]; IN],
        row: fn(&Batch<B, IN>, usize, &Batch<B, OUT>, &mut [f32; OUT]),
    ) {
        for (i, g) in dw.iter_mut().enumerate() {
            row(x, i, dy, g);
        }
    }

    /// `w -= lr·(xᵀ·dy)`, each gradient row summed from zero, then [`Sgd::update`].
    #[inline(always)]
    pub(super) fn weight_grad_step<const B: usize, const IN: usize, const OUT: usize>(
        x: &Batch<B, IN>,
        dy: &Batch<B, OUT>,
        w: &mut [[f32; OUT]; IN],
        sgd: &Sgd,
        row: fn(&Batch<B, IN>, usize, &Batch<B, OUT>, &mut [f32; OUT]),
    ) {
        for (i, wr) in w.iter_mut().enumerate() {
            let mut g = [0.0; OUT];
            row(x, i, dy, &mut g);
            sgd.update(wr, &g);
        }
    }
}

/// The plain loops (the kernels of commit `698387b`; `affine` accumulating in its output row
/// since `54670e7`): one output row at a time.
#[cfg(any(test, not(target_arch = "x86_64")))]
// Outside tests, microcontrollers use only `input_grad` and `col_sums` of these.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod naive {
    use super::{Batch, Sgd};

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
    fn dot<const N: usize>(a: &[f32; N], b: &[f32; N]) -> f32 {
        let mut s = 0.0;
        for (&x, &y) in a.iter().zip(b) {
            s += x * y;
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
                *a += xi * d;
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

    /// `w -= lr·(xᵀ·dy)` with [`Sgd::update`], row by row, each gradient row summed from zero.
    pub(crate) fn weight_grad_step<const B: usize, const IN: usize, const OUT: usize>(
        x: &Batch<B, IN>,
        dy: &Batch<B, OUT>,
        w: &mut [[f32; OUT]; IN],
        sgd: &Sgd,
    ) {
        super::by_rows::weight_grad_step(x, dy, w, sgd, weight_grad_row);
    }

    /// Column sums of `dy`, added into `acc`: `acc[o] += Σ_b dy[b][o]`.
    #[inline]
    pub(crate) fn col_sums<const B: usize, const OUT: usize>(
        dy: &Batch<B, OUT>,
        acc: &mut [f32; OUT],
    ) {
        for dyr in dy {
            for (a, &d) in acc.iter_mut().zip(dyr) {
                *a += d;
            }
        }
    }
}

/// Register-blocked loops for microcontrollers (every target but `x86_64`): blocks of 8
/// outputs whose accumulators stay in registers for a whole reduction, written out so that
/// this holds even at `opt-level = "s"` (a Cortex-M4F has 32 single-precision registers).
/// Each accumulator receives its products one by one in the documented order, so the results
/// are those of [`naive`], bit for bit; outputs left over after the last full block (`OUT % 8`)
/// are summed one at a time.
#[cfg(any(test, not(target_arch = "x86_64")))]
pub(crate) mod compact {
    use super::{Batch, Sgd};

    /// Outputs per block.
    const L: usize = 8;

    /// `a[k] += x·v[k]` for the 8 lanes, written out (no loop the optimizer may keep rolled).
    #[inline(always)]
    fn mac8(a: &mut [f32; L], x: f32, v: &[f32; L]) {
        a[0] += x * v[0];
        a[1] += x * v[1];
        a[2] += x * v[2];
        a[3] += x * v[3];
        a[4] += x * v[4];
        a[5] += x * v[5];
        a[6] += x * v[6];
        a[7] += x * v[7];
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
                    a += xi * wr[o0 + j];
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
                *av += xr[i] * dyr[o0 + j];
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

    /// `w -= lr·(xᵀ·dy)` with [`Sgd::update`], row by row, each gradient row summed from zero.
    pub(crate) fn weight_grad_step<const B: usize, const IN: usize, const OUT: usize>(
        x: &Batch<B, IN>,
        dy: &Batch<B, OUT>,
        w: &mut [[f32; OUT]; IN],
        sgd: &Sgd,
    ) {
        super::by_rows::weight_grad_step(x, dy, w, sgd, weight_grad_row);
    }
}

/// Register-tiled loops for x86-64 (SSE2, AVX2 or AVX-512).
#[cfg(target_arch = "x86_64")]
mod tiled {
    use super::{Batch, Sgd};

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
    /// 64 → 32) 8 rows × 16 outputs took 440 ns against 504 ns for 4 rows × 32.
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

    /// Stores the first `real` values of `v` to `row[o0..]`.
    #[inline(always)]
    fn store<const W: usize>(row: &mut [f32], o0: usize, real: usize, v: &[f32; W]) {
        if real == W {
            *part_mut::<W>(row, o0) = *v;
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
    fn part_mut<const W: usize>(row: &mut [f32], o0: usize) -> &mut [f32; W] {
        (&mut row[o0..o0 + W]).try_into().unwrap()
    }

    /// `acc[r][l] += a[r]·v[l]`: one step of a tile's reduction.
    ///
    /// Written with `l` outside and `r` inside: after full unrolling, that statement order
    /// makes LLVM's SLP vectorizer build vectors along `l` (one load of `v` per vector, `a[r]`
    /// broadcast), where the opposite nesting gave vectors along `r` (gathers).
    #[inline(always)]
    fn rank1<const RR: usize, const W: usize>(
        acc: &mut [[f32; W]; RR],
        a: &[f32; RR],
        v: &[f32; W],
    ) {
        for (l, &vl) in v.iter().enumerate() {
            for (accr, &ar) in acc.iter_mut().zip(a) {
                accr[l] += ar * vl;
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

    /// `w -= lr·(xᵀ·dy)` with [`Sgd::update`], each gradient tile summed from zero in
    /// registers (no gradient buffer).
    pub(crate) fn weight_grad_step<const B: usize, const IN: usize, const OUT: usize>(
        x: &Batch<B, IN>,
        dy: &Batch<B, OUT>,
        w: &mut [[f32; OUT]; IN],
        sgd: &Sgd,
    ) {
        weight_grad_tiles!(x, dy, IN, OUT, |i0, o0, real, acc| { [[0.0; WT]; RT] } {
            // Through a contiguous copy of the weight tile, so that the update loop runs
            // along the tile (updating row by row in place let LLVM vectorize across rows,
            // with gathers and scatters).
            let mut wt: [[f32; WT]; RT] = core::array::from_fn(|r| load(&w[i0 + r], o0, real));
            sgd.update(wt.as_flattened_mut(), acc.as_flattened());
            for (r, wtr) in wt.iter().enumerate() {
                store(&mut w[i0 + r], o0, real, wtr);
            }
        });
    }

    /// Column sums of `dy`, added into `acc`: `acc[o] += Σ_b dy[b][o]`.
    #[inline]
    pub(crate) fn col_sums<const B: usize, const OUT: usize>(
        dy: &Batch<B, OUT>,
        acc: &mut [f32; OUT],
    ) {
        for dyr in dy {
            for (a, &d) in acc.iter_mut().zip(dyr) {
                *a += d;
            }
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

        let sgd = Sgd::new(0.375 + (seed % 7) as f32 * 1e-3).unwrap();
        let mut w1 = w;
        let mut w1_ref = w;
        weight_grad_step(&x, &dy, &mut w1, &sgd);
        naive::weight_grad_step(&x, &dy, &mut w1_ref, &sgd);
        assert!(
            same_bits(w1.as_flattened(), w1_ref.as_flattened()),
            "weight_grad_step {shape:?}"
        );

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
        let mut w1_c = w;
        compact::weight_grad_step(&x, &dy, &mut w1_c, &sgd);
        assert!(
            same_bits(w1_c.as_flattened(), w1_ref.as_flattened()),
            "compact::weight_grad_step {shape:?}"
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
        extern crate std;
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
