"""Per-hand latency of the generative model (T=1 and T=5 decoding steps, with and without the 2D
refinement) against MediaPipe's own detection time, on the same images in one run.

    .venv/bin/python benchmarks/bench_model_speed.py [IMAGES...] [--hypotheses 1] [--repeat 3]

Default images: the committed rendered fixtures. Prints a Markdown table (median ms per hand).
On a GPU (when one is present) it also measures decoding throughput at batch 64.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from maskhand.inference.camera import default_intrinsics
from maskhand.inference.images import load_image
from maskhand.inference.keypoints import KeypointDetector
from maskhand.inference.model.context import context_features
from maskhand.inference.model.estimator import GenerativeEstimator
from maskhand.inference.model.sampling import decode

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("images", nargs="*", type=Path)
    ap.add_argument("--hypotheses", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    paths = args.images or sorted((REPO / "tests/fixtures/hands/evaluation/rgb").glob("*.jpg"))
    est = GenerativeEstimator()
    times = {"mediapipe": []}
    hands = []
    with KeypointDetector(max_hands=2) as det:
        for p in paths:
            img = load_image(p)
            K = default_intrinsics(img.shape[1], img.shape[0])
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                found = det.detect(img)
                times["mediapipe"].append((time.perf_counter() - t0) * 1000)
            hands += [(h, K) for h in found]
    configs = [("model T=1, no refinement", 1, False), ("model T=5, no refinement", 5, False),
               ("model T=1 + refinement", 1, True), ("model T=5 + refinement", 5, True)]
    for name, steps, refine in configs:
        times[name] = []
        for h, K in hands:
            for r in range(args.repeat):
                t0 = time.perf_counter()
                est(h.keypoints_2d, h.confidence, K, h.side, h.world, hypotheses=args.hypotheses, seed=r,
                    steps=steps, refine=refine)
                times[name].append((time.perf_counter() - t0) * 1000)
    print(f"{len(paths)} images, {len(hands)} hands, {args.hypotheses} hypothesis/es, {args.repeat} repeats, "
          f"torch threads {torch.get_num_threads()}")
    print("| stage | median ms per hand | p90 ms |\n|---|---:|---:|")
    for name, v in times.items():
        print(f"| {name} | {statistics.median(v):.1f} | {np.percentile(v, 90):.1f} |")
    if torch.cuda.is_available():
        net = est.net.to("cuda")
        h, K = hands[0]
        uv = torch.as_tensor(h.keypoints_2d, dtype=torch.float32)[None].cuda()
        conf = torch.as_tensor(h.confidence, dtype=torch.float32)[None].cuda()
        Kt = torch.as_tensor(K, dtype=torch.float32)[None].cuda()
        kp, gl = context_features(uv, conf, Kt, None)
        decode(net, kp, gl, hypotheses=64)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(10):
            decode(net, kp, gl, hypotheses=64)
        torch.cuda.synchronize()
        print(f"GPU decoding throughput at batch 64, T=5: {640 / (time.perf_counter() - t0):.0f} hypotheses/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
