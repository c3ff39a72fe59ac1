//! Dataset helpers without allocation: shuffling and fixed-size batches of indices.

use rand_core::Rng;

/// A uniform index in `0..n` (`n ≥ 1`) by Lemire's multiply-shift on a 64-bit draw.
///
/// The bias is below `n / 2⁶⁴`; the arithmetic is plain integer math, so every target draws
/// the same index from the same generator state.
fn index_below<R: Rng + ?Sized>(rng: &mut R, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// Shuffles a slice in place (Fisher–Yates, from the back), reproducibly for a given generator.
///
/// # Examples
///
/// ```
/// use rand_core::SeedableRng;
///
/// let mut order = [0usize, 1, 2, 3, 4, 5, 6, 7];
/// constnn::shuffle(&mut order, &mut rand_xorshift::XorShiftRng::seed_from_u64(5));
/// let mut sorted = order;
/// sorted.sort();
/// assert_eq!(sorted, [0, 1, 2, 3, 4, 5, 6, 7]);
/// ```
pub fn shuffle<T, R: Rng + ?Sized>(items: &mut [T], rng: &mut R) {
    for i in (1..items.len()).rev() {
        let j = index_below(rng, i + 1);
        items.swap(i, j);
    }
}

/// What [`batches`] does with the last `len % B` items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remainder {
    /// Leave them out: `len / B` batches.
    Drop,
    /// Fill the last batch by wrapping around to the start of the slice: `ceil(len / B)`
    /// batches, every item in at least one. With a freshly shuffled order each epoch, the
    /// repeated items differ from epoch to epoch.
    Wrap,
}

/// An iterator over fixed-size batches `[T; B]` of a slice (usually of sample indices).
///
/// Created by [`batches`].
#[derive(Debug, Clone)]
pub struct Batches<'a, T, const B: usize> {
    items: &'a [T],
    /// Batches given so far.
    next: usize,
    count: usize,
    /// Index of the next item (always below `items.len()`, wrapping to 0 at the end): no
    /// `%` per item, so no integer division where the hardware has none (a Cortex-M0 would
    /// link a software division for it).
    pos: usize,
}

/// Splits `items` into batches of exactly `B` (a const batch size, as the model's input needs);
/// `remainder` says what happens to the last `items.len() % B` items.
///
/// An empty slice gives no batch.
///
/// # Examples
///
/// ```
/// use constnn::{Remainder, batches};
///
/// let order = [4usize, 0, 3, 1, 2];
/// let all: Vec<[usize; 2]> = batches::<2, _>(&order, Remainder::Wrap).collect();
/// assert_eq!(all, [[4, 0], [3, 1], [2, 4]]);
/// assert_eq!(batches::<2, _>(&order, Remainder::Drop).len(), 2);
/// ```
pub fn batches<const B: usize, T: Copy>(items: &[T], remainder: Remainder) -> Batches<'_, T, B> {
    const { assert!(B > 0, "the batch size must be at least 1") };
    let count = match remainder {
        Remainder::Drop => items.len() / B,
        Remainder::Wrap => items.len().div_ceil(B),
    };
    Batches {
        items,
        next: 0,
        count,
        pos: 0,
    }
}

impl<T: Copy, const B: usize> Iterator for Batches<'_, T, B> {
    type Item = [T; B];

    fn next(&mut self) -> Option<[T; B]> {
        if self.next >= self.count {
            return None;
        }
        self.next += 1;
        // `count > 0` implies a non-empty slice, so `pos` is a valid index.
        Some(core::array::from_fn(|_| {
            let item = self.items[self.pos];
            self.pos += 1;
            if self.pos == self.items.len() {
                self.pos = 0;
            }
            item
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.count - self.next;
        (left, Some(left))
    }
}

impl<T: Copy, const B: usize> ExactSizeIterator for Batches<'_, T, B> {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;
    use rand_xorshift::XorShiftRng;

    #[test]
    fn shuffle_is_uniform_enough() {
        // Each of the 6 permutations of 3 items about 1/6 of the time.
        let mut rng = XorShiftRng::seed_from_u64(9);
        let mut counts = [0u32; 6];
        for _ in 0..60_000 {
            let mut v = [0u8, 1, 2];
            shuffle(&mut v, &mut rng);
            let k = match v {
                [0, 1, 2] => 0,
                [0, 2, 1] => 1,
                [1, 0, 2] => 2,
                [1, 2, 0] => 3,
                [2, 0, 1] => 4,
                _ => 5,
            };
            counts[k] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_400..10_600).contains(&c)),
            "{counts:?}"
        );
    }

    /// Batch `j`, item `k` is `items[(j·B + k) % len]`, for sizes that do and do not divide
    /// the length, and batches longer than the slice.
    #[test]
    fn batches_wrap_as_modulo() {
        fn check<const B: usize>(items: &[u16]) {
            for remainder in [Remainder::Drop, Remainder::Wrap] {
                let count = match remainder {
                    Remainder::Drop => items.len() / B,
                    Remainder::Wrap => items.len().div_ceil(B),
                };
                let mut got = batches::<B, _>(items, remainder);
                assert_eq!(got.len(), count);
                for j in 0..count {
                    let want: [u16; B] = core::array::from_fn(|k| items[(j * B + k) % items.len()]);
                    assert_eq!(got.next(), Some(want), "B = {B}, batch {j}, {remainder:?}");
                }
                assert_eq!(got.next(), None);
            }
        }
        let items: [u16; 1347] = core::array::from_fn(|k| (k * 7 % 1347) as u16);
        check::<1>(&items);
        check::<4>(&items);
        check::<10>(&items);
        check::<449>(&items);
        check::<1347>(&items);
        check::<3000>(&items);
        check::<4>(&items[..3]);
    }

    #[test]
    fn empty_and_short_slices() {
        let empty: [u8; 0] = [];
        assert_eq!(batches::<3, _>(&empty, Remainder::Wrap).count(), 0);
        let one = [7u8];
        let all: [[u8; 3]; 1] = [batches::<3, _>(&one, Remainder::Wrap).next().unwrap()];
        assert_eq!(all, [[7, 7, 7]]);
        assert_eq!(batches::<3, _>(&one, Remainder::Drop).count(), 0);
    }
}
