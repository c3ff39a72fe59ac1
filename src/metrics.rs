//! Classification metrics: the predicted class, the top classes, the number correct.

use crate::module::Batch;

/// The index of the largest value (the first one on ties), i.e. the predicted class.
///
/// NaN values are never chosen, unless `row[0]` is NaN, in which case the result is 0.
///
/// # Examples
///
/// ```
/// assert_eq!(constnn::argmax(&[0.1, 3.0, -2.0, 3.0]), 1);
/// ```
pub fn argmax<const C: usize>(row: &[f32; C]) -> usize {
    const { assert!(C > 0, "argmax of an empty row") };
    let (mut best, mut max) = (0, row[0]);
    for (c, &v) in row.iter().enumerate().skip(1) {
        if v > max {
            (best, max) = (c, v);
        }
    }
    best
}

/// The `K` largest classes of a row, best first (ties: lower index first). If `K > C`, all `C`.
///
/// # Examples
///
/// ```
/// let top = constnn::top_k::<2, 4>(&[0.1, 3.0, -2.0, 2.0]);
/// assert_eq!(top.as_slice(), &[1, 3]);
/// ```
pub fn top_k<const K: usize, const C: usize>(row: &[f32; C]) -> heapless::Vec<usize, K> {
    let mut top = heapless::Vec::new();
    let mut taken = [false; C];
    while !top.is_full() {
        let mut best: Option<usize> = None;
        for (c, &v) in row.iter().enumerate() {
            if !taken[c] && best.is_none_or(|b| v > row[b]) {
                best = Some(c);
            }
        }
        let Some(b) = best else { break };
        taken[b] = true;
        // Cannot fail: the loop stops when `top` is full.
        let _ = top.push(b);
    }
    top
}

/// How many rows of `logits` have their [`argmax`] equal to the label.
///
/// Labels out of range simply count as wrong.
///
/// # Examples
///
/// ```
/// let logits = [[0.0, 1.0], [2.0, 1.0], [0.0, 5.0]];
/// assert_eq!(constnn::count_correct(&logits, &[1, 1, 1]), 2);
/// ```
pub fn count_correct<const B: usize, const C: usize>(
    logits: &Batch<B, C>,
    labels: &[usize; B],
) -> usize {
    logits
        .iter()
        .zip(labels)
        .filter(|&(z, &l)| argmax(z) == l)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_more_than_classes() {
        let t = top_k::<5, 3>(&[1.0, 3.0, 2.0]);
        assert_eq!(t.as_slice(), &[1, 2, 0]);
    }
}
