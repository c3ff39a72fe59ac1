//! The digits data set: the one parser of `data/digits.csv` and `data/digits_split.txt`, and
//! the pixel normalization.
//!
//! `no_std` and without constnn (it needs only `core`), so that it compiles everywhere the
//! data is needed, each with `#[path = "…/examples/common/digits_data.rs"] mod digits_data;`:
//!
//! - the host example's `examples/common/digits.rs` (with `examples/digits.rs` and
//!   `tests/train_digits.rs`), which turns the parsed `u8` pixels into `f32` inputs;
//! - `examples/common/digits_run.rs`, the firmware's training run (with the host test
//!   `tests/on_device_run.rs`);
//! - the firmware's `build.rs` (`examples/cortex-m`), which writes the parsed arrays into the
//!   firmware's flash.
//!
//! So every one of them trains on the same bytes, normalized by the same table.

// Each crate that includes this module uses a different part of it.
#![allow(dead_code)]

/// Pixels per image (8×8), the model's input width.
pub const PIXELS: usize = 64;
/// Digit classes, the model's output width.
pub const CLASSES: usize = 10;
/// Images in `data/digits.csv`.
pub const ROWS: usize = 1797;
/// Rows of the notebook's test split (`data/digits_split.txt`).
pub const TEST_ROWS: usize = 450;
/// Rows of the training split: the other rows, in ascending order.
pub const TRAIN_ROWS: usize = ROWS - TEST_ROWS;
/// The largest pixel value (a pixel counts the "on" cells of a 4×4 block).
pub const MAX_PIXEL: u8 = 16;

/// The mean of all 1797 × 64 pixels of `data/digits.csv`: `561718 / 115008`, correctly rounded
/// (the notebook's printed value).
pub const MEAN: f64 = 4.884164579855314;
/// The population standard deviation (`ddof = 0`) of the same pixels:
/// `sqrt((115008 · 6907012 − 561718²) / 115008²)`, correctly rounded (the notebook's printed
/// value).
pub const STD: f64 = 6.016787548672236;

/// `NORMALIZED[p]` is the network input for pixel value `p`: `((p − MEAN) / STD) as f32`,
/// computed in `f64` and rounded to `f32` once, at compile time.
///
/// This is the whole normalization: a microcontroller only looks pixels up in this 68-byte
/// table (no float operation, so nothing target-dependent), and the host uses the same table.
pub const NORMALIZED: [f32; MAX_PIXEL as usize + 1] = {
    let mut table = [0.0; MAX_PIXEL as usize + 1];
    let mut p = 0;
    while p < table.len() {
        table[p] = ((p as f64 - MEAN) / STD) as f32;
        p += 1;
    }
    table
};

/// Writes the normalized network input of one image into `x`.
///
/// Not inlined: on the firmware the training loop and the evaluation share one copy (60 bytes
/// less flash on the Cortex-M4F, for a call per image).
///
/// # Panics
///
/// If a pixel is above [`MAX_PIXEL`] ([`parse_digits`] never lets one through).
#[inline(never)]
pub fn normalize(pixels: &[u8; PIXELS], x: &mut [f32; PIXELS]) {
    for (v, &p) in x.iter_mut().zip(pixels) {
        *v = NORMALIZED[usize::from(p)];
    }
}

/// A set of images and their labels as stored: one `u8` per pixel and per label.
#[derive(Debug, Clone, Copy)]
pub struct Split<'a> {
    /// `pixels[row]`: the 64 pixels of an image, row-major, `0..=16`.
    pub pixels: &'a [[u8; PIXELS]],
    /// `labels[row]`: its digit, `0..=9`.
    pub labels: &'a [u8],
}

/// The data set split as the notebook does, in `u8`: what [`parse_digits`] produces.
pub struct Digits {
    /// The training split's pixels (the rows not in the test split, ascending).
    pub train_pixels: [[u8; PIXELS]; TRAIN_ROWS],
    /// The training split's labels.
    pub train_labels: [u8; TRAIN_ROWS],
    /// The test split's pixels (the rows of `digits_split.txt`, ascending).
    pub test_pixels: [[u8; PIXELS]; TEST_ROWS],
    /// The test split's labels.
    pub test_labels: [u8; TEST_ROWS],
}

impl Digits {
    /// All zero, to be filled by [`parse_digits`].
    pub const ZERO: Self = Self {
        train_pixels: [[0; PIXELS]; TRAIN_ROWS],
        train_labels: [0; TRAIN_ROWS],
        test_pixels: [[0; PIXELS]; TEST_ROWS],
        test_labels: [0; TEST_ROWS],
    };

    /// The training split.
    pub fn train(&self) -> Split<'_> {
        Split {
            pixels: &self.train_pixels,
            labels: &self.train_labels,
        }
    }

    /// The test split.
    pub fn test(&self) -> Split<'_> {
        Split {
            pixels: &self.test_pixels,
            labels: &self.test_labels,
        }
    }

    /// `(n, Σp, Σp²)` over every pixel of both splits, exact (integers): what [`MEAN`] and
    /// [`STD`] are computed from.
    pub fn pixel_moments(&self) -> (u64, u64, u64) {
        let pixels = self.train_pixels.iter().chain(&self.test_pixels).flatten();
        let (mut n, mut sum, mut sum_sq) = (0u64, 0u64, 0u64);
        for &p in pixels {
            n += 1;
            sum += u64::from(p);
            sum_sq += u64::from(p) * u64::from(p);
        }
        (n, sum, sum_sq)
    }
}

/// What is wrong with `digits.csv` or `digits_split.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The CSV header is not `p0,p1,…,p63,label`.
    Header,
    /// A CSV row (0-based, header not counted) is not 64 pixels `0..=16` and a label `0..=9`.
    Row(usize),
    /// The CSV does not have [`ROWS`] rows.
    RowCount,
    /// The split file is not one `#` comment line and [`TEST_ROWS`] ascending indices below
    /// [`ROWS`].
    Split,
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ParseError::Header => f.write_str("digits.csv: the header is not p0,…,p63,label"),
            ParseError::Row(row) => write!(
                f,
                "digits.csv row {row}: not 64 pixels 0..=16 and a label 0..=9"
            ),
            ParseError::RowCount => write!(f, "digits.csv: not {ROWS} rows"),
            ParseError::Split => write!(
                f,
                "digits_split.txt: not a # comment line and {TEST_ROWS} ascending indices \
                 below {ROWS}"
            ),
        }
    }
}

/// Parses `data/digits.csv` and `data/digits_split.txt` (formats in `data/README.md`) into
/// `out`.
///
/// # Errors
///
/// A [`ParseError`] saying which file or row is malformed; `out` is then partly written.
pub fn parse_digits(csv: &str, split: &str, out: &mut Digits) -> Result<(), ParseError> {
    let mut is_test = [false; ROWS];
    let mut lines = split.lines().filter(|l| !l.starts_with('#'));
    let indices = lines.next().ok_or(ParseError::Split)?;
    let mut count = 0;
    let mut previous = None;
    for field in indices.split(',') {
        let row: usize = field.trim().parse().map_err(|_| ParseError::Split)?;
        if row >= ROWS || previous.is_some_and(|p| p >= row) {
            return Err(ParseError::Split);
        }
        is_test[row] = true;
        previous = Some(row);
        count += 1;
    }
    if count != TEST_ROWS || lines.next().is_some() {
        return Err(ParseError::Split);
    }

    let mut lines = csv.lines();
    let header = lines.next().ok_or(ParseError::Header)?;
    let mut names = header.split(',');
    for i in 0..PIXELS {
        let name = names.next().and_then(|n| n.strip_prefix('p'));
        if name.and_then(|n| n.parse::<usize>().ok()) != Some(i) {
            return Err(ParseError::Header);
        }
    }
    if names.next() != Some("label") || names.next().is_some() {
        return Err(ParseError::Header);
    }

    let (mut train, mut test, mut rows) = (0, 0, 0);
    for (row, line) in lines.enumerate() {
        if row >= ROWS {
            return Err(ParseError::RowCount);
        }
        let mut fields = line.split(',').map(|v| v.parse::<u8>().ok());
        let mut pixels = [0; PIXELS];
        for p in &mut pixels {
            *p = fields
                .next()
                .flatten()
                .filter(|&p| p <= MAX_PIXEL)
                .ok_or(ParseError::Row(row))?;
        }
        let label = fields
            .next()
            .flatten()
            .filter(|&l| usize::from(l) < CLASSES)
            .ok_or(ParseError::Row(row))?;
        if fields.next().is_some() {
            return Err(ParseError::Row(row));
        }
        if is_test[row] {
            (out.test_pixels[test], out.test_labels[test]) = (pixels, label);
            test += 1;
        } else {
            (out.train_pixels[train], out.train_labels[train]) = (pixels, label);
            train += 1;
        }
        rows += 1;
    }
    if rows == ROWS {
        Ok(())
    } else {
        Err(ParseError::RowCount)
    }
}
