"""A zero-phase smoother over a whole take (Whittaker-Henderson: penalised second differences).

Why not a causal filter: offline, the whole take is known, so smoothing need not lag. The smoother
finds x minimising  sum_t w_t |x_t - y_t|^2 + lam sum_t |x_{t-1} - 2 x_t + x_{t+1}|^2  (one banded
linear solve per channel set), which is symmetric in time (no phase shift), needs no start-up (no
state to restart), and takes per-frame weights: a frame the detector was unsure of, or a filled gap
frame, pulls less. Its frequency response on an even grid is 1 / (1 + lam (2 - 2 cos w)^2).

Strength: the same one-number map as rigmath.one_euro: the cutoff (half-power) frequency is
    fc = 10 Hz * 0.05**s  (10 Hz at s -> 0, 2.24 Hz at 0.5, 0.5 Hz at 1); s = 0 returns the input;
    lam = 1 / (2 - 2 cos(2 pi fc / fps))^2.
Rotations go through unit quaternions (w, x, y, z) made sign-continuous, smoothed, renormalised.

Legend: T frames (one segment, consecutive source frames), D channels.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import MaskHandError
from ..handmodel.rotations import axis_angle_to_matrix, matrix_to_quaternion, quaternion_to_axis_angle
from .one_euro import MAX_MIN_CUTOFF_HZ, MIN_CUTOFF_RATIO

SIGN_WINDOW = 3  # quaternion signs follow the sum of the last 3 frames, not the last one alone


def cutoff_hz(strength: float) -> float | None:
    """The half-power frequency for a strength in [0, 1]; None at 0 (no smoothing)."""
    s = float(strength)
    if not (math.isfinite(s) and 0.0 <= s <= 1.0):
        raise MaskHandError(f"smoothing strength must be between 0 and 1; got {strength!r}")
    return None if s == 0.0 else MAX_MIN_CUTOFF_HZ * MIN_CUTOFF_RATIO ** s


def lam_for_cutoff(fc: float | None, fps: float) -> float:
    """The penalty whose response is 1/2 at fc Hz for samples at fps; 0 for None or fc >= Nyquist."""
    if fc is None:
        return 0.0
    w = 2.0 * math.pi * fc / fps
    if w >= math.pi:
        return 0.0
    return 1.0 / (2.0 - 2.0 * math.cos(w)) ** 2


def whittaker(y: np.ndarray, weights: np.ndarray | None, lam: float) -> np.ndarray:
    """Smooth (T, D) values: solve (W + lam D2^T D2) x = W y, a symmetric pentadiagonal system.

    weights: (T,) >= 0 (None: all 1); at least 2 positive when lam > 0 and T > 2.
    """
    y = np.asarray(y, np.float64)
    t = len(y)
    if lam <= 0 or t < 3:
        return y.copy()
    w = np.ones(t) if weights is None else np.asarray(weights, np.float64)
    if w.shape != (t,) or np.any(w < 0) or np.count_nonzero(w) < 2:
        raise MaskHandError(f"weights must be ({t},) >= 0 with at least 2 positive; got {w.shape}")
    # bands of D2^T D2: main, first and second off-diagonals
    main = np.full(t, 6.0)
    main[[0, -1]] = 1.0
    main[[1, -2]] = 5.0
    if t == 3:
        main[1] = 4.0
    off1 = np.full(t - 1, -4.0)
    off1[[0, -1]] = -2.0
    off2 = np.ones(t - 2)
    a0, a1, a2 = w + lam * main, lam * off1, lam * off2
    return _solve_pentadiagonal(a0, a1, a2, w[:, None] * y)


def _solve_pentadiagonal(a0, a1, a2, b):
    """Symmetric positive definite banded solve by LDL^T (bandwidth 2), b (T, D)."""
    t = len(a0)
    d = np.empty(t)
    l1 = np.zeros(t)  # L[i, i-1]
    l2 = np.zeros(t)  # L[i, i-2]
    for i in range(t):
        if i >= 2:
            l2[i] = a2[i - 2] / d[i - 2]
        if i >= 1:
            v = a1[i - 1] - (l2[i] * d[i - 2] * l1[i - 1] if i >= 2 else 0.0)
            l1[i] = v / d[i - 1]
        d[i] = a0[i] - l1[i] ** 2 * (d[i - 1] if i >= 1 else 0.0) - l2[i] ** 2 * (d[i - 2] if i >= 2 else 0.0)
    z = np.array(b, np.float64)
    for i in range(1, t):
        z[i] -= l1[i] * z[i - 1] + (l2[i] * z[i - 2] if i >= 2 else 0.0)
    z /= d[:, None]
    for i in range(t - 2, -1, -1):
        z[i] -= l1[i + 1] * z[i + 1] + (l2[i + 2] * z[i + 2] if i + 2 < t else 0.0)
    return z


def robust_sign_continuous(quats: np.ndarray, window: int = SIGN_WINDOW) -> np.ndarray:
    """(T, G, 4) -> (T, G, 4) with q_t's sign chosen to agree with the sum of the previous `window`
    (already signed) quaternions. Why not the previous one alone (one_euro.sign_continuous): one
    outlier turned ~180 degrees (a flipped wrist estimate) sits near 90 degrees from both neighbours
    in quaternion space, so a chain through it can hand the frames after it the opposite sign, and a
    smoother averaging q and -q passes through zero."""
    q = np.array(quats, np.float64)
    for t in range(1, len(q)):
        ref = q[max(0, t - window):t].sum(0)                                # (G, 4)
        flip = np.einsum("gk,gk->g", q[t], ref) < 0
        q[t][flip] *= -1
    return q


def smooth_rotations(axis_angle: np.ndarray, weights: np.ndarray | None, lam: float) -> np.ndarray:
    """(T, G, 3) axis-angle -> (T, G, 3), through sign-continuous unit quaternions."""
    aa = np.asarray(axis_angle, np.float64)
    if lam <= 0 or len(aa) < 3:
        return aa.copy()
    q = robust_sign_continuous(matrix_to_quaternion(axis_angle_to_matrix(aa)))  # (T, G, 4)
    shape = q.shape
    q = whittaker(q.reshape(len(q), -1), weights, lam).reshape(shape)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return quaternion_to_axis_angle(q)
