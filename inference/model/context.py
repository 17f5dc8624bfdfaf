"""The context the masked transformer is conditioned on, built the same way in training and at run time.

Inputs are a right hand's view (left hands are mirrored first: u -> 2 cx - u, world x -> -x), so
one model serves both sides. Everything is normalised to the hand's own box, so image size and
resolution do not matter; the box's position and size relative to the focal length are kept as a
global feature (they carry the viewing ray and the distance).

Legend: B hands, 21 keypoints (OpenPose order).
Per-keypoint features (KP_FEATURES = 9): u, v in the box ([-1, 1] roughly), confidence, the world
landmark relative to the wrist in palm lengths (3), the unit direction of the bone ending at this
keypoint in the world landmarks (3; zero for the wrist).
Global features (GLOBAL_FEATURES = 4): box centre ray (2, over focal), box size over focal, whether
world landmarks were given.
"""
from __future__ import annotations

import torch
from torch import Tensor

KP_FEATURES = 9
GLOBAL_FEATURES = 4
BOX_SCALE = 1.3       # box = keypoints' extent times this (square)
PARENTS = [0, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19]


def keypoint_box(uv: Tensor) -> tuple[Tensor, Tensor]:
    """(B, 21, 2) -> centre (B, 2), side length (B,) of the square box the features use."""
    lo, hi = uv.min(1).values, uv.max(1).values
    return (lo + hi) / 2, ((hi - lo).max(-1).values * BOX_SCALE).clamp(min=1.0)


def context_features(uv: Tensor, conf: Tensor, K: Tensor, world: Tensor | None = None):
    """uv (B, 21, 2) px, conf (B, 21), K (B, 3, 3), world (B, 21, 3) metres or None
    -> keypoint features (B, 21, KP_FEATURES), global features (B, GLOBAL_FEATURES)."""
    B = uv.shape[0]
    centre, side = keypoint_box(uv)
    uvn = (uv - centre[:, None]) / (side[:, None, None] / 2)
    if world is None:
        rel = torch.zeros(B, 21, 3, dtype=uv.dtype, device=uv.device)
        dirs = torch.zeros_like(rel)
        has_world = torch.zeros(B, dtype=uv.dtype, device=uv.device)
    else:
        rel = world - world[:, :1]
        palm = rel[:, 9].norm(dim=-1).clamp(min=1e-6)
        rel = rel / palm[:, None, None]
        bone = world - world[:, PARENTS]
        dirs = bone / bone.norm(dim=-1, keepdim=True).clamp(min=1e-9)
        dirs[:, 0] = 0
        has_world = torch.ones(B, dtype=uv.dtype, device=uv.device)
    f = K[:, [0, 1], [0, 1]]
    pp = K[:, :2, 2]
    glob = torch.cat([(centre - pp) / f, (side / f.mean(-1))[:, None], has_world[:, None]], -1)
    kp = torch.cat([uvn, conf[..., None], rel, dirs], -1)
    return kp, glob


def mirror_view(uv: Tensor, K: Tensor, world: Tensor | None):
    """A left hand's view as the right hand's in a mirrored camera (and back: it is an involution)."""
    uv = uv.clone()
    uv[..., 0] = 2 * K[:, None, 0, 2] - uv[..., 0]
    if world is not None:
        world = world.clone()
        world[..., 0] = -world[..., 0]
    return uv, world
