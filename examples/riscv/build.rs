//! Checks the target, puts `memory.x` on the linker's search path, and turns `data/digits.csv`
//! into the firmware's flash data.
//!
//! - `riscv32imac-unknown-none-elf` or `riscv32imc-unknown-none-elf` (the ESP32-C3's ISA), both
//!   for QEMU's `virt` machine: copies `memory.x` to `$OUT_DIR` (riscv-rt's `link.x` includes
//!   it).
//! - Writes the training and test splits of `../../data/digits.csv` as raw `u8` files
//!   (`examples/common/digits_flash.rs`), which `examples/common/digits_firmware.rs` includes
//!   with `include_bytes!`.

#[path = "../common/digits_flash.rs"]
mod digits_flash;

use std::env;
use std::fs;
use std::path::PathBuf;

const TARGETS: [&str; 2] = [
    "riscv32imac-unknown-none-elf",
    "riscv32imc-unknown-none-elf",
];

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let target = env::var("TARGET").expect("TARGET");
    assert!(
        TARGETS.contains(&target.as_str()),
        "no board for target {target}: build with --target riscv32imac-unknown-none-elf or \
         --target riscv32imc-unknown-none-elf (QEMU virt)"
    );
    let memory = manifest.join("memory.x");
    fs::copy(&memory, out.join("memory.x")).unwrap_or_else(|e| panic!("{}: {e}", memory.display()));
    println!("cargo::rustc-link-search={}", out.display());
    println!("cargo::rerun-if-changed={}", memory.display());

    digits_flash::write_digits(&manifest.join("../../data"), &out);
    println!("cargo::rerun-if-changed=build.rs");
}
