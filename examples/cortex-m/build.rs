//! Picks the board from the target, and turns `data/digits.csv` into the firmware's flash data.
//!
//! - `thumbv7em-none-eabihf` → board `mps2-an386` (Cortex-M4F), `thumbv6m-none-eabi` → board
//!   `microbit` (Cortex-M0): copies `memory/<board>.x` to `$OUT_DIR/memory.x` (on the linker's
//!   search path, where cortex-m-rt's `link.x` includes it) and sets `cfg(board = "<board>")`,
//!   which selects the training configuration in `src/main.rs`.
//! - Writes an empty `$OUT_DIR/device.x`: with cortex-m-rt's `device` feature its `link.x`
//!   includes a `device.x` (where a device crate would alias its interrupt handlers), and the
//!   firmware's own one-entry `__INTERRUPTS` table (`src/main.rs`) needs no alias.
//! - Parses `../../data/digits.csv` and `digits_split.txt` with `digits_data::parse_digits`
//!   (`examples/common/digits_data.rs`, `core` only: no build dependency), the one parser the
//!   host example and tests use, and writes the training and test splits as raw `u8` files
//!   (`train_pixels.bin`: 1347 × 64 bytes, `train_labels.bin`: 1347 bytes, and `test_*.bin`
//!   likewise for the 450 test rows), which `src/main.rs` includes with `include_bytes!`.
//! - For the fine-tuning binary (`src/bin/finetune.rs`) only: `$OUT_DIR/checkpoint.x`, a
//!   linker script fragment defining the symbol `__checkpoint` at the board's last 4 KiB of
//!   flash (the sector a checkpoint is "written" to; see [`CHECKPOINT_SECTORS`]), and checking
//!   that the image ends below it. A symbol, not a section: the ELF then has no segment there,
//!   so QEMU's `-device loader` can fill the sector for the second boot.

#[path = "../common/digits_data.rs"]
mod digits_data;

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

const BOARDS: [(&str, &str); 2] = [
    ("thumbv7em-none-eabihf", "mps2-an386"),
    ("thumbv6m-none-eabi", "microbit"),
];

/// The fine-tuning firmware's checkpoint sector: the last 4 KiB of each board's flash.
const CHECKPOINT_SECTORS: [(&str, u32); 2] =
    [("mps2-an386", 0x003F_F000), ("microbit", 0x0003_F000)];

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let target = env::var("TARGET").expect("TARGET");

    let values = BOARDS.map(|(_, board)| format!("{board:?}")).join(", ");
    println!("cargo::rustc-check-cfg=cfg(board, values({values}))");
    let Some(&(_, board)) = BOARDS.iter().find(|(t, _)| *t == target) else {
        panic!(
            "no board for target {target}: build with --target thumbv7em-none-eabihf \
             (mps2-an386) or --target thumbv6m-none-eabi (microbit)"
        );
    };
    println!("cargo::rustc-cfg=board={board:?}");
    let memory = manifest.join("memory").join(format!("{board}.x"));
    copy(&memory, &out.join("memory.x"));
    write(
        &out.join("device.x"),
        b"/* No interrupt handlers to alias: see __INTERRUPTS in src/main.rs. */\n",
    );
    println!("cargo::rustc-link-search={}", out.display());
    let &(_, sector) = CHECKPOINT_SECTORS
        .iter()
        .find(|(b, _)| *b == board)
        .expect("sector");
    let script = format!(
        "/* The fine-tuning firmware's checkpoint sector (build.rs): a symbol, no section, so\n   \
         the ELF leaves the sector to QEMU's -device loader. */\n\
         __checkpoint = {sector:#010x};\n\
         ASSERT(LOADADDR(.data) + SIZEOF(.data) <= __checkpoint, \"the firmware reaches into its \
         checkpoint sector\");\n"
    );
    write(&out.join("checkpoint.x"), script.as_bytes());
    println!("cargo::rustc-link-arg-bin=finetune=-Tcheckpoint.x");
    println!("cargo::rustc-env=CHECKPOINT_SECTOR={sector:#x}");
    println!("cargo::rerun-if-changed={}", memory.display());

    let data = manifest.join("../../data");
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
    println!("cargo::rerun-if-changed=build.rs");
}

fn read(path: &Path) -> String {
    println!("cargo::rerun-if-changed={}", path.display());
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn copy(from: &Path, to: &Path) {
    fs::copy(from, to).unwrap_or_else(|e| panic!("{} → {}: {e}", from.display(), to.display()));
}
