"""One hand's per-frame estimates of a take -> the arrays that get keyed: one shape, filtered motion.

Two methods. clean_track (what Take.smoothed runs by default, issue 14): short gaps filled from both
ends and marked (rigmath.gap_fill), spikes found and given little weight, a zero-phase smoother over
the whole take (rigmath.zero_phase; wrist depth, cam_t z, smoothed harder than the rest, as a
monocular depth is the noisiest number), and the flags of rigmath.take_flags. smooth_track: the
causal One Euro filter (rigmath.one_euro), gaps kept as gaps; what a live preview can use.

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
from . import take_flags
from .gap_fill import FILL_MEASURED, FILL_NAMES, FILL_PRIOR, FILL_SPLINE, spline_fill
from .one_euro import OneEuroParams, one_euro, one_euro_rotations, params_for_strength
from .zero_phase import cutoff_hz, lam_for_cutoff, smooth_rotations, whittaker

# Missing frames the filter bridges; a hand lost for longer (about 1/3 s at 30 fps) restarts it.
DEFAULT_MAX_GAP = 10
NUM_BETAS = 10
DEPTH_CUTOFF_RATIO = 0.5   # wrist depth's cutoff / the rotations' (depth from one camera is the noisiest value)
SPIKE_WEIGHT = 0.05        # a spike still counts a little: it may be a real, fast motion
FILL_WEIGHT = 0.2          # a filled frame is a guess; the measured frames around it lead


@dataclass(frozen=True)
class SmoothedTrack:
    """One hand of a take, ready to key.

    side: "right" | "left"; frames (N,) int source frame indices, increasing; global_orient (N, 3);
    hand_pose (N, 45); betas (10,) one shape for the whole take; cam_t (N, 3); segments: (first, last)
    source frame indices of each stretch the filter ran over without restarting.

    Added by clean_track / Take.smoothed (None where a method does not make them), all per frame (N,):
    method "one_euro" | "zero_phase"; strength; filled bool (no measurement: the pose was filled);
    fill_kind int8 (gap_fill.FILL_MEASURED 0, FILL_SPLINE 1, FILL_PRIOR 2); weights float (the
    smoother's: 1 measured, SPIKE_WEIGHT spikes, FILL_WEIGHT filled); score float (the detector's,
    NaN when filled); hypothesis int (the hypothesis kept per frame, -1 when filled); part_confidence
    (N, 6) float in 0..1 (the model's mean token probability per hand part, handmodel.parts.PARTS
    order; NaN without the model or when filled); part_spread (N, 6) mm (how far the hypotheses
    disagree per part; 0 with one hypothesis, NaN when filled); spike bool; wrist_turn_deg float
    (the raw wrist turn since the previous frame); fingers_in_palm (N, 5) bool (take_flags.TIPS
    order); flags: ((source frame, kind, text), ...) sorted by frame, kinds take_flags.FLAG_KINDS.
    """
    side: str
    frames: np.ndarray
    global_orient: np.ndarray
    hand_pose: np.ndarray
    betas: np.ndarray
    cam_t: np.ndarray
    segments: tuple[tuple[int, int], ...]
    method: str = "one_euro"
    strength: float | None = None
    filled: np.ndarray | None = None
    fill_kind: np.ndarray | None = None
    weights: np.ndarray | None = None
    score: np.ndarray | None = None
    hypothesis: np.ndarray | None = None
    part_confidence: np.ndarray | None = None
    part_spread: np.ndarray | None = None
    spike: np.ndarray | None = None
    wrist_turn_deg: np.ndarray | None = None
    fingers_in_palm: np.ndarray | None = None
    flags: tuple = ()

    @property
    def num_frames(self) -> int:
        return int(len(self.frames))

    def flag_mask(self, kind: str) -> np.ndarray:
        """(N,) bool: the frames that carry a flag of `kind` (one of take_flags.FLAG_KINDS)."""
        if kind not in take_flags.FLAG_KINDS:
            raise PoseDataError(f"unknown flag kind {kind!r}; expected one of {', '.join(take_flags.FLAG_KINDS)}")
        marked = {f for f, k, _ in self.flags if k == kind}
        return np.array([int(f) in marked for f in self.frames], bool)

    def report(self) -> dict:
        """JSON-ready per-frame data (what `--report take.json` would write): frames, filled, fill_kind,
        score, hypothesis, part_confidence, part_spread, spike, wrist_turn_deg, fingers_in_palm and
        flags as [{"frame", "kind", "text"}]; None for what the method did not make."""
        def plain(a):
            if a is None:
                return None
            a = np.asarray(a)
            return np.where(np.isfinite(a), a, np.nan).round(5).tolist() if a.dtype.kind == "f" else a.tolist()

        out = {"side": self.side, "method": self.method, "strength": self.strength,
               "segments": [list(s) for s in self.segments]}
        for name in ("frames", "filled", "fill_kind", "score", "hypothesis", "part_confidence", "part_spread",
                     "spike", "wrist_turn_deg", "fingers_in_palm"):
            out[name] = plain(getattr(self, name))
        out["flags"] = [{"frame": int(f), "kind": k, "text": t} for f, k, t in self.flags]
        return out

    def pose_sequence(self, fps: float, source: str = ""):
        """The same poses as a posefiles.PoseSequence (consecutive keys; the frame numbers are in `frames`)."""
        from ..posefiles.sequence import PoseSequence

        return PoseSequence(global_orient=self.global_orient, hand_pose=self.hand_pose,
                            betas=np.broadcast_to(self.betas, (self.num_frames, NUM_BETAS)),
                            transl=self.cam_t, side=self.side, fps=fps, source=source, hand_mean="flat")


def _checked_track(side, frames, global_orient, hand_pose, betas, cam_t, fps, max_gap):
    """The inputs of smooth_track / clean_track checked: (frames (N,), global_orient (N, 3),
    hand_pose (N, 45), the take's one shape (10,) as the median of betas, cam_t (N, 3)); PoseDataError."""
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
    return frames, go, hp, shape, t


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
    frames, go, hp, shape, t = _checked_track(side, frames, global_orient, hand_pose, betas, cam_t, fps, max_gap)
    n = len(frames)

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


def clean_track(side: str, frames, global_orient, hand_pose, betas, cam_t, fps: float, strength: float = 0.5,
                max_gap: int = DEFAULT_MAX_GAP, keypoints=None, prior: dict | None = None) -> SmoothedTrack:
    """Fill, flag and smooth one hand's estimates (zero phase; see the module docstring).

    Args:
        side, frames, global_orient, hand_pose, betas, cam_t, fps: as smooth_track.
        strength: 0 (measured frames keyed as estimated, gaps still filled) .. 1; rigmath.zero_phase.
        max_gap: gaps of at most this many frames are filled (marked); longer ones split the take
            into segments that are smoothed apart and stay gaps.
        keypoints: (N, 21, 3) metres, the estimates' joints (spike and finger-in-palm flags; None: no such flags).
        prior: {source frame: (45,) hand_pose} for gap frames, the model's in-between (inference.inbetween);
            used instead of the spline's fingers there (fill_kind FILL_PRIOR).
    Returns:
        SmoothedTrack over the measured and filled frames (M >= N), method "zero_phase".
    """
    frames, go, hp, shape, t = _checked_track(side, frames, global_orient, hand_pose, betas, cam_t, fps, max_gap)
    n = len(frames)
    fc = cutoff_hz(strength)
    frames = frames.astype(np.int64)
    # 1. flags on the measurements
    flags = []
    spike = np.zeros(n, bool)
    palm = np.zeros((n, len(take_flags.TIPS)), bool)
    if keypoints is not None:
        kp = _checked("keypoints", keypoints, (n, 21, 3))
        spike = take_flags.spikes(frames, kp, float(fps))
        palm = take_flags.fingers_in_palm(kp)
    spin, turn = take_flags.wrist_spins(frames, go, float(fps))
    names = list(take_flags.TIPS)
    for i in range(n):
        f = int(frames[i])
        if spike[i]:
            flags.append((f, "spike", "the joints jump off the take's curve; smoothed with little weight"))
        if spin[i]:
            flags.append((f, "wrist_spin", f"the wrist turns {turn[i]:.0f} degrees in one frame"))
        if palm[i].any():
            flags.append((f, "finger_in_palm", ", ".join(names[k] for k in np.nonzero(palm[i])[0]) + " tip inside the palm"))
    # 2. gaps filled from both ends
    all_frames, go_f, hp_f, t_f, filled = spline_fill(frames, go, hp, t, max_gap)
    kind = np.where(filled, FILL_SPLINE, FILL_MEASURED).astype(np.int8)
    for j in np.nonzero(filled)[0]:
        f = int(all_frames[j])
        if prior and f in prior:
            hp_f[j] = _checked(f"prior[{f}]", prior[f], (45,))
            kind[j] = FILL_PRIOR
    for lo, hi in take_flags.runs(all_frames, filled):
        how = sorted({FILL_NAMES[int(k)] for k in kind[(all_frames >= lo) & (all_frames <= hi)]})
        flags.append((lo, "gap", f"frames {lo}..{hi} had no hand; filled ({' and '.join(how)})"))
    where = np.searchsorted(all_frames, frames)
    weights = np.full(len(all_frames), FILL_WEIGHT)
    weights[where] = np.where(spike, SPIKE_WEIGHT, 1.0)
    # 3. zero-phase smoothing per segment; depth apart
    lam = lam_for_cutoff(fc, float(fps))
    lam_depth = lam_for_cutoff(None if fc is None else fc * DEPTH_CUTOFF_RATIO, float(fps))
    breaks = np.nonzero(np.diff(all_frames) > 1)[0] + 1
    bounds = list(zip([0, *breaks], [*breaks, len(all_frames)]))
    out_go, out_hp, out_t = go_f.copy(), hp_f.copy(), t_f.copy()
    for lo, hi in bounds:
        w = weights[lo:hi]
        if np.count_nonzero(w) < 2:
            continue
        out_go[lo:hi] = smooth_rotations(go_f[lo:hi, None], w, lam)[:, 0]
        out_hp[lo:hi] = smooth_rotations(hp_f[lo:hi].reshape(-1, 15, 3), w, lam).reshape(-1, 45)
        out_t[lo:hi, :2] = whittaker(t_f[lo:hi, :2], w, lam)
        out_t[lo:hi, 2:] = whittaker(t_f[lo:hi, 2:], w, lam_depth)

    def spread(a, fill):
        full = np.full((len(all_frames),) + a.shape[1:], fill, a.dtype)
        full[where] = a
        return full

    flags.sort(key=lambda e: (e[0], take_flags.FLAG_KINDS.index(e[1]) if e[1] in take_flags.FLAG_KINDS else 99))
    return SmoothedTrack(side=side, frames=all_frames, global_orient=out_go, hand_pose=out_hp, betas=shape,
                         cam_t=out_t, segments=tuple((int(all_frames[lo]), int(all_frames[hi - 1])) for lo, hi in bounds),
                         method="zero_phase", strength=float(strength), filled=filled, fill_kind=kind,
                         weights=weights, spike=spread(spike, False), wrist_turn_deg=spread(turn, np.nan),
                         fingers_in_palm=spread(palm, False), flags=tuple(flags))


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
