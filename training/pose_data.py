"""Poses to learn from: the hand pose prior (handmodel.pose_library) with camera-frame orientations.

Drawn once into a pool (the prior's sampler is numpy and per pose), then batches index the pool.
Everything is a right hand: left hands are mirrored to right before the model sees them.
Legend: M pool size, B batch.
"""
from __future__ import annotations

import numpy as np
import torch

from ..handmodel import pose_library
from ..inference.torch_hand import axis_angle_to_matrix_torch


class PosePool:
    """rotmats (M, 16, 3, 3) float32 (global orientation first), betas (M, 10), categories (M,)."""

    def __init__(self, size: int, seed: int):
        rng = np.random.default_rng(seed)
        hand_pose, self.categories = pose_library.sample_poses(size, rng)
        global_orient = pose_library.sample_global_orient(size, rng)
        aa = np.concatenate([global_orient[:, None], np.asarray(hand_pose).reshape(size, 15, 3)], 1)
        self.rotmats = axis_angle_to_matrix_torch(torch.as_tensor(aa, dtype=torch.float32))
        self.betas = torch.as_tensor(pose_library.sample_betas(size, rng), dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.rotmats)

    def split(self, held_out: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices for training and the held-out evaluation (the last `held_out` poses)."""
        n = len(self)
        return np.arange(n - held_out), np.arange(n - held_out, n)

    def batch(self, idx, device):
        idx = torch.as_tensor(idx, dtype=torch.long)
        return self.rotmats[idx].to(device), self.betas[idx].to(device)
