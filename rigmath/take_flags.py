"""Where a take needs an animator's eye, as data: per-frame masks and (frame, kind, text) flags.

Kinds (FLAG_KINDS), what raises them:
- "side": the identity pass overruled the detector's handedness, or dropped a frame that had only
  the other side's hand (inference.identity);
- "duplicate": a second detection of the same hand, or a second hand of the same side, dropped;
- "spike": a measured frame whose wrist-relative joints sit far off the take's smooth curve
  (residual > SPIKE_SIGMAS robust sigmas and > SPIKE_MIN_M); the smoother gives it little weight;
- "wrist_spin": the wrist's orientation turns faster than WRIST_SPIN_DEG_PER_S between two
  consecutive measured frames (no hand turns so fast; a flipped estimate does);
- "gap": frames with no measurement, filled (rigmath.gap_fill; the text names spline or model prior);
- "finger_in_palm": a fingertip inside the palm (within PALM_HALF_THICKNESS_M of the palm's
  mid-plane and inside its outline) in the estimate.
Legend: N frames; keypoints (N, 21, 3) metres (OpenPose order), camera frame.
"""
from __future__ import annotations

import numpy as np

from ..handmodel.rotations import axis_angle_to_matrix
from .zero_phase import lam_for_cutoff, whittaker

FLAG_KINDS = ("side", "duplicate", "spike", "wrist_spin", "gap", "finger_in_palm")
SPIKE_SIGMAS = 4.0
SPIKE_MIN_M = 0.008          # 8 mm mean joint error off the curve: smaller is noise, not a spike
SPIKE_CUTOFF_HZ = 3.0        # the reference curve spikes are measured against
WRIST_SPIN_DEG_PER_S = 900.0  # a fast wrist turn is ~500 deg/s
PALM_HALF_THICKNESS_M = 0.008  # joints lie mid-palm; a fist's tips rest ~20 mm off that plane
TIPS = {"thumb": 4, "index": 8, "middle": 12, "ring": 16, "pinky": 20}
PALM_OUTLINE = (0, 5, 9, 13, 17)  # wrist, index .. little knuckles


def spikes(frames: np.ndarray, keypoints: np.ndarray, fps: float) -> np.ndarray:
    """(N,) bool: measured frames off the smooth curve of their wrist-relative joints. Runs per stretch
    of consecutive frames (N >= 5 each, else nothing is flagged there)."""
    frames = np.asarray(frames, np.int64)
    rel = np.asarray(keypoints, np.float64)
    rel = (rel - rel[:, :1]).reshape(len(rel), -1)
    out = np.zeros(len(frames), bool)
    lam = lam_for_cutoff(SPIKE_CUTOFF_HZ, fps)
    breaks = np.nonzero(np.diff(frames) != 1)[0] + 1
    for lo, hi in zip([0, *breaks], [*breaks, len(frames)]):
        if hi - lo < 5 or lam == 0:
            continue
        w = np.ones(hi - lo)
        for _ in range(2):  # once, then again without the frames found
            resid = np.linalg.norm((whittaker(rel[lo:hi], w, lam) - rel[lo:hi]).reshape(hi - lo, 21, 3), axis=-1).mean(-1)
            sigma = 1.4826 * np.median(resid[w > 0])
            bad = (resid > SPIKE_SIGMAS * sigma) & (resid > SPIKE_MIN_M)
            if np.count_nonzero(~bad) < 2:
                break
            w = np.where(bad, 0.0, 1.0)
        out[lo:hi] = w == 0
    return out


def wrist_spins(frames: np.ndarray, global_orient: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """((N,) bool, (N,) degrees turned since the previous consecutive frame; 0 for the first of a stretch)."""
    frames = np.asarray(frames, np.int64)
    R = axis_angle_to_matrix(np.asarray(global_orient, np.float64))
    deg = np.zeros(len(frames))
    if len(frames) > 1:
        rel = np.einsum("tji,tjk->tik", R[:-1], R[1:])
        cos = np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1.0, 1.0)
        deg[1:] = np.where(np.diff(frames) == 1, np.degrees(np.arccos(cos)), 0.0)
    return deg > WRIST_SPIN_DEG_PER_S / fps, deg


def fingers_in_palm(keypoints: np.ndarray) -> np.ndarray:
    """(N, 5) bool in TIPS order (thumb, index, middle, ring, pinky): the tip is inside the palm."""
    kp = np.asarray(keypoints, np.float64)
    origin = kp[:, 0]
    a, b = kp[:, 5] - origin, kp[:, 17] - origin
    n = np.cross(a, b)
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-9)
    e1 = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-9)
    e2 = np.cross(n, e1)
    outline = np.stack([np.einsum("tjk,tk->tj", kp[:, PALM_OUTLINE] - origin[:, None], e) for e in (e1, e2)], -1)
    out = np.zeros((len(kp), len(TIPS)), bool)
    for k, tip in enumerate(TIPS.values()):
        p = kp[:, tip] - origin
        dist = np.abs(np.einsum("tk,tk->t", p, n))
        uv = np.stack([np.einsum("tk,tk->t", p, e1), np.einsum("tk,tk->t", p, e2)], -1)
        out[:, k] = (dist < PALM_HALF_THICKNESS_M) & _inside(uv, outline)
    return out


def _inside(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """(N, 2) points, (N, P, 2) polygons -> (N,) even-odd rule."""
    inside = np.zeros(len(points), bool)
    p = len(polygons[0]) if len(polygons) else 0
    for i in range(p):
        a, b = polygons[:, i], polygons[:, (i + 1) % p]
        crosses = (a[:, 1] > points[:, 1]) != (b[:, 1] > points[:, 1])
        with np.errstate(divide="ignore", invalid="ignore"):
            x = a[:, 0] + (points[:, 1] - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
        inside ^= crosses & (points[:, 0] < x)
    return inside


def runs(frames: np.ndarray, mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) source frames of each run of consecutive masked frames."""
    picked = np.asarray(frames)[np.asarray(mask, bool)]
    if len(picked) == 0:
        return []
    breaks = np.nonzero(np.diff(picked) != 1)[0] + 1
    return [(int(r[0]), int(r[-1])) for r in np.split(picked, breaks)]
