"""Image in, hands out: detection, then an estimator, as `predict` and `evaluate` use them.

Estimators share one signature, (image RGB uint8 (H, W, 3), K (3, 3)) -> list[HandResult], so the
evaluation harness can compare them on the same images. Names:
- "mediapipe": MediaPipe alone (2D keypoints and its hand-centred world landmarks, no MANO);
- "fitted": the fitted baseline (inference.fit) on MediaPipe's keypoints;
- "model": the generative masked model (inference.model), N ranked hypotheses per hand;
- "auto": "model" when its weights are present, else "fitted".
"""
from __future__ import annotations

import os
import threading
import time

import numpy as np

from ..errors import MaskHandError
from ..handmodel.registry import load_hand_model
from .results import HandResult, Hypothesis

ESTIMATORS = ("auto", "model", "fitted", "mediapipe")
FRAME_DETECTORS = ("auto", "mediapipe", "torch")
# The palm detector's threshold for photos: MediaPipe static mode's 0.3 (issue 13 compares with it);
# on the project's hand-free pictures it finds no false hand, as at 0.5 (docs/BENCHMARKS.md).
PHOTO_DETECTION_CONFIDENCE = 0.3
# Photos detected at once by predict's loop (lookahead.py), each thread with its own MediaPipe graph:
# on real photos MediaPipe and its second look are most of the time, and with one detecting thread
# the model's thread waited for it (docs/BENCHMARKS.md, "two photos ahead": 2.6x -> 2.2x MediaPipe
# alone per real photo on 2 cores). Never more than the cores the process may use.
PHOTO_DETECT_WORKERS = 2


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


class Pipeline:
    """Owns the detector and the fitter so repeated calls reuse loaded models.

    timings: accumulated milliseconds per stage ("detect", "fit", "model"), for reports.
    """

    def __init__(self, estimator: str = "auto", max_hands: int = 2, mano_dir=None,
                 min_detection_confidence: float | None = None, tracking: bool = False, device: str = "cpu",
                 steps: int | None = None, refine: bool | None = None, checkpoint=None,
                 retry: bool | None = None, frame_detector: str = "auto", frame_batch: int = 16,
                 flip_average: bool = False):
        """checkpoint: a folder holding tokenizer.pt and transformer.pt (default: the bundled weights);
        giving one makes "auto" mean "model". retry: KeypointDetector's second look at photos where
        MediaPipe finds no hand (None: on for photos, off when tracking). min_detection_confidence:
        the palm detector's threshold; None = PHOTO_DETECTION_CONFIDENCE for photos (a missed hand
        fails the request), MediaPipe's 0.5 when tracking (a false palm would be followed for frames,
        while a missed frame is a gap the take fills). frame_detector (tracking only): "mediapipe" =
        MediaPipe's video mode, a graph call per frame; "torch" = its networks in torch over
        `frame_batch` frames per call (frame_batches.py); "auto" = torch on CUDA/MPS, else mediapipe
        (on a CPU batching does not pay). flip_average: the generative model's second look at each hand
        is averaged with that of the mirrored crop (test-time flip averaging; about 30 ms more per hand
        on a CPU; image-token weights only)."""
        if estimator not in ESTIMATORS:
            raise MaskHandError(f"unknown estimator {estimator!r}; expected one of {', '.join(ESTIMATORS)}")
        from .keypoints import KeypointDetector
        from .model.estimator import model_paths, weights_available

        paths = model_paths(checkpoint)
        if estimator == "auto":
            estimator = "model" if checkpoint or weights_available(*paths) else "fitted"
        self.estimator = estimator
        self.steps, self.refine = steps, refine
        right = load_hand_model("right", mano_dir) if estimator in ("fitted", "model") else None
        self.fitter = self.generative = None
        self.models = {"right": right, "left": right.mirrored()} if right is not None else {}
        if estimator == "fitted":
            from .fit import Fitter

            self.fitter = Fitter(right)
        elif estimator == "model":
            from .model.estimator import GenerativeEstimator, SamplingConfig

            self.generative = GenerativeEstimator(right, *paths, device=device,
                                                  config=SamplingConfig(flip_average=bool(flip_average)))
        if min_detection_confidence is None:
            min_detection_confidence = 0.5 if tracking else PHOTO_DETECTION_CONFIDENCE
        if frame_detector not in FRAME_DETECTORS:
            raise MaskHandError(f"unknown frame detector {frame_detector!r}; expected one of {', '.join(FRAME_DETECTORS)}")
        if frame_detector == "auto":
            frame_detector = "torch" if device in ("cuda", "mps") else "mediapipe"
        self._detector_settings = dict(max_hands=max_hands, min_detection_confidence=min_detection_confidence,
                                       retry=retry, device=device)
        if tracking and frame_detector == "torch":
            from .frame_batches import BatchedHandDetector

            self.detector = BatchedHandDetector(max_hands=max_hands, min_detection_confidence=min_detection_confidence,
                                                batch=frame_batch, device=device)
        else:
            self.detector = KeypointDetector(tracking=tracking, **self._detector_settings)
        self.detect_workers = 1 if tracking else min(PHOTO_DETECT_WORKERS, _usable_cores())
        self._detectors = [self.detector]       # every detector made, closed by close()
        self._idle_detectors = [self.detector]  # those no thread is using now
        self._detector_slots = 1                # detectors made or being made
        self._detectors_free = threading.Condition()
        self.timings = {"detect": 0.0, "fit": 0.0, "model": 0.0}
        if device == "cpu":
            # Per-hand tensors are tiny: handing them to a second thread costs more than it saves
            # (transformer forward on the 2-core test machine: 15 ms on one thread, 105-197 ms on two
            # under load), so inference runs single-threaded; batch work (training) keeps its threads.
            import torch

            from .blas_threads import set_blas_threads

            self._threads = torch.get_num_threads()  # given back by close()
            torch.set_num_threads(1)
            # numpy's OpenBLAS too: its second thread spins during the refinement's small products and
            # takes a core from the next photo's detection (blas_threads.py has the figures).
            self._blas_threads = set_blas_threads(1)

    def on_worker_thread(self):
        """Run first on a thread that will call this pipeline's detector (lookahead.py). Torch's thread
        count is per thread under OpenMP: a new thread would run its ops (the second look's networks)
        on every core, competing with the model on the caller's thread (measured: 2 cores busy for
        the worker's convolutions after torch.set_num_threads(1) on the main thread)."""
        if getattr(self, "_threads", None):
            import torch

            torch.set_num_threads(1)

    def close(self):
        for detector in self._detectors:
            detector.close()
        if getattr(self, "_threads", None):
            import torch

            torch.set_num_threads(self._threads)
            self._threads = None
            if self._blas_threads is not None:
                from .blas_threads import set_blas_threads

                set_blas_threads(self._blas_threads)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __call__(self, image: np.ndarray, K: np.ndarray, hypotheses: int = 1, seed: int = 0,
                 temperature: float | None = None, locked: dict | None = None,
                 greedy_first: bool | None = None) -> list[HandResult]:
        """Hands in `image` (RGB uint8) seen by a camera `K`.

        hypotheses/seed/temperature/locked/greedy_first steer the generative model (temperature None:
        greedy for one hypothesis, 1 for more; greedy_first None: the model's default, the first
        hypothesis the greedy answer at any temperature; locked: per side, the token ids
        and the fingers to keep, as a previous HandResult reports them); the baselines give one
        hypothesis and ignore them.
        """
        return self.estimate(image, K, self.detect_frames([image])[0], hypotheses=hypotheses, seed=seed,
                             temperature=temperature, locked=locked, greedy_first=greedy_first)

    @property
    def detectors(self) -> tuple:
        """The detectors made so far (the first is `detector`; detect_frames makes more, up to
        detect_workers, when threads detect at once)."""
        with self._detectors_free:
            return tuple(self._detectors)

    @property
    def frame_batch(self) -> int:
        """How many frames the detector takes per call (1: MediaPipe's graph, a frame at a time)."""
        return getattr(self.detector, "batch", 1)

    def detect_frames(self, images: list[np.ndarray]) -> list[list]:
        """The detector's hands (keypoints.HandKeypoints) in each image; consecutive frames when tracking.

        Safe to call from detect_workers threads at once: each call takes a detector no other thread
        is using (a MediaPipe graph takes one image at a time), made on first need up to
        detect_workers of them; beyond that a call waits for one to be free."""
        t0 = time.perf_counter()
        detector = self._take_detector()
        try:
            if hasattr(detector, "detect_batch"):
                found = detector.detect_batch(images)
            else:
                found = [detector.detect(image) for image in images]
        finally:
            self._give_back_detector(detector)
        ms = (time.perf_counter() - t0) * 1000
        with self._detectors_free:
            self.timings["detect"] += ms
        return found

    def _take_detector(self):
        """An idle detector, a new one while fewer than detect_workers exist, else wait for one."""
        with self._detectors_free:
            while not self._idle_detectors and self._detector_slots >= self.detect_workers:
                self._detectors_free.wait()
            if self._idle_detectors:
                return self._idle_detectors.pop()
            self._detector_slots += 1  # taken now, the detector made outside the lock (it starts a graph)
        from .keypoints import KeypointDetector

        try:
            # photos only (tracking has one detector): static mode keeps nothing between images, so
            # which detector sees an image does not change what it finds
            detector = KeypointDetector(**self._detector_settings)
        except BaseException:
            with self._detectors_free:
                self._detector_slots -= 1
                self._detectors_free.notify()
            raise
        with self._detectors_free:
            self._detectors.append(detector)
        return detector

    def _give_back_detector(self, detector) -> None:
        with self._detectors_free:
            self._idle_detectors.append(detector)
            self._detectors_free.notify()

    def estimate(self, image: np.ndarray, K: np.ndarray, found: list, hypotheses: int = 1, seed: int = 0,
                 temperature: float | None = None, locked: dict | None = None,
                 greedy_first: bool | None = None) -> list[HandResult]:
        """The estimator on hands already detected in `image` (detect_frames); arguments as __call__'s."""
        results = []
        for det in found:
            hand = HandResult(side=det.side, score=float(det.score), keypoints_2d=det.keypoints_2d,
                              world_landmarks=det.world, box=tuple(det.box), found_by=det.found_by)
            if self.generative is not None:
                t0 = time.perf_counter()
                hyps = self.generative(det.keypoints_2d, det.confidence, K, det.side, det.world,
                                       hypotheses=hypotheses, seed=seed, temperature=temperature,
                                       locked=(locked or {}).get(det.side), steps=self.steps, refine=self.refine,
                                       image=image, greedy_first=greedy_first)
                self.timings["model"] += (time.perf_counter() - t0) * 1000
                best = hyps[0]
                hand.mano, hand.cam_t, hand.keypoints_3d = best.mano, best.cam_t, best.keypoints_3d
                hand.vertices = self.models[det.side].forward(
                    best.mano["global_orient"][None], best.mano["hand_pose"][None], best.mano["betas"][None],
                    best.cam_t[None]).vertices[0]
                hand.hypotheses = hyps
            elif self.fitter is not None:
                t0 = time.perf_counter()
                fit = self.fitter.fit(det.keypoints_2d, det.confidence, K, det.side, det.world)
                self.timings["fit"] += (time.perf_counter() - t0) * 1000
                mano = {"global_orient": fit.global_orient, "hand_pose": fit.hand_pose, "betas": fit.betas}
                hand.mano, hand.cam_t = mano, fit.cam_t
                hand.keypoints_3d, hand.vertices = fit.keypoints_3d, fit.vertices
                hand.hypotheses = [Hypothesis(score=-fit.reprojection_px, keypoints_3d=fit.keypoints_3d,
                                              mano=mano, cam_t=fit.cam_t)]
            results.append(hand)
        return results
