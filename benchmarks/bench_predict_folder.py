"""`predict` over a folder of photos against MediaPipe alone over the same photos: wall time per
photo, the way a user runs it on a folder (issue 13's speed bar), with no photo detected ahead, one,
and two at once (inference/lookahead.py; two is predict's default on 2+ cores).

    .venv/bin/python benchmarks/bench_predict_folder.py [--rounds 5]

Sets as bench_predict_speed.py's (the renders: samples/hand_photo.jpg + the 8 fixtures; the real
photos of ../shared/data where present). One warm Pipeline with predict's defaults (model, 1
hypothesis, palm score 0.3, the second look) and one MediaPipe detector (static mode at the same
palm score, no second look: MediaPipe as it ships). Each round times, on the whole set, in turn:
MediaPipe alone (read + detect each photo); predict's work one photo at a time (read, then
Pipeline.__call__: how predict ran before lookahead.py); predict's own loop with one worker
(inference.predict.estimate_images(workers=1): the next photo read and detected on a worker thread);
the same loop with its default, pipe.detect_workers (two photos read and detected at once, each on
a MediaPipe graph of its own). Printed:
the median over rounds of each one's mean ms per photo, and the ratios to MediaPipe alone. Means,
not medians over photos, so photos where MediaPipe finds no hand (and predict takes its second
look) count at their full cost. Torch on one thread, as predict runs.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

from bench_predict_speed import default_sets


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    from maskhand.inference.camera import default_intrinsics
    from maskhand.inference.images import load_image
    from maskhand.inference.keypoints import KeypointDetector
    from maskhand.inference.pipeline import PHOTO_DETECTION_CONFIDENCE, Pipeline
    from maskhand.inference.predict import estimate_images

    print(f"load average {os.getloadavg()[0]:.2f} at start")
    with Pipeline() as pipe, KeypointDetector(max_hands=2, min_detection_confidence=PHOTO_DETECTION_CONFIDENCE,
                                              retry=False) as det:
        print("| set | photos | hands: MediaPipe / predict | MediaPipe alone ms/photo | one at a time ms/photo (ratio) "
              f"| one photo ahead ms/photo (ratio) | predict's default, {pipe.detect_workers} ahead: ms/photo (ratio) |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, paths in default_sets().items():
            estimate_images(pipe, paths[:2])  # warm-up
            times = {"mediapipe": [], "plain": [], "ahead": [], "default": []}
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                found = sum(len(det.detect(load_image(p))) for p in paths)
                times["mediapipe"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                for p in paths:
                    image = load_image(p)
                    pipe(image, default_intrinsics(image.shape[1], image.shape[0]))
                times["plain"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                ahead, _ = estimate_images(pipe, paths, workers=1)
                times["ahead"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                entries, _ = estimate_images(pipe, paths)
                times["default"].append(time.perf_counter() - t0)
                assert [len(e["hands"]) for e in entries] == [len(e["hands"]) for e in ahead]
            ms = {k: statistics.median(v) * 1000 / len(paths) for k, v in times.items()}
            a = ms["mediapipe"]
            hands = sum(len(e["hands"]) for e in entries)
            print(f"| {name} | {len(paths)} | {found} / {hands} | {a:.1f} | {ms['plain']:.1f} ({ms['plain'] / a:.2f}x) "
                  f"| {ms['ahead']:.1f} ({ms['ahead'] / a:.2f}x) | {ms['default']:.1f} ({ms['default'] / a:.2f}x) |", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
