"""Which torch device the backend computes on: the user's choice (auto / cuda / mps / cpu) and what exists.

"auto" prefers CUDA, then Apple's MPS, then the CPU. Asking for a device this machine lacks is an
error rather than a silent CPU fallback, so a user who picked CUDA learns that torch cannot see it
(a CPU-only torch build, a missing driver) instead of wondering why it is slow.
"""
from __future__ import annotations

from ..errors import MaskHandError

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def found_devices() -> dict:
    """What torch can use here: {"torch": version, "cuda": [GPU names], "cuda_version": str|None,
    "mps": bool}. Imports torch (a second or two the first time)."""
    import torch

    cuda = []
    if torch.cuda.is_available():
        cuda = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    mps_backend = getattr(torch.backends, "mps", None)
    mps = bool(mps_backend is not None and mps_backend.is_available())
    return {"torch": torch.__version__, "cuda": cuda, "cuda_version": torch.version.cuda, "mps": mps}


def pick_device(choice: str = "auto", found: dict | None = None) -> str:
    """The torch device name ("cuda", "mps" or "cpu") for the user's `choice`.

    found: found_devices()'s report (queried when None). Raises MaskHandError for an unknown choice
    or a device that is not available.
    """
    choice = (choice or "auto").lower()
    if choice not in DEVICE_CHOICES:
        raise MaskHandError(f"unknown device {choice!r}; expected one of {', '.join(DEVICE_CHOICES)}")
    found = found_devices() if found is None else found
    if choice == "auto":
        return "cuda" if found["cuda"] else "mps" if found["mps"] else "cpu"
    if choice == "cuda" and not found["cuda"]:
        raise MaskHandError(f"device CUDA was requested but torch {found['torch']} sees no CUDA GPU "
                            f"(a CPU-only torch build or no NVIDIA driver); choose Auto or CPU")
    if choice == "mps" and not found["mps"]:
        raise MaskHandError(f"device MPS was requested but torch {found['torch']} cannot use Apple's Metal "
                            f"(only on Apple silicon Macs with macOS 12.3 or later); choose Auto or CPU")
    return choice


def describe(found: dict, device: str) -> str:
    """One line for the preferences: the device in use and what else was found."""
    gpus = ", ".join(found["cuda"]) if found["cuda"] else "no CUDA GPU"
    mps = "MPS available" if found["mps"] else "no MPS"
    return f"using {device.upper()} (torch {found['torch']}; {gpus}; {mps})"
