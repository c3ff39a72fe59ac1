"""Generates tests/data/quant/*.json: int8 fully connected models run by TFLite's own interpreters.

This script writes real .tflite flatbuffers with the schema bindings that the official
`ai-edge-litert` package ships (`ai_edge_litert.schema_py_generated`) and runs them with two
official interpreters; the int8 outputs recorded are theirs, not a re-implementation's:

- TFLite Micro (`tflite-micro` package), `tflm_*` arrays: its default requantization is the double
  rounding (as CMSIS-NN's), which constnn implements; the tests match these byte for byte;
- LiteRT (`ai-edge-litert`, desktop TFLite), `litert_*` arrays, run once with the reference kernels
  (`BUILTIN_REF`) and once with the optimized ones (`BUILTIN`), which must agree byte for byte. Its
  build uses TFLite's single rounding, so a few outputs differ from TFLite Micro's by one step.

Two fixtures:

- `tflite_kernel.json`: a 64-32-10 model given directly in quantized form (random int8 weights,
  per-channel weight scales, int32 biases, input/hidden/output scales and zero points, a fused
  ReLU on the hidden layer), run on 64 int8 input rows (random, plus all -128 and all 127). Tests
  constnn's kernel and requantization alone.
- `tflite_ptq.json`: a float 16-24-6 model and a calibration batch whose values are small dyadic
  rationals, so that every activation is exact in float32 whatever the summation order (checked
  below against float64); the script quantizes it the way TFLite's post-training quantizer does
  (functions below, written from the formulas of tensorflow/lite/tools/optimize/
  quantization_utils.cc: GetAsymmetricQuantizationParams, SymmetricPerChannelQuantization,
  SymmetricPerChannelBiasQuantize; and QuantizeMultiplier from kernels/internal/
  quantization_util.cc), then TFLite runs float input -> QUANTIZE -> FULLY_CONNECTED(RELU) ->
  FULLY_CONNECTED -> int8 logits -> DEQUANTIZE on 40 float test rows. constnn must find the same
  ranges, scales, zero points, weights and biases from the float model, and TFLite's outputs.

Run: python3 -m venv /tmp/tfl
     /tmp/tfl/bin/pip install ai-edge-litert==2.3.0 tflite-micro==0.dev20261023182759 numpy flatbuffers
     /tmp/tfl/bin/python tests/data/quant/make_quant_fixtures.py
"""

import json
import math
import os

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as fb
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from tflite_micro.python.tflite_micro import runtime as tflm

HERE = os.path.dirname(os.path.abspath(__file__))
F32 = np.float32


def bits(a):
    return np.asarray(a, dtype=np.float32).view(np.uint32).tolist()


def round_half_away(x):
    """std::round of a float32 (exact in float64: |x| + 0.5 needs no rounding below 2^52)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


# --- TFLite's quantization formulas ------------------------------------------------------------


def asymmetric_params(rmin, rmax):
    """GetAsymmetricQuantizationParams for int8, in float32; scale 0 (an all-zero range) is
    replaced by constnn's documented safe choice, scale 1 and zero point -128."""
    rmin = min(F32(rmin), F32(0.0))
    rmax = max(F32(rmax), F32(0.0))
    scale = F32(F32(rmax - rmin) / F32(255.0))
    if scale == 0:
        return F32(1.0), -128
    zp = F32(F32(-128.0) - F32(rmin / scale))
    if zp < -128:
        z = -128
    elif zp > 127:
        z = 127
    else:
        z = int(round_half_away(zp))
    return scale, z


def per_channel_weights(w_io):
    """SymmetricPerChannelQuantization of a float (in, out) matrix, channels = outputs.
    Returns the int8 (out, in) matrix and the float32 scales."""
    w = np.asarray(w_io, dtype=np.float32).T  # (out, in)
    half = np.max(np.abs(w), axis=1).astype(np.float32)
    scales = (half / F32(127.0)).astype(np.float32)
    inv = np.where(half == 0, F32(0.0), F32(127.0) / np.where(half == 0, F32(1.0), half)).astype(
        np.float32
    )
    q = round_half_away((w * inv[:, None]).astype(np.float32))
    q = np.clip(q, -127, 127).astype(np.int8)
    assert np.all(half > 0), "fixture channels are never all zero"
    return q, scales


def per_channel_bias(b, input_scale, weight_scales):
    """SymmetricPerChannelBiasQuantize: float32 scales, the inverse in double cast to float."""
    out = []
    for bo, sw in zip(np.asarray(b, dtype=np.float32), weight_scales):
        sf = F32(F32(input_scale) * F32(sw))
        inv = F32(0.0) if sf == 0 else F32(1.0 / float(sf))
        v = round_half_away(F32(bo * inv))
        out.append(int(np.clip(v, -(2**31 - 1), 2**31 - 1)))
    return np.array(out, dtype=np.int32)


def quantize_multiplier(real):
    """QuantizeMultiplier (double): frexp, round(q * 2^31), renormalize 2^31, flush below 2^-32."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    m = int(math.floor(q * 2.0**31 + 0.5))
    if m == 2**31:
        m //= 2
        shift += 1
    assert shift <= 30
    if shift < -31:
        return 0, 0
    return m, shift


# --- .tflite writing ---------------------------------------------------------------------------


class Builder:
    def __init__(self):
        self.tensors, self.buffers, self.ops, self.codes = [], [fb.BufferT()], [], []

    def tensor(self, name, shape, ttype, scale=None, zero_point=None, axis=0, data=None):
        t = fb.TensorT()
        t.name, t.shape, t.type = name, list(shape), ttype
        if data is not None:
            buf = fb.BufferT()
            buf.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
            self.buffers.append(buf)
            t.buffer = len(self.buffers) - 1
        else:
            t.buffer = 0
        if scale is not None:
            qp = fb.QuantizationParametersT()
            qp.scale = [float(s) for s in np.atleast_1d(np.asarray(scale, dtype=np.float32))]
            qp.zeroPoint = [int(z) for z in np.atleast_1d(zero_point)]
            qp.quantizedDimension = axis
            t.quantization = qp
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, code, inputs, outputs, options_type=0, options=None):
        if code not in self.codes:
            self.codes.append(code)
        o = fb.OperatorT()
        o.opcodeIndex = self.codes.index(code)
        o.inputs, o.outputs = inputs, outputs
        o.builtinOptionsType, o.builtinOptions = options_type, options
        self.ops.append(o)

    def fully_connected(self, x, w, b, y, relu):
        opts = fb.FullyConnectedOptionsT()
        opts.fusedActivationFunction = (
            fb.ActivationFunctionType.RELU if relu else fb.ActivationFunctionType.NONE
        )
        self.op(
            fb.BuiltinOperator.FULLY_CONNECTED,
            [x, w, b],
            [y],
            fb.BuiltinOptions.FullyConnectedOptions,
            opts,
        )

    def finish(self, inputs, outputs):
        sg = fb.SubGraphT()
        sg.tensors, sg.inputs, sg.outputs, sg.operators = self.tensors, inputs, outputs, self.ops
        model = fb.ModelT()
        model.version = 3
        model.subgraphs = [sg]
        model.buffers = self.buffers
        model.operatorCodes = []
        for c in self.codes:
            oc = fb.OperatorCodeT()
            oc.builtinCode = c
            oc.deprecatedBuiltinCode = min(c, 127)
            oc.version = 1
            model.operatorCodes.append(oc)
        b = flatbuffers.Builder(0)
        b.Finish(model.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def run_tflm(model_bytes, x, count):
    """Runs the model with TFLite Micro's interpreter; returns its `count` outputs."""
    it = tflm.Interpreter.from_bytes(model_bytes)
    it.set_input(x, 0)
    it.invoke()
    return [it.get_output(i).copy() for i in range(count)]


def run_litert(model_bytes, x, outputs):
    """Runs the model on a whole batch with both LiteRT kernel sets; returns the outputs of
    BUILTIN_REF after checking that BUILTIN gives the same bytes."""
    results = []
    for resolver in (OpResolverType.BUILTIN_REF, OpResolverType.BUILTIN):
        it = Interpreter(model_content=model_bytes, experimental_op_resolver_type=resolver)
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        results.append([it.get_tensor(i).copy() for i in outputs])
    for a, b in zip(*results):
        assert a.tobytes() == b.tobytes(), "reference and optimized kernels differ"
    return results[0]


# --- fixture 1: the kernel ---------------------------------------------------------------------


def kernel_fixture(rng):
    IN, H, OUT, B = 64, 32, 10, 64
    w1 = rng.integers(-127, 128, size=(H, IN)).astype(np.int8)
    w2 = rng.integers(-127, 128, size=(OUT, H)).astype(np.int8)
    w1[0, :] = 127  # a channel whose accumulator reaches the int32 extremes of this layer
    w1[1, :] = -127
    s_in, z_in = F32(0.0123), -7
    s_h, z_h = F32(0.0731), -20
    s_out, z_out = F32(0.137), 5
    sw1 = rng.uniform(0.0005, 0.02, size=H).astype(np.float32)
    sw2 = rng.uniform(0.001, 0.03, size=OUT).astype(np.float32)
    sw1[2] = F32(0.9)  # effective scale > 0.1: shift -3 and up
    sw1[3] = F32(8.0)  # effective scale > 1: a positive (left) shift
    b1 = rng.integers(-30000, 30001, size=H).astype(np.int32)
    b2 = rng.integers(-30000, 30001, size=OUT).astype(np.int32)
    b1[4] = 2_000_000_000  # near the int32 limit
    b1[5] = -2_000_000_000
    x = rng.integers(-128, 128, size=(B, IN)).astype(np.int8)
    x[0, :] = -128
    x[1, :] = 127
    x[2, :] = z_in
    x[3, ::2], x[3, 1::2] = -128, 127

    g = Builder()
    t_x = g.tensor("x", (B, IN), fb.TensorType.INT8, s_in, z_in)
    t_w1 = g.tensor("w1", (H, IN), fb.TensorType.INT8, sw1, [0] * H, 0, w1)
    t_b1 = g.tensor("b1", (H,), fb.TensorType.INT32, (sw1 * s_in).astype(np.float32), [0] * H, 0, b1)
    t_h = g.tensor("h", (B, H), fb.TensorType.INT8, s_h, z_h)
    t_w2 = g.tensor("w2", (OUT, H), fb.TensorType.INT8, sw2, [0] * OUT, 0, w2)
    t_b2 = g.tensor("b2", (OUT,), fb.TensorType.INT32, (sw2 * s_h).astype(np.float32), [0] * OUT, 0, b2)
    t_y = g.tensor("y", (B, OUT), fb.TensorType.INT8, s_out, z_out)
    g.fully_connected(t_x, t_w1, t_b1, t_h, relu=True)
    g.fully_connected(t_h, t_w2, t_b2, t_y, relu=False)
    model = g.finish([t_x], [t_h, t_y])
    h, y = run_tflm(model, x, 2)
    lh, ly = run_litert(model, x, [t_h, t_y])

    mult = lambda s_a, sw, s_b: [quantize_multiplier(float(s_a) * float(s) / float(s_b)) for s in sw]
    return {
        "shape": [IN, H, OUT],
        "input": {"scale_bits": bits(s_in), "zero_point": z_in},
        "hidden": {"scale_bits": bits(s_h), "zero_point": z_h},
        "output": {"scale_bits": bits(s_out), "zero_point": z_out},
        "w1": w1.tolist(),
        "b1": b1.tolist(),
        "w1_scale_bits": bits(sw1),
        "w2": w2.tolist(),
        "b2": b2.tolist(),
        "w2_scale_bits": bits(sw2),
        "multipliers1": mult(s_in, sw1, s_h),
        "multipliers2": mult(s_h, sw2, s_out),
        "x": x.tolist(),
        "tflm_hidden": h.tolist(),
        "tflm_y": y.tolist(),
        "litert_hidden": lh.tolist(),
        "litert_y": ly.tolist(),
    }


# --- fixture 2: post-training quantization ------------------------------------------------------


def ptq_fixture(rng):
    IN, H, OUT, CAL, B = 16, 24, 6, 32, 40
    w1 = (rng.integers(-32, 33, size=(IN, H)) / 64).astype(np.float32)  # w[i][o]
    b1 = (rng.integers(-64, 65, size=H) / 256).astype(np.float32)
    w2 = (rng.integers(-32, 33, size=(H, OUT)) / 64).astype(np.float32)
    b2 = (rng.integers(-64, 65, size=OUT) / 256).astype(np.float32)
    cal = (rng.integers(-8, 9, size=(CAL, IN)) / 8).astype(np.float32)
    cal[0, 0], cal[1, 1] = F32(1.0), F32(-1.0)

    def forward(x, dtype):
        h = x.astype(dtype) @ w1.astype(dtype) + b1.astype(dtype)
        return h, np.maximum(h, 0) @ w2.astype(dtype) + b2.astype(dtype)

    h32, y32 = forward(cal, np.float32)
    h64, y64 = forward(cal, np.float64)
    assert np.array_equal(h32.astype(np.float64), h64) and np.array_equal(
        y32.astype(np.float64), y64
    ), "calibration activations must be exact in float32"

    s_in, z_in = asymmetric_params(cal.min(), cal.max())
    s_h, z_h = asymmetric_params(0.0, h32.max())  # the ReLU's range: fused into layer 1
    s_out, z_out = asymmetric_params(y32.min(), y32.max())
    q1, sw1 = per_channel_weights(w1)
    q2, sw2 = per_channel_weights(w2)
    qb1 = per_channel_bias(b1, s_in, sw1)
    qb2 = per_channel_bias(b2, s_h, sw2)

    x = rng.uniform(-1.2, 1.2, size=(B, IN)).astype(np.float32)
    x[0, :] = 0.0
    x[1, :] = F32(1e6)
    x[2, :] = F32(-1e6)

    g = Builder()
    t_xf = g.tensor("x_float", (B, IN), fb.TensorType.FLOAT32)
    t_x = g.tensor("x", (B, IN), fb.TensorType.INT8, s_in, z_in)
    t_w1 = g.tensor("w1", (H, IN), fb.TensorType.INT8, sw1, [0] * H, 0, q1)
    t_b1 = g.tensor("b1", (H,), fb.TensorType.INT32, (sw1 * s_in).astype(np.float32), [0] * H, 0, qb1)
    t_h = g.tensor("h", (B, H), fb.TensorType.INT8, s_h, z_h)
    t_w2 = g.tensor("w2", (OUT, H), fb.TensorType.INT8, sw2, [0] * OUT, 0, q2)
    t_b2 = g.tensor("b2", (OUT,), fb.TensorType.INT32, (sw2 * s_h).astype(np.float32), [0] * OUT, 0, qb2)
    t_y = g.tensor("y", (B, OUT), fb.TensorType.INT8, s_out, z_out)
    t_yf = g.tensor("y_float", (B, OUT), fb.TensorType.FLOAT32)
    g.op(fb.BuiltinOperator.QUANTIZE, [t_xf], [t_x])
    g.fully_connected(t_x, t_w1, t_b1, t_h, relu=True)
    g.fully_connected(t_h, t_w2, t_b2, t_y, relu=False)
    g.op(fb.BuiltinOperator.DEQUANTIZE, [t_y], [t_yf])
    model = g.finish([t_xf], [t_x, t_y, t_yf])
    xq, y, yf = run_tflm(model, x, 3)
    lxq, ly, lyf = run_litert(model, x, [t_x, t_y, t_yf])

    return {
        "shape": [IN, H, OUT],
        "w1_bits": [bits(r) for r in w1],
        "b1_bits": bits(b1),
        "w2_bits": [bits(r) for r in w2],
        "b2_bits": bits(b2),
        "calibration_bits": [bits(r) for r in cal],
        "ranges": {
            "input": bits([cal.min(), cal.max()]),
            "linear1": bits([h32.min(), h32.max()]),
            "linear2": bits([y32.min(), y32.max()]),
        },
        "input": {"scale_bits": bits(s_in), "zero_point": z_in},
        "hidden": {"scale_bits": bits(s_h), "zero_point": z_h},
        "output": {"scale_bits": bits(s_out), "zero_point": z_out},
        "q_w1": q1.tolist(),
        "q_b1": qb1.tolist(),
        "w1_scale_bits": bits(sw1),
        "q_w2": q2.tolist(),
        "q_b2": qb2.tolist(),
        "w2_scale_bits": bits(sw2),
        "multipliers1": [quantize_multiplier(float(s_in) * float(s) / float(s_h)) for s in sw1],
        "multipliers2": [quantize_multiplier(float(s_h) * float(s) / float(s_out)) for s in sw2],
        "x_bits": [bits(r) for r in x],
        "tflm_x": xq.tolist(),
        "tflm_y": y.tolist(),
        "tflm_y_float_bits": [bits(r) for r in yf],
        "litert_x": lxq.tolist(),
        "litert_y": ly.tolist(),
    }


def main():
    import ai_edge_litert
    import tflite_micro

    versions = (
        f"tflite-micro {getattr(tflite_micro, '__version__', 'unknown')} interpreter (tflm_*); "
        f"ai-edge-litert {getattr(ai_edge_litert, '__version__', 'unknown')} interpreter, "
        "BUILTIN_REF == BUILTIN (litert_*)"
    )
    rng = np.random.default_rng(20261201)
    for name, make in (("tflite_kernel.json", kernel_fixture), ("tflite_ptq.json", ptq_fixture)):
        data = make(rng)
        data["reference"] = versions
        with open(os.path.join(HERE, name), "w") as f:
            json.dump(data, f, separators=(",", ":"))
            f.write("\n")
        print(name, os.path.getsize(os.path.join(HERE, name)), "bytes")


if __name__ == "__main__":
    main()
