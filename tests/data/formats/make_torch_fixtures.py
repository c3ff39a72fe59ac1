#!/usr/bin/env python3
"""PyTorch state_dict fixtures for tests/format_torch.rs, written by torch and safetensors.

    python make_torch_fixtures.py            # (re)writes the torch_* fixtures next to this script
    python make_torch_fixtures.py --check D  # loads the files tests/format_torch.rs wrote into D

Generate mode needs `torch`, `numpy` and `safetensors` (a CPU torch is enough); it writes
  torch_mlp.safetensors    safetensors.torch.save_file(nn.Sequential(Linear(4,8), ReLU(),
                           Linear(8,3)).state_dict()), torch.manual_seed(0) init
  torch_bn.safetensors     nn.Sequential(Linear(4,6), BatchNorm1d(6), ReLU(), Linear(6,2)),
                           5 SGD steps in train mode (so gamma, beta and the running statistics
                           are not their initial values, num_batches_tracked = 5)
  torch_named.safetensors  a Module with submodules `hidden` (Linear(4,5)), `act` (Tanh) and
                           `out` (Linear(5,2)), wrapped as attribute `net` of another Module:
                           keys "net.hidden.weight", ...
  torch_f64.safetensors    the mlp's state dict in float64 (safetensors.numpy.save_file)
  torch_expected.json      X (5×4 inputs) and each model's eval-mode outputs on X (float64
                           repr of the float32 results)

Check mode reads the files `cargo test --test format_torch` writes into D (set
CONSTNN_TORCH_OUT=D): constnn's re-saves of the fixture models, each loaded with
model.load_state_dict(load_file(...), strict=True) and compared bit for bit with the fixture.
"""

import json
import sys
from pathlib import Path

import numpy as np
import safetensors.numpy
import torch
from safetensors.torch import load_file, save_file
from torch import nn

HERE = Path(__file__).resolve().parent


def mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def bn():
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))


class Body(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(4, 5)
        self.act = nn.Tanh()
        self.out = nn.Linear(5, 2)

    def forward(self, x):
        return self.out(self.act(self.hidden(x)))


class Named(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = Body()

    def forward(self, x):
        return self.net(x)


def inputs():
    g = torch.Generator().manual_seed(7)
    return torch.randn(5, 4, generator=g)


def generate():
    torch.manual_seed(0)
    x = inputs()
    expected = {"x": x.tolist()}

    m = mlp().eval()
    save_file(m.state_dict(), HERE / "torch_mlp.safetensors", metadata={"format": "pt"})
    expected["mlp"] = m(x).tolist()
    f64 = {k: v.double().numpy() for k, v in m.state_dict().items()}
    safetensors.numpy.save_file(f64, HERE / "torch_f64.safetensors")
    expected["mlp_f64"] = torch.func.functional_call(
        m.double(), {k: torch.from_numpy(v) for k, v in f64.items()}, (x.double(),)
    ).float().tolist()

    b = bn()
    opt = torch.optim.SGD(b.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(3)
    for _ in range(5):
        xb = torch.randn(8, 4, generator=g) * 2 + 1
        loss = b(xb).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    b.eval()
    assert int(b[1].num_batches_tracked) == 5
    save_file(b.state_dict(), HERE / "torch_bn.safetensors", metadata={"format": "pt"})
    expected["bn"] = b(x).tolist()

    n = Named().eval()
    save_file(n.state_dict(), HERE / "torch_named.safetensors", metadata={"format": "pt"})
    expected["named"] = n(x).tolist()

    with torch.no_grad():
        for k in ("mlp", "bn", "named"):
            expected[k] = [[float(np.float32(v)) for v in row] for row in expected[k]]
    (HERE / "torch_expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print("wrote the torch_* fixtures")


def check(out_dir):
    out_dir = Path(out_dir)
    for name, make in (("mlp", mlp), ("bn", bn), ("named", Named)):
        fixture = load_file(HERE / f"torch_{name}.safetensors")
        ours = load_file(out_dir / f"constnn_{name}.safetensors")
        model = make()
        model.load_state_dict(ours, strict=True)  # raises on a missing or unexpected key
        state = model.state_dict()
        for k, v in fixture.items():
            if k.endswith("num_batches_tracked"):
                # constnn does not count batches: it writes 0 (an I64 scalar).
                assert ours[k].dtype == torch.int64 and ours[k].shape == (), k
                continue
            assert state[k].dtype == v.dtype and state[k].shape == v.shape, k
            assert torch.equal(state[k].view(torch.int32), v.view(torch.int32)), k
        print(f"constnn_{name}.safetensors: load_state_dict(strict=True) ok, "
              f"{len(fixture)} tensors bit-identical")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    elif len(sys.argv) == 1:
        generate()
    else:
        sys.exit(__doc__)
