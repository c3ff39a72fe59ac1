#!/usr/bin/env python3
"""Fixtures for constnn's weights formats (tests/format_*.rs), written by the official packages.

    python3 make_format_fixtures.py            # (re)writes the fixtures next to this script
    python3 make_format_fixtures.py --check D  # reads back the files constnn wrote into D

Needs `numpy` and `safetensors` (pip install numpy safetensors); `torch` is optional: when it
is installed, `--check` also loads constnn's safetensors file into an `nn.Sequential` with
`load_state_dict(strict=True)`.

Generate mode writes:
  mlp.safetensors        safetensors.numpy.save_file of an nn.Sequential(Linear(3,4), ReLU,
                         Linear(4,2))-shaped state dict ("0.weight" [4,3], ...), metadata
                         {"format": "pt"}: the reference writer's exact bytes
  mixed.safetensors      F64, F16 (with subnormal, inf), I32, U8, BOOL, a scalar, an empty
                         tensor and a non-ASCII name, via save_file
  escaped.safetensors    the same kind of file with a header JSON-encoded with ensure_ascii
                         (\\u escapes, a surrogate pair, \\" and \\t in names); checked with
                         safetensors.numpy.load before it is kept
  bf16.safetensors       a BF16 tensor (numpy has no bfloat16: header written here, checked
                         with safetensors.deserialize)
  *.npy                  numpy.save (format 1.0) of several dtypes and shapes; v2.npy and
                         v3.npy via numpy.lib.format.write_array(version=(2, 0) / (3, 0));
                         fortran.npy (fortran_order True), big_endian.npy ('>f4')
  expected.json          every array's values (float64 repr of each element; "inf"/"-inf"
                         as strings), and zlib.crc32
                         of every fixture file and of a few byte strings

Check mode expects the files tests/format_interop.rs writes (set CONSTNN_FORMAT_OUT=D and run
`cargo test --test format_interop`); their values follow `value(k)` below on both sides. It
also loads every mutated file constnn accepted (D/mutants) with the official readers, which must
accept each one and read the same names, dtypes, shapes and metadata.
"""

import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import safetensors
import safetensors.numpy as stnp

HERE = Path(__file__).resolve().parent


def value(k):
    """The k-th value of constnn's written arrays: small multiples of 1/8, exact in f32."""
    return ((k * 37) % 101 - 50) / 8.0


# Specials, as f32 bit patterns: 0, -0, inf, -inf, the smallest subnormal, f32::MAX, a NaN.
SPECIAL_BITS = [0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x00000001, 0x7F7FFFFF, 0x7FC00000]

# Tensor names constnn writes to test its JSON escaping against the reference reader.
ODD_NAMES = ['quo"te', "tab\tname", "back\\slash", "naïve", "emoji\U0001F600", "ctrl\x01"]


def generate():
    rng = np.random.default_rng(20240611)
    expected = {}

    def f32(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    def record(name, arr):
        expected[name] = {
            "dtype": str(arr.dtype),
            "shape": list(arr.shape),
            # JSON has no infinities: those are the strings "inf" / "-inf".
            "values": [float(x) if np.isfinite(x) else str(float(x))
                       for x in np.asarray(arr, dtype=np.float64).ravel()],
        }

    mlp = {"0.weight": f32(4, 3), "0.bias": f32(4), "2.weight": f32(2, 4), "2.bias": f32(2)}
    stnp.save_file(mlp, HERE / "mlp.safetensors", metadata={"format": "pt"})
    for k, v in mlp.items():
        record("mlp/" + k, v)

    f16 = np.array([1.0, -2.5, 6.0e-8, 65504.0, np.inf], dtype=np.float16)
    mixed = {
        "f64": rng.standard_normal((2, 3)),
        "f16": f16,
        "i32": np.array([1, -2, 3], dtype=np.int32),
        "u8": np.array([0, 1, 254, 255], dtype=np.uint8),
        "flags": np.array([True, False]),
        "scalar": np.array(1.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "naïve.weight": f32(3),
    }
    stnp.save_file(mixed, HERE / "mixed.safetensors")
    for k, v in mixed.items():
        if v.dtype.kind == "f":
            record("mixed/" + k, v)

    # A header with \u escapes (ensure_ascii), \" and \t in names, and a surrogate pair.
    esc = {"naïve": f32(2), "emoji\U0001F600": f32(3), 'quo"te': f32(1), "tab\tname": f32(2)}
    header, data, offset = {}, b"", 0
    for name, arr in esc.items():
        raw = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
        record("escaped/" + name, arr)
    text = json.dumps(header, ensure_ascii=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    blob = struct.pack("<Q", len(text)) + text + data
    back = stnp.load(blob)
    assert set(back) == set(esc) and all(np.array_equal(back[k], esc[k]) for k in esc)
    assert b"\\u00ef" in text and b"\\ud83d\\ude00" in text
    (HERE / "escaped.safetensors").write_bytes(blob)

    # BF16: the top halves of these f32 values, exact.
    bf = np.array([1.0, -0.15625, 3.0e38, 1.0e-40], dtype=np.float32)
    bits = (bf.view(np.uint32) >> 16).astype("<u2")
    text = json.dumps({"bf": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}},
                      separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    blob = struct.pack("<Q", len(text)) + text + bits.tobytes()
    safetensors.deserialize(blob)  # the reference validates it
    (HERE / "bf16.safetensors").write_bytes(blob)
    record("bf16/bf", (bits.astype(np.uint32) << 16).view(np.float32))

    npys = {
        "f32_2d": f32(3, 4),
        "f32_1d": f32(5),
        "f32_3d": f32(2, 3, 2),
        "f32_scalar": np.array(-0.75, dtype=np.float32),
        "f32_empty": np.zeros((0, 3), dtype=np.float32),
        "f64_1d": rng.standard_normal(4),
        "f16_1d": np.array([0.5, -1.0, 1.0e-7], dtype=np.float16),
        "i32": np.array([[1, 2], [3, 4]], dtype=np.int32),
    }
    for name, arr in npys.items():
        np.save(HERE / f"{name}.npy", arr)
        record("npy/" + name, arr.astype(np.float64) if arr.dtype.kind == "i" else arr)
    for version in [(2, 0), (3, 0)]:
        arr = f32(2, 2)
        with open(HERE / f"v{version[0]}.npy", "wb") as fp:
            np.lib.format.write_array(fp, arr, version=version)
        record(f"npy/v{version[0]}", arr)
    np.save(HERE / "fortran.npy", np.asfortranarray(f32(2, 3)))
    np.save(HERE / "big_endian.npy", f32(3).astype(">f4"))

    # numpy's exact preamble + header for many shapes (no data needed). (numpy pads a whole
    # 64 bytes more when the header would end exactly on the boundary; for '<f4' in C order
    # that needs dimensions whose product numpy refuses, so no such shape is listed.)
    import io

    def header_for(shape):
        fp = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            fp, {"descr": "<f4", "fortran_order": False, "shape": tuple(shape)})
        return fp.getvalue().decode("latin-1")

    shapes = [(), (0,), (1,), (3,), (10,), (3, 4), (2, 3, 4), (1,) * 8, (123456789, 0),
              (0, 4294967295), (10**12, 0, 7), (10**18, 0), (0, 10**15, 1, 2, 3, 4, 5, 0)]
    for shape in shapes:  # numpy can create each (empty) array
        np.empty(shape, dtype=np.float32)
    expected["npy_headers"] = [{"shape": list(sh), "header": header_for(sh)}
                               for sh in shapes]

    expected["crc32"] = {p.name: zlib.crc32(p.read_bytes())
                         for p in sorted(HERE.iterdir()) if p.suffix in (".npy", ".safetensors")}
    expected["crc32_strings"] = {s: zlib.crc32(s.encode()) for s in
                                 ["", "a", "123456789", "The quick brown fox jumps over the lazy dog"]}
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True, allow_nan=False) + "\n")
    print("wrote fixtures to", HERE)


def check(out):
    out = Path(out)
    failures = []

    def expect(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    def values(n, base=0):
        return np.array([value(base + k) for k in range(n)], dtype=np.float32)

    # constnn_mlp.safetensors: Linear<3,4>, Relu, Linear<4,2> as nn.Sequential's state dict.
    path = out / "constnn_mlp.safetensors"
    st = stnp.load_file(path)
    expect(set(st) == {"0.weight", "0.bias", "2.weight", "2.bias"}, "mlp keys")
    # constnn's weight[i][o] = value(base + i*OUT + o), written as PyTorch's [out, in].
    w0 = values(12, 0).reshape(3, 4).T
    w2 = values(8, 200).reshape(4, 2).T
    for k, ref in [("0.weight", w0), ("0.bias", values(4, 100)), ("2.weight", w2),
                   ("2.bias", values(2, 300))]:
        a = st[k]
        expect(a.dtype == np.float32 and a.shape == ref.shape and np.array_equal(a, ref),
               f"mlp {k} {a.shape}")
    with safetensors.safe_open(path, framework="numpy") as f:
        expect(f.metadata() == {"format": "pt"}, "mlp metadata")
    try:
        import torch
        from safetensors.torch import load_file as torch_load
    except ImportError:
        print("skip torch load_state_dict (torch not installed)")
    else:
        model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
        result = model.load_state_dict(torch_load(path), strict=True)
        expect(not result.missing_keys and not result.unexpected_keys, "torch load_state_dict")
        x = torch.tensor([[1.0, -2.0, 0.5]])
        ref = np.maximum(x.numpy() @ w0.T + values(4, 100), 0) @ w2.T + values(2, 300)
        expect(np.allclose(model(x).detach().numpy(), ref, atol=1e-6), "torch forward")

    # Names that need JSON escapes.
    st = stnp.load_file(out / "constnn_names.safetensors")
    expect(list(sorted(st)) == sorted(ODD_NAMES), "escaped names")
    for i, name in enumerate(ODD_NAMES):
        expect(name in st and np.array_equal(st[name], values(i + 1, 10 * i)), f"value of {name!r}")

    for name, shape in [("2d", (3, 4)), ("1d", (5,)), ("scalar", ()), ("empty", (0, 3)),
                        ("3d", (2, 3, 2))]:
        a = np.load(out / f"constnn_{name}.npy")
        n = int(np.prod(shape))
        expect(a.dtype == np.float32 and a.shape == shape
               and np.array_equal(a.ravel(), values(n)), f"npy {name} {shape}")
        ref = out / f"numpy_{name}.npy"
        np.save(ref, values(n).reshape(shape))
        expect(ref.read_bytes() == (out / f"constnn_{name}.npy").read_bytes(),
               f"npy {name} byte-identical to numpy.save")
    a = np.load(out / "constnn_specials.npy")
    expect(a.dtype == np.float32 and list(a.view(np.uint32)) == SPECIAL_BITS, "npy specials bits")

    # The constnn container: the CRC-32 over everything but the last four bytes is zlib's.
    blob = (out / "constnn_checkpoint.cnnw").read_bytes()
    expect(blob[:4] == b"CNNW", "container magic")
    expect(struct.unpack("<I", blob[-4:])[0] == zlib.crc32(blob[:-4]), "container CRC-32 = zlib")
    version, dtype, flags, sig, plen, slen, step = struct.unpack("<HBBQIIQ", blob[4:32])
    payload = np.frombuffer(blob[32:32 + plen], dtype="<f4")
    state = np.frombuffer(blob[32 + plen:32 + plen + slen], dtype="<f4")
    expect((version, dtype, flags, step) == (1, 1, 1, 12345), "container header fields")
    expect(np.array_equal(payload, values(plen // 4)) and
           np.array_equal(state, values(slen // 4, 1000)), "container payload and state")

    # Mutated files constnn accepted: the official readers must accept them and agree.
    mutants = json.loads((out / "mutants" / "mutants.json").read_text())
    disagree = []
    for m in mutants:
        path = out / "mutants" / m["file"]
        try:
            if "tensors" in m:
                got = {name: (info["dtype"], list(info["shape"]))
                       for name, info in safetensors.deserialize(path.read_bytes())}
                want = {t["name"]: (t["dtype"], t["shape"]) for t in m["tensors"]}
                with safetensors.safe_open(path, framework="numpy") as f:
                    meta = f.metadata() or {}
                ok = got == want and meta == m["metadata"]
            else:
                a = np.load(path)
                ok = a.dtype.str == m["dtype"] and list(a.shape) == m["shape"]
        except Exception as e:  # noqa: BLE001 - any refusal is a disagreement
            ok, m["error"] = False, repr(e)
        if not ok:
            disagree.append(m)
    n_st = sum("tensors" in m for m in mutants)
    expect(not disagree, f"{len(mutants) - n_st} .npy and {n_st} safetensors mutants constnn "
           f"accepts: the official readers accept and agree ({len(disagree)} disagree)")
    for m in disagree[:5]:
        print("     ", m)

    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2]))
    elif len(sys.argv) == 1:
        generate()
    else:
        sys.exit(__doc__)
