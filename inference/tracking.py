"""Track hands through a clip: every frame estimated, the best hand per side kept, one Take out.

Why a Take and not a list of HandResults: what gets keyed is per side and per frame (gaps where a
hand is missing), and smoothing (rigmath.take_smoothing) needs each side's arrays over time. The
temporal consistency comes from MediaPipe's video mode (hands followed from frame to frame) and the
One Euro filter applied afterwards; every frame uses the same seed, so sampled hypotheses do not
flicker from a changing random stream.

Legend: N frames that hold the side's hand. Camera frame OpenCV, metres; MANO parameters of the
hand's own side, hand_pose flat-hand relative (as inference.results).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import MaskHandError
from ..handmodel.parts import SIDES
from ..posefiles.sequence import DEFAULT_FPS
from ..rigmath.take_smoothing import DEFAULT_MAX_GAP, NUM_BETAS, SmoothedTrack, smooth_track
from .camera import default_intrinsics
from .results import HandResult

TRACK_ESTIMATORS = ("auto", "model", "fitted")


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
    """What track() saw.

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


def track(source, frame_range=None, estimator: str = "auto", hypotheses: int = 1, seed: int = 0,
          max_hands: int = 2, on_frame: Callable[[int, int | None, list[HandResult]], None] | None = None,
          should_stop: Callable[[], bool] | None = None, mano_dir=None, pipeline=None) -> Take:
    """Estimate the hands in every frame of `source` (a movie, image folder, pattern, list or one image).

    Args:
        frame_range: (first, last) source frame indices, inclusive, None for open ends (inference.frames).
        estimator: "auto" (the generative model when its weights exist, else "fitted"), "model", "fitted".
        hypotheses, seed: passed to the generative model for every frame (the best hypothesis is kept).
        on_frame: called after each frame as on_frame(done, total, hands): done frames so far (1-based),
            total frames in range (None when a movie does not say), hands the kept HandResults (<= 1 per side).
        should_stop: checked before each frame; True ends the take early, keeping the frames done.
        pipeline: an open Pipeline(tracking=True) to reuse (its detector is reset; not closed here).
    Returns:
        Take. Raises InputFileError for unreadable sources, MaskHandError for bad options.
    """
    if estimator not in TRACK_ESTIMATORS:
        raise MaskHandError(f"unknown estimator {estimator!r} for tracking; expected one of "
                            f"{', '.join(TRACK_ESTIMATORS)} (tracking needs MANO poses)")
    if not (isinstance(hypotheses, (int, np.integer)) and hypotheses >= 1):
        raise MaskHandError(f"hypotheses must be a whole number >= 1; got {hypotheses!r}")
    from .frames import open_frames

    start = time.perf_counter()
    frames = open_frames(source, frame_range)
    own = pipeline is None
    if own:
        from .pipeline import Pipeline

        try:
            pipeline = Pipeline(estimator=estimator, max_hands=max_hands, tracking=True, mano_dir=mano_dir)
        except BaseException:
            frames.close()  # the clip must not stay open when the models cannot load
            raise
    else:
        pipeline.detector.reset()
    before = dict(pipeline.timings)
    per_side: dict[str, list[tuple[int, HandResult]]] = {s: [] for s in SIDES}
    read, size, K, cancelled, read_ms = [], None, None, False, 0.0
    try:
        with frames:
            total = frames.count or None
            it = iter(frames)
            while True:
                if should_stop is not None and should_stop():
                    cancelled = True
                    break
                t0 = time.perf_counter()
                try:
                    index, image = next(it)
                except StopIteration:
                    break
                read_ms += (time.perf_counter() - t0) * 1000
                h, w = image.shape[:2]
                frame_K = default_intrinsics(w, h)
                if size is None:
                    size, K = (w, h), frame_K
                kept = _best_per_side(pipeline(image, frame_K, hypotheses=hypotheses, seed=seed))
                for hand in kept:
                    per_side[hand.side].append((int(index), hand))
                read.append(int(index))
                if on_frame is not None:
                    on_frame(len(read), total, kept)
    finally:
        if own:
            pipeline.close()
    if not read and not cancelled:
        raise MaskHandError(f"{source} gave no frames to track")
    timings = {k: v - before.get(k, 0.0) for k, v in pipeline.timings.items()}
    timings["read"] = read_ms
    return Take(source=str(source), fps=float(frames.fps or DEFAULT_FPS), frames=np.asarray(read, np.int64),
                hands={s: _hand_track(s, found) for s, found in per_side.items() if found},
                image_size=size or (0, 0), K=K if K is not None else np.eye(3), estimator=pipeline.estimator,
                seconds=time.perf_counter() - start, timings=timings, cancelled=cancelled)


def _best_per_side(hands: list[HandResult]) -> list[HandResult]:
    """At most one hand per side, among those with MANO parameters: the one MediaPipe is surest
    is that side (its handedness score, the only per-hand score it gives)."""
    best: dict[str, HandResult] = {}
    for hand in hands:
        if hand.mano is None or hand.cam_t is None:
            continue
        if hand.side not in best or hand.score > best[hand.side].score:
            best[hand.side] = hand
    return [best[s] for s in SIDES if s in best]


def _hand_track(side: str, found: list[tuple[int, HandResult]]) -> HandTrack:
    def betas(hand):
        b = np.asarray(hand.mano["betas"], np.float64).ravel()[:NUM_BETAS]
        return np.pad(b, (0, NUM_BETAS - len(b)))

    return HandTrack(
        side=side,
        frames=np.array([i for i, _ in found], np.int64),
        global_orient=np.array([np.asarray(h.mano["global_orient"], np.float64).ravel() for _, h in found]),
        hand_pose=np.array([np.asarray(h.mano["hand_pose"], np.float64).ravel() for _, h in found]),
        betas=np.array([betas(h) for _, h in found]),
        cam_t=np.array([np.asarray(h.cam_t, np.float64).ravel() for _, h in found]),
        scores=np.array([h.score for _, h in found], np.float64),
        keypoints_2d=np.array([np.asarray(h.keypoints_2d, np.float64) for _, h in found]),
    )
