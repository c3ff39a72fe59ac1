#!/usr/bin/env bash
# Measures the figures of README.md's tables for each RISC-V target: flash (llvm-size text, and
# text without the data arrays, from llvm-nm), static RAM (data + bss), the worst-case stack
# (static bound: nightly -Z emit-stack-sizes -Z build-std=core and ../cortex-m/stack.py), guest
# instructions (qemu-icount plugin: one training step, the inference of one batch of test
# images, the whole training; for the int8 binary, the inference of one image), the test
# accuracy and the QEMU wall time.
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

run_passes() { # <elf>: runs it, prints its wall time; the output is in $work/run.txt
  local start=$EPOCHREALTIME
  qemu "$1" >"$work/run.txt"
  awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }'
  case "$(tail -n 1 "$work/run.txt")" in *PASS) ;; *) tail -n 1 "$work/run.txt" >&2; return 1 ;; esac
}

sizes() { # <elf>: flash text, data, bss (the sections llvm-size -A lists)
  "$bin/llvm-size" -A "$1" | awk '
    $1 ~ /^\.(text|init|rodata)/ { t += $2 } $1 == ".data" { d += $2 } $1 == ".bss" { b += $2 }
    END { print t, d, b }'
}

symbol_bytes() { # <elf> <regex>: the bytes of the symbols whose demangled names match
  "$bin/llvm-nm" -C --print-size "$1" | python3 -c '
import re, sys
print(sum(int(l.split()[1], 16) for l in sys.stdin if re.search(sys.argv[1], l)))' "$2"
}

stack() { # <target> <binary>: the exact static stack bound (nightly -Z emit-stack-sizes)
  RUSTFLAGS="-C link-arg=-Tmemory.x -C link-arg=-Tlink.x -Z emit-stack-sizes" CARGO_TARGET_DIR=$work/stack \
    cargo +nightly build -q --release --target "$1" --bin "$2" -Z build-std=core
  python3 ../cortex-m/stack.py "$work/stack/$1/release/$2" | tail -n 1 | sed 's/.*max [=>]* //'
}

echo "| target | batch | epochs | flash text | code (text without data) | data+bss | stack (static) | RAM total | insns/step | insns/sample | insns/step (avg over the run) | inference insns (batch) | inference insns/image | test accuracy | QEMU s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for target in "${targets[@]}"; do
  elf=$work/fw/$target/release/constnn-riscv
  CARGO_TARGET_DIR=$work/fw cargo build -q --release --target "$target"

  wall=$(run_passes "$elf")
  last=$(tail -n 1 "$work/run.txt")
  batch=$(sed -n 's/.* batch=\([0-9]*\).*/\1/p' "$work/run.txt")
  epochs=$(sed -n 's/.* epochs=\([0-9]*\).*/\1/p' "$work/run.txt")
  accuracy=$(echo "$last" | sed -n 's/.*test_accuracy_permille=\([0-9]*\).*/\1/p')
  steps=$((epochs * ((1347 + batch - 1) / batch)))

  read -r text data bss < <(sizes "$elf")
  # The four data arrays (named statics in flash): 1347 × 65 + 450 × 65 = 116 805 bytes.
  arrays=$(symbol_bytes "$elf" ' constnn_riscv::digits_firmware::(TRAIN|TEST)_(PIXELS|LABELS)::')

  step=$(icount "$elf" step)
  infer=$(icount "$elf" infer)
  train=$(icount "$elf" train)

  static=$(stack "$target" constnn-riscv)

  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f |\n' \
    "$target" "$batch" "$epochs" "$text" "$((text - arrays))" "$((data + bss))" \
    "$static" "$((data + bss + static))" "$step" "$((step / batch))" \
    "$((train / steps))" "$infer" "$((infer / batch))" "0.$accuracy" "$wall"
done

echo
echo "| target (int8 binary) | flash text | test set | model | code (text without test set and model) | data+bss | stack (static) | insns/image | test accuracy | QEMU s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for target in "${targets[@]}"; do
  elf=$work/fw/$target/release/int8
  CARGO_TARGET_DIR=$work/fw cargo build -q --release --target "$target" --bin int8
  wall=$(run_passes "$elf")
  accuracy=$(tail -n 1 "$work/run.txt" | sed -n 's/.*test_accuracy_permille=\([0-9]*\).*/\1/p')
  read -r text data bss < <(sizes "$elf")
  # The test split (450 × 65 = 29 250 bytes) and the decoded model, named statics in flash.
  arrays=$(symbol_bytes "$elf" ' int8::int8_firmware::TEST_(PIXELS|LABELS)::')
  model=$(symbol_bytes "$elf" ' int8::int8_firmware::MODEL::')
  infer=$(icount "$elf" infer)
  static=$(stack "$target" int8)
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f |\n' \
    "$target" "$text" "$arrays" "$model" "$((text - arrays - model))" "$((data + bss))" \
    "$static" "$infer" "0.$accuracy" "$wall"
done
