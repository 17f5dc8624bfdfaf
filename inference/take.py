"""A take: what tracking saw in a clip, per side and per frame. Numpy only (no torch, no cv2), so
Blender's process builds the same Take from the backend's progress events that tracking.track
builds in the backend.

Why a Take and not a list of hands per frame: what gets keyed is per side and per frame (gaps where
a hand is missing), and smoothing (rigmath.take_smoothing) needs each side's arrays over time.

Hands come in as JSON dicts, HandResult.to_json() (inference/results.py), the form the backend's
progress events carry them in. Legend: N frames that hold the side's hand. Camera frame OpenCV,
metres; MANO parameters of the hand's own side, hand_pose flat-hand relative (as inference.results).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..handmodel.parts import SIDES
from ..posefiles.sequence import DEFAULT_FPS
from ..rigmath.take_smoothing import DEFAULT_MAX_GAP, NUM_BETAS, SmoothedTrack, smooth_track


@dataclass
class HandTrack:
    """One side's raw estimates: frames (N,) int source indices; global_orient (N, 3); hand_pose (N, 45);
    betas (N, 10); cam_t (N, 3); scores (N,) detection confidence; keypoints_2d (N, 21, 2) px."""
    side: str
    frames: np.ndarray
    global_orient: np.ndarray
    hand_pose: np.ndarray
    betas: np.ndarray
    cam_t: np.ndarray
    scores: np.ndarray
    keypoints_2d: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(len(self.frames))


@dataclass
class Take:
    """What a track saw.

    source: the input as given (text); fps: the source's rate (DEFAULT_FPS for stills and unknown);
    frames: (F,) int every source frame index read, in order; hands: {side: HandTrack} for sides seen
    at least once; image_size: (width, height) of the first frame; K: (3, 3) intrinsics of the first
    frame; estimator: the one that ran ("model" or "fitted"); seconds: wall time of the whole call;
    timings: milliseconds per stage ("read", "detect", "fit", "model"); cancelled: should_stop ended it.
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

    @property
    def frame_range(self) -> tuple[int, int]:
        """(first, last) source frame index read, inclusive."""
        return int(self.frames[0]), int(self.frames[-1])

    def frames_with(self, side: str) -> int:
        return self.hands[side].num_frames if side in self.hands else 0

    def smoothed(self, strength: float = 0.5, max_gap: int = DEFAULT_MAX_GAP) -> dict[str, SmoothedTrack]:
        """{side: SmoothedTrack}: one shape per side, filtered motion, gaps kept (rigmath.take_smoothing)."""
        return {side: smooth_track(side, h.frames, h.global_orient, h.hand_pose, h.betas, h.cam_t, self.fps,
                                   strength=strength, max_gap=max_gap)
                for side, h in self.hands.items()}


def best_per_side(hands: list[dict]) -> list[dict]:
    """At most one hand per side, among those with "mano" and "cam_t": the one MediaPipe is surest
    is that side (the highest "score", its handedness score, the only per-hand score it gives);
    in SIDES order. hands: HandResult.to_json() dicts."""
    best: dict[str, dict] = {}
    for hand in hands:
        if hand.get("mano") is None or hand.get("cam_t") is None:
            continue
        side = hand["side"]
        if side not in best or hand["score"] > best[side]["score"]:
            best[side] = hand
    return [best[s] for s in SIDES if s in best]


class TakeBuilder:
    """Frames in, one Take out: add() each frame as it is read, build() at the end.

    source: the input as given (text); fps: the source's rate, None for stills or unknown (DEFAULT_FPS).
    """

    def __init__(self, source: str, fps: float | None):
        self.source = str(source)
        self.fps = float(fps) if fps else DEFAULT_FPS
        self.frames: list[int] = []
        self._per_side: dict[str, list[tuple[int, dict]]] = {s: [] for s in SIDES}

    def add(self, index: int, hands: list[dict]) -> list[dict]:
        """Record source frame `index` as read and its kept hands (best_per_side); returns those."""
        kept = best_per_side(hands)
        for hand in kept:
            self._per_side[hand["side"]].append((int(index), hand))
        self.frames.append(int(index))
        return kept

    def build(self, image_size: tuple[int, int] = (0, 0), K=None, estimator: str = "", seconds: float = 0.0,
              timings: dict | None = None, cancelled: bool = False) -> Take:
        """The Take of every frame added so far. K: (3, 3) intrinsics of the first frame (None: identity,
        for a take with no frame)."""
        return Take(source=self.source, fps=self.fps, frames=np.asarray(self.frames, np.int64),
                    hands={s: _hand_track(s, found) for s, found in self._per_side.items() if found},
                    image_size=tuple(image_size), K=np.eye(3) if K is None else np.asarray(K, np.float64),
                    estimator=estimator, seconds=seconds, timings=dict(timings or {}), cancelled=cancelled)


def _hand_track(side: str, found: list[tuple[int, dict]]) -> HandTrack:
    def array(value, shape=(-1,)):
        return np.asarray(value, np.float64).reshape(shape)

    def betas(hand):
        b = array(hand["mano"]["betas"])[:NUM_BETAS]
        return np.pad(b, (0, NUM_BETAS - len(b)))

    return HandTrack(
        side=side,
        frames=np.array([i for i, _ in found], np.int64),
        global_orient=np.array([array(h["mano"]["global_orient"]) for _, h in found]),
        hand_pose=np.array([array(h["mano"]["hand_pose"]) for _, h in found]),
        betas=np.array([betas(h) for _, h in found]),
        cam_t=np.array([array(h["cam_t"]) for _, h in found]),
        scores=np.array([h["score"] for _, h in found], np.float64),
        keypoints_2d=np.array([array(h["keypoints_2d"], (-1, 2)) for _, h in found]),
    )
