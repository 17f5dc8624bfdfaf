"""Image evidence for the masked transformer: MediaPipe's landmark network's last feature map on the
hand's crop (issue 13, part 2), as MMHMR conditions on a ViT's patch tokens.

The crop is MediaPipe's own tracking rectangle made from the hand's keypoints
(mediapipe_torch.crops.landmarks_rect), in the *model's view* of the hand: left hands are mirrored to
right ones before the model sees them (context.mirror_view), and the network is not mirror-symmetric,
so a left hand's crop is cut from the image and flipped left-right (the crop a mirrored camera would
have seen), not its feature map flipped. Built the same way in training (tools/collect_detections.py)
and at run time (estimator.GenerativeEstimator), whichever detector found the hand.

Legend: B hands; C = 1152 channels on a 7 x 7 grid over the 224 x 224 crop.
Per hand:
- features (C, 7, 7) float32: LandmarkOutput.features;
- kp_crop (21, 2): the keypoints in the crop, 0..1 (x right, y down in the crop), so attention can
  tie a keypoint token to the cells around it;
- crop_glob (CROP_GLOBAL = 3): cos and sin of the crop's rotation in the view, and the crop's side
  over the keypoint box's side (context.keypoint_box): how the crop sits on the keypoint tokens' box.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..mediapipe_torch.crops import Rect, crop, landmarks_rect, to_image, to_image_axes
from .context import BOX_SCALE

CROP_SIZE = 224
CROP_GLOBAL = 3


@dataclass
class ImageContext:
    """A batch of hands' image evidence (torch tensors): features (B, C, 7, 7), kp_crop (B, 21, 2),
    crop_glob (B, CROP_GLOBAL); present (B,) bool: False rows carry no image (the model ignores them)."""

    features: Tensor
    kp_crop: Tensor
    crop_glob: Tensor
    present: Tensor

    def expand(self, n: int) -> "ImageContext":
        """One hand's context repeated for n rows (hypotheses)."""
        return ImageContext(self.features.expand(n, -1, -1, -1), self.kp_crop.expand(n, -1, -1),
                            self.crop_glob.expand(n, -1), self.present.expand(n))

    def to(self, device) -> "ImageContext":
        return ImageContext(*(t.to(device) for t in (self.features, self.kp_crop, self.crop_glob, self.present)))

    @staticmethod
    def cat(parts: list["ImageContext"]) -> "ImageContext":
        return ImageContext(*(torch.cat([getattr(p, f) for p in parts])
                              for f in ("features", "kp_crop", "crop_glob", "present")))

    @staticmethod
    def absent(n: int, like: "ImageContext") -> "ImageContext":
        """n rows without an image (zeros, present False), shaped like `like`."""
        f = like.features
        return ImageContext(f.new_zeros((n, *f.shape[1:])), f.new_zeros((n, 21, 2)), f.new_zeros((n, CROP_GLOBAL)),
                            torch.zeros(n, dtype=torch.bool, device=f.device))


def view_rect(uv_view: np.ndarray, jitter: np.ndarray | None = None) -> Rect:
    """The crop rectangle in the model's view; jitter (shift x, shift y, log scale, rotation) in units of
    the rect's side and radians moves it as a tracker's crop would wander (training only)."""
    rect = landmarks_rect(uv_view)
    if jitter is None:
        return rect
    dx, dy, log_scale, dr = (float(v) for v in jitter)
    return Rect(rect.cx + dx * rect.width, rect.cy + dy * rect.height, rect.width * np.exp(log_scale),
                rect.height * np.exp(log_scale), rect.rotation + dr)


def crop_geometry(uv_view: np.ndarray, rect: Rect) -> tuple[np.ndarray, np.ndarray]:
    """(kp_crop (21, 2) in 0..1 of the crop, crop_glob (3,)) of view keypoints and the view's rect."""
    m = np.vstack([rect.crop_to_image(CROP_SIZE), [0.0, 0.0, 1.0]])
    to_crop = np.linalg.inv(m)[:2]
    kp = (np.asarray(uv_view, np.float64) @ to_crop[:, :2].T + to_crop[:, 2]) / CROP_SIZE
    lo, hi = np.min(uv_view, 0), np.max(uv_view, 0)
    box = max(float((hi - lo).max()) * BOX_SCALE, 1.0)
    return kp, np.array([np.cos(rect.rotation), np.sin(rect.rotation), rect.width / box])


def view_crop(image: np.ndarray, rect: Rect, mirrored: bool, cx: float) -> np.ndarray:
    """The (224, 224, 3) uint8 crop of the view's rect. A mirrored view (a left hand seen as a right one,
    mirrored about the principal point's column cx) is the original image's crop of the mirrored rect,
    flipped left-right."""
    if not mirrored:
        return crop(image, rect, CROP_SIZE)
    original = Rect(2.0 * cx - rect.cx, rect.cy, rect.width, rect.height, -rect.rotation)
    return np.ascontiguousarray(crop(image, original, CROP_SIZE)[:, ::-1])


@dataclass
class CropLandmarks:
    """What the landmark network itself says on the context crops, in the model's view: a second look
    at each hand through the crop MediaPipe tracks hands with (made from the first look's keypoints,
    where a photo's first look comes from the palm detector's coarser box). keypoints_2d (B, 21, 2)
    px; world (B, 21, 3) metres in the view's camera-aligned axes, as MediaPipe reports world landmarks."""

    keypoints_2d: np.ndarray
    world: np.ndarray

    def in_image(self, i: int, mirrored: bool, cx: float) -> tuple[np.ndarray, np.ndarray]:
        """Hand i's (keypoints_2d (21, 2), world (21, 3)) in the image's own frame: a mirrored view (a left
        hand seen as a right one, mirrored about the principal point's column cx) mirrored back."""
        uv, world = self.keypoints_2d[i].copy(), self.world[i].copy()
        if mirrored:
            uv[:, 0], world[:, 0] = 2.0 * cx - uv[:, 0], -world[:, 0]
        return uv, world


@torch.no_grad()
def image_context(net, image: np.ndarray, hands: list[tuple[np.ndarray, bool]], K: np.ndarray,
                  jitters: list | None = None, batch_size: int = 16, with_landmarks: bool = False,
                  flip_average: bool = False):
    """The image context of hands in one RGB uint8 image: hands = [(keypoints in the model's view (21, 2)
    px, mirrored)], K the camera (its cx mirrors left hands); jitters: one view_rect jitter per hand or None.
    The landmark network `net` (mediapipe_torch.load_landmark_net) runs once over all crops.
    Returns the ImageContext, or (ImageContext, CropLandmarks) with_landmarks; flip_average: the
    CropLandmarks are averaged with those of the mirrored crops (one batch of twice the crops; the
    image tokens stay the direct crops')."""
    from ..mediapipe_torch import run_landmarks
    from ..mediapipe_torch.landmark import flip_average as averaged

    crops, kps, globs, rects = [], [], [], []
    for i, (uv_view, mirrored) in enumerate(hands):
        rect = view_rect(uv_view, None if jitters is None else jitters[i])
        crops.append(view_crop(image, rect, mirrored, float(K[0, 2])))
        kp, g = crop_geometry(uv_view, rect)
        kps.append(kp), globs.append(g), rects.append(rect)
    crops = np.stack(crops)
    n = len(crops)
    flip = flip_average and with_landmarks
    out = run_landmarks(net, np.concatenate([crops, crops[:, :, ::-1]]) if flip else crops, batch_size=batch_size)
    landmarks, world_crop = averaged(out.rows(0, n), out.rows(n, 2 * n)) if flip else (out.landmarks, out.world)
    out = out.rows(0, n)
    ctx = ImageContext(out.features.float(), torch.as_tensor(np.stack(kps), dtype=torch.float32),
                       torch.as_tensor(np.stack(globs), dtype=torch.float32),
                       torch.ones(len(hands), dtype=torch.bool))
    if not with_landmarks:
        return ctx
    uv = np.stack([to_image(landmarks[i, :, :2].double().numpy(), r, CROP_SIZE) for i, r in enumerate(rects)])
    world = np.stack([to_image_axes(world_crop[i].double().numpy(), r) for i, r in enumerate(rects)])
    return ctx, CropLandmarks(keypoints_2d=uv, world=world)
