#!/usr/bin/env python3
"""Worst-case stack depth of a firmware ELF, and the call path that reaches it.

The ELF must be built with `-Z emit-stack-sizes -Z build-std=core` (nightly), so that every
function, `compiler_builtins` included, has a `.stack_sizes` entry (see measure.sh). Frame
sizes come from `llvm-readobj --stack-sizes`, call edges from `llvm-objdump -d` (direct calls
and tail calls; Arm or RISC-V). The bound is exact (`max = N`) unless a function on the way has no frame size,
calls through a register, or recurses; then it prints `max >= N`. Interrupt and exception frames
are not counted (the firmware enables no interrupt).

usage: stack.py ELF [ROOT] [LLVM_BIN_DIR]     (ROOT defaults to `main`)
"""
import functools
import re
import subprocess
import sys

elf = sys.argv[1]
root = sys.argv[2] if len(sys.argv) > 2 else "main"
bindir = sys.argv[3] if len(sys.argv) > 3 else subprocess.check_output(
    ["rustc", "+nightly", "--print", "sysroot"], text=True).strip() \
    + "/lib/rustlib/x86_64-unknown-linux-gnu/bin"

readobj = subprocess.check_output([f"{bindir}/llvm-readobj", "--stack-sizes", elf],
                                  text=True, stderr=subprocess.DEVNULL)
# An entry lists every symbol of the function (e.g. riscv-rt's `main, hal_main`).
frame = {f: int(s, 16) for fs, s in
         re.findall(r"Functions: \[(.*?)\]\s*\n\s*Size: (0x[0-9A-Fa-f]+)", readobj)
         for f in fs.split(", ")}

disassembly = subprocess.check_output(
    [f"{bindir}/llvm-objdump", "-d", "--no-show-raw-insn", elf], text=True)
calls, indirect, current = {}, set(), None
for line in disassembly.splitlines():
    m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
    if m:
        current = m.group(1)
        calls.setdefault(current, set())
        continue
    if current is None or ":" not in line:
        continue
    words = line.split(":", 1)[1].split()
    if not words:
        continue
    op, target = words[0], re.search(r"<([^>+]+)>", line)
    # Arm: b, bl, blx, b.w; RISC-V: j, jal, and the jalr/jr of an auipc pair (calls and tail
    # calls), which llvm-objdump labels with the callee.
    if target and target.group(1) != current and re.match(r"^(b|bl|blx|b\.w|j|jal|jalr|jr)$", op):
        calls[current].add(target.group(1))
    elif not target and (op in ("blx", "jalr") or (op in ("bx", "jr") and words[1:2] != ["lr"])):
        indirect.add(current)


@functools.lru_cache(None)
def worst(f, path=()):
    """(depth, exact, path) of the deepest call chain from f."""
    if f in path:
        return 0, False, ()
    below = [worst(callee, path + (f,)) for callee in sorted(calls.get(f, ()))]
    exact = f in frame and f not in indirect and all(r[1] for r in below)
    depth, _, deepest = max(below, key=lambda r: r[0], default=(0, True, ()))
    return frame.get(f, 0) + depth, exact, (f,) + deepest


def demangler():
    """Mangled → readable names, from `llvm-nm` and `llvm-nm -C` (same symbols, same order)."""
    raw, readable = (subprocess.check_output([f"{bindir}/llvm-nm", *flags, elf], text=True)
                     .splitlines() for flags in ([], ["-C"]))
    names = {}
    for a, b in zip(raw, readable):
        a, b = a.split(None, 2), b.split(None, 2)
        if len(a) == 3 and len(b) == 3:
            names[a[2]] = re.sub(r"::h[0-9a-f]{16}$", "", b[2])
    return names


if root not in calls:
    sys.exit(f"stack.py: no function {root!r} in {elf}")
depth, exact, path = worst(root)
names = demangler()
for f in path:
    print(f"{frame.get(f, '?'):>6}  {names.get(f, f)}")
print(f"{root}: max {'=' if exact else '>='} {depth}")
