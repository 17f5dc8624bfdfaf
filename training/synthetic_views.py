"""Cheap synthetic detections: a posed hand placed before a random camera, its keypoints projected,
and a detector-like noise model on top, so the transformer sees inputs like MediaPipe's.

Noise model (per hand; parameters in NoiseModel, checked against MediaPipe on the rendered
benchmark by tools/fit_noise_model.py and recorded in docs/MODEL.md):
- 2D: Gaussian per keypoint, sigma a fraction of the hand box (fingertips noisier), plus rare
  outliers (a keypoint thrown up to a fifth of the box away);
- world landmarks: the true camera-aligned joints with depth squashed or stretched (MediaPipe's
  metric depth is its weakest axis), per-keypoint noise, and a small global rotation error;
- confidence: a per-hand presence score.
Legend: B hands, 21 keypoints.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..inference.torch_hand import axis_angle_to_matrix_torch


@dataclass(frozen=True)
class NoiseModel:
    """Ranges matched to MediaPipe 0.10.21 on the project's renders (tools/collect_detections.py on
    the first 475 images of the training split, 269 detected: median 2D error 4.7% of the box, p10
    2.8%, p90 9.7%; a median 4.8% of a hand's keypoints off by >15% of the box, a tenth of hands
    far worse (p90 29%); world-landmark depth spread 0.59-1.90x the true one (p10-p90, median
    1.05); per-keypoint world error after similarity alignment 0.09-0.27 palm lengths)."""
    sigma_2d: tuple[float, float] = (0.015, 0.06)      # range of per-hand sigma, fraction of box side
    tip_factor: float = 1.5
    outlier_rate: float = 0.03
    bad_hand_rate: float = 0.1                         # hands whose keypoints are often way off
    bad_hand_outlier_rate: float = 0.25
    outlier_size: float = 0.2
    depth_scale: tuple[float, float] = (0.55, 2.0)
    sigma_world: tuple[float, float] = (0.05, 0.14)    # fraction of palm length, per axis
    world_rotation_deg: float = 8.0
    confidence: tuple[float, float] = (0.6, 1.0)


TIPS = [4, 8, 12, 16, 20]


def place_in_camera(kp_local: Tensor, g: torch.Generator):
    """Root-relative keypoints (B, 21, 3) -> camera-frame keypoints, intrinsics (B, 3, 3).

    The wrist sits 0.25-1.2 m away, anywhere that keeps the hand roughly in a 256 px view;
    focal lengths span wide to tele lenses."""
    B = kp_local.shape[0]
    dev, dt = kp_local.device, kp_local.dtype
    u = lambda *s: torch.rand(*s, generator=g).to(dev, dt)  # noqa: E731
    z = 0.25 + 0.95 * u(B)
    size = 256.0
    f = size * (0.8 + 1.6 * u(B))
    half_fov = (size / 2) / f
    xy = (u(B, 2) * 2 - 1) * half_fov[:, None] * z[:, None] * 0.6
    t = torch.cat([xy, z[:, None]], -1)
    K = torch.zeros(B, 3, 3, device=dev, dtype=dt)
    K[:, 0, 0] = K[:, 1, 1] = f
    K[:, 0, 2] = K[:, 1, 2] = size / 2
    K[:, 2, 2] = 1
    cam = kp_local + t[:, None]
    cam[..., 2] = cam[..., 2].clamp(min=0.05)
    return cam, K


def project(X: Tensor, K: Tensor) -> Tensor:
    z = X[..., 2:].clamp(min=1e-3)
    return torch.einsum("bij,bnj->bni", K[:, :2, :2], X[..., :2] / z) + K[:, None, :2, 2]


def detector_noise(cam: Tensor, K: Tensor, g: torch.Generator, noise: NoiseModel = NoiseModel()):
    """Camera-frame keypoints (B, 21, 3) -> noisy uv (B, 21, 2), confidence (B, 21), world (B, 21, 3)."""
    B = cam.shape[0]
    dev, dt = cam.device, cam.dtype
    u = lambda *s: torch.rand(*s, generator=g).to(dev, dt)  # noqa: E731
    n = lambda *s: torch.randn(*s, generator=g).to(dev, dt)  # noqa: E731
    uv = project(cam, K)
    side = (uv.max(1).values - uv.min(1).values).max(-1).values.clamp(min=1.0)          # (B,)
    lo, hi = noise.sigma_2d
    sigma = (lo + (hi - lo) * u(B)) * side
    per_kp = torch.ones(21, device=dev, dtype=dt)
    per_kp[TIPS] = noise.tip_factor
    uv = uv + n(B, 21, 2) * sigma[:, None, None] * per_kp[None, :, None]
    rate = torch.where(u(B) < noise.bad_hand_rate, noise.bad_hand_outlier_rate, noise.outlier_rate)
    out = (u(B, 21) < rate[:, None])[..., None]
    uv = uv + out * n(B, 21, 2) * noise.outlier_size * side[:, None, None] / 2

    world = cam - cam.mean(1, keepdim=True)
    lo, hi = noise.depth_scale
    world[..., 2] = world[..., 2] * (lo + (hi - lo) * u(B))[:, None]
    palm = (cam[:, 9] - cam[:, 0]).norm(dim=-1)
    lo, hi = noise.sigma_world
    world = world + n(B, 21, 3) * ((lo + (hi - lo) * u(B)) * palm)[:, None, None]
    R = axis_angle_to_matrix_torch(n(B, 3) * (noise.world_rotation_deg * torch.pi / 180 / 3 ** 0.5))
    world = world @ R.transpose(1, 2)
    lo, hi = noise.confidence
    conf = (lo + (hi - lo) * u(B))[:, None].expand(B, 21).contiguous()
    return uv, conf, world
