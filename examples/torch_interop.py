#!/usr/bin/env python3
"""The Python half of examples/torch_interop.rs: PyTorch <-> constnn through safetensors.

    python examples/torch_interop.py DIR            # train in PyTorch, write DIR/torch_digits.*
    cargo run --release --example torch_interop -- DIR
    python examples/torch_interop.py --reverse DIR  # check constnn's model in PyTorch

Needs torch, numpy and safetensors (`pip install torch numpy safetensors`; a CPU torch is
enough). Forward mode trains nn.Sequential(Linear(64, 32), ReLU(), Linear(32, 10)) on the
digits training split (data/digits.csv, data/digits_split.txt; pixels normalized by the one
mean and std of all pixels, as examples/common/digits.rs does), then writes
  DIR/torch_digits.safetensors   safetensors.torch.save_file(model.state_dict())
  DIR/torch_test_logits.npy      its float32 logits on the 450 test images
Reverse mode loads DIR/constnn_digits.safetensors (written by the Rust example) with
load_state_dict(strict=True), computes the test logits and compares them with
DIR/constnn_test_logits.npy (constnn's own): it fails above 1e-5.
"""

import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-5


def load_digits():
    rows = np.loadtxt(ROOT / "data/digits.csv", delimiter=",", skiprows=1, dtype=np.int64)
    pixels, labels = rows[:, :64], rows[:, 64]
    # One mean and std over all pixels, each correctly rounded from exact integer sums, as
    # examples/common/digits.rs computes them (so the f32 inputs are the same bits).
    n = pixels.size
    s, q = int(pixels.sum()), int((pixels * pixels).sum())
    mean = s / n
    std = ((n * q - s * s) / (n * n)) ** 0.5
    x = ((pixels - mean) / std).astype(np.float32)
    split = [l for l in (ROOT / "data/digits_split.txt").read_text().splitlines()
             if not l.startswith("#")]
    test = np.array([int(v) for v in split[0].split(",")])
    train = np.setdiff1d(np.arange(len(x)), test)
    return x, labels, train, test


def model():
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def forward(out_dir):
    x, labels, train, test = load_digits()
    torch.manual_seed(0)
    m = model()
    opt = torch.optim.SGD(m.parameters(), lr=0.05)
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels)
    g = torch.Generator().manual_seed(0)
    for _ in range(40):
        order = torch.from_numpy(train)[torch.randperm(len(train), generator=g)]
        for b in range(0, len(order), 10):
            idx = order[b:b + 10]
            loss = nn.functional.cross_entropy(m(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    m.eval()
    with torch.no_grad():
        logits = m(xt[test]).numpy()
    acc = (logits.argmax(1) == labels[test]).mean()
    save_file(m.state_dict(), out_dir / "torch_digits.safetensors", metadata={"format": "pt"})
    np.save(out_dir / "torch_test_logits.npy", logits)
    print(f"PyTorch: trained 40 epochs, test accuracy {acc:.4f}; wrote "
          f"{out_dir / 'torch_digits.safetensors'} and torch_test_logits.npy")


def reverse(out_dir):
    x, labels, _, test = load_digits()
    m = model()
    m.load_state_dict(load_file(out_dir / "constnn_digits.safetensors"), strict=True)
    m.eval()
    with torch.no_grad():
        logits = m(torch.from_numpy(x[test])).numpy()
    theirs = np.load(out_dir / "constnn_test_logits.npy")
    delta = float(np.abs(logits - theirs).max())
    acc = (logits.argmax(1) == labels[test]).mean()
    same = int((logits.argmax(1) == theirs.argmax(1)).sum())
    print(f"PyTorch on constnn's weights: test accuracy {acc:.4f}, max |Δlogit| vs constnn "
          f"{delta:.3e} (bar {TOLERANCE:g}), same prediction on {same} of {len(test)}")
    if not delta <= TOLERANCE:
        sys.exit("logits differ by more than the bar")


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--reverse":
        reverse(Path(args[1]))
    elif len(args) == 1:
        Path(args[0]).mkdir(parents=True, exist_ok=True)
        forward(Path(args[0]))
    else:
        sys.exit(__doc__)
