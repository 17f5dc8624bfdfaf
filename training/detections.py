"""Real detector outputs to learn from: MediaPipe run on the project's renders, paired with the
renders' ground-truth poses (made by tools/collect_detections.py).

Left hands are stored already mirrored to right (view and pose), like everything the model sees.
With `--image-context J` the file also holds J crops' image evidence per detection (features (M, J,
1152, 7, 7) float16, kp_crop (M, J, 21, 2), crop_glob (M, J, 3)); a batch then draws one of them per
hand (the first is the run-time crop, the others jittered).
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
IMAGE_FIELDS = ("features", "kp_crop", "crop_glob")


def require_image_context(path: str | Path) -> None:
    """An image-token model learns its image layers from the detections' crops: refuse a file without
    them before any training starts, rather than train those layers on nothing."""
    try:
        files = set(np.load(path).files)
    except (OSError, ValueError) as err:
        raise MaskHandError(f"cannot read detections {path}: {err}") from None
    if not set(IMAGE_FIELDS) <= files:
        raise MaskHandError(f"detections {path} hold no image context, which a model with image tokens learns from; "
                            "collect them with tools/collect_detections.py --image-context 4")


class DetectionSet:
    """rows: the detections to draw from (an index array; None = all), so a held-out part can be kept apart."""

    def __init__(self, path: str | Path, device="cpu", rows=None):
        path = Path(path)
        try:
            data = np.load(path)
            rows = np.arange(len(data["uv"])) if rows is None else np.asarray(rows)
            arrays = {k: torch.as_tensor(data[k][rows], dtype=torch.float32) for k in FIELDS}
            self.image = ({k: torch.as_tensor(data[k][rows]) for k in IMAGE_FIELDS}
                          if all(k in data for k in IMAGE_FIELDS) else None)
        except (OSError, KeyError, ValueError, IndexError) as err:
            raise MaskHandError(f"cannot read detections {path}: {err}") from None
        self.device = device
        self.uv, self.conf, self.world, self.K = arrays["uv"], arrays["conf"], arrays["world"], arrays["K"]
        self.rot = axis_angle_to_matrix_torch(arrays["pose"])
        self.betas = arrays["betas"]

    def __len__(self) -> int:
        return len(self.uv)

    def batch(self, n: int, g: torch.Generator, hand, idx=None, crop: int | None = None):
        """n random detections (or those at idx) -> rot, betas, keypoints, keypoint and global features,
        and their ImageContext (None without image fields): a random crop of each, or crop number `crop`."""
        idx = torch.randint(0, len(self), (n,), generator=g) if idx is None else torch.as_tensor(idx)
        rot, betas = self.rot[idx].to(self.device), self.betas[idx].to(self.device)
        kp, _ = hand(None, None, betas, rotmats=rot)
        kp_feat, glob = context_features(self.uv[idx].to(self.device), self.conf[idx].to(self.device),
                                         self.K[idx].to(self.device), self.world[idx].to(self.device))
        return rot, betas, kp, kp_feat, glob, self.image_context(idx, g, crop)

    def image_context(self, idx: torch.Tensor, g: torch.Generator, crop: int | None):
        if self.image is None:
            return None
        from ..inference.model.image_context import ImageContext

        crops = self.image["features"].shape[1]
        j = torch.randint(0, crops, (len(idx),), generator=g) if crop is None else torch.full((len(idx),), crop)
        return ImageContext(self.image["features"][idx, j].float(), self.image["kp_crop"][idx, j].float(),
                            self.image["crop_glob"][idx, j].float(),
                            torch.ones(len(idx), dtype=torch.bool)).to(self.device)
