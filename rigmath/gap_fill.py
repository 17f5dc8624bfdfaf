"""Short dropouts filled from both ends: a C1 spline on rotations and translation, every filled frame marked.

Why a spline and not a linear slide: a straight blend starts and stops with a jolt (the velocity
jumps at both ends); a cubic Hermite curve leaves each end with the velocity the hand had there.
The model's prior (inference.inbetween) refines the fingers of these frames when the backend has
the model; the spline is the fallback and the base it works from.

Rotations: unit quaternions (w, x, y, z), sign-continuous over the take, each component a cubic
Hermite curve between the gap's two end frames with finite-difference tangents (one-sided at a
segment's end), renormalised. Legend: N frames with the hand, M frames after filling, G rotations.
"""
from __future__ import annotations

import numpy as np

from ..handmodel.rotations import axis_angle_to_matrix, matrix_to_quaternion, quaternion_to_axis_angle
from .zero_phase import robust_sign_continuous as sign_continuous

FILL_MEASURED, FILL_SPLINE, FILL_PRIOR = 0, 1, 2  # fill_kind values: a measured frame, spline, model prior
FILL_NAMES = {FILL_MEASURED: "measured", FILL_SPLINE: "spline", FILL_PRIOR: "model prior"}


def gap_frames(frames: np.ndarray, max_gap: int) -> np.ndarray:
    """The missing source frames (K,) inside gaps of at most max_gap frames between frames (N,)."""
    frames = np.asarray(frames, np.int64)
    out = [np.arange(a + 1, b) for a, b in zip(frames[:-1], frames[1:]) if 1 < b - a <= max_gap + 1]
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)


def _tangents(frames: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(N, D) per-frame derivative by central differences over the measured frames (one-sided at the ends)."""
    n = len(frames)
    tan = np.zeros_like(values)
    if n < 2:
        return tan
    f = frames.astype(np.float64)
    tan[1:-1] = (values[2:] - values[:-2]) / (f[2:] - f[:-2])[:, None]
    tan[0] = (values[1] - values[0]) / (f[1] - f[0])
    tan[-1] = (values[-1] - values[-2]) / (f[-1] - f[-2])
    return tan


def hermite_fill(frames: np.ndarray, values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """(N,) frames with (N, D) values -> (K, D) at the `missing` frames (each inside (frames[0], frames[-1]))."""
    frames = np.asarray(frames, np.int64)
    values = np.asarray(values, np.float64)
    tan = _tangents(frames, values)
    right = np.searchsorted(frames, missing)
    left = right - 1
    h = (frames[right] - frames[left]).astype(np.float64)
    s = ((missing - frames[left]) / h)[:, None]
    h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
    return (h00 * values[left] + h10 * h[:, None] * tan[left] + h01 * values[right] + h11 * h[:, None] * tan[right])


def spline_fill(frames, global_orient, hand_pose, cam_t, max_gap: int):
    """Fill every gap of at most max_gap frames.

    Args: frames (N,) increasing ints; global_orient (N, 3), hand_pose (N, 45) axis-angle; cam_t (N, 3).
    Returns: (frames (M,), global_orient (M, 3), hand_pose (M, 45), cam_t (M, 3), filled (M,) bool),
    the measured values unchanged.
    """
    frames = np.asarray(frames, np.int64)
    missing = gap_frames(frames, max_gap)
    go, hp, t = (np.asarray(a, np.float64) for a in (global_orient, hand_pose, cam_t))
    if len(missing) == 0:
        return frames.copy(), go.copy(), hp.copy(), t.copy(), np.zeros(len(frames), bool)
    rot = np.concatenate([go[:, None], hp.reshape(-1, 15, 3)], 1)                 # (N, 16, 3)
    q = sign_continuous(matrix_to_quaternion(axis_angle_to_matrix(rot)))          # (N, 16, 4)
    qf = hermite_fill(frames, q.reshape(len(q), -1), missing).reshape(len(missing), 16, 4)
    qf /= np.linalg.norm(qf, axis=-1, keepdims=True)
    rf = quaternion_to_axis_angle(qf)                                              # (K, 16, 3)
    tf = hermite_fill(frames, t, missing)
    all_frames = np.concatenate([frames, missing])
    order = np.argsort(all_frames, kind="stable")
    filled = np.concatenate([np.zeros(len(frames), bool), np.ones(len(missing), bool)])[order]
    return (all_frames[order], np.concatenate([go, rf[:, 0]])[order],
            np.concatenate([hp, rf[:, 1:].reshape(-1, 45)])[order], np.concatenate([t, tf])[order], filled)
