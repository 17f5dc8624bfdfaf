"""Track hands through a clip: every frame estimated, one Take out (one hand, one side, one track).

The Take and its builder live in inference/take.py (numpy only), so Blender's process builds the
same Take from the backend's progress events. Temporal consistency, in order: MediaPipe's video mode
(hands followed from frame to frame); every frame sampled with the same seed (hypotheses do not
flicker from a changing random stream); TakeBuilder.build over the whole take (identities settled,
the path through VIDEO_HYPOTHESES hypotheses per frame); the model's in-betweens for short gaps
(inference.inbetween, into Take.prior_fills, with fill_gaps); Take.smoothed's zero-phase smoother when keyed.
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from contextlib import closing

import numpy as np

from ..errors import MaskHandError
from .camera import default_intrinsics
from .lookahead import prepared_ahead
from .take import VIDEO_HYPOTHESES, HandTrack, Take, TakeBuilder  # noqa: F401 (HandTrack, Take: what track() gives)

TRACK_ESTIMATORS = ("auto", "model", "fitted")
# Hypotheses per hand and frame for video: the path through them (rigmath.take_paths) needs a choice;
# 3 cost 1.8x the time of 1 on a CPU (628 vs 341 ms/frame, tests/fixtures/hand_clip.mp4, one thread).


def track(source, frame_range=None, estimator: str = "auto", hypotheses: int = VIDEO_HYPOTHESES, seed: int = 0,
          temperature: float | None = None, locked: dict | None = None, greedy_first: bool = False,
          max_hands: int = 2, K=None,
          on_frame: Callable[[int, int | None, int, list[dict]], None] | None = None,
          should_stop: Callable[[], bool] | None = None, mano_dir=None, pipeline=None,
          fill_gaps: bool = False, frame_detector: str = "auto") -> Take:
    """Estimate the hands in every frame of `source` (a movie, image folder, pattern, list or one image).

    Args:
        frame_range: (first, last) source frame indices, inclusive, None for open ends (inference.frames).
        estimator: "auto" (the generative model when its weights exist, else "fitted"), "model", "fitted".
        hypotheses, seed, temperature, locked, greedy_first: passed to the generative model for every
            frame (temperature None: greedy for one hypothesis, 1 for more; greedy_first off by
            default: at a temperature every hypothesis is drawn, as before it existed; on the three
            rendered clips the greedy answer among 3 moved PA-MPJPE by +0.1 mm on average,
            docs/BENCHMARKS.md; all are
            kept in the take, the path through them picked by TakeBuilder.build; locked as Pipeline takes it).
        K: (3, 3) intrinsics for every frame; None: default_intrinsics of each frame's size.
        on_frame: called after each frame as on_frame(done, total, index, hands): done frames so far
            (1-based), total frames in range (None when a movie does not say), index the source frame,
            hands the kept ones as HandResult.to_json() dicts (<= 1 per side, take.best_per_side; a
            kept hand carries the same side's other detections under "others").
        should_stop: checked before each frame; True ends the take early, keeping the frames done.
            The next frames are read and detected while the model works on the current one
            (lookahead.py), so the detector may have seen one frame (or batch) past the last kept.
        pipeline: an open Pipeline(tracking=True) to reuse (its detector is reset; not closed here).
        frame_detector: as Pipeline takes it ("auto": MediaPipe's video mode on a CPU, its networks in
            torch over batches of frames on CUDA/MPS); ignored when a pipeline is given.
        fill_gaps: with the generative model, fill short gaps with its in-betweens (Take.prior_fills);
            off by default: on tests/fixtures/hand_clip.mp4 with frames 4-6 cut, the in-betweens were
            6.1-7.5 mm PA-MPJPE against 4.0-5.0 mm for the spline Take.smoothed falls back to.
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
            pipeline = Pipeline(estimator=estimator, max_hands=max_hands, tracking=True, mano_dir=mano_dir,
                                frame_detector=frame_detector)
        except BaseException:
            frames.close()  # the clip must not stay open when the models cannot load
            raise
    else:
        pipeline.detector.reset()
    before = dict(pipeline.timings)
    builder = TakeBuilder(str(source), frames.fps)
    size, first_K, cancelled, read_ms = None, None, False, 0.0
    try:
        with frames:
            total = frames.count or None
            it = iter(frames)

            def read_and_detect(_):
                """On the worker thread (lookahead.py): the next frames (a batch for a batched detector,
                frame_batches.py, else one) and the detector's hands in each."""
                t0 = time.perf_counter()
                chunk = list(itertools.islice(it, pipeline.frame_batch))
                ms = (time.perf_counter() - t0) * 1000
                return chunk, pipeline.detect_frames([img for _, img in chunk]) if chunk else [], ms

            with closing(prepared_ahead(itertools.repeat(None), read_and_detect, pipeline.on_worker_thread)) as ahead:
                for _, prepared in ahead:
                    if should_stop is not None and should_stop():
                        cancelled = True
                        break
                    chunk, detections, ms = prepared.result()
                    read_ms += ms
                    if not chunk:
                        break
                    for (index, image), found in zip(chunk, detections):
                        if len(chunk) > 1 and should_stop is not None and should_stop():
                            cancelled = True
                            break
                        h, w = image.shape[:2]
                        frame_K = default_intrinsics(w, h) if K is None else np.asarray(K, np.float64)
                        if size is None:
                            size, first_K = (w, h), frame_K
                        hands = pipeline.estimate(image, frame_K, found, hypotheses=hypotheses, seed=seed,
                                                  temperature=temperature, locked=locked,
                                                  greedy_first=greedy_first)
                        kept = builder.add(index, [hand.to_json() for hand in hands])
                        if on_frame is not None:
                            on_frame(len(builder.frames), total, int(index), kept)
                    if cancelled:
                        break
        if not builder.frames and not cancelled:
            raise MaskHandError(f"{source} gave no frames to track")
        timings = {k: v - before.get(k, 0.0) for k, v in pipeline.timings.items()}
        timings["read"] = read_ms
        take = builder.build(image_size=size or (0, 0), K=first_K, estimator=pipeline.estimator,
                             seconds=0.0, timings=timings, cancelled=cancelled)
        if fill_gaps and pipeline.generative is not None and take.hands:
            from .inbetween import prior_fills

            t0 = time.perf_counter()
            take.prior_fills = prior_fills(take, pipeline.generative)
            take.timings["inbetween"] = (time.perf_counter() - t0) * 1000
    finally:
        if own:
            pipeline.close()
    take.seconds = time.perf_counter() - start
    return take
