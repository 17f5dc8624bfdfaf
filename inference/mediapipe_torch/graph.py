"""A TFLite graph spec (tflite_reader) as a torch module: one submodule per operator, run in file order.

Every 4-D activation is NCHW here (TFLite's are NHWC); the reader already remapped weights, paddings
and axes, so only RESHAPE, which flattens in NHWC order, permutes back before flattening. The batch
size is free: TFLite's files say 1, every op here takes (B, ...).

Legend: B batch, C channels, H, W height, width.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import ModelFileError


def _activate(x: Tensor, act: str) -> Tensor:
    """TFLite's fused activation, in place: `x` is always an op's fresh output here."""
    if act == "none":
        return x
    if act == "relu":
        return x.clamp_(min=0.0)
    if act == "relu6":
        return x.clamp_(0.0, 6.0)
    if act == "relu_n1_to_1":
        return x.clamp_(-1.0, 1.0)
    if act == "tanh":
        return x.tanh_()
    raise ModelFileError(f"unknown fused activation {act!r}")


class Conv(nn.Module):
    """CONV_2D / DEPTHWISE_CONV_2D with TFLite's padding and fused activation. (B, C, H, W) -> (B, O, H', W')."""

    def __init__(self, spec: dict):
        super().__init__()
        top, bottom, left, right = spec["pad"]
        self.symmetric = top == bottom and left == right
        self.pad = (left, right, top, bottom)
        self.weight = nn.Parameter(torch.zeros(spec["out_ch"], spec["in_ch"] // spec["groups"], *spec["kernel"]))
        self.bias = nn.Parameter(torch.zeros(spec["out_ch"]))
        self.stride, self.dilation, self.groups = tuple(spec["stride"]), tuple(spec["dilation"]), spec["groups"]
        self.padding = (top, left) if self.symmetric else (0, 0)
        self.act = spec["act"]

    def forward(self, x: Tensor) -> Tensor:
        if not self.symmetric:
            x = F.pad(x, self.pad)
        x = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return _activate(x, self.act)


class Add(nn.Module):
    def __init__(self, spec: dict):
        super().__init__()
        self.act = spec["act"]

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return _activate(a + b, self.act)


class Linear(nn.Module):
    """FULLY_CONNECTED: (B, ...) flattened in NHWC order -> (B, out)."""

    def __init__(self, spec: dict):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(spec["out_features"], spec["in_features"]))
        self.bias = nn.Parameter(torch.zeros(spec["out_features"]))
        self.act = spec["act"]

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)
        return _activate(F.linear(x.reshape(x.shape[0], -1), self.weight, self.bias), self.act)


class Logistic(nn.Module):
    def __init__(self, spec: dict):
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(x)


class Mean(nn.Module):
    """MEAN over H, W (global average pooling): (B, C, H, W) -> (B, C) or (B, C, 1, 1) with keep_dims."""

    def __init__(self, spec: dict):
        super().__init__()
        self.keep_dims = spec["keep_dims"]

    def forward(self, x: Tensor) -> Tensor:
        return x.mean(dim=(2, 3), keepdim=self.keep_dims)


class PReLU(nn.Module):
    """PRELU with one slope per channel: max(x, 0) + alpha min(x, 0)."""

    def __init__(self, spec: dict):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(spec["channels"]))

    def forward(self, x: Tensor) -> Tensor:
        return F.prelu(x, self.alpha)


class MaxPool(nn.Module):
    def __init__(self, spec: dict):
        super().__init__()
        top, bottom, left, right = spec["pad"]
        self.pad = (left, right, top, bottom) if any(spec["pad"]) else None
        self.kernel, self.stride, self.act = tuple(spec["kernel"]), tuple(spec["stride"]), spec["act"]

    def forward(self, x: Tensor) -> Tensor:
        if self.pad is not None:  # TFLite's SAME max pooling ignores the padded cells
            x = F.pad(x, self.pad, value=float("-inf"))
        return _activate(F.max_pool2d(x, self.kernel, self.stride), self.act)


class Pad(nn.Module):
    """PAD with zeros (MediaPipe's palm detector pads channels to widen its residual branches)."""

    def __init__(self, spec: dict):
        super().__init__()
        self.pad = tuple(spec["pad"])

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(x, self.pad)


class ResizeBilinear(nn.Module):
    """RESIZE_BILINEAR to a fixed size, with TFLite's three sampling conventions:
    align_corners (corners map to corners), half_pixel_centers (torch's align_corners=False), and
    neither (TF1's legacy: source = destination x in/out, no half-pixel shift, clamped at the end)."""

    def __init__(self, spec: dict):
        super().__init__()
        self.size = tuple(spec["size"])
        self.align_corners, self.half_pixel = spec["align_corners"], spec["half_pixel_centers"]

    def forward(self, x: Tensor) -> Tensor:
        if self.align_corners or self.half_pixel:
            return F.interpolate(x, size=self.size, mode="bilinear", align_corners=self.align_corners)
        return _legacy_resize(x, self.size)


def _legacy_resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """TF's legacy bilinear resize (align_corners=False, half_pixel_centers=False). (B, C, H, W) -> (B, C, h, w)."""
    out = x
    for dim, (n_in, n_out) in ((2, (x.shape[2], size[0])), (3, (x.shape[3], size[1]))):
        src = torch.arange(n_out, device=x.device, dtype=x.dtype) * (n_in / n_out)
        lo = src.floor().long().clamp(max=n_in - 1)
        hi = (lo + 1).clamp(max=n_in - 1)
        frac = (src - lo.to(x.dtype)).clamp(0.0, 1.0)
        shape = [1, 1, 1, 1]
        shape[dim] = n_out
        frac = frac.view(shape)
        out = out.index_select(dim, lo) * (1.0 - frac) + out.index_select(dim, hi) * frac
    return out


class Reshape(nn.Module):
    """RESHAPE to the file's output shape with the batch freed: (B, C, H, W) is flattened in NHWC order."""

    def __init__(self, spec: dict):
        super().__init__()
        self.out_shape = tuple(spec["out_shape"][1:])
        self.in_rank = spec["in_rank"]
        if len(self.out_shape) == 3:
            raise ModelFileError("RESHAPE to a 4-D tensor is not supported")

    def forward(self, x: Tensor) -> Tensor:
        if self.in_rank == 4:
            x = x.permute(0, 2, 3, 1)
        return x.reshape(x.shape[0], *self.out_shape)


class Concat(nn.Module):
    def __init__(self, spec: dict):
        super().__init__()
        self.axis, self.act = spec["axis"], spec["act"]

    def forward(self, *xs: Tensor) -> Tensor:
        return _activate(torch.cat(xs, dim=self.axis), self.act)


OP_MODULES = {"CONV_2D": Conv, "DEPTHWISE_CONV_2D": Conv, "ADD": Add, "FULLY_CONNECTED": Linear,
              "LOGISTIC": Logistic, "MEAN": Mean, "PRELU": PReLU, "MAX_POOL_2D": MaxPool, "PAD": Pad,
              "RESIZE_BILINEAR": ResizeBilinear, "RESHAPE": Reshape, "CONCATENATION": Concat}


class TFLiteGraph(nn.Module):
    """The graph of a spec: forward((B, C, H, W) float) -> [each graph output] + [each tapped tensor].

    taps: ids of intermediate tensors to return after the outputs (e.g. the feature map before the
        global pooling); 4-D ones come back NCHW.
    """

    def __init__(self, spec: dict, taps: tuple[int, ...] = ()):
        super().__init__()
        unknown = sorted({op["type"] for op in spec["ops"]} - set(OP_MODULES))
        if unknown:
            raise ModelFileError(f"{spec['name']}: unsupported operators {unknown}")
        self.ops = nn.ModuleList(OP_MODULES[op["type"]](op) for op in spec["ops"])
        self.wiring = [(tuple(op["inputs"]), op["output"]) for op in spec["ops"]]
        self.input_id = spec["input"]["id"]
        self.output_ids = [o["id"] for o in spec["outputs"]] + list(taps)
        # After op i, drop the tensors no later op (nor the result) reads: keeps batch-16 memory flat.
        last_use = {}
        for i, (inputs, _) in enumerate(self.wiring):
            for t in inputs:
                last_use[t] = i
        keep = set(self.output_ids)
        self.drop = [[t for t in inputs if last_use[t] == i and t not in keep]
                     for i, (inputs, _) in enumerate(self.wiring)]

    def forward(self, x: Tensor) -> list[Tensor]:
        values = {self.input_id: x}
        for op, (inputs, output), drop in zip(self.ops, self.wiring, self.drop):
            values[output] = op(*(values[t] for t in inputs))
            for t in drop:
                del values[t]
        return [values[t] for t in self.output_ids]
