#!/usr/bin/env bash
# Measures the fine-tuning firmware (src/bin/finetune.rs) on both boards, both boots:
#   flash (llvm-size text; the data set, the pretrained model and the code, from llvm-nm),
#   static RAM (data + bss), the worst-case stack (static bound: nightly -Z emit-stack-sizes
#   -Z build-std=core and stack.py), guest instructions (qemu-icount plugin: the first head
#   step, `step_begin`..`step_end`; each boot's whole fine-tuning, `train_begin`..`train_end`,
#   divided by its steps: the body's features included), the accuracies and the wall time.
#
# usage: bash measure_finetune.sh   (as measure.sh: QEMU_ICOUNT_SRC, MEASURE_DIR)
# QEMU has no timing model: these are instruction counts, not cycles.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
work=${MEASURE_DIR:-/tmp/constnn-measure-finetune}
plugin_src=${QEMU_ICOUNT_SRC:-$here/../../../shared/tools/qemu-icount}
bin=$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin
mkdir -p "$work"
(cd "$work" && cargo build -q --release --manifest-path "$plugin_src/Cargo.toml" --target-dir "$work/plugin")
plugin=$work/plugin/release/libqemu_icount.so

qemu() { # <machine> <elf> [extra qemu args...]
  local machine=$1 elf=$2
  shift 2
  timeout 300 qemu-system-arm -machine "$machine" -nographic \
    -semihosting-config enable=on,target=native "$@" -kernel "$elf"
}
addr() { printf '0x%x' $((0x$("$bin/llvm-nm" "$1" | awk -v s="$2" '$3 == s { print $1 }') & ~1)); }
icount() { # <machine> <elf> <region> [qemu args...]
  local machine=$1 elf=$2 region=$3
  shift 3
  qemu "$machine" "$elf" "$@" -plugin "$plugin,start=$(addr "$elf" "${region}_begin"),end=$(addr "$elf" "${region}_end")" 2>&1 \
    | sed -n 's/.*region insns = \([0-9]*\).*/\1/p'
}

echo "| board | batch | flash text | data set | pretrained model | code | data+bss | stack (static) | RAM total | insns per head step (first) | insns per step, features included (boot 1 / boot 2 average) | before: correct / on 8–9 | after: correct / on 8–9 | QEMU s (boot 1 + boot 2) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for board in "thumbv7em-none-eabihf mps2-an386 0x3ff000" "thumbv6m-none-eabi microbit 0x3f000"; do
  read -r target machine sector <<<"$board"
  elf=$work/fw/$target/release/finetune
  CARGO_TARGET_DIR=$work/fw cargo build -q --release --bin finetune --target "$target"
  start=$EPOCHREALTIME
  qemu "$machine" "$elf" >"$work/boot1.txt"
  python3 -c 'import sys; open(sys.argv[2], "wb").write(bytes.fromhex("".join(
    l[5:].strip() for l in open(sys.argv[1]) if l.startswith("ckpt "))))' "$work/boot1.txt" "$work/ckpt.bin"
  qemu "$machine" "$elf" -device "loader,file=$work/ckpt.bin,addr=$sector" >"$work/boot2.txt"
  wall=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  for f in boot1 boot2; do
    case "$(tail -n 1 "$work/$f.txt")" in *PASS) ;; *) tail -n 1 "$work/$f.txt" >&2; exit 1 ;; esac
  done
  batch=$(sed -n 's/.* batch=\([0-9]*\).*/\1/p' "$work/boot1.txt")
  epochs=$(sed -n 's/.* epochs=\([0-9]*\).*/\1/p' "$work/boot1.txt")
  stop=$(sed -n 's/.* stop_step=\([0-9]*\).*/\1/p' "$work/boot1.txt")
  total=$((epochs * ((1347 + batch - 1) / batch)))
  before=$(tail -n 1 "$work/boot1.txt" | sed -n 's/.*correct=\([0-9]*\) new_correct=\([0-9]*\).*/\1\/450, \2\/85/p')
  after=$(tail -n 1 "$work/boot2.txt" | sed -n 's/.*correct=\([0-9]*\) new_correct=\([0-9]*\).*/\1\/450, \2\/85/p')

  read -r text data bss _ < <("$bin/llvm-size" "$elf" | tail -n 1)
  sizes=$("$bin/llvm-nm" -C --print-size "$elf")
  arrays=$(echo "$sizes" | python3 -c '
import re, sys
print(sum(int(l.split()[1], 16) for l in sys.stdin if re.search(r" finetune::(TRAIN|TEST)_(PIXELS|LABELS)::", l)))')
  model=$(echo "$sizes" | python3 -c '
import re, sys
print(sum(int(l.split()[1], 16) for l in sys.stdin if re.search(r" r finetune::PRETRAINED::", l)))')

  RUSTFLAGS="-C link-arg=-Tlink.x -Z emit-stack-sizes" CARGO_TARGET_DIR=$work/stack \
    cargo +nightly build -q --release --bin finetune --target "$target" -Z build-std=core
  stack=$(python3 stack.py "$work/stack/$target/release/finetune" | tail -n 1 | sed 's/.*max [=>]* //')

  step=$(icount "$machine" "$elf" step)
  run1=$(icount "$machine" "$elf" train)
  run2=$(icount "$machine" "$elf" train -device "loader,file=$work/ckpt.bin,addr=$sector")
  avg1=$((run1 / stop))
  avg2=$((run2 / (total - stop)))
  echo "| $machine | $batch | $text | $arrays | $model | $((text - arrays - model)) | $((data + bss)) | $stack | $((data + bss + stack)) | $step | $avg1 / $avg2 | $before | $after | $wall |"
done
