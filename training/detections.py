"""Real detector outputs to learn from: MediaPipe run on the project's renders, paired with the
renders' ground-truth poses (made by tools/collect_detections.py).

Left hands are stored already mirrored to right (view and pose), like everything the model sees.
Legend: M detections.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import MaskHandError
from ..inference.model.context import context_features
from ..inference.torch_hand import axis_angle_to_matrix_torch

FIELDS = ("uv", "conf", "world", "K", "pose", "betas")  # pose: (M, 16, 3) axis-angle, right hand, camera frame


class DetectionSet:
    def __init__(self, path: str | Path, device="cpu"):
        path = Path(path)
        try:
            data = np.load(path)
            arrays = {k: torch.as_tensor(data[k], dtype=torch.float32) for k in FIELDS}
        except (OSError, KeyError, ValueError) as err:
            raise MaskHandError(f"cannot read detections {path}: {err}") from None
        self.device = device
        self.uv, self.conf, self.world, self.K = arrays["uv"], arrays["conf"], arrays["world"], arrays["K"]
        self.rot = axis_angle_to_matrix_torch(arrays["pose"])
        self.betas = arrays["betas"]

    def __len__(self) -> int:
        return len(self.uv)

    def batch(self, n: int, g: torch.Generator, hand):
        idx = torch.randint(0, len(self), (n,), generator=g)
        rot, betas = self.rot[idx].to(self.device), self.betas[idx].to(self.device)
        kp, _ = hand(None, None, betas, rotmats=rot)
        kp_feat, glob = context_features(self.uv[idx].to(self.device), self.conf[idx].to(self.device),
                                         self.K[idx].to(self.device), self.world[idx].to(self.device))
        return rot, betas, kp, kp_feat, glob
