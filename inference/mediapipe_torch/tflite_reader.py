"""A .tflite file -> a plain graph spec and its constant arrays, for graph.TFLiteGraph to run in torch.

Reads the flatbuffer with the `tflite` package (the generated TFLite schema; the backend extra pins it)
and keeps only what the two MediaPipe hand networks need: one subgraph, float32 activations, float16
or float32 constants (fp16 weights sit behind DEQUANTIZE ops, which are folded away here), and the
operators in OP_TYPES. Anything else raises ModelFileError, so a changed model cannot run half-right.

Layout: TFLite is NHWC; the spec is already in torch's NCHW terms (weights OIHW, paddings split into
top/bottom/left/right, axes remapped), so graph.py does no layout bookkeeping beyond RESHAPE.

Spec (plain dicts/lists/ints/floats/strings, so torch.load(weights_only=True) reads it back):
    {"name", "input": {"id", "shape" (NHWC as in the file)}, "outputs": [{"id", "name", "shape"}],
     "ops": [{"type", "inputs": [tensor ids], "output": id, ...options}], "mean_inputs": [ids]}
Constant arrays: {"ops.<i>.<param>": np.ndarray float32} in torch layout.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ...errors import ModelFileError

# The TFLite ops the MediaPipe hand networks use, by their BuiltinOperator names.
OP_TYPES = ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "FULLY_CONNECTED", "LOGISTIC", "MEAN", "PRELU",
            "MAX_POOL_2D", "PAD", "RESIZE_BILINEAR", "RESHAPE", "CONCATENATION")
# ActivationFunctionType -> name (TFLite fuses these into conv/add/fc outputs).
ACTIVATIONS = {0: "none", 1: "relu", 2: "relu_n1_to_1", 3: "relu6", 4: "tanh"}
_FLOAT32, _FLOAT16, _INT32 = 0, 1, 2  # TensorType values


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tflite_padding(padding: int, size: list[int], kernel: list[int], stride: list[int],
                   dilation: list[int]) -> list[int]:
    """[top, bottom, left, right] zero padding of TFLite's SAME (0) or VALID (1) scheme for an input of
    `size` (H, W).

    SAME pads total = max((ceil(n / s) - 1) s + (k - 1) d + 1 - n, 0), the odd pixel after (bottom,
    right): asymmetric for stride 2 on even sizes, which torch's padding argument cannot express."""
    if padding == 1:
        return [0, 0, 0, 0]
    if padding != 0:
        raise ModelFileError(f"unknown TFLite padding {padding}; expected SAME (0) or VALID (1)")
    pads = []
    for n, k, s, d in zip(size, kernel, stride, dilation):
        total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


def read_tflite(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(spec, constants) of the .tflite model at `path` (see the module docstring)."""
    try:
        import tflite
    except ImportError as err:
        raise ModelFileError("converting MediaPipe's models needs the `tflite` package "
                             "(the backend extra: pip install 'maskhand[backend]')") from err
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"MediaPipe model {path} is missing; expected the mediapipe 0.10.21 wheel's file")
    buf = path.read_bytes()
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        n_subgraphs = model.SubgraphsLength()
    except Exception as err:  # a truncated or foreign file fails inside the generated flatbuffer code
        raise ModelFileError(f"{path.name} is not a readable .tflite flatbuffer: {err}") from err
    if n_subgraphs != 1:
        raise ModelFileError(f"{path.name}: {n_subgraphs} subgraphs, expected 1")
    op_names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    return _Reader(tflite, model, op_names, path.name).read()


class _Reader:
    def __init__(self, tflite, model, op_names, name):
        self.tfl, self.model, self.op_names, self.name = tflite, model, op_names, name
        self.graph = model.Subgraphs(0)
        self.consts: dict[int, np.ndarray] = {}  # tensor id -> value, NHWC as stored

    # -- tensors ------------------------------------------------------------------------------
    def shape(self, tid: int) -> list[int]:
        return [int(s) for s in self.graph.Tensors(tid).ShapeAsNumpy()]

    def tensor_name(self, tid: int) -> str:
        return self.graph.Tensors(tid).Name().decode("utf-8", "replace")

    def stored(self, tid: int) -> np.ndarray | None:
        """The constant data of tensor `tid` from its buffer, or None for an activation."""
        tensor = self.graph.Tensors(tid)
        data = self.model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(data, int) or data is None or len(data) == 0:
            return None
        dtype = {_FLOAT32: np.float32, _FLOAT16: np.float16, _INT32: np.int32}.get(tensor.Type())
        if dtype is None:
            raise ModelFileError(f"{self.name}: constant {self.tensor_name(tid)!r} has tensor type "
                                 f"{tensor.Type()}, expected float32, float16 or int32")
        return np.frombuffer(data.tobytes(), dtype=dtype).reshape(self.shape(tid))

    def const(self, tid: int) -> np.ndarray:
        if tid not in self.consts:
            raise ModelFileError(f"{self.name}: tensor {self.tensor_name(tid)!r} should be a constant")
        return self.consts[tid]

    def options(self, op, cls_name: str):
        table = op.BuiltinOptions()
        opts = getattr(self.tfl, cls_name)()
        opts.Init(table.Bytes, table.Pos)
        return opts

    # -- the graph ----------------------------------------------------------------------------
    def read(self) -> tuple[dict, dict[str, np.ndarray]]:
        g = self.graph
        for tid in range(g.TensorsLength()):
            value = self.stored(tid)
            if value is not None:
                self.consts[tid] = value
        ops, arrays, mean_inputs = [], {}, []
        for i in range(g.OperatorsLength()):
            op = g.Operators(i)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            kind = self.op_names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")
            inputs = [int(t) for t in op.InputsAsNumpy()]
            outputs = [int(t) for t in op.OutputsAsNumpy()]
            if kind == "DEQUANTIZE":  # fp16 weights -> float32 constants, folded away
                self.consts[outputs[0]] = self.const(inputs[0]).astype(np.float32)
                continue
            if kind not in OP_TYPES:
                raise ModelFileError(f"{self.name}: operator {kind} is not supported; expected only "
                                     f"{', '.join(OP_TYPES)} (and DEQUANTIZE)")
            if len(outputs) != 1:
                raise ModelFileError(f"{self.name}: operator {kind} has {len(outputs)} outputs, expected 1")
            entry, params = getattr(self, "_" + kind.lower())(op, inputs)
            entry.update(type=kind, output=outputs[0], out_shape=self.shape(outputs[0]))
            for key, value in params.items():
                arrays[f"ops.{len(ops)}.{key}"] = np.ascontiguousarray(value, dtype=np.float32)
            if kind == "MEAN":
                mean_inputs.append(inputs[0])
            ops.append(entry)
        (input_id,) = [int(t) for t in g.InputsAsNumpy()]
        spec = {"name": self.name,
                "input": {"id": input_id, "shape": self.shape(input_id)},
                "outputs": [{"id": int(t), "name": self.tensor_name(int(t)), "shape": self.shape(int(t))}
                            for t in g.OutputsAsNumpy()],
                "ops": ops, "mean_inputs": mean_inputs}
        return spec, arrays

    def _activation(self, opts) -> str:
        code = opts.FusedActivationFunction()
        if code not in ACTIVATIONS:
            raise ModelFileError(f"{self.name}: fused activation {code} is not supported")
        return ACTIVATIONS[code]

    def _conv_2d(self, op, inputs):
        opts = self.options(op, "Conv2DOptions")
        weight = self.const(inputs[1])  # (O, kh, kw, I)
        _, height, width, in_ch = self.shape(inputs[0])
        stride, dilation = [opts.StrideH(), opts.StrideW()], [opts.DilationHFactor(), opts.DilationWFactor()]
        entry = {"inputs": [inputs[0]], "in_ch": in_ch, "out_ch": weight.shape[0], "groups": 1,
                 "kernel": list(weight.shape[1:3]), "stride": stride, "dilation": dilation,
                 "pad": tflite_padding(opts.Padding(), [height, width], list(weight.shape[1:3]),
                                            stride, dilation),
                 "act": self._activation(opts)}
        return entry, {"weight": weight.transpose(0, 3, 1, 2), "bias": self._bias(inputs, weight.shape[0])}

    def _depthwise_conv_2d(self, op, inputs):
        opts = self.options(op, "DepthwiseConv2DOptions")
        weight = self.const(inputs[1])  # (1, kh, kw, I * multiplier)
        _, height, width, in_ch = self.shape(inputs[0])
        stride, dilation = [opts.StrideH(), opts.StrideW()], [opts.DilationHFactor(), opts.DilationWFactor()]
        entry = {"inputs": [inputs[0]], "in_ch": in_ch, "out_ch": weight.shape[3], "groups": in_ch,
                 "kernel": list(weight.shape[1:3]), "stride": stride, "dilation": dilation,
                 "pad": tflite_padding(opts.Padding(), [height, width], list(weight.shape[1:3]),
                                            stride, dilation),
                 "act": self._activation(opts)}
        return entry, {"weight": weight.transpose(3, 0, 1, 2), "bias": self._bias(inputs, weight.shape[3])}

    def _bias(self, inputs, n: int) -> np.ndarray:
        if len(inputs) < 3 or inputs[2] < 0:
            return np.zeros(n, np.float32)
        return self.const(inputs[2]).reshape(n)

    def _add(self, op, inputs):
        opts = self.options(op, "AddOptions")
        if any(t in self.consts for t in inputs):
            raise ModelFileError(f"{self.name}: ADD with a constant operand is not supported")
        return {"inputs": inputs, "act": self._activation(opts)}, {}

    def _fully_connected(self, op, inputs):
        opts = self.options(op, "FullyConnectedOptions")
        weight = self.const(inputs[1])  # (out, in), as torch's Linear
        if opts.KeepNumDims():
            raise ModelFileError(f"{self.name}: FULLY_CONNECTED with keep_num_dims is not supported")
        return ({"inputs": [inputs[0]], "in_features": weight.shape[1], "out_features": weight.shape[0],
                 "act": self._activation(opts)},
                {"weight": weight, "bias": self._bias(inputs, weight.shape[0])})

    def _logistic(self, op, inputs):
        return {"inputs": [inputs[0]]}, {}

    def _mean(self, op, inputs):
        opts = self.options(op, "ReducerOptions")
        axes = sorted(int(a) % 4 for a in np.atleast_1d(self.const(inputs[1])))
        if len(self.shape(inputs[0])) != 4 or axes != [1, 2]:
            raise ModelFileError(f"{self.name}: MEAN over axes {axes} is not supported; expected a "
                                 f"global average over H, W (axes 1, 2) of an NHWC tensor")
        return {"inputs": [inputs[0]], "keep_dims": bool(opts.KeepDims())}, {}

    def _prelu(self, op, inputs):
        alpha = self.const(inputs[1])  # (1, 1, C) or (C,), NHWC broadcast
        channels = self.shape(inputs[0])[-1]
        if alpha.size != channels:
            raise ModelFileError(f"{self.name}: PRELU alpha of shape {alpha.shape}, expected {channels} values")
        return {"inputs": [inputs[0]], "channels": channels}, {"alpha": alpha.reshape(channels)}

    def _max_pool_2d(self, op, inputs):
        opts = self.options(op, "Pool2DOptions")
        _, height, width, _ = self.shape(inputs[0])
        kernel, stride = [opts.FilterHeight(), opts.FilterWidth()], [opts.StrideH(), opts.StrideW()]
        return ({"inputs": [inputs[0]], "kernel": kernel, "stride": stride,
                 "pad": tflite_padding(opts.Padding(), [height, width], kernel, stride, [1, 1]),
                 "act": self._activation(opts)}, {})

    def _pad(self, op, inputs):
        pads = self.const(inputs[1]).astype(int)  # (4, 2) NHWC before/after
        if pads.shape != (4, 2) or pads[0].any():
            raise ModelFileError(f"{self.name}: PAD of {pads.tolist()} is not supported (4-D, batch unpadded)")
        # torch's F.pad order for NCHW: W (left, right), H (top, bottom), C (front, back)
        return {"inputs": [inputs[0]], "pad": [int(v) for v in (*pads[2], *pads[1], *pads[3])]}, {}

    def _resize_bilinear(self, op, inputs):
        opts = self.options(op, "ResizeBilinearOptions")
        size = [int(v) for v in self.const(inputs[1])]
        return ({"inputs": [inputs[0]], "size": size, "align_corners": bool(opts.AlignCorners()),
                 "half_pixel_centers": bool(opts.HalfPixelCenters())}, {})

    def _reshape(self, op, inputs):
        return {"inputs": [inputs[0]], "in_rank": len(self.shape(inputs[0]))}, {}

    def _concatenation(self, op, inputs):
        opts = self.options(op, "ConcatenationOptions")
        rank = len(self.shape(inputs[0]))
        axis = opts.Axis() % rank
        if axis == 0:
            raise ModelFileError(f"{self.name}: CONCATENATION along the batch axis is not supported")
        if rank == 4:
            axis = {1: 2, 2: 3, 3: 1}[axis]  # NHWC axis -> NCHW axis
        return {"inputs": inputs, "axis": axis, "act": self._activation(opts)}, {}
