//! The int8 fully connected kernel of Arm cores with a 32×32→64 multiply-accumulate (`smlal`:
//! ARMv7-M, ARMv7E-M, ARMv8-M Mainline), and its weight layout: two products per instruction.
//!
//! **Two outputs in one accumulator.** For two output rows `a` and `b`, the weights of input
//! `i` are stored as one word `W[i] = w_a[i] + w_b[i]·2^23` (an `i32` for any two `i8`).
//! One 64-bit multiply-accumulate `s += x[i]·W[i]` (`smlal`) then adds both products:
//! `s = Σ x·w_a + (Σ x·w_b)·2^23`. While `|Σ x·w_a| < 2^22` (every input row of fewer than
//! [`MAX_IN`] values: `|x·w| ≤ 2^14`), the low 23 bits of `s` hold `Σ x·w_a` exactly, and
//! the bits above `Σ x·w_b` less the low field's borrow, which [`split`] adds back. So a pair
//! of outputs costs one load and one `smlal` per input, where
//! the 16×16 multiply-accumulates (`smlabb`) need a load and an instruction per product.
//!
//! **Layout** (`[[u16; IN]; OUT]`, word-aligned: two bytes per weight, twice the `i8` weights,
//! so `QLinear` is larger on these targets): rows in blocks of 4 (two pairs), each block
//! input by input, `W_pair0[i], W_pair1[i]` (4 `u16`, little-endian halves), so the kernel
//! reads one block's weights front to back; then, if `OUT % 4 ≥ 2`, one pair, `W[i]` input by
//! input; then, if `OUT` is odd, the last row as `i16`. The kernel reads two inputs per loop
//! trip: 13 instructions per 8 products on a Cortex-M4 at `opt-level = "s"` (8 loads, 4
//! `smlal`, the loop test), against 37 per 16 with `smlabb`.
//!
//! Rows of [`MAX_IN`] inputs or more are stored as `i16` one weight each and run through a
//! plain dot product.

/// Input rows shorter than this use the two-outputs-per-accumulator form: `IN · 2^14 < 2^22`.
pub(crate) const MAX_IN: usize = 1 << 8;

/// Where the second row's weight sits in a pair's word.
const SHIFT: u32 = 23;

/// The weights of a `QLinear<IN, OUT>` in this kernel's layout (see the module documentation).
#[repr(C, align(4))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Packed<const IN: usize, const OUT: usize>([[u16; IN]; OUT]);

/// `w_a + w_b·2^23` as a word.
const fn pair_word(a: i8, b: i8) -> u32 {
    ((a as i32) + ((b as i32) << SHIFT)) as u32
}

/// Whether rows of `IN` inputs take the paired form.
const fn paired(inputs: usize) -> bool {
    inputs < MAX_IN
}

impl<const IN: usize, const OUT: usize> Packed<IN, OUT> {
    /// `w[o][i]` in this layout.
    pub(crate) const fn pack(w: &[[i8; IN]; OUT]) -> Self {
        let mut p = [[0u16; IN]; OUT];
        let mut o = 0;
        while o < OUT {
            let lone = Self::lone(o);
            let mut i = 0;
            while i < IN {
                let k = Self::slot(o, i);
                if lone {
                    p[k / IN][k % IN] = w[o][i] as i16 as u16;
                } else {
                    let word = pair_word(w[o][i], w[o + 1][i]);
                    p[k / IN][k % IN] = word as u16;
                    p[(k + 1) / IN][(k + 1) % IN] = (word >> 16) as u16;
                }
                i += 1;
            }
            o += if lone { 1 } else { 2 };
        }
        Self(p)
    }

    /// Whether row `o` is stored on its own (as `i16`), not in a pair.
    const fn lone(o: usize) -> bool {
        !paired(IN) || (OUT % 2 == 1 && o == OUT - 1)
    }

    /// The weight `w[o][i]`.
    pub(crate) const fn get(&self, o: usize, i: usize) -> i8 {
        if Self::lone(o) {
            let (row, at) = Self::flat(Self::slot(o, i));
            return self.0[row][at] as i16 as i8;
        }
        let first = o - o % 2;
        let s = Self::slot(first, i);
        let (r0, a0) = Self::flat(s);
        let (r1, a1) = Self::flat(s + 1);
        let word = (self.0[r0][a0] as u32 | (self.0[r1][a1] as u32) << 16) as i32;
        let low = (word << (32 - SHIFT)) >> (32 - SHIFT);
        if o.is_multiple_of(2) {
            low as i8
        } else {
            ((word - low) >> SHIFT) as i8
        }
    }

    /// The `i8` weights back.
    pub(crate) const fn unpack(&self) -> [[i8; IN]; OUT] {
        let mut w = [[0i8; IN]; OUT];
        let mut o = 0;
        while o < OUT {
            let mut i = 0;
            while i < IN {
                w[o][i] = self.get(o, i);
                i += 1;
            }
            o += 1;
        }
        w
    }

    /// The flat `u16` index of the (low half of the) weight of row `o` (the first of its pair
    /// when paired), input `i`.
    const fn slot(o: usize, i: usize) -> usize {
        if !paired(IN) {
            return o * IN + i;
        }
        let blocks = OUT / 4;
        if o < 4 * blocks {
            // Block of rows 4b..4b+4: input i's two words at 4i (pair 0) and 4i + 2 (pair 1).
            let b = o / 4;
            4 * IN * b + 4 * i + 2 * ((o % 4) / 2)
        } else if o < OUT - OUT % 2 {
            4 * IN * blocks + 2 * i
        } else {
            (OUT - 1) * IN + i
        }
    }

    /// A flat `u16` index as `(row, column)` of `[[u16; IN]; OUT]`.
    const fn flat(k: usize) -> (usize, usize) {
        (k / IN, k % IN)
    }
}

/// `(Σ x·w_a, Σ x·w_b)` from a paired accumulator `s` (see the module documentation).
#[inline(always)]
fn split(s: i64) -> (i32, i32) {
    let low = ((s as i32) << (32 - SHIFT)) >> (32 - SHIFT);
    // floor(s / 2^23) = Σ x·w_b − [low < 0] (bit 22 of s is the sign of low): add the
    // borrow back.
    let high = ((s >> SHIFT) as i32).wrapping_add((s as i32 >> (SHIFT - 1)) & 1);
    (low, high)
}

/// The word of two `u16` halves.
#[inline(always)]
fn word(lo: u16, hi: u16) -> i64 {
    i64::from((u32::from(lo) | u32::from(hi) << 16) as i32)
}

/// The two paired sums of one block of 4 rows (`block`: its weights, input by input).
///
/// Not inlined: on its own the loop gets all the registers and walks both arrays with
/// post-incremented loads (10 instructions per 8 products on a Cortex-M4); inlined into the
/// loop over blocks it spilled (19).
#[inline(never)]
fn block_sums<const IN: usize>(block: &[u16], x: &[i8; IN]) -> (i64, i64) {
    let (mut s0, mut s1) = (0i64, 0i64);
    // The length made known: one loop test, not one per array.
    let Some(block) = block.get(..4 * IN) else {
        return (s0, s1);
    };
    let (ks, tail) = block.as_chunks::<8>();
    let mut xs: &[i8] = x;
    for k in ks {
        let Some((xk, xr)) = xs.split_first_chunk::<2>() else {
            break;
        };
        let (x0, x1) = (i64::from(xk[0]), i64::from(xk[1]));
        s0 = s0.wrapping_add(x0 * word(k[0], k[1]));
        s1 = s1.wrapping_add(x0 * word(k[2], k[3]));
        s0 = s0.wrapping_add(x1 * word(k[4], k[5]));
        s1 = s1.wrapping_add(x1 * word(k[6], k[7]));
        xs = xr;
    }
    if let ([k0, k1, k2, k3], [x0]) = (tail, xs) {
        // An odd last input.
        s0 = s0.wrapping_add(i64::from(*x0) * word(*k0, *k1));
        s1 = s1.wrapping_add(i64::from(*x0) * word(*k2, *k3));
    }
    (s0, s1)
}

/// `y[o] = stage(o, bias[o] + Σ_i x[i]·w[o][i])` for every output (the sum wrapping), from
/// the packed weights. The output stage is applied as each block's sums are ready: no
/// accumulator array to initialize and read back.
#[inline(always)]
pub(crate) fn forward<T, const IN: usize, const OUT: usize>(
    w: &Packed<IN, OUT>,
    bias: &[i32; OUT],
    x: &[i8; IN],
    y: &mut [T; OUT],
    stage: impl Fn(usize, i32) -> T,
) {
    let flat = w.0.as_flattened();
    if !paired(IN) {
        for (o, ((yo, row), &b)) in y
            .iter_mut()
            .zip(flat.chunks_exact(IN))
            .zip(bias)
            .enumerate()
        {
            let acc = x.iter().zip(row).fold(b, |a, (&xi, &wi)| {
                a.wrapping_add(i32::from(xi) * i32::from(wi as i16))
            });
            *yo = stage(o, acc);
        }
        return;
    }
    let blocks = OUT / 4;
    let (block_words, rest) = flat.split_at(4 * IN * blocks);
    let (ys, y_rest) = y.as_chunks_mut::<4>();
    let (bs, b_rest) = bias.as_chunks::<4>();
    for (k, ((yb, b), block)) in ys
        .iter_mut()
        .zip(bs)
        .zip(block_words.chunks_exact(4 * IN))
        .enumerate()
    {
        let (s0, s1) = block_sums(block, x);
        let (p, q) = split(s0);
        let (r, t) = split(s1);
        let o = 4 * k;
        yb[0] = stage(o, b[0].wrapping_add(p));
        yb[1] = stage(o + 1, b[1].wrapping_add(q));
        yb[2] = stage(o + 2, b[2].wrapping_add(r));
        yb[3] = stage(o + 3, b[3].wrapping_add(t));
    }
    let (pair_words, lone) = rest.split_at(rest.len() - IN * (OUT % 2));
    if let ([y0, y1, ..], [b0, b1, ..]) = (&mut *y_rest, b_rest) {
        let mut s = 0i64;
        for (&xi, k) in x.iter().zip(pair_words.as_chunks::<2>().0) {
            s = s.wrapping_add(i64::from(xi) * word(k[0], k[1]));
        }
        let (p, q) = split(s);
        *y0 = stage(4 * blocks, b0.wrapping_add(p));
        *y1 = stage(4 * blocks + 1, b1.wrapping_add(q));
    }
    if let (Some(yo), Some(&b)) = (y_rest.last_mut(), b_rest.last())
        && OUT % 2 == 1
    {
        let acc = x.iter().zip(lone).fold(b, |a, (&xi, &wi)| {
            a.wrapping_add(i32::from(xi) * i32::from(wi as i16))
        });
        *yo = stage(OUT - 1, acc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Xs(u32);
    impl Xs {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 17;
            self.0 ^= self.0 << 5;
            self.0
        }
    }

    fn check<const IN: usize, const OUT: usize>(rng: &mut Xs, extreme: bool) {
        let w: [[i8; IN]; OUT] = core::array::from_fn(|_| {
            core::array::from_fn(|_| if extreme { -128 } else { rng.next() as i8 })
        });
        let p = Packed::pack(&w);
        assert_eq!(p.unpack(), w, "{IN}x{OUT}");
        let b: [i32; OUT] = core::array::from_fn(|_| rng.next() as i32);
        for _ in 0..20 {
            let x: [i8; IN] =
                core::array::from_fn(|_| if extreme { -128 } else { rng.next() as i8 });
            let want: [i32; OUT] = core::array::from_fn(|o| {
                x.iter().zip(&w[o]).fold(b[o], |a, (&x, &w)| {
                    a.wrapping_add(i32::from(x) * i32::from(w))
                })
            });
            let mut got = [0i32; OUT];
            forward(&p, &b, &x, &mut got, |_, acc| acc);
            assert_eq!(got, want, "{IN}x{OUT}");
        }
    }

    /// Every shape class: whole blocks, a pair left, a lone row, odd inputs, and the largest
    /// paired rows at the extreme products (−128·−128), where a field would overflow first.
    #[test]
    fn packed_kernel_is_the_plain_sum() {
        let mut rng = Xs(0x2545_f491);
        check::<64, 32>(&mut rng, false);
        check::<32, 10>(&mut rng, false);
        check::<7, 5>(&mut rng, false);
        check::<3, 4>(&mut rng, false);
        check::<1, 1>(&mut rng, false);
        check::<5, 3>(&mut rng, false);
        check::<133, 9>(&mut rng, false);
        check::<{ MAX_IN - 1 }, 6>(&mut rng, false);
        check::<{ MAX_IN - 1 }, 7>(&mut rng, true);
        check::<{ MAX_IN }, 3>(&mut rng, true);
        check::<{ MAX_IN + 1 }, 5>(&mut rng, false);
    }
}
