#!/usr/bin/env bash
# Measures the figures of README.md's table, for each board and build profile:
#   flash (llvm-size text, and text without the data arrays, from llvm-nm), static RAM
#   (data + bss), worst-case stack (static bound: nightly -Z emit-stack-sizes -Z build-std=core
#   and stack.py; painted high-water mark: --features stack-paint), guest instructions
#   (qemu-icount plugin: one training step, the inference of one batch of test images, the
#   whole training), the test accuracy and the QEMU wall time; then the same for the int8
#   inference firmware (binary `int8`: flash, code, model, stack, instructions per image).
#
# usage: bash measure.sh [PROFILE...]        (default: release speed)
#        MEASURE_BOARDS="mps2-an386 microbit" (the default) picks the boards. The micro:bit is
#        skipped at profile `speed`: at opt-level 3 its stack does not fit beside the training
#        state in 16 KiB (see README.md).
#
# Needs what .ci/embedded.sh installs, plus the qemu-icount plugin's source (GPL-2.0-or-later:
# a measuring tool, built apart and never a dependency), found at $QEMU_ICOUNT_SRC (default:
# the team's shared tools folder next to the repository). Work files go to $MEASURE_DIR.
# QEMU has no timing model: these are instruction counts, not cycles.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
work=${MEASURE_DIR:-/tmp/constnn-measure}
plugin_src=${QEMU_ICOUNT_SRC:-$here/../../../shared/tools/qemu-icount}
profiles=("$@")
[ ${#profiles[@]} -gt 0 ] || profiles=(release speed)
bin=$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin
mkdir -p "$work"

echo "building the qemu-icount plugin from $plugin_src" >&2
# (from $work: this directory's .cargo/config.toml would make it build for the board)
(cd "$work" && cargo build -q --release --manifest-path "$plugin_src/Cargo.toml" --target-dir "$work/plugin")
plugin=$work/plugin/release/libqemu_icount.so

boards=()
for board in "thumbv7em-none-eabihf mps2-an386" "thumbv6m-none-eabi microbit"; do
  case " ${MEASURE_BOARDS:-mps2-an386 microbit} " in *" ${board#* } "*) boards+=("$board") ;; esac
done

qemu() { # <machine> <elf> [extra qemu args...]
  local machine=$1 elf=$2
  shift 2
  timeout 300 qemu-system-arm -machine "$machine" -nographic \
    -semihosting-config enable=on,target=native "$@" -kernel "$elf"
}

addr() { # <elf> <symbol>: the marker's address without the Thumb bit
  printf '0x%x' $((0x$("$bin/llvm-nm" "$1" | awk -v s="$2" '$3 == s { print $1 }') & ~1))
}

icount() { # <machine> <elf> <region>: guest instructions from <region>_begin to <region>_end
  qemu "$1" "$2" -plugin "$plugin,start=$(addr "$2" "$3_begin"),end=$(addr "$2" "$3_end")" 2>&1 \
    | sed -n 's/.*region insns = \([0-9]*\).*/\1/p'
}

echo "| board | profile | batch | epochs | flash text | code (text without data) | data+bss | stack (static) | stack (painted) | RAM total | insns/step | insns/sample | insns/step (avg over the run) | inference insns (batch) | inference insns/image | test accuracy | QEMU s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for profile in "${profiles[@]}"; do
  for board in "${boards[@]}"; do
    read -r target machine <<<"$board"
    if [ "$machine" = microbit ] && [ "$profile" = speed ]; then
      echo "| $machine | $profile | skipped: the opt-level 3 stack does not fit in 16 KiB |"
      continue
    fi
    dir=$profile
    [ "$profile" = dev ] && dir=debug
    elf=$work/fw/$target/$dir/constnn-cortex-m
    CARGO_TARGET_DIR=$work/fw cargo build -q --profile "$profile" --target "$target"

    start=$EPOCHREALTIME
    qemu "$machine" "$elf" >"$work/run.txt"
    wall=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
    last=$(tail -n 1 "$work/run.txt")
    case "$last" in *PASS) ;; *) echo "$machine $profile: $last" >&2; exit 1 ;; esac
    batch=$(sed -n 's/.* batch=\([0-9]*\).*/\1/p' "$work/run.txt")
    epochs=$(sed -n 's/.* epochs=\([0-9]*\).*/\1/p' "$work/run.txt")
    accuracy=$(echo "$last" | sed -n 's/.*test_accuracy_permille=\([0-9]*\).*/\1/p')
    steps=$((epochs * ((1347 + batch - 1) / batch)))

    read -r text data bss _ < <("$bin/llvm-size" "$elf" | tail -n 1)
    # The four data arrays (named statics in flash): 1347 × 65 + 450 × 65 = 116 805 bytes.
    arrays=$("$bin/llvm-nm" -C --print-size "$elf" | python3 -c '
import re, sys
print(sum(int(l.split()[1], 16) for l in sys.stdin
          if re.search(r" constnn_[a-z_]+::digits_firmware::(TRAIN|TEST)_(PIXELS|LABELS)::", l)))')

    step=$(icount "$machine" "$elf" step)
    infer=$(icount "$machine" "$elf" infer)
    train=$(icount "$machine" "$elf" train)

    CARGO_TARGET_DIR=$work/paint cargo build -q --profile "$profile" --target "$target" --features stack-paint
    painted=$(qemu "$machine" "$work/paint/$target/$dir/constnn-cortex-m" | sed -n 's/^stack_high_water_bytes=//p')

    RUSTFLAGS="-C link-arg=-Tlink.x -Z emit-stack-sizes" CARGO_TARGET_DIR=$work/stack \
      cargo +nightly build -q --profile "$profile" --target "$target" -Z build-std=core
    static=$(python3 stack.py "$work/stack/$target/$dir/constnn-cortex-m" | tail -n 1 | sed 's/.*max [=>]* //')

    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f |\n' \
      "$machine" "$profile" "$batch" "$epochs" "$text" "$((text - arrays))" "$((data + bss))" \
      "$static" "$painted" "$((data + bss + static))" "$step" "$((step / batch))" \
      "$((train / steps))" "$infer" "$((infer / batch))" "0.$accuracy" "$wall"
  done
done

# ---------------------------------------------------------------------------------------------
# The int8 inference firmware (binary `int8`): one row per board and profile. Code is the flash
# text without the test split (450 × 65 bytes) and without the model (the `MODEL` static);
# insns/image is one single-image inference (input table, both int8 layers, argmax) between
# the markers infer_begin/infer_end.
echo
echo "| int8 board | profile | flash text | code (text without test split and model) | model in flash | data+bss | stack (static) | stack (painted) | insns/image | test accuracy | logits_fnv |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for profile in "${profiles[@]}"; do
  for board in "${boards[@]}"; do
    read -r target machine <<<"$board"
    dir=$profile
    [ "$profile" = dev ] && dir=debug
    elf=$work/fw/$target/$dir/int8
    CARGO_TARGET_DIR=$work/fw cargo build -q --profile "$profile" --target "$target" --bin int8
    qemu "$machine" "$elf" >"$work/int8.txt"
    last=$(tail -n 1 "$work/int8.txt")
    case "$last" in *PASS) ;; *) echo "int8 $machine $profile: $last" >&2; exit 1 ;; esac
    accuracy=$(echo "$last" | sed -n 's/.*test_accuracy_permille=\([0-9]*\).*/\1/p')
    fnv=$(echo "$last" | sed -n 's/.*logits_fnv=\(0x[0-9a-f]*\).*/\1/p')
    read -r text data bss _ < <("$bin/llvm-size" "$elf" | tail -n 1)
    read -r split model < <("$bin/llvm-nm" -C --print-size "$elf" | python3 -c '
import re, sys
split = model = 0
for l in sys.stdin:
    if re.search(r" int8::int8_firmware::TEST_(PIXELS|LABELS)::", l): split += int(l.split()[1], 16)
    if re.search(r" int8::int8_firmware::MODEL::", l): model += int(l.split()[1], 16)
print(split, model)')
    insns=$(icount "$machine" "$elf" infer)
    CARGO_TARGET_DIR=$work/paint cargo build -q --profile "$profile" --target "$target" --features stack-paint --bin int8
    painted=$(qemu "$machine" "$work/paint/$target/$dir/int8" | sed -n 's/^stack_high_water_bytes=//p')
    RUSTFLAGS="-C link-arg=-Tlink.x -Z emit-stack-sizes" CARGO_TARGET_DIR=$work/stack \
      cargo +nightly build -q --profile "$profile" --target "$target" -Z build-std=core --bin int8
    static=$(python3 stack.py "$work/stack/$target/$dir/int8" | tail -n 1 | sed 's/.*max [=>]* //')
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$machine" "$profile" \
      "$text" "$((text - split - model))" "$model" "$((data + bss))" "$static" "$painted" \
      "$insns" "0.$accuracy" "$fnv"
  done
done
