#!/usr/bin/env bash
# Measures the figures of README.md's table for each RISC-V target: flash (llvm-size text, and
# text without the data arrays, from llvm-nm), static RAM (data + bss), the worst-case stack
# (static bound: nightly -Z emit-stack-sizes -Z build-std=core and ../cortex-m/stack.py), guest
# instructions (qemu-icount plugin: one training step, the inference of one batch of test
# images, the whole training), the test accuracy and the QEMU wall time.
#
# usage: bash measure.sh [TARGET...]   (default: riscv32imac-unknown-none-elf riscv32imc-unknown-none-elf)
#
# Needs what .ci/embedded.sh installs, plus the qemu-icount plugin's source (GPL-2.0-or-later:
# a measuring tool, built apart and never a dependency), found at $QEMU_ICOUNT_SRC (default:
# the team's shared tools folder next to the repository). Work files go to $MEASURE_DIR.
# QEMU has no timing model: these are instruction counts, not cycles.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
work=${MEASURE_DIR:-/tmp/constnn-measure-riscv}
plugin_src=${QEMU_ICOUNT_SRC:-$here/../../../shared/tools/qemu-icount}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(riscv32imac-unknown-none-elf riscv32imc-unknown-none-elf)
bin=$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin
mkdir -p "$work"

echo "building the qemu-icount plugin from $plugin_src" >&2
# (from $work: this directory's .cargo/config.toml would make it build for the board)
(cd "$work" && cargo build -q --release --manifest-path "$plugin_src/Cargo.toml" --target-dir "$work/plugin")
plugin=$work/plugin/release/libqemu_icount.so

qemu() { # <elf> [extra qemu args...]
  local elf=$1
  shift
  timeout 300 qemu-system-riscv32 -machine virt -bios none -nographic \
    -semihosting-config enable=on,target=native "$@" -kernel "$elf"
}

addr() { # <elf> <symbol>
  printf '0x%s' "$("$bin/llvm-nm" "$1" | awk -v s="$2" '$3 == s { print $1 }')"
}

icount() { # <elf> <region>: guest instructions from <region>_begin to <region>_end
  qemu "$1" -plugin "$plugin,start=$(addr "$1" "$2_begin"),end=$(addr "$1" "$2_end")" 2>&1 \
    | sed -n 's/.*region insns = \([0-9]*\).*/\1/p'
}

echo "| target | batch | epochs | flash text | code (text without data) | data+bss | stack (static) | RAM total | insns/step | insns/sample | insns/step (avg over the run) | inference insns (batch) | inference insns/image | test accuracy | QEMU s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for target in "${targets[@]}"; do
  elf=$work/fw/$target/release/constnn-riscv
  CARGO_TARGET_DIR=$work/fw cargo build -q --release --target "$target"

  start=$EPOCHREALTIME
  qemu "$elf" >"$work/run.txt"
  wall=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
  last=$(tail -n 1 "$work/run.txt")
  case "$last" in *PASS) ;; *) echo "$target: $last" >&2; exit 1 ;; esac
  batch=$(sed -n 's/.* batch=\([0-9]*\).*/\1/p' "$work/run.txt")
  epochs=$(sed -n 's/.* epochs=\([0-9]*\).*/\1/p' "$work/run.txt")
  accuracy=$(echo "$last" | sed -n 's/.*test_accuracy_permille=\([0-9]*\).*/\1/p')
  steps=$((epochs * ((1347 + batch - 1) / batch)))

  read -r text data bss _ < <("$bin/llvm-size" -A "$elf" | awk '
    $1 ~ /^\.(text|init|rodata)/ { t += $2 } $1 == ".data" { d += $2 } $1 == ".bss" { b += $2 }
    END { print t, d, b }')
  # The four data arrays (named statics in flash): 1347 × 65 + 450 × 65 = 116 805 bytes.
  arrays=$("$bin/llvm-nm" -C --print-size "$elf" | python3 -c '
import re, sys
print(sum(int(l.split()[1], 16) for l in sys.stdin
          if re.search(r" constnn_[a-z_]+::digits_firmware::(TRAIN|TEST)_(PIXELS|LABELS)::", l)))')

  step=$(icount "$elf" step)
  infer=$(icount "$elf" infer)
  train=$(icount "$elf" train)

  RUSTFLAGS="-C link-arg=-Tmemory.x -C link-arg=-Tlink.x -Z emit-stack-sizes" CARGO_TARGET_DIR=$work/stack \
    cargo +nightly build -q --release --target "$target" -Z build-std=core
  static=$(python3 ../cortex-m/stack.py "$work/stack/$target/release/constnn-riscv" | tail -n 1 | sed 's/.*max [=>]* //')

  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f |\n' \
    "$target" "$batch" "$epochs" "$text" "$((text - arrays))" "$((data + bss))" \
    "$static" "$((data + bss + static))" "$step" "$((step / batch))" \
    "$((train / steps))" "$infer" "$((infer / batch))" "0.$accuracy" "$wall"
done
