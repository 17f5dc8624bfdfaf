"""An emulated accelerator ("fakegpu") so the CUDA/MPS code paths run on a CPU-only machine.

Why: no session so far had a GPU, so code that only runs when `device != "cpu"` (the torch palm
detector on video frames, the second look, batched landmarks, the generative estimator) had never
run at all. Two device bugs hid there (a float64 cast before `.cpu()`, which MPS refuses, and a
`torch.eye` made on the CPU inside the skinning). This backend enforces the rules those bugs broke,
and nothing more:

- a tensor on "fakegpu" meets a CPU tensor (not a 0-dim one, not an index) -> RuntimeError, as on
  CUDA ("Expected all tensors to be on the same device");
- with `refuse_float64=True`, a float64 tensor on the device -> TypeError, as on Apple MPS;
- `.numpy()` on a device tensor fails, as on both.

The arithmetic is the CPU's, so this checks device placement only: not GPU numerics, not speed.
It registers torch's PrivateUse1 key as a Python backend (torch.utils.backend_registration); a
tensor on the device is a wrapper subclass that holds a CPU tensor.
"""
from __future__ import annotations

import contextlib

import torch
from torch.utils._pytree import tree_leaves, tree_map

NAME = "fakegpu"
_state = {"registered": False, "refuse_float64": False}

# ops whose CPU arguments are allowed beside device tensors (as CUDA takes CPU index tensors)
_MIXED_OK = {"index", "index_put", "index_put_", "_index_put_impl_", "copy_", "_to_copy",
             "_copy_from", "_copy_from_and_resize", "lift_fresh", "detach", "alias"}


def _device() -> torch.device:
    return torch.device(NAME, 0)


def _check_dtype(t: torch.Tensor) -> None:
    if _state["refuse_float64"] and t.dtype == torch.float64:
        raise TypeError("Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't "
                        "support float64. (emulated by tests/fake_accelerator.py)")


class DeviceTensor(torch.Tensor):
    """A tensor on the emulated device: a CPU tensor (`inner`) behind a device-typed wrapper."""

    inner: torch.Tensor

    @staticmethod
    def __new__(cls, inner: torch.Tensor):
        _check_dtype(inner)
        out = torch.Tensor._make_wrapper_subclass(cls, inner.size(), strides=inner.stride(),
                                                  storage_offset=inner.storage_offset(), dtype=inner.dtype,
                                                  layout=inner.layout, device=_device(),
                                                  requires_grad=inner.requires_grad)
        out.inner = inner
        return out

    def __repr__(self):  # the default repr would read storage the wrapper does not have
        return f"DeviceTensor({self.inner!r}, device='{NAME}:0')"

    def numpy(self, *args, **kwargs):
        raise TypeError(f"can't convert {NAME}:0 device type tensor to numpy. Use Tensor.cpu() to "
                        "copy the tensor to host memory first.")

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        name = func.overloadpacket.__name__
        on_device = [a for a in _flat(args, kwargs) if isinstance(a, DeviceTensor)]
        if name not in _MIXED_OK:
            for a in _flat(args, kwargs):
                if isinstance(a, torch.Tensor) and not isinstance(a, DeviceTensor) and a.dim() > 0:
                    raise RuntimeError("Expected all tensors to be on the same device, but found at least "
                                       f"two devices, {NAME}:0 and cpu! (in {func}; emulated)")
        target = kwargs.get("device")
        to_host = target is not None and torch.device(target).type == "cpu"
        if target is not None:
            kwargs["device"] = torch.device("cpu")
        if name == "copy_":
            return _copy_from(args[1], args[0])
        if name == "_copy_from":
            return _copy_from(args[0], args[1])
        out = func(*tree_map(_unwrap, args), **tree_map(_unwrap, kwargs))
        if to_host or not on_device:
            return out
        return tree_map(_wrap, out)


def _flat(args, kwargs):
    return tree_leaves((args, kwargs))


def _unwrap(x):
    return x.inner if isinstance(x, DeviceTensor) else x


def _wrap(x):
    return DeviceTensor(x) if isinstance(x, torch.Tensor) and not isinstance(x, DeviceTensor) else x


def _factory(op, *args, **kwargs):
    """PrivateUse1 kernel for every op that reaches the device with no device tensor in it
    (torch.zeros(..., device="fakegpu"), the empty tensor behind .to("fakegpu"))."""
    kwargs = dict(kwargs)
    if "device" in kwargs:
        kwargs["device"] = torch.device("cpu")
    out = op(*tree_map(_unwrap, args), **tree_map(_unwrap, kwargs))
    return tree_map(_wrap, out)


def _copy_from(src, dst, non_blocking=False):
    """dst <- src, whichever of them is on the device (copy_ and _copy_from both come here)."""
    if isinstance(dst, DeviceTensor):
        _check_dtype(dst.inner)
    _unwrap(dst).copy_(_unwrap(src))
    return dst


def _register() -> None:
    if _state["registered"]:
        return
    from torch.utils.backend_registration import _setup_privateuseone_for_python_backend

    _setup_privateuseone_for_python_backend(NAME)
    fallback = torch.library.Library("_", "IMPL")
    fallback.fallback(_factory, "PrivateUse1")
    # a CPU -> device copy made from C++ with the Python key off (torch.tensor(..., device=), indexing
    # with a list) reaches the backend as _copy_from, which the fallback cannot serve
    aten = torch.library.Library("aten", "IMPL")
    aten.impl("_copy_from", _copy_from, "PrivateUse1")
    _state["libraries"] = (fallback, aten)  # kept alive: dropping them unregisters the kernels
    _state["registered"] = True


@contextlib.contextmanager
def fake_accelerator(refuse_float64: bool = False):
    """Make "fakegpu" a usable torch device for the block; refuse_float64 emulates Apple MPS."""
    _register()
    before = _state["refuse_float64"]
    _state["refuse_float64"] = refuse_float64
    try:
        yield NAME
    finally:
        _state["refuse_float64"] = before
