//! Picks the board from the target, and turns `data/digits.csv` into the firmware's flash data.
//!
//! - `thumbv7em-none-eabihf` → board `mps2-an386` (Cortex-M4F), `thumbv6m-none-eabi` → board
//!   `microbit` (Cortex-M0): copies `memory/<board>.x` to `$OUT_DIR/memory.x` (on the linker's
//!   search path, where cortex-m-rt's `link.x` includes it) and sets `cfg(board = "<board>")`,
//!   which selects the training configuration in `src/main.rs`.
//! - Writes an empty `$OUT_DIR/device.x`: with cortex-m-rt's `device` feature its `link.x`
//!   includes a `device.x` (where a device crate would alias its interrupt handlers), and the
//!   firmware's own one-entry `__INTERRUPTS` table (`src/main.rs`) needs no alias.
//! - Writes the training and test splits of `../../data/digits.csv` as raw `u8` files
//!   (`examples/common/digits_flash.rs`), which `examples/common/digits_firmware.rs` includes
//!   with `include_bytes!`.
//! - For the fine-tuning binary (`src/bin/finetune.rs`) only: `$OUT_DIR/checkpoint.x`, a
//!   linker script fragment defining the symbol `__checkpoint` at the board's last 4 KiB of
//!   flash (the sector a checkpoint is "written" to; see [`CHECKPOINT_SECTORS`]), and checking
//!   that the image ends below it. A symbol, not a section: the ELF then has no segment there,
//!   so QEMU's `-device loader` can fill the sector for the second boot.

#[path = "../common/digits_flash.rs"]
mod digits_flash;

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
    digits_flash::write(
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
    digits_flash::write(&out.join("checkpoint.x"), script.as_bytes());
    println!("cargo::rustc-link-arg-bin=finetune=-Tcheckpoint.x");
    println!("cargo::rustc-env=CHECKPOINT_SECTOR={sector:#x}");
    println!("cargo::rerun-if-changed={}", memory.display());

    digits_flash::write_digits(&manifest.join("../../data"), &out);
    println!("cargo::rerun-if-changed=build.rs");
}

fn copy(from: &Path, to: &Path) {
    fs::copy(from, to).unwrap_or_else(|e| panic!("{} → {}: {e}", from.display(), to.display()));
}
