"""The path through each frame's hypotheses that is both likely and smooth (Viterbi over frames).

Why: the generative model gives N ranked hypotheses per frame; taking each frame's best alone lets
the pick jump between two readings of an ambiguous hand (a curled finger behind the palm, an
edge-on thumb) from frame to frame. Over a take, the pick that agrees with its neighbours is
usually the right one: a regressor cannot offer that choice, a sampler can.

Cost of a path h_1..h_N (minimised exactly by dynamic programming, O(N H^2)):
    sum_t -score[t, h_t] + smoothness * sum_t d(t-1, t)^2 / (SCALE_M^2 * dt_t^2)
d = the mean distance (metres) between the wrist-relative joints of h_{t-1} and h_t, dt_t the frame
step (a frame missing in between divides the step by its length, as a velocity would); across more
than max_gap missing frames there is no smoothness term (the hand may come back anywhere).

Legend: N frames with the hand, H hypotheses per frame (padded: a missing one has score -inf).
Joints: (21, 3) keypoints, camera frame, metres, made wrist-relative here.
"""
from __future__ import annotations

import numpy as np

from ..errors import PoseDataError

SCALE_M = 0.01          # 1 cm of mean joint motion between frames costs `smoothness` score units
DEFAULT_SMOOTHNESS = 1.0  # a hypothesis 1 score unit less likely wins if it moves ~1 cm less
DEFAULT_MAX_GAP = 10


def best_path(scores: np.ndarray, joints: np.ndarray, frames: np.ndarray, smoothness: float = DEFAULT_SMOOTHNESS,
              max_gap: int = DEFAULT_MAX_GAP) -> np.ndarray:
    """The hypothesis index per frame of the least-cost path.

    Args:
        scores: (N, H) higher is better; -inf where a frame has fewer hypotheses (never picked).
        joints: (N, H, 21, 3) keypoints in metres (any translation: made wrist-relative).
        frames: (N,) int source frame indices, strictly increasing.
        smoothness: >= 0; 0 gives each frame's best score.
    Returns:
        (N,) int64 in [0, H).
    """
    scores = np.asarray(scores, np.float64)
    joints = np.asarray(joints, np.float64)
    frames = np.asarray(frames)
    if scores.ndim != 2 or joints.shape[:2] != scores.shape or joints.shape[2:] != (21, 3):
        raise PoseDataError(f"expected scores (N, H) and joints (N, H, 21, 3); got {scores.shape} and {joints.shape}")
    if frames.shape != (len(scores),) or np.any(np.diff(frames) <= 0):
        raise PoseDataError("frames must be (N,) strictly increasing source indices")
    if not (np.isfinite(smoothness) and smoothness >= 0):
        raise PoseDataError(f"smoothness must be a number >= 0; got {smoothness!r}")
    n, h = scores.shape
    if n == 0:
        return np.zeros(0, np.int64)
    if not np.all(np.isfinite(scores).any(axis=1)):
        raise PoseDataError("every frame needs at least one hypothesis with a finite score")
    unary = np.where(np.isfinite(scores), -scores, np.inf)          # (N, H)
    rel = joints - joints[:, :, :1]                                   # (N, H, 21, 3) wrist-relative
    cost = unary[0].copy()
    back = np.zeros((n, h), np.int64)
    for t in range(1, n):
        dt = int(frames[t] - frames[t - 1])
        if smoothness == 0 or dt > max_gap + 1:
            trans = np.zeros((h, h))
        else:
            d = np.linalg.norm(rel[t - 1][:, None] - rel[t][None], axis=-1).mean(-1)   # (H_prev, H)
            trans = smoothness * (d / (SCALE_M * dt)) ** 2
        total = cost[:, None] + trans                                 # (H_prev, H)
        back[t] = np.argmin(total, axis=0)
        cost = total[back[t], np.arange(h)] + unary[t]
    path = np.zeros(n, np.int64)
    path[-1] = int(np.argmin(cost))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path
