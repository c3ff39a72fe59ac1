//! For the firmware's `build.rs`: turns `data/digits.csv` into the flash data files that
//! `digits_firmware.rs` includes with `include_bytes!`.
//!
//! Parses `data/digits.csv` and `digits_split.txt` with `digits_data::parse_digits`
//! (`examples/common/digits_data.rs`, `core` only), the one parser the host example and tests
//! use, and writes the training and test splits as raw `u8` files (`train_pixels.bin`:
//! 1347 × 64 bytes, `train_labels.bin`: 1347 bytes, and `test_*.bin` likewise for the 450 test
//! rows).

#[path = "digits_data.rs"]
mod digits_data;

use std::fs;
use std::path::Path;

/// Writes the four data files into `out` from the CSV and split in `data` (the repository's
/// `data/` folder), and tells cargo to rerun when either changes.
pub fn write_digits(data: &Path, out: &Path) {
    let csv = read(&data.join("digits.csv"));
    let split = read(&data.join("digits_split.txt"));
    let mut digits = Box::new(digits_data::Digits::ZERO);
    if let Err(e) = digits_data::parse_digits(&csv, &split, &mut digits) {
        panic!("data/ is malformed: {e}");
    }
    write(
        &out.join("train_pixels.bin"),
        digits.train_pixels.as_flattened(),
    );
    write(&out.join("train_labels.bin"), &digits.train_labels);
    write(
        &out.join("test_pixels.bin"),
        digits.test_pixels.as_flattened(),
    );
    write(&out.join("test_labels.bin"), &digits.test_labels);
    println!("cargo::rerun-if-changed=../common/digits_data.rs");
    println!("cargo::rerun-if-changed=../common/digits_flash.rs");
}

fn read(path: &Path) -> String {
    println!("cargo::rerun-if-changed={}", path.display());
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Writes `bytes` to `path`.
pub fn write(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
