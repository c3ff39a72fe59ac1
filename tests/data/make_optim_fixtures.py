#!/usr/bin/env python3
"""Writes tests/data/optim_fixtures.json: reference training trajectories for the optimizers
(SGD, SGD with momentum / Nesterov, Adam, AdamW, RMSprop), the losses (MSE, softmax
cross-entropy, BCE with logits) and BatchNorm1d, in numpy.

The maths is an independent implementation of the update rules as PyTorch documents them
(torch.optim.SGD, Adam, AdamW, RMSprop and torch.nn.BatchNorm1d), including the special cases
of the first step (the SGD momentum buffer starts as the gradient itself, undampened; the Adam
moments start at zero and are bias-corrected). No PyTorch is needed to run it.

Every trajectory is computed twice from the same float32 initial values:
- "f64": every operation in float64 (hyper-parameters as float64), the mathematical reference;
- "f32": every operation on float32 values, in the library's summation orders and in
  PyTorch's operation order (see `step_*`), so that a float32 implementation doing the same
  operations lands within a few ulps of it. Its hyper-parameters are the float32 values of the
  decimal ones (0.99 is 0.99000000953674316...), what a float32 API such as constnn's receives:
  PyTorch given those values computes 1 − α, 1 − β, 1 − lr·wd exactly as here. (With the decimal
  values instead, 1 − 0.99 rounds to float32 0.01, while 1 − f32(0.99) is 0.0099999905: a 1e-6
  relative difference that RMSprop's first steps, of size lr/sqrt(1 − α), carry into the
  parameters at ~5e-6 relative, a difference of inputs, not of rules.)

Usage: python3 tests/data/make_optim_fixtures.py   (deterministic: same bytes on every run)
"""

import math
import os

import numpy as np

F32 = np.float32
F64 = np.float64

B, IN, HID, OUT = 4, 3, 4, 2
RECORDED_STEPS = (1, 2, 10)
PARAMS = ("w1", "b1", "w2", "b2")


def as_f32_values(a):
    """float32-rounded values, held in float64 (exactly representable in both)."""
    return np.asarray(a, dtype=F32).astype(F64)


# --------------------------------------------------------------------------------------------
# Fixed inputs. Drawn once from default_rng(7) and rounded to float32, so that the float32 and
# the float64 computations start from identical numbers.
# --------------------------------------------------------------------------------------------

_rng = np.random.default_rng(7)
MODEL = {
    "w1": as_f32_values(_rng.normal(size=(IN, HID)) * 0.5),
    "b1": as_f32_values(_rng.normal(size=HID) * 0.5),
    "w2": as_f32_values(_rng.normal(size=(HID, OUT)) * 0.5),
    "b2": as_f32_values(_rng.normal(size=OUT) * 0.5),
}
X = as_f32_values(_rng.normal(size=(B, IN)))
MSE_TARGET = as_f32_values(_rng.normal(size=(B, OUT)))
CE_LABELS = [0, 1, 1, 0]
BCE_TARGET = np.array([[0.0, 1.0], [0.25, 1.0], [1.0, 0.0], [0.0, 0.25]])


# --------------------------------------------------------------------------------------------
# Model: y = Linear2(Relu(Linear1(x))), y = x·W + b with W[in][out]. The float32 sums run in
# the library's fixed order (src/math.rs): y[b][o] = (Σ_i x[b][i]·w[i][o], i ascending from 0)
# + bias[o]; dx[b][i] = Σ_o dy[b][o]·w[i][o]; dw[i][o] = Σ_b x[b][i]·dy[b][o];
# db[o] = Σ_b dy[b][o]; each sum ascending from 0.
# --------------------------------------------------------------------------------------------


def affine(x, w, b, dt):
    rows, n_in = x.shape
    n_out = w.shape[1]
    y = np.zeros((rows, n_out), dtype=dt)
    for r in range(rows):
        for o in range(n_out):
            acc = dt(0.0)
            for i in range(n_in):
                acc = dt(acc + dt(x[r, i] * w[i, o]))
            y[r, o] = dt(acc + b[o])
    return y


def input_grad(dy, w, dt):
    rows, n_out = dy.shape
    n_in = w.shape[0]
    dx = np.zeros((rows, n_in), dtype=dt)
    for r in range(rows):
        for i in range(n_in):
            acc = dt(0.0)
            for o in range(n_out):
                acc = dt(acc + dt(dy[r, o] * w[i, o]))
            dx[r, i] = acc
    return dx


def weight_grad(x, dy, dt):
    rows, n_in = x.shape
    n_out = dy.shape[1]
    dw = np.zeros((n_in, n_out), dtype=dt)
    for i in range(n_in):
        for o in range(n_out):
            acc = dt(0.0)
            for r in range(rows):
                acc = dt(acc + dt(x[r, i] * dy[r, o]))
            dw[i, o] = acc
    return dw


def col_sums(dy, dt):
    rows, n_out = dy.shape
    db = np.zeros(n_out, dtype=dt)
    for o in range(n_out):
        acc = dt(0.0)
        for r in range(rows):
            acc = dt(acc + dy[r, o])
        db[o] = acc
    return db


def forward(p, x, dt):
    h = affine(x, p["w1"], p["b1"], dt)
    a = np.where(h > 0, h, dt(0.0)).astype(dt)
    y = affine(a, p["w2"], p["b2"], dt)
    return h, a, y


# --------------------------------------------------------------------------------------------
# Losses: the mean loss and the gradient of that mean with respect to the model's output.
# --------------------------------------------------------------------------------------------


def mse(y, t, dt):
    n = dt(y.size)
    d = (y - t.astype(dt)).astype(dt)
    total = dt(0.0)
    for v in d.ravel():
        total = dt(total + dt(v * v))
    return dt(total / n), (dt(2.0) * d / n).astype(dt)


def cross_entropy(z, labels, dt):
    """Mean of logsumexp(z_b) − z_b[label_b]; gradient (softmax − onehot)/B (stable: z − max)."""
    rows, cols = z.shape
    n = dt(rows)
    grad = np.zeros_like(z)
    total = dt(0.0)
    for r in range(rows):
        m = z[r].max()
        e = np.exp((z[r] - m).astype(dt)).astype(dt)
        s = dt(0.0)
        for v in e:
            s = dt(s + v)
        nll = dt(dt(np.log(s)) - dt(z[r, labels[r]] - m))
        total = dt(total + nll)
        for c in range(cols):
            onehot = dt(1.0) if c == labels[r] else dt(0.0)
            grad[r, c] = dt(dt(dt(e[c] / s) - onehot) / n)
    return dt(total / n), grad


def bce_with_logits(z, t, dt):
    """Mean of max(z,0) − z·t + log1p(exp(−|z|)); gradient (sigmoid(z) − t)/(B·N)."""
    t = t.astype(dt)
    n = dt(z.size)
    elems = (np.maximum(z, dt(0.0)) - z * t + np.log1p(np.exp(-np.abs(z)))).astype(dt)
    total = dt(0.0)
    for v in elems.ravel():
        total = dt(total + v)
    sig = (dt(1.0) / (dt(1.0) + np.exp(-z))).astype(dt)
    return dt(total / n), ((sig - t) / n).astype(dt)


LOSSES = {
    "mse": lambda y, dt: mse(y, MSE_TARGET, dt),
    "ce": lambda y, dt: cross_entropy(y, CE_LABELS, dt),
    "bce": lambda y, dt: bce_with_logits(y, BCE_TARGET, dt),
}


def loss_and_grads(p, loss, dt):
    h, a, y = forward(p, X.astype(dt), dt)
    value, dy = LOSSES[loss](y, dt)
    g = {"w2": weight_grad(a, dy, dt), "b2": col_sums(dy, dt)}
    da = input_grad(dy, p["w2"], dt)
    dh = np.where(h > 0, da, dt(0.0)).astype(dt)  # ReLU'(h) = 0 for h <= 0
    g["w1"] = weight_grad(X.astype(dt), dh, dt)
    g["b1"] = col_sums(dh, dt)
    return value, g, {"h": h, "y": y, "dy": dy}


# --------------------------------------------------------------------------------------------
# Optimizers, one step on one tensor, in PyTorch's order of operations (single-tensor path).
# Hyper-parameters are Python (float64) numbers (for the "f32" flavour, the float32 values of
# the decimal ones: see `train`); where PyTorch combines them in Python before touching a tensor
# (1 − lr·wd, lr / (1 − β1^t), sqrt(1 − β2^t), 1 − α) they are combined in float64 and then
# rounded once to the working precision, as PyTorch does.
# --------------------------------------------------------------------------------------------


def step_sgd(p, g, state, t, hp, dt):
    """torch.optim.SGD: g += wd·p; buf = g (t = 1) or μ·buf + (1 − τ)·g; nesterov: g += μ·buf;
    p −= lr·g."""
    lr, mu, damp, wd = (hp[k] for k in ("lr", "momentum", "dampening", "weight_decay"))
    if wd != 0:
        g = (g + dt(wd) * p).astype(dt)
    if mu != 0:
        if t == 1:
            buf = g.copy()
        else:
            buf = (state["buf"] * dt(mu) + dt(1.0 - damp) * g).astype(dt)
        state["buf"] = buf
        if hp["nesterov"]:
            g = (g + dt(mu) * buf).astype(dt)
        else:
            g = buf
    return (p - dt(lr) * g).astype(dt)


def step_adam(p, g, state, t, hp, dt, decoupled):
    """torch.optim.Adam (L2: g += wd·p) / AdamW (p *= 1 − lr·wd first); m = β1·m + (1 − β1)·g;
    v = β2·v + (1 − β2)·g·g; denom = sqrt(v)/sqrt(1 − β2^t) + eps; p −= (lr/(1 − β1^t))·m/denom."""
    lr, b1, b2, eps, wd = (hp[k] for k in ("lr", "beta1", "beta2", "eps", "weight_decay"))
    if wd != 0:
        if decoupled:
            p = (p * dt(1.0 - lr * wd)).astype(dt)
        else:
            g = (g + dt(wd) * p).astype(dt)
    m = state.get("m", np.zeros_like(p))
    v = state.get("v", np.zeros_like(p))
    # The documented form. PyTorch's code computes the same with lerp, m + (1 − β1)·(g − m),
    # whose float32 rounding can differ by an ulp: a float32 comparison needs a few ulps' slack.
    m = (dt(b1) * m + dt(1.0 - b1) * g).astype(dt)
    v = (v * dt(b2) + dt(1.0 - b2) * g * g).astype(dt)
    state["m"], state["v"] = m, v
    step_size = dt(lr / (1.0 - b1**t))
    bc2_sqrt = dt(math.sqrt(1.0 - b2**t))
    denom = (np.sqrt(v) / bc2_sqrt + dt(eps)).astype(dt)
    return (p - step_size * m / denom).astype(dt)


def step_rmsprop(p, g, state, t, hp, dt):
    """torch.optim.RMSprop (no momentum, not centered): g += wd·p; v = α·v + (1 − α)·g·g;
    p −= lr·g/(sqrt(v) + eps)."""
    lr, alpha, eps, wd = (hp[k] for k in ("lr", "alpha", "eps", "weight_decay"))
    if wd != 0:
        g = (g + dt(wd) * p).astype(dt)
    v = state.get("v", np.zeros_like(p))
    v = (v * dt(alpha) + dt(1.0 - alpha) * g * g).astype(dt)
    state["v"] = v
    avg = (np.sqrt(v) + dt(eps)).astype(dt)
    return (p - dt(lr) * g / avg).astype(dt)


STEPS = {
    "sgd": step_sgd,
    "adam": lambda *a: step_adam(*a, decoupled=False),
    "adamw": lambda *a: step_adam(*a, decoupled=True),
    "rmsprop": step_rmsprop,
}


def sgd_hp(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    return {"lr": lr, "momentum": momentum, "dampening": dampening,
            "weight_decay": weight_decay, "nesterov": nesterov}


def adam_hp(weight_decay):
    return {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": weight_decay}


def rmsprop_hp(weight_decay):
    return {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": weight_decay,
            "momentum": 0.0, "centered": False}


ALL_LOSSES = ("mse", "ce", "bce")
TWO_LOSSES = ("mse", "ce")
CONFIGS = [
    ("sgd", sgd_hp(0.1), ALL_LOSSES),
    ("sgd", sgd_hp(0.1, weight_decay=0.01), ALL_LOSSES),
    ("sgd", sgd_hp(0.1, momentum=0.9), ALL_LOSSES),
    ("sgd", sgd_hp(0.1, momentum=0.9, dampening=0.1, weight_decay=0.01), ALL_LOSSES),
    ("sgd", sgd_hp(0.1, momentum=0.9, weight_decay=0.001, nesterov=True), ALL_LOSSES),
    ("adam", adam_hp(0.0), ALL_LOSSES),
    ("adam", adam_hp(0.01), ALL_LOSSES),
    ("adamw", adam_hp(0.01), TWO_LOSSES),
    ("rmsprop", rmsprop_hp(0.0), TWO_LOSSES),
    ("rmsprop", rmsprop_hp(0.01), TWO_LOSSES),
]

# Smallest |pre-activation| allowed anywhere on a recorded trajectory: far enough from the
# ReLU's kink that float32 rounding (~1e-7 here) can never flip a unit on or off.
RELU_MARGIN = 2e-4


def train(optimizer, hp, loss, dt):
    """Trains on the fixed batch; returns the params after each recorded step, the loss before
    every step and the smallest |pre-activation| met."""
    if dt is F32:
        # A float32 implementation is given float32 hyper-parameters.
        hp = {k: float(F32(v)) if isinstance(v, float) else v for k, v in hp.items()}
    p = {k: MODEL[k].astype(dt) for k in PARAMS}
    state = {k: {} for k in PARAMS}
    recorded, losses, masks, min_h = {}, [], [], math.inf
    for t in range(1, max(RECORDED_STEPS) + 1):
        value, g, fw = loss_and_grads(p, loss, dt)
        losses.append(value)
        masks.append(fw["h"] > 0)
        min_h = min(min_h, float(np.abs(fw["h"]).min()))
        p = {k: STEPS[optimizer](p[k], g[k], state[k], t, hp, dt) for k in PARAMS}
        assert all(p[k].dtype == dt for k in PARAMS)
        if t in RECORDED_STEPS:
            recorded[t] = {k: p[k].copy() for k in PARAMS}
    return recorded, losses, masks, min_h


# --------------------------------------------------------------------------------------------
# Self-checks of the float64 gradients by central finite differences.
# --------------------------------------------------------------------------------------------


def check_grads_fd(p, loss, h=1e-6):
    """Asserts that every analytic float64 gradient matches its central difference to 1e-5,
    relative to max(1e-3, |g|); returns the largest such error."""
    _, g, _ = loss_and_grads(p, loss, F64)
    worst = 0.0
    for k in PARAMS:
        for idx in np.ndindex(p[k].shape):
            plus = {q: p[q].copy() for q in PARAMS}
            minus = {q: p[q].copy() for q in PARAMS}
            plus[k][idx] += h
            minus[k][idx] -= h
            up, down = loss_and_grads(plus, loss, F64)[0], loss_and_grads(minus, loss, F64)[0]
            fd = (up - down) / (2 * h)
            err = abs(fd - g[k][idx]) / max(1e-3, abs(g[k][idx]))
            assert err < 1e-5, (loss, k, idx, fd, g[k][idx])
            worst = max(worst, err)
    return worst


# --------------------------------------------------------------------------------------------
# BatchNorm1d (float64): training normalizes with the batch mean and the biased batch variance;
# running_mean = (1 − m)·rm + m·mean, running_var = (1 − m)·rv + m·unbiased var; eval uses the
# running statistics.
# --------------------------------------------------------------------------------------------

BN_EPS = 1e-5
BN_MOMENTUM = 0.1
BN_GAMMA = np.array([1.25, 0.5, 2.0])
BN_BETA = np.array([0.25, -0.5, 0.75])
_bn_rng = np.random.default_rng(11)
# Features of different offsets and scales; batches 0..2 train, batch 3 is run in eval mode.
BN_BATCHES = [as_f32_values(_bn_rng.normal(size=(4, 3)) * [1.0, 2.0, 0.5] + [0.5, -1.0, 3.0])
              for _ in range(4)]
BN_DY = as_f32_values(_bn_rng.normal(size=(4, 3)))


def bn_train_forward(x, gamma, beta, eps):
    mean = x.mean(axis=0)
    var = ((x - mean) ** 2).mean(axis=0)
    xhat = (x - mean) / np.sqrt(var + eps)
    return gamma * xhat + beta, mean, var, xhat


def bn_backward(x, gamma, dy, eps):
    n = x.shape[0]
    _, _, var, xhat = bn_train_forward(x, gamma, 0.0, eps)
    inv_std = 1.0 / np.sqrt(var + eps)
    dxhat = dy * gamma
    dx = inv_std / n * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, (dy * xhat).sum(axis=0), dy.sum(axis=0)


def check_bn_fd(x, gamma, beta, dy, h=1e-6):
    def f(xx, gg, bb):
        return float((bn_train_forward(xx, gg, bb, BN_EPS)[0] * dy).sum())

    dx, dgamma, dbeta = bn_backward(x, gamma, dy, BN_EPS)
    worst = 0.0
    for arr, grad, which in ((x, dx, 0), (gamma, dgamma, 1), (beta, dbeta, 2)):
        for idx in np.ndindex(arr.shape):
            args_p = [x.copy(), gamma.copy(), beta.copy()]
            args_m = [x.copy(), gamma.copy(), beta.copy()]
            args_p[which][idx] += h
            args_m[which][idx] -= h
            fd = (f(*args_p) - f(*args_m)) / (2 * h)
            err = abs(fd - grad[idx]) / max(1e-3, abs(grad[idx]))
            assert err < 1e-5, (which, idx, fd, grad[idx])
            worst = max(worst, err)
    return worst


def batchnorm_section():
    rm, rv = np.zeros(3), np.ones(3)
    steps = []
    for x in BN_BATCHES[:3]:
        y, mean, var, _ = bn_train_forward(x, BN_GAMMA, BN_BETA, BN_EPS)
        n = x.shape[0]
        var_unbiased = var * n / (n - 1)
        assert np.allclose(var_unbiased, x.var(axis=0, ddof=1), rtol=1e-14, atol=0)
        rm = (1 - BN_MOMENTUM) * rm + BN_MOMENTUM * mean
        rv = (1 - BN_MOMENTUM) * rv + BN_MOMENTUM * var_unbiased
        steps.append({"y": y, "batch_mean": mean, "batch_var_biased": var,
                      "batch_var_unbiased": var_unbiased,
                      "running_mean": rm.copy(), "running_var": rv.copy()})
    x_eval = BN_BATCHES[3]
    y_eval = BN_GAMMA * (x_eval - rm) / np.sqrt(rv + BN_EPS) + BN_BETA

    dx, dgamma, dbeta = bn_backward(BN_BATCHES[0], BN_GAMMA, BN_DY, BN_EPS)
    fd_err = check_bn_fd(BN_BATCHES[0], BN_GAMMA, BN_BETA, BN_DY)

    demo_x = np.arange(15, dtype=F64).reshape(3, 5)
    demo_y, demo_mean, demo_var, _ = bn_train_forward(demo_x, 1.0, 0.0, BN_EPS)
    assert np.allclose(demo_y[0], -1.2247448677, atol=1e-10) and np.all(demo_y[1] == 0.0)
    assert np.allclose(demo_y[2], 1.2247448677, atol=1e-10)

    section = {
        "eps": BN_EPS, "momentum": BN_MOMENTUM, "gamma": BN_GAMMA, "beta": BN_BETA,
        "running_mean_init": np.zeros(3), "running_var_init": np.ones(3),
        "train_batches": BN_BATCHES[:3], "train_steps": steps,
        "eval_batch": x_eval, "eval_y": y_eval,
        "backward": {"batch_index": 0, "x": BN_BATCHES[0], "dy": BN_DY,
                     "dx": dx, "dgamma": dgamma, "dbeta": dbeta},
        "notebook_demo": {"x": demo_x, "gamma": 1.0, "beta": 0.0, "eps": BN_EPS,
                          "mean": demo_mean, "var_biased": demo_var, "y": demo_y},
    }
    return section, fd_err


# --------------------------------------------------------------------------------------------
# JSON: floats as repr() of the float64 value (a float32 result is written as the float64 equal
# to it, so it reads back exactly whether parsed as f64 or as f32); short lists on one line.
# --------------------------------------------------------------------------------------------


def to_plain(v):
    if isinstance(v, np.ndarray):
        return to_plain(v.tolist())
    if isinstance(v, (np.floating, float)):
        f = float(v)
        assert math.isfinite(f)
        return f
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, dict):
        return {str(k): to_plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_plain(x) for x in v]
    if isinstance(v, str):
        return v
    raise TypeError(type(v))


def dump(v, indent=0):
    pad = " " * indent
    if isinstance(v, dict):
        items = [f'{pad} "{k}": {dump(x, indent + 1).lstrip()}' for k, x in v.items()]
        return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        return pad + "[\n" + ",\n".join(dump(x, indent + 1) for x in v) + "\n" + pad + "]"
    return pad + compact(v)


def compact(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v + '"'
    if isinstance(v, list):
        return "[" + ",".join(compact(x) for x in v) + "]"
    raise TypeError(type(v))


def main():
    out = {
        "description": "Reference trajectories of PyTorch-documented optimizers, losses and "
                       "BatchNorm1d; generated by tests/data/make_optim_fixtures.py",
        "model": MODEL, "x": X, "mse_target": MSE_TARGET, "ce_labels": CE_LABELS,
        "bce_target": BCE_TARGET,
    }

    h0 = forward(MODEL, X, F64)[0]
    assert (h0 > 0).any() and (h0 <= 0).any(), "the batch must cut some ReLU units, not all"

    worst_fd, initial = 0.0, {}
    for loss in ALL_LOSSES:
        worst_fd = max(worst_fd, check_grads_fd(MODEL, loss))
        entry = {}
        for name, dt in (("f64", F64), ("f32", F32)):
            p = {k: MODEL[k].astype(dt) for k in PARAMS}
            value, g, fw = loss_and_grads(p, loss, dt)
            entry[name] = {"loss": value, "h": fw["h"], "y": fw["y"], "dy": fw["dy"],
                           **{k: g[k] for k in PARAMS}}
        initial[loss] = entry
    out["initial"] = initial

    cases, min_margin, worst_rel = [], math.inf, 0.0
    for optimizer, hp, losses in CONFIGS:
        for loss in losses:
            r64, l64, m64, h64 = train(optimizer, hp, loss, F64)
            r32, l32, m32, h32 = train(optimizer, hp, loss, F32)
            assert all((a == b).all() for a, b in zip(m64, m32)), "f32 flipped a ReLU unit"
            min_margin = min(min_margin, h64, h32)
            # The float64 gradient is correct at the end of the trajectory too.
            worst_fd = max(worst_fd, check_grads_fd(r64[max(RECORDED_STEPS)], loss))
            for t in RECORDED_STEPS:
                for k in PARAMS:
                    d = np.abs(r32[t][k] - r64[t][k]).max()
                    worst_rel = max(worst_rel, d / max(1.0, np.abs(r64[t][k]).max()))
            cases.append({
                "optimizer": optimizer, "hyper": hp, "loss": loss,
                "loss_before_step": {"f64": l64, "f32": l32},
                "steps": {str(t): {"f64": r64[t], "f32": r32[t]} for t in RECORDED_STEPS},
            })
    assert min_margin > RELU_MARGIN, min_margin
    out["cases"] = cases

    bn, bn_fd = batchnorm_section()
    out["batchnorm1d"] = bn

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim_fixtures.json")
    text = dump(to_plain(out)) + "\n"
    with open(path, "w") as f:
        f.write(text)
    print(f"wrote {path}: {len(cases)} cases, {len(text)} bytes")
    print(f"finite-difference check: model grads max rel err {worst_fd:.1e}, "
          f"batchnorm {bn_fd:.1e}; min |pre-activation| {min_margin:.3g}; "
          f"max |f32 - f64| / max(1, |p|) {worst_rel:.1e}")


if __name__ == "__main__":
    main()
