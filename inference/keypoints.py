"""MediaPipe Hands (0.10.21, legacy `mp.solutions.hands`, models from its wheel): hands in, keypoints out.

Per hand: side, 21 2D keypoints in full-resolution pixels, a confidence per keypoint, MediaPipe's
metric world landmarks and a square box. Keypoint order: MediaPipe's 21 landmarks are already in
OpenPose/FreiHAND order (wrist; thumb CMC, MCP, IP, tip; index MCP, PIP, DIP, tip; middle; ring; little).

Two MediaPipe quirks handled here:
- Side: legacy MediaPipe labels hands as if the image were mirrored (a selfie camera), so its
  "Left" is a right hand in an ordinary photo. `side` is corrected: the person's own hand.
- Confidence: legacy Hands gives no per-keypoint confidence (landmark visibility/presence are 0)
  and no per-hand presence score. Every hand it returns passed its palm detector
  (>= min_detection_confidence) and its landmark model's presence test (>= min_tracking_confidence,
  in both modes). `score` is the one number it does expose, the handedness score: 0.5..1, how sure
  it is of the side. `confidence[j]` is that score, halved for a keypoint MediaPipe places outside
  the image (a guess at a hidden joint), so fitting leans on the keypoints it actually saw.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..errors import MaskHandError
from .images import as_rgb_uint8, check_detectable

BOX_SCALE = 1.3  # square box = keypoints' extent x 1.3: room for the palm and fingertips' flesh
OUTSIDE_IMAGE_WEIGHT = 0.5  # confidence factor for keypoints MediaPipe puts outside the frame
# MediaPipe's labels are mirrored (see the module docstring): its label -> the person's hand.
_MIRRORED_LABEL = {"Left": "right", "Right": "left"}


@dataclass
class HandKeypoints:
    """One detected hand.

    side: "left" | "right", the person's hand (mirror-corrected).
    score: MediaPipe's handedness score, 0.5..1 (how sure it is of `side`).
    keypoints_2d: (21, 2) float64 pixels (u right, v down) in the full-resolution image;
        continuous coordinates, pixel (i, j) covers [i, i+1) x [j, j+1).
    confidence: (21,) float64 in 0..1 (see the module docstring for what it holds).
    world: (21, 3) float64 metres, MediaPipe's world landmarks as given: axes aligned with the
        camera's (x right, y down, z away from the camera), origin near the hand's centre.
    box: (x0, y0, x1, y1) float pixels, a square around the keypoints enlarged BOX_SCALE times;
        it may reach outside the image.
    found_by: "mediapipe" (MediaPipe Hands on the image as given) or the name of the retry view whose
        palm it came from ("rotate 90", "zoom out", "zoom in 0 1", ...: inference/hand_search.py).
    """

    side: str
    score: float
    keypoints_2d: np.ndarray
    confidence: np.ndarray
    world: np.ndarray
    box: tuple[float, float, float, float]
    found_by: str = "mediapipe"

    @property
    def center(self) -> np.ndarray:
        x0, y0, x1, y1 = self.box
        return np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0])


class KeypointDetector:
    """MediaPipe Hands, loaded once and reused (start-up takes about a second).

    tracking=False: every image is searched from scratch (photos).
    tracking=True: MediaPipe's video mode follows hands from frame to frame (clips); call reset()
        before an unrelated clip.
    max_side: images whose longer side exceeds it are downscaled for detection (MediaPipe works on
        a 224/192 px crop anyway); the keypoints come back in the original image's pixels.
    retry: when MediaPipe finds no hand, look again through rotated and zoomed views
        (hand_search.HandSearch: palms from retry_palm_score, accepted by the landmark network's presence,
        min_tracking_confidence); None = on for photos, off when tracking (a clip's
        missed frames are the take's gaps to fill, and a retry costs about ten frames' time).
    device: where the retries' torch networks run ("cpu", "cuda", "mps"; the pipeline's device).
    retry_palm_score: the retries' palm threshold (their palms are proposals that the landmark
        network's presence, min_tracking_confidence, accepts or not); None = hand_search.RETRY_PALM_SCORE,
        or min_detection_confidence where that is lower.
    """

    def __init__(self, max_hands: int = 2, min_detection_confidence: float = 0.5, tracking: bool = False,
                 max_side: int = 1280, min_tracking_confidence: float = 0.5, retry: bool | None = None,
                 device: str = "cpu", retry_palm_score: float | None = None):
        if not isinstance(max_hands, (int, np.integer)) or isinstance(max_hands, bool) or max_hands < 1:
            raise MaskHandError(f"max_hands must be a positive integer; got {max_hands!r}")
        for name, value in (("min_detection_confidence", min_detection_confidence),
                            ("min_tracking_confidence", min_tracking_confidence)):
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise MaskHandError(f"{name} must be a number in [0, 1]; got {value!r}")
        if not isinstance(max_side, (int, np.integer)) or max_side < 64:
            raise MaskHandError(f"max_side must be an integer of at least 64 pixels; got {max_side!r}")
        self.max_hands = int(max_hands)
        self.tracking = bool(tracking)
        self.max_side = int(max_side)
        self.retry = (not self.tracking) if retry is None else bool(retry)
        if retry_palm_score is not None and not (isinstance(retry_palm_score, (int, float))
                                                 and 0.0 <= retry_palm_score <= 1.0):
            raise MaskHandError(f"retry_palm_score must be a number in [0, 1]; got {retry_palm_score!r}")
        self._thresholds = (float(min_detection_confidence), float(min_tracking_confidence))
        self._retry_palm_score = retry_palm_score
        self._search = None  # the torch networks of the retries, loaded on the first miss
        self._device = str(device)
        with _quiet_native_logs():
            os.environ.setdefault("GLOG_minloglevel", "2")
            try:
                from mediapipe.python.solutions import hands as mp_hands
            except ImportError as err:
                raise MaskHandError("hand detection needs mediapipe 0.10.21 (the backend extra: "
                                    "pip install 'maskhand[backend]')") from err

            self._hands = mp_hands.Hands(static_image_mode=not self.tracking, max_num_hands=self.max_hands,
                                         model_complexity=1,
                                         min_detection_confidence=float(min_detection_confidence),
                                         min_tracking_confidence=float(min_tracking_confidence))
            self._wait_for_models()
        self._first_call = True

    def detect(self, image: np.ndarray) -> list[HandKeypoints]:
        """Hands in `image` (RGB uint8 (H, W, 3); other layouts as_rgb_uint8 accepts), sorted left to
        right by box centre; [] when there is none. Raises ImageSizeError for an image smaller than
        images.MIN_DETECT_SIDE on its shorter side (no hand could be found there)."""
        if self._hands is None:
            raise MaskHandError("the keypoint detector is closed")
        image = as_rgb_uint8(image)
        check_detectable(image)
        height, width = image.shape[:2]
        small = _downscaled(image, self.max_side)
        try:
            if self._first_call:  # MediaPipe prints its graph warnings on a (re)started graph's first frame
                with _quiet_native_logs():
                    found = self._hands.process(small)
                self._first_call = False
            else:
                found = self._hands.process(small)
        except (RuntimeError, ValueError) as err:  # MediaPipe's graph errors, as its process() raises them
            raise MaskHandError(f"MediaPipe failed on a {width}x{height} image: {err}") from err
        if not found.multi_hand_landmarks:
            return self._retried(small, width, height) if self.retry else []
        hands = []
        for landmarks, world, handedness in zip(found.multi_hand_landmarks, found.multi_hand_world_landmarks,
                                                found.multi_handedness):
            label = handedness.classification[0]
            # Normalised coordinates are fractions of the image, so they scale to full resolution exactly.
            uv = np.array([[p.x * width, p.y * height] for p in landmarks.landmark], dtype=np.float64)
            xyz = np.array([[p.x, p.y, p.z] for p in world.landmark], dtype=np.float64)
            score = float(label.score)
            hands.append(HandKeypoints(side=_MIRRORED_LABEL[label.label], score=score, keypoints_2d=uv,
                                       confidence=hand_confidence(uv, score, width, height), world=xyz,
                                       box=square_box(uv)))
        hands.sort(key=lambda h: h.center[0])
        return hands

    def _retried(self, small: np.ndarray, width: int, height: int) -> list[HandKeypoints]:
        """The second look (hand_search) on the image MediaPipe saw, in full-resolution pixels."""
        if self._search is None:
            from .hand_search import RETRY_PALM_SCORE, HandSearch

            palm_score = self._retry_palm_score
            if palm_score is None:
                palm_score = min(RETRY_PALM_SCORE, self._thresholds[0])
            self._search = HandSearch(float(palm_score), self._thresholds[1], device=self._device,
                                      sure_palm_score=self._thresholds[0])
        scale = (width / small.shape[1], height / small.shape[0])
        hands = [found.keypoints(width, height, scale) for found in self._search.search(small, max_hands=self.max_hands)]
        hands.sort(key=lambda h: h.center[0])
        return hands

    def reset(self) -> None:
        """Forget tracked hands: the next frame is searched from scratch."""
        if self._hands is not None:
            with _quiet_native_logs():  # restarting the graph reloads the models, which logs again
                self._hands.reset()
                self._wait_for_models()
            self._first_call = True

    def _wait_for_models(self) -> None:
        """MediaPipe loads its models on worker threads after the graph starts; wait for them, so
        their log lines fall inside the silenced window instead of racing past it."""
        graph = getattr(self._hands, "_graph", None)
        if graph is not None and hasattr(graph, "wait_until_idle"):
            graph.wait_until_idle()

    def close(self) -> None:
        if self._hands is not None:
            self._hands.close()
            self._hands = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def detect_sequence(frames: Iterable[tuple[int, np.ndarray]], detector: KeypointDetector | None = None,
                    **detector_options) -> Iterator[tuple[int, list[HandKeypoints]]]:
    """(frame_index, hands) for each frame of a clip, tracking hands from frame to frame.

    frames: a FrameSource (frames.open_frames) or any iterable of (index, RGB image).
    detector: a KeypointDetector(tracking=True) to reuse (it is reset first, not closed); without
        one, a tracking detector is made from `detector_options` and closed at the end.
    """
    own = detector is None
    if own:
        detector = KeypointDetector(tracking=True, **detector_options)
    elif not detector.tracking:
        raise MaskHandError("detect_sequence needs a detector made with tracking=True")
    detector.reset()
    try:
        for index, image in frames:
            yield index, detector.detect(image)
    finally:
        if own:
            detector.close()


def square_box(keypoints_2d: np.ndarray, scale: float = BOX_SCALE) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1): the square centred on the keypoints' extent, side = longer extent x scale."""
    lo, hi = keypoints_2d.min(0), keypoints_2d.max(0)
    cx, cy = (lo + hi) / 2.0
    half = float((hi - lo).max()) * scale / 2.0
    return (float(cx - half), float(cy - half), float(cx + half), float(cy + half))


def hand_confidence(uv: np.ndarray, score: float, width: int, height: int) -> np.ndarray:
    """Per keypoint of a width x height image: the hand's score, halved outside the image (module docstring)."""
    inside = (uv[:, 0] >= 0) & (uv[:, 0] <= width) & (uv[:, 1] >= 0) & (uv[:, 1] <= height)
    return np.where(inside, score, score * OUTSIDE_IMAGE_WEIGHT)


def _downscaled(image: np.ndarray, max_side: int) -> np.ndarray:
    import cv2

    height, width = image.shape[:2]
    longer = max(height, width)
    if longer <= max_side:
        return image
    scale = max_side / longer
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


_quiet_lock = threading.Lock()
_quiet = {"depth": 0, "saved": None, "devnull": None}  # shared by threads: fd 2 is the process's


@contextmanager
def _quiet_native_logs():
    """Silence MediaPipe's C++ start-up warnings (absl/GLOG write to file descriptor 2 directly,
    before any log level can be set) while keeping Python exceptions intact.

    Threads may overlap here (two photo detectors starting, pipeline.py): the first to enter
    redirects fd 2 and the last to leave restores it, so an inner exit cannot restore the redirect."""
    import sys

    with _quiet_lock:
        if _quiet["depth"] == 0:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
            except (OSError, ValueError):  # no real stderr (embedded interpreters): nothing to silence
                saved = None
            if saved is not None:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                _quiet.update(saved=saved, devnull=devnull)
        _quiet["depth"] += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet["depth"] -= 1
            if _quiet["depth"] == 0 and _quiet["saved"] is not None:
                os.dup2(_quiet["saved"], 2)
                os.close(_quiet["saved"])
                os.close(_quiet["devnull"])
                _quiet.update(saved=None, devnull=None)
