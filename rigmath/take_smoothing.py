"""One hand's per-frame estimates of a take -> the arrays that get keyed: one shape, filtered motion.

Why: estimates made frame by frame jitter and each carries its own hand shape; a take is one person's
hand, so it gets one shape (the per-coefficient median over the frames, robust to a few bad fits) and
its rotations and translation go through the One Euro filter (rigmath.one_euro).

Gaps: frames without the hand stay gaps (no values, so no keys there). Across a short gap (at most
`max_gap` missing frames) the filter keeps its state and sees the longer time step; after a longer
gap it restarts, so a hand that comes back elsewhere is not dragged from where it left.

Legend: N frames that have this hand (not the frames of the take). Axis-angle rotations (radians);
hand_pose flat-hand relative, of the hand's own side; cam_t metres, camera frame (MANO transl).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PoseDataError
from ..handmodel.parts import check_side
from .one_euro import OneEuroParams, one_euro, one_euro_rotations, params_for_strength

# Missing frames the filter bridges; a hand lost for longer (about 1/3 s at 30 fps) restarts it.
DEFAULT_MAX_GAP = 10
NUM_BETAS = 10


@dataclass(frozen=True)
class SmoothedTrack:
    """One hand of a take, ready to key.

    side: "right" | "left"; frames (N,) int source frame indices, increasing; global_orient (N, 3);
    hand_pose (N, 45); betas (10,) one shape for the whole take; cam_t (N, 3); segments: (first, last)
    source frame indices of each stretch the filter ran over without restarting.
    """
    side: str
    frames: np.ndarray
    global_orient: np.ndarray
    hand_pose: np.ndarray
    betas: np.ndarray
    cam_t: np.ndarray
    segments: tuple[tuple[int, int], ...]

    @property
    def num_frames(self) -> int:
        return int(len(self.frames))

    def pose_sequence(self, fps: float, source: str = ""):
        """The same poses as a posefiles.PoseSequence (consecutive keys; the frame numbers are in `frames`)."""
        from ..posefiles.sequence import PoseSequence

        return PoseSequence(global_orient=self.global_orient, hand_pose=self.hand_pose,
                            betas=np.broadcast_to(self.betas, (self.num_frames, NUM_BETAS)),
                            transl=self.cam_t, side=self.side, fps=fps, source=source, hand_mean="flat")


def smooth_track(side: str, frames, global_orient, hand_pose, betas, cam_t, fps: float,
                 strength: float = 0.5, max_gap: int = DEFAULT_MAX_GAP) -> SmoothedTrack:
    """Smooth one hand's estimates.

    Args:
        side: "right" | "left".
        frames: (N,) int source frame indices with this hand, strictly increasing, N >= 1.
        global_orient: (N, 3), hand_pose: (N, 45), betas: (N, S) with S <= 10, cam_t: (N, 3).
        fps: frames per second of the source (> 0): the filter's cutoffs are in Hz.
        strength: 0 (keys exactly the estimates, shape still shared) .. 1 (strongest); see one_euro.
        max_gap: missing frames bridged without restarting the filter (>= 0).
    Returns:
        SmoothedTrack with the same N frames.
    Raises:
        PoseDataError: wrong shapes, NaN/inf, frames not increasing, bad fps or side.
    """
    check_side(side)
    if not (isinstance(fps, (int, float, np.number)) and np.isfinite(fps) and fps > 0):
        raise PoseDataError(f"fps must be a positive number; got {fps!r}")
    if not (isinstance(max_gap, (int, np.integer)) and max_gap >= 0):
        raise PoseDataError(f"max_gap must be an integer >= 0; got {max_gap!r}")
    frames = np.asarray(frames)
    if frames.ndim != 1 or len(frames) == 0 or not np.issubdtype(frames.dtype, np.integer):
        raise PoseDataError(f"frames must be (N,) integers with N >= 1; got {frames.dtype} {frames.shape}")
    if np.any(np.diff(frames) <= 0):
        raise PoseDataError("frames must increase strictly (one estimate per frame)")
    n = len(frames)
    go, hp, b, t = (_checked(name, v, shape) for name, v, shape in (
        ("global_orient", global_orient, (n, 3)), ("hand_pose", hand_pose, (n, 45)),
        ("betas", betas, (n, None)), ("cam_t", cam_t, (n, 3))))
    if b.shape[1] > NUM_BETAS:
        raise PoseDataError(f"betas must have at most {NUM_BETAS} coefficients; got {b.shape[1]}")
    shape = np.pad(np.median(b, axis=0), (0, NUM_BETAS - b.shape[1]))

    params = params_for_strength(strength)
    breaks = np.nonzero(np.diff(frames) > max_gap + 1)[0] + 1
    bounds = list(zip([0, *breaks], [*breaks, n]))
    out_go, out_hp, out_t = np.empty_like(go), np.empty_like(hp), np.empty_like(t)
    for lo, hi in bounds:
        times = frames[lo:hi] / float(fps)
        out_go[lo:hi] = one_euro_rotations(go[lo:hi, None], times, params)[:, 0]
        out_hp[lo:hi] = one_euro_rotations(hp[lo:hi].reshape(-1, 15, 3), times, params).reshape(-1, 45)
        out_t[lo:hi] = one_euro(t[lo:hi, None], times, _translation_params(params))[:, 0]
    return SmoothedTrack(side=side, frames=frames.astype(np.int64), global_orient=out_go, hand_pose=out_hp,
                         betas=shape, cam_t=out_t,
                         segments=tuple((int(frames[lo]), int(frames[hi - 1])) for lo, hi in bounds))


def _translation_params(params: OneEuroParams | None) -> OneEuroParams | None:
    """Translations move in m/s, about 1/10 of a rotation's rad/s, so their beta is 10x larger
    for the same opening of the cutoff; the cutoffs themselves are the rotations'."""
    if params is None:
        return None
    return OneEuroParams(min_cutoff=params.min_cutoff, beta=params.beta * 10.0, d_cutoff=params.d_cutoff)


def _checked(name: str, value, shape) -> np.ndarray:
    try:
        a = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise PoseDataError(f"{name} must be numbers") from None
    if a.ndim != len(shape) or any(s is not None and s != g for s, g in zip(shape, a.shape)):
        raise PoseDataError(f"{name} must have shape {tuple('S' if s is None else s for s in shape)}; got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise PoseDataError(f"{name} holds NaN or infinite values")
    return a
