"""A take: what tracking saw in a clip, per side and per frame. Numpy only (no torch, no cv2), so
Blender's process builds the same Take from the backend's progress events that tracking.track
builds in the backend.

Why a Take and not a list of hands per frame: what gets keyed is per side and per frame (gaps where
a hand is missing), and smoothing (rigmath.take_smoothing) needs each side's arrays over time.

Hands come in as JSON dicts, HandResult.to_json() (inference/results.py), the form the backend's
progress events carry them in. Legend: N frames that hold the side's hand, H hypotheses per frame
(padded to the most any frame has: a missing one has score -inf and NaN values), T tokens. Camera
frame OpenCV, metres; MANO parameters of the hand's own side, hand_pose flat-hand relative (as
inference.results).

What build() does over the whole take (issue 14), in order:
1. identity (inference.identity.settle_take): one side per track, a phantom second hand dropped;
2. the path through the hypotheses (rigmath.take_paths.best_path): per frame the hypothesis that
   is likely and agrees with its neighbours; every hypothesis stays in the HandTrack (hyp_*), so
   Take.repick(smoothness) picks again without re-tracking.
Take.smoothed(strength) then fills short gaps (the model's in-betweens in `prior_fills` when the
backend made them, else a spline), flags, and smooths with a zero-phase smoother, always from the
raw arrays: re-smoothing at another strength needs no re-tracking.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import MaskHandError
from ..handmodel.parts import PARTS, SIDES
from ..posefiles.sequence import DEFAULT_FPS
from ..rigmath.take_paths import DEFAULT_SMOOTHNESS, best_path
from ..rigmath.take_smoothing import DEFAULT_MAX_GAP, NUM_BETAS, SmoothedTrack, clean_track, smooth_track
from .identity import settle_take

# Hypotheses a video keeps per frame for its path (rigmath/take_paths): 3 is 1.8x the time of 1 on
# CPU and lowered accel error and PA-MPJPE on the rendered clips (docs/BENCHMARKS.md).
VIDEO_HYPOTHESES = 3

SMOOTHING_METHODS = ("zero_phase", "one_euro")
# Keypoints (OpenPose order) whose wrist-relative spread measures each part's disagreement, PARTS order:
# the wrist's orientation shows in the knuckles; a finger's in its four keypoints.
PART_KEYPOINTS = {"wrist": (5, 9, 13, 17), "index": (5, 6, 7, 8), "middle": (9, 10, 11, 12),
                  "pinky": (17, 18, 19, 20), "ring": (13, 14, 15, 16), "thumb": (1, 2, 3, 4)}


@dataclass
class HandTrack:
    """One side's raw estimates: frames (N,) int source indices; global_orient (N, 3); hand_pose (N, 45);
    betas (N, 10); cam_t (N, 3); scores (N,) detection confidence; keypoints_2d (N, 21, 2) px.

    The main arrays hold the hypothesis `chosen` per frame. Added for issue 14 (defaults for takes
    made without them): keypoints_3d (N, 21, 3) of the chosen hypothesis (NaN when the hand has
    none); detected_sides (N,) str MediaPipe's label (may differ from `side`: identity overruled it);
    track_ids (N,) int; every hypothesis: hyp_scores (N, H), hyp_global_orient (N, H, 3),
    hyp_hand_pose (N, H, 45), hyp_betas (N, H, 10), hyp_cam_t (N, H, 3), hyp_keypoints_3d
    (N, H, 21, 3), hyp_part_confidence (N, H, 6) (NaN without it), hyp_tokens (N, H, T) int (-1
    without them); chosen (N,) int; events [(source frame, kind, text)] from the identity pass."""
    side: str
    frames: np.ndarray
    global_orient: np.ndarray
    hand_pose: np.ndarray
    betas: np.ndarray
    cam_t: np.ndarray
    scores: np.ndarray
    keypoints_2d: np.ndarray
    keypoints_3d: np.ndarray | None = None
    detected_sides: np.ndarray | None = None
    track_ids: np.ndarray | None = None
    hyp_scores: np.ndarray | None = None
    hyp_global_orient: np.ndarray | None = None
    hyp_hand_pose: np.ndarray | None = None
    hyp_betas: np.ndarray | None = None
    hyp_cam_t: np.ndarray | None = None
    hyp_keypoints_3d: np.ndarray | None = None
    hyp_part_confidence: np.ndarray | None = None
    hyp_tokens: np.ndarray | None = None
    chosen: np.ndarray | None = None
    events: list = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return int(len(self.frames))

    @property
    def num_hypotheses(self) -> int:
        return 1 if self.hyp_scores is None else int(self.hyp_scores.shape[1])

    def with_path(self, chosen) -> HandTrack:
        """The same track keying hypothesis chosen[i] at frame i (N,) ints."""
        if self.hyp_scores is None:
            raise MaskHandError("this track holds no hypotheses to choose from")
        chosen = np.asarray(chosen, np.int64)
        if chosen.shape != (self.num_frames,) or np.any(chosen < 0) or np.any(chosen >= self.num_hypotheses):
            raise MaskHandError(f"chosen must be ({self.num_frames},) ints in 0..{self.num_hypotheses - 1}")
        rows = np.arange(self.num_frames)
        if not np.all(np.isfinite(self.hyp_scores[rows, chosen])):
            raise MaskHandError("chosen names a hypothesis a frame does not have")
        return replace(self, global_orient=self.hyp_global_orient[rows, chosen],
                       hand_pose=self.hyp_hand_pose[rows, chosen], betas=self.hyp_betas[rows, chosen],
                       cam_t=self.hyp_cam_t[rows, chosen], keypoints_3d=self.hyp_keypoints_3d[rows, chosen],
                       chosen=chosen)

    def part_confidence(self) -> np.ndarray:
        """(N, 6) the chosen hypothesis's per-part model confidence (PARTS order; NaN without it)."""
        if self.hyp_part_confidence is None:
            return np.full((self.num_frames, len(PARTS)), np.nan)
        return self.hyp_part_confidence[np.arange(self.num_frames), self.chosen]

    def part_spread(self) -> np.ndarray:
        """(N, 6) mm, PARTS order: RMS distance of the hypotheses' wrist-relative part keypoints from
        their mean (0 with one hypothesis): how much the model hesitates about each part."""
        if self.hyp_keypoints_3d is None:
            return np.zeros((self.num_frames, len(PARTS)))
        kp = self.hyp_keypoints_3d - self.hyp_keypoints_3d[:, :, :1]           # (N, H, 21, 3)
        valid = np.isfinite(self.hyp_scores)[..., None, None]
        count = np.maximum(valid.sum(1), 1)                                     # (N, 1, 1)
        mean = np.where(valid, kp, 0.0).sum(1) / count                          # (N, 21, 3)
        sq = np.where(valid, (kp - mean[:, None]) ** 2, 0.0).sum(-1).sum(1) / count[..., 0]  # (N, 21)
        return np.stack([1000 * np.sqrt(sq[:, list(PART_KEYPOINTS[p])].mean(-1)) for p in PARTS], -1)


@dataclass
class Take:
    """What a track saw.

    source: the input as given (text); fps: the source's rate (DEFAULT_FPS for stills and unknown);
    frames: (F,) int every source frame index read, in order; hands: {side: HandTrack} for sides seen
    at least once; image_size: (width, height) of the first frame; K: (3, 3) intrinsics of the first
    frame; estimator: the one that ran ("model" or "fitted"); seconds: wall time of the whole call;
    timings: milliseconds per stage ("read", "detect", "fit", "model"); cancelled: should_stop ended it;
    prior_fills: {side: {source frame: (45,) hand_pose}} the model's in-betweens for gap frames
    (inference.inbetween; empty in Blender's process unless the backend's result brought them);
    raw_frames: ((source frame, [hand dicts]), ...) every frame as TakeBuilder got it, so a saved take
    can be built again (blender/take_store.py keeps it in the .blend).
    """
    source: str
    fps: float
    frames: np.ndarray
    hands: dict[str, HandTrack]
    image_size: tuple[int, int]
    K: np.ndarray
    estimator: str
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)
    cancelled: bool = False
    prior_fills: dict = field(default_factory=dict)
    raw_frames: tuple = ()

    @property
    def frame_range(self) -> tuple[int, int]:
        """(first, last) source frame index read, inclusive."""
        return int(self.frames[0]), int(self.frames[-1])

    def frames_with(self, side: str) -> int:
        return self.hands[side].num_frames if side in self.hands else 0

    def smoothed(self, strength: float = 0.5, max_gap: int = DEFAULT_MAX_GAP,
                 method: str = "zero_phase") -> dict[str, SmoothedTrack]:
        """{side: SmoothedTrack}: one shape per side, smoothed motion, recomputed from the raw arrays.

        method "zero_phase" (default): gaps of at most max_gap frames filled and marked, spikes
        down-weighted, zero-phase smoothing, per-frame confidence and flags (rigmath.take_smoothing.
        clean_track; the identity pass's events join the flags). "one_euro": the causal filter, gaps
        kept (smooth_track), with the same per-frame confidence arrays.
        """
        if method not in SMOOTHING_METHODS:
            raise MaskHandError(f"unknown smoothing method {method!r}; expected one of {', '.join(SMOOTHING_METHODS)}")
        out = {}
        for side, h in self.hands.items():
            if method == "one_euro":
                trk = smooth_track(side, h.frames, h.global_orient, h.hand_pose, h.betas, h.cam_t, self.fps,
                                   strength=strength, max_gap=max_gap)
                trk = replace(trk, strength=float(strength), filled=np.zeros(h.num_frames, bool),
                              fill_kind=np.zeros(h.num_frames, np.int8))
            else:
                kp = h.keypoints_3d if h.keypoints_3d is not None and np.all(np.isfinite(h.keypoints_3d)) else None
                trk = clean_track(side, h.frames, h.global_orient, h.hand_pose, h.betas, h.cam_t, self.fps,
                                  strength=strength, max_gap=max_gap, keypoints=kp,
                                  prior=self.prior_fills.get(side))
            out[side] = _with_measurements(trk, h)
        return out

    def repick(self, smoothness: float = DEFAULT_SMOOTHNESS) -> Take:
        """The same take with each side's hypotheses picked again (rigmath.take_paths.best_path);
        smoothness 0 keeps each frame's best-scored hypothesis."""
        return replace(self, hands={side: _pick_path(h, smoothness) for side, h in self.hands.items()})


def best_per_side(hands: list[dict]) -> list[dict]:
    """At most one hand per side, among those with "mano" and "cam_t": the one MediaPipe is surest
    is that side (the highest "score", its handedness score, the only per-hand score it gives);
    in SIDES order. hands: HandResult.to_json() dicts. A kept hand that beat others of its side
    comes back as a shallow copy carrying them under "others" (surest first), so the take-level
    identity pass (inference.identity) still sees every detection of the frame."""
    by_side: dict[str, list[dict]] = {}
    for hand in hands:
        if hand.get("mano") is None or hand.get("cam_t") is None:
            continue
        by_side.setdefault(hand["side"], []).append(hand)
    out = []
    for side in SIDES:
        found = sorted(by_side.get(side, []), key=lambda h: -h["score"])  # stable: the first of equals wins
        if found:
            out.append(found[0] if len(found) == 1 else {**found[0], "others": found[1:]})
    return out


class TakeBuilder:
    """Frames in, one Take out: add() each frame as it is read, build() at the end.

    source: the input as given (text); fps: the source's rate, None for stills or unknown (DEFAULT_FPS).
    add() records every hand it is given (with the "others" best_per_side set aside); build() decides
    who is who over the whole take, so the same frames give the same Take whether they come in as
    all of a frame's hands or as best_per_side's answer.
    """

    def __init__(self, source: str, fps: float | None):
        self.source = str(source)
        self.fps = float(fps) if fps else DEFAULT_FPS
        self.frames: list[int] = []
        self._hands: list[tuple[int, list[dict]]] = []

    def add(self, index: int, hands: list[dict]) -> list[dict]:
        """Record source frame `index` as read and all its hands; returns best_per_side(hands) (what a
        progress event carries: at most one per side, the rest under "others")."""
        self._hands.append((int(index), list(hands)))
        self.frames.append(int(index))
        return best_per_side(hands)

    def build(self, image_size: tuple[int, int] = (0, 0), K=None, estimator: str = "", seconds: float = 0.0,
              timings: dict | None = None, cancelled: bool = False,
              path_smoothness: float = DEFAULT_SMOOTHNESS) -> Take:
        """The Take of every frame added so far: identities settled, hypotheses picked along the take
        (path_smoothness, rigmath.take_paths; 0: each frame's best). K: (3, 3) intrinsics of the first
        frame (None: identity, for a take with no frame)."""
        settled = settle_take(self._hands)
        per_side: dict[str, list[tuple[int, dict]]] = {s: [] for s in SIDES}
        for index, hands in settled.frames:
            for hand in hands:
                per_side[hand["side"]].append((index, hand))
        hands = {}
        for side, found in per_side.items():
            if found:
                trk = _hand_track(side, found)
                trk.events = [(f, kind, text) for f, kind, text, about in settled.events if about == side]
                hands[side] = _pick_path(trk, path_smoothness)
        return Take(source=self.source, fps=self.fps, frames=np.asarray(self.frames, np.int64), hands=hands,
                    image_size=tuple(image_size), K=np.eye(3) if K is None else np.asarray(K, np.float64),
                    estimator=estimator, seconds=seconds, timings=dict(timings or {}), cancelled=cancelled,
                    raw_frames=tuple(self._hands))


def _pick_path(trk: HandTrack, smoothness: float) -> HandTrack:
    if trk.hyp_scores is None or trk.num_hypotheses == 1:
        return trk
    return trk.with_path(best_path(trk.hyp_scores, trk.hyp_keypoints_3d, trk.frames, smoothness))


def _with_measurements(trk: SmoothedTrack, h: HandTrack) -> SmoothedTrack:
    """trk with the per-frame detector score, hypothesis index, part confidence and spread of `h`
    spread over its frames (NaN / -1 on filled frames), and h's identity events among its flags."""
    where = np.searchsorted(trk.frames, h.frames)

    def spread(values, fill):
        values = np.asarray(values)
        out = np.full((trk.num_frames,) + values.shape[1:], fill, values.dtype if fill != -1 else np.int64)
        out[where] = values
        return out

    chosen = h.chosen if h.chosen is not None else np.zeros(h.num_frames, np.int64)
    flags = sorted(tuple(trk.flags) + tuple((int(f), k, t) for f, k, t in h.events), key=lambda e: e[0])
    return replace(trk, score=spread(h.scores, np.nan), hypothesis=spread(chosen, -1),
                   part_confidence=spread(h.part_confidence(), np.nan), part_spread=spread(h.part_spread(), np.nan),
                   flags=tuple(flags))


def _array(value, shape=(-1,)):
    return np.asarray(value, np.float64).reshape(shape)


def _betas(mano: dict) -> np.ndarray:
    b = _array(mano["betas"])[:NUM_BETAS]
    return np.pad(b, (0, NUM_BETAS - len(b)))


def _hypotheses(hand: dict) -> list[dict]:
    """The hand's hypotheses (best first); the hand itself as one when it lists none. The hand's own
    mano is its best hypothesis's (HandResult), so index 0 is what per-frame keying used."""
    hyps = [h for h in hand.get("hypotheses") or [] if h.get("mano") is not None and h.get("cam_t") is not None]
    return hyps or [{"score": 0.0, "mano": hand["mano"], "cam_t": hand["cam_t"],
                     "keypoints_3d": hand.get("keypoints_3d")}]


def _hand_track(side: str, found: list[tuple[int, dict]]) -> HandTrack:
    n = len(found)
    per_frame = [_hypotheses(h) for _, h in found]
    H = max(len(p) for p in per_frame)
    T = max((len(x.get("tokens") or []) for p in per_frame for x in p), default=0)
    scores = np.full((n, H), -np.inf)
    go, hp, bt, ct = np.full((n, H, 3), np.nan), np.full((n, H, 45), np.nan), np.full((n, H, NUM_BETAS), np.nan), \
        np.full((n, H, 3), np.nan)
    kp3, conf, tokens = np.full((n, H, 21, 3), np.nan), np.full((n, H, len(PARTS)), np.nan), np.full((n, H, T), -1)
    for i, hyps in enumerate(per_frame):
        for j, x in enumerate(hyps):
            scores[i, j] = float(x.get("score", 0.0))
            go[i, j], hp[i, j] = _array(x["mano"]["global_orient"]), _array(x["mano"]["hand_pose"])
            bt[i, j], ct[i, j] = _betas(x["mano"]), _array(x["cam_t"])
            if x.get("keypoints_3d") is not None:
                kp3[i, j] = _array(x["keypoints_3d"], (21, 3))
            if x.get("part_confidence") is not None:
                conf[i, j] = _array(x["part_confidence"])
            if x.get("tokens"):
                tokens[i, j, :len(x["tokens"])] = x["tokens"]
    # the hand's own mano/cam_t (== hypothesis 0 for the model) is what the main arrays start from
    own = [h for _, h in found]
    main_go = np.array([_array(h["mano"]["global_orient"]) for h in own])
    main_hp = np.array([_array(h["mano"]["hand_pose"]) for h in own])
    main_kp = np.array([_array(h["keypoints_3d"], (21, 3)) if h.get("keypoints_3d") is not None
                        else np.full((21, 3), np.nan) for h in own])
    return HandTrack(
        side=side,
        frames=np.array([i for i, _ in found], np.int64),
        global_orient=main_go, hand_pose=main_hp,
        betas=np.array([_betas(h["mano"]) for h in own]),
        cam_t=np.array([_array(h["cam_t"]) for h in own]),
        scores=np.array([h["score"] for h in own], np.float64),
        keypoints_2d=np.array([_array(h["keypoints_2d"], (-1, 2)) for h in own]),
        keypoints_3d=main_kp,
        detected_sides=np.array([h.get("detected_side", side) for h in own]),
        track_ids=np.array([int(h.get("track", 0)) for h in own], np.int64),
        hyp_scores=scores, hyp_global_orient=go, hyp_hand_pose=hp, hyp_betas=bt, hyp_cam_t=ct,
        hyp_keypoints_3d=kp3, hyp_part_confidence=conf, hyp_tokens=tokens.astype(np.int64),
        chosen=np.zeros(n, np.int64),
    )
