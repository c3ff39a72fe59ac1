#!/usr/bin/env bash
# The embedded part of CI (called by .ci/run; also runs alone: `bash .ci/embedded.sh`).
#
# On a fresh Debian bookworm machine, as root: installs QEMU (bookworm-backports), the Rust
# targets, llvm-tools and (for the static stack bound) nightly's rust-src, each only if missing.
# Then:
#   1. builds the library for thumbv6m-none-eabi, thumbv7em-none-eabihf, riscv32imac;
#   2. runs the host test tests/on_device_run.rs, which prints the host's bits for each board;
#   3. checks the firmware crate with `cargo fmt --check` and `cargo clippy -D warnings` for
#      both its targets (it is its own workspace: the library's CI does not see it);
#   4. builds the firmware (examples/cortex-m) and trains under QEMU on the Cortex-M4F
#      (mps2-an386) and the Cortex-M0 (microbit), and the Cortex-M4F again at opt-level 3;
#      each must exit 0 (PASS), reach test accuracy >= 0.95 and print the host's exact bits;
#   5. prints flash and RAM sizes, checks the Cortex-M4F firmware's code (flash text without the
#      data set) is at most 8000 bytes, and that the M0's static RAM plus its worst-case stack
#      (static bound, nightly -Z emit-stack-sizes) fit the micro:bit's 16 KiB;
#   6. the fine-tuning firmware (src/bin/finetune.rs) on both boards: boot 1, its checkpoint
#      (CRC-32 = the host's), boot 2 from the checkpoint in flash, a corrupted checkpoint
#      refused, each line the host's (tests/finetune_run.rs); the M0's RAM + stack <= 16 KiB.
#   7. int8: the host run of the int8 inference and the committed
#      model's bytes (tests/int8_on_device_run.rs), the int8 firmware on both boards (PASS and
#      the host's values), and its code size against CMSIS-NN's (7.6 kB M4F, 6.8 kB M0).
#   8. RISC-V (examples/riscv): installs qemu-system-riscv and the riscv32imac/riscv32imc
#      targets, checks the crate with fmt and clippy, and on QEMU virt, for both targets, trains
#      (the Cortex-M0's run: its bits) and runs the int8 inference (tests/int8_on_device_run.rs's
#      values); each must exit 0 (PASS) and print the host's values.
# Ends with `embedded: N passed, N failed`; exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# Outputs and the stack-bound builds of this run only (machines may run several checkouts).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CARGO_TERM_COLOR=never

passed=0
failed=0
# Runs a step and counts it. Inside a step `set -e` does not apply (bash ignores it in an `if`
# condition), so every command that matters ends with `|| return 1`.
step() { # <name> <command...>
  local name=$1
  shift
  echo "::: embedded: $name"
  local t0=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "::: embedded: $name ok ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1))
    echo "::: embedded: $name FAILED ($((SECONDS - t0)) s)"
    echo "embedded: $passed passed, $failed failed"
    exit 1
  fi
}

# bookworm's own QEMU (7.2) conflicts with the image's qemu-utils from backports.
backports() {
  local sources=/etc/apt/sources.list.d/bookworm-backports.sources
  if ! grep -qs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/*; then
    cat >"$sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  fi
  apt-get update -qq
}

install_qemu() {
  command -v qemu-system-arm >/dev/null && return 0
  backports || return 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports qemu-system-arm >/dev/null
  qemu-system-arm --version | head -n 1
}

install_rust() {
  rustup target add thumbv6m-none-eabi thumbv7em-none-eabihf riscv32imac-unknown-none-elf
  rustup component add llvm-tools rustfmt clippy
  # The static stack bound needs nightly with rust-src (-Z build-std=core); use the installed
  # nightly, never update it here.
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
  rustup component add --toolchain nightly rust-src llvm-tools
}

step "install qemu-system-arm" install_qemu
step "install Rust targets and tools" install_rust
bin=$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin

for target in thumbv6m-none-eabi thumbv7em-none-eabihf riscv32imac-unknown-none-elf; do
  step "library for $target" cargo build -q --release --target "$target"
  step "library clippy for $target" cargo clippy -q --release --target "$target" -- -D warnings
done

host_bits() {
  cargo test -q --test on_device_run -- --nocapture --test-threads 1 >$tmp/host.txt 2>&1 ||
    { cat $tmp/host.txt; return 1; }
  grep -o 'host [a-z0-9-]*: .*' $tmp/host.txt
}
step "host run of the firmware's training (tests/on_device_run.rs)" host_bits

fw=$root/examples/cortex-m
elf() { echo "$fw/target/$1/$2/constnn-cortex-m"; } # <target> <profile dir>

firmware_lint() {
  (cd "$fw" && cargo fmt --check) || return 1
  local target
  for target in thumbv7em-none-eabihf thumbv6m-none-eabi; do
    (cd "$fw" && cargo clippy -q --release --target "$target" -- -D warnings) || return 1
    (cd "$fw" && cargo clippy -q --release --target "$target" --features stack-paint -- -D warnings) ||
      return 1
  done
}
step "firmware: cargo fmt --check, cargo clippy -D warnings (both targets)" firmware_lint

# Builds and runs the firmware, then compares its last line with the host's.
firmware() { # <target> <machine> <profile>
  local target=$1 machine=$2 profile=$3 out=$tmp/fw-$2-$3.txt
  (cd "$fw" && cargo build -q --profile "$profile" --target "$target") || return 1
  local t0=$SECONDS rc=0
  timeout 120 qemu-system-arm -machine "$machine" -nographic \
    -semihosting-config enable=on,target=native -kernel "$(elf "$target" "$profile")" >"$out" || rc=$?
  cat "$out"
  echo "(QEMU: exit status $rc, $((SECONDS - t0)) s)"
  [ "$rc" = 0 ] || { echo "the firmware failed (exit status $rc)"; return 1; }
  local line want permille
  line=$(tail -n 1 "$out")
  case "$line" in *" PASS") ;; *) echo "no PASS on the last line"; return 1 ;; esac
  permille=$(echo "$line" | sed -n 's/.*test_accuracy_permille=\([0-9]*\).*/\1/p')
  [ -n "$permille" ] && [ "$permille" -ge 950 ] || { echo "test accuracy ${permille}‰ < 950‰"; return 1; }
  want=$(sed -n "s/.*host $machine: //p" $tmp/host.txt)
  [ -n "$want" ] || { echo "the host test printed no line for $machine"; return 1; }
  case "$line" in
    *"$want PASS") echo "same bits as the host: $want" ;;
    *) echo "bits differ: device '$line', host '$want'"; return 1 ;;
  esac
}
step "Cortex-M4F (mps2-an386), batch 10" firmware thumbv7em-none-eabihf mps2-an386 release
step "Cortex-M0 (microbit, 16 KiB RAM), batch 4" firmware thumbv6m-none-eabi microbit release
step "Cortex-M4F at opt-level 3 (profile speed)" firmware thumbv7em-none-eabihf mps2-an386 speed

# The issue's bar: the trainer's code (the whole Cortex-M4F firmware without its data set) is at
# most 8 kB; the Cortex-M0's is printed (its soft-float runtime puts it above: see
# examples/cortex-m/README.md).
sizes() {
  local target elf arrays code
  for target in thumbv7em-none-eabihf thumbv6m-none-eabi; do
    elf=$(elf "$target" release)
    "$bin/llvm-size" "$elf" || return 1
    arrays=$("$bin/llvm-nm" -C --print-size "$elf" | python3 -c '
import re, sys
print(sum(int(l.split()[1], 16) for l in sys.stdin
          if re.search(r" constnn_[a-z_]+::digits_firmware::(TRAIN|TEST)_(PIXELS|LABELS)::", l)))') || return 1
    "$bin/llvm-size" "$elf" | tail -n 1 | awk -v a="$arrays" -v t="$target" \
      '{ printf "%s: flash text %d = data set %d + code %d; static RAM (data+bss) %d\n", t, $1, a, $1 - a, $2 + $3 }'
    code=$(( $("$bin/llvm-size" "$elf" | tail -n 1 | awk '{ print $1 }') - arrays ))
    if [ "$target" = thumbv7em-none-eabihf ] && [ "$code" -gt 8000 ]; then
      echo "Cortex-M4F firmware code $code bytes > 8000"
      return 1
    fi
  done
}
step "sizes (llvm-size; Cortex-M4F code <= 8000 bytes)" sizes

m0_fits() {
  local target=thumbv6m-none-eabi dir=$tmp/stack
  (cd "$fw" && RUSTFLAGS="-C link-arg=-Tlink.x -Z emit-stack-sizes" CARGO_TARGET_DIR=$dir \
    cargo +nightly build -q --release --target "$target" -Z build-std=core) || return 1
  local report stack ram
  report=$(python3 "$fw/stack.py" "$dir/$target/release/constnn-cortex-m") || return 1
  echo "$report"
  echo "$report" | tail -n 1 | grep -q 'max = ' || { echo "the stack bound is not exact"; return 1; }
  stack=$(echo "$report" | tail -n 1 | sed 's/.*max = //')
  ram=$("$bin/llvm-size" "$(elf "$target" release)" | tail -n 1 | awk '{ print $2 + $3 }') || return 1
  echo "micro:bit RAM: static $ram + worst-case stack $stack = $((ram + stack)) of 16384 bytes"
  [ $((ram + stack)) -le 16384 ]
}
step "Cortex-M0: static RAM + worst-case stack <= 16 KiB" m0_fits

# The fine-tuning firmware (examples/cortex-m/src/bin/finetune.rs) on both boards, both boots:
# boot 1 fine-tunes from the pretrained model in flash and prints its checkpoint in hex; the
# checkpoint must have the CRC-32 the host's (tests/finetune_run.rs) has; boot 2 gets it in
# its flash sector (QEMU -device loader) and finishes. Each boot's last line must be the host's
# line plus " PASS"; a corrupted checkpoint must be refused (exit status 1).
finetune_host_bits() {
  cargo test -q --test finetune_run -- --nocapture --test-threads 1 >$tmp/host-ft.txt 2>&1 ||
    { cat $tmp/host-ft.txt; return 1; }
  grep -o 'host finetune-[a-z0-9-]*: .*' $tmp/host-ft.txt
}
step "host run of the fine-tuning (tests/finetune_run.rs)" finetune_host_bits

finetune_boot() { # <machine> <elf> <out> [qemu args...]: runs one boot, prints its output
  local machine=$1 elf=$2 out=$3 rc=0
  shift 3
  timeout 300 qemu-system-arm -machine "$machine" -nographic \
    -semihosting-config enable=on,target=native "$@" -kernel "$elf" >"$out" || rc=$?
  grep -v '^ckpt ' "$out"
  echo "(QEMU: exit status $rc)"
  return "$rc"
}

finetune_expect() { # <out> <machine> <before|after>: the last line is the host's + " PASS"
  local line want
  line=$(tail -n 1 "$1")
  want=$(sed -n "s/.*host finetune-$2: \($3 .*\)/\1/p" $tmp/host-ft.txt)
  [ -n "$want" ] || { echo "the host test printed no $3 line for $2"; return 1; }
  [ "$line" = "$want PASS" ] || { echo "device '$line', host '$want'"; return 1; }
  echo "same bits as the host: $want"
}

finetune_firmware() { # <target> <machine> <checkpoint sector address>
  local target=$1 machine=$2 sector=$3 dir=$tmp/ft-$2
  local elf=$fw/target/$target/release/finetune
  mkdir -p "$dir"
  (cd "$fw" && cargo build -q --release --bin finetune --target "$target") || return 1
  finetune_boot "$machine" "$elf" "$dir/boot1.txt" || return 1
  finetune_expect "$dir/boot1.txt" "$machine" before || return 1
  python3 -c 'import sys; open(sys.argv[2], "wb").write(bytes.fromhex("".join(
    l[5:].strip() for l in open(sys.argv[1]) if l.startswith("ckpt "))))' \
    "$dir/boot1.txt" "$dir/ckpt.bin" || return 1
  python3 - "$dir/ckpt.bin" "$(sed -n "s/.*host finetune-$machine: .*checkpoint_crc=\(0x[0-9a-f]*\).*/\1/p" \
    $tmp/host-ft.txt)" <<'PY' || return 1
import sys, zlib
data, want = open(sys.argv[1], "rb").read(), int(sys.argv[2], 16)
crc = zlib.crc32(data[:-4])
print(f"checkpoint: {len(data)} bytes, zlib.crc32 {crc:#010x}, host {want:#010x}")
sys.exit(0 if len(data) == 2676 and crc == want == int.from_bytes(data[-4:], "little") else 1)
PY
  finetune_boot "$machine" "$elf" "$dir/boot2.txt" -device "loader,file=$dir/ckpt.bin,addr=$sector" ||
    return 1
  finetune_expect "$dir/boot2.txt" "$machine" after || return 1
  # One flipped byte in the payload: boot 2 must refuse the checkpoint.
  python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[100] ^= 1; open(sys.argv[2], "wb").write(b)' \
    "$dir/ckpt.bin" "$dir/bad.bin" || return 1
  if finetune_boot "$machine" "$elf" "$dir/bad.txt" -device "loader,file=$dir/bad.bin,addr=$sector"; then
    echo "a corrupted checkpoint was accepted"
    return 1
  fi
  grep -q 'checkpoint in flash is invalid: checksum mismatch FAIL' "$dir/bad.txt" || return 1
}
step "fine-tuning, Cortex-M4F (mps2-an386): boot 1, checkpoint, boot 2" \
  finetune_firmware thumbv7em-none-eabihf mps2-an386 0x3ff000
step "fine-tuning, Cortex-M0 (microbit): boot 1, checkpoint, boot 2" \
  finetune_firmware thumbv6m-none-eabi microbit 0x3f000

finetune_m0_fits() {
  local target=thumbv6m-none-eabi dir=$tmp/stack
  (cd "$fw" && RUSTFLAGS="-C link-arg=-Tlink.x -Z emit-stack-sizes" CARGO_TARGET_DIR=$dir \
    cargo +nightly build -q --release --bin finetune --target "$target" -Z build-std=core) || return 1
  local report stack ram elf=$fw/target/$target/release/finetune
  report=$(python3 "$fw/stack.py" "$dir/$target/release/finetune") || return 1
  echo "$report" | tail -n 4
  echo "$report" | tail -n 1 | grep -q 'max = ' || { echo "the stack bound is not exact"; return 1; }
  stack=$(echo "$report" | tail -n 1 | sed 's/.*max = //')
  "$bin/llvm-size" "$elf" || return 1
  ram=$("$bin/llvm-size" "$elf" | tail -n 1 | awk '{ print $2 + $3 }') || return 1
  echo "micro:bit RAM (fine-tuning): static $ram + worst-case stack $stack = $((ram + stack)) of 16384 bytes"
  [ $((ram + stack)) -le 16384 ] || return 1
  # The pretrained model is in flash (.rodata), not copied to RAM.
  "$bin/llvm-nm" -C --print-size "$elf" | grep -E ' r finetune::PRETRAINED' ||
    { echo "PRETRAINED is not a read-only (flash) symbol"; return 1; }
}
step "fine-tuning, Cortex-M0: static RAM + worst-case stack <= 16 KiB, model in flash" finetune_m0_fits

# ---------------------------------------------------------------------------------------------
# The int8 inference firmware (examples/cortex-m, binary `int8`; issue 11): the quantized
# digits model in flash (examples/common/digits_int8.bin), the 450 test images, both boards.
int8_host_bits() {
  cargo test -q --test int8_on_device_run -- --nocapture --test-threads 1 >$tmp/int8-host.txt 2>&1 ||
    { cat $tmp/int8-host.txt; return 1; }
  grep -o 'host int8: .*' $tmp/int8-host.txt
}
step "int8: host run and the committed model's bytes (tests/int8_on_device_run.rs)" int8_host_bits

# Builds and runs the int8 firmware; its last line must be PASS with the host's values.
int8_firmware() { # <target> <machine>
  local target=$1 machine=$2 out=$tmp/int8-$2.txt
  (cd "$fw" && cargo build -q --release --target "$target" --bin int8) || return 1
  local rc=0
  timeout 60 qemu-system-arm -machine "$machine" -nographic \
    -semihosting-config enable=on,target=native -kernel "$fw/target/$target/release/int8" >"$out" || rc=$?
  cat "$out"
  [ "$rc" = 0 ] || { echo "the int8 firmware failed (exit status $rc)"; return 1; }
  local line want
  line=$(tail -n 1 "$out")
  case "$line" in *" PASS") ;; *) echo "no PASS on the last line"; return 1 ;; esac
  want=$(sed -n 's/.*host int8: //p' $tmp/int8-host.txt)
  [ -n "$want" ] || { echo "the host test printed no int8 line"; return 1; }
  case "$line" in
    "$want PASS") echo "same values as the host: $want" ;;
    *) echo "values differ: device '$line', host '$want'"; return 1 ;;
  esac
}
step "int8: Cortex-M4F (mps2-an386)" int8_firmware thumbv7em-none-eabihf mps2-an386
step "int8: Cortex-M0 (microbit)" int8_firmware thumbv6m-none-eabi microbit

# The issue's bar: the inference-only firmware's code no larger than CMSIS-NN's (7.6 kB on the
# Cortex-M4F, 6.8 kB on the Cortex-M0). Code is the flash text without the test split and the
# model (the `MODEL` static; printed too, and code + model).
int8_sizes() {
  local target bar elf split model text code
  for target in "thumbv7em-none-eabihf 7600" "thumbv6m-none-eabi 6800"; do
    read -r target bar <<<"$target"
    elf=$fw/target/$target/release/int8
    "$bin/llvm-size" "$elf" || return 1
    read -r split model < <("$bin/llvm-nm" -C --print-size "$elf" | python3 -c '
import re, sys
split = model = 0
for l in sys.stdin:
    if re.search(r" int8::int8_firmware::TEST_(PIXELS|LABELS)::", l): split += int(l.split()[1], 16)
    if re.search(r" int8::int8_firmware::MODEL::", l): model += int(l.split()[1], 16)
print(split, model)') || return 1
    text=$("$bin/llvm-size" "$elf" | tail -n 1 | awk '{ print $1 }')
    code=$((text - split - model))
    echo "$target int8: flash text $text = test split $split + model $model + code $code (code + model $((code + model)); bar $bar)"
    [ "$code" -le "$bar" ] || { echo "int8 firmware code $code bytes > $bar"; return 1; }
  done
}
step "int8: sizes (code <= 7600 bytes on the M4F, <= 6800 on the M0)" int8_sizes

# --- RISC-V: examples/riscv on QEMU virt (RV32IMAC, and RV32IMC, the ESP32-C3's ISA) ---
rv=$root/examples/riscv
rv_targets=(riscv32imac-unknown-none-elf riscv32imc-unknown-none-elf)

install_qemu_riscv() {
  command -v qemu-system-riscv32 >/dev/null && return 0
  backports || return 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports qemu-system-riscv >/dev/null
  qemu-system-riscv32 --version | head -n 1
}
step "install qemu-system-riscv" install_qemu_riscv
step "install the RISC-V targets" rustup target add "${rv_targets[@]}"

riscv_lint() {
  (cd "$rv" && cargo fmt --check) || return 1
  local target
  for target in "${rv_targets[@]}"; do
    (cd "$rv" && cargo clippy -q --release --target "$target" -- -D warnings) || return 1
  done
}
step "RISC-V firmware: cargo fmt --check, cargo clippy -D warnings (both targets)" riscv_lint

# Builds and runs a RISC-V binary, then compares its last line with the host's line <host>:
# `host microbit:` for the training firmware (it runs the Cortex-M0's configuration,
# digits_run::m0), `host int8:` for the int8 one.
riscv_firmware() { # <target> <binary> <host> <host output file>
  local target=$1 binary=$2 host=$3 hostfile=$4 out=$tmp/fw-$1-$2.txt elf
  elf=$rv/target/$target/release/$binary
  (cd "$rv" && cargo build -q --release --target "$target" --bin "$binary") || return 1
  local t0=$SECONDS rc=0
  timeout 120 qemu-system-riscv32 -machine virt -bios none -nographic \
    -semihosting-config enable=on,target=native -kernel "$elf" >"$out" || rc=$?
  cat "$out"
  echo "(QEMU: exit status $rc, $((SECONDS - t0)) s)"
  [ "$rc" = 0 ] || { echo "the firmware failed (exit status $rc)"; return 1; }
  local line want
  line=$(tail -n 1 "$out")
  case "$line" in *" PASS") ;; *) echo "no PASS on the last line"; return 1 ;; esac
  want=$(sed -n "s/.*host $host: //p" "$hostfile")
  [ -n "$want" ] || { echo "the host test printed no line 'host $host:'"; return 1; }
  case "$line" in
    *"$want PASS") echo "same bits as the host: $want" ;;
    *) echo "bits differ: device '$line', host '$want'"; return 1 ;;
  esac
  "$bin/llvm-size" -A "$elf" | awk -v t="$target $binary" '
    $1 ~ /^\.(text|init|rodata)/ { f += $2 } $1 == ".data" || $1 == ".bss" { r += $2 }
    END { printf "%s: flash %d (data set included), static RAM (data+bss) %d\n", t, f, r }'
}
for target in "${rv_targets[@]}"; do
  step "RISC-V $target (QEMU virt): training, batch 4" \
    riscv_firmware "$target" constnn-riscv microbit $tmp/host.txt
  step "RISC-V $target (QEMU virt): int8 inference" \
    riscv_firmware "$target" int8 int8 $tmp/int8-host.txt
done

echo "embedded: $passed passed, $failed failed"
