"""Per-hand latency of the generative model (T=1 and T=5 decoding steps, with and without the 2D
refinement, with the hand's image as predict passes it) against MediaPipe's own detection time, on the
same images in one run; the image context (crop + landmark network) is also timed alone.

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


def throughput(est: GenerativeEstimator, hand, device: str = "cuda", batch: int = 64, steps: int = 5,
               repeat: int = 10) -> str:
    """Hands per second on `device` at `batch` hands per call, T=`steps` decoding: the landmark network on
    `batch` crops, then one decoding call over `batch` rows (decode's hypotheses of one hand's keypoint
    context: the cost does not depend on which hands the rows are). Refinement is CPU work, left out."""
    from maskhand.inference.mediapipe_torch import crops_to_tensor, load_landmark_net
    from maskhand.inference.model.image_context import view_crop, view_rect

    h, K, img = hand
    net = est.net.to(device).eval()
    uv = torch.as_tensor(h.keypoints_2d, dtype=torch.float32)[None].to(device)
    conf = torch.as_tensor(h.confidence, dtype=torch.float32)[None].to(device)
    Kt = torch.as_tensor(K, dtype=torch.float32)[None].to(device)
    kp, gl = context_features(uv, conf, Kt, None)
    image = lm = crops = None
    if est.uses_image:
        lm = load_landmark_net(device)
        crop = view_crop(img, view_rect(np.asarray(h.keypoints_2d, np.float64)), False, float(K[0, 2]))
        crops = crops_to_tensor(np.repeat(crop[None], batch, 0), device)
        image = est.image_context(img, np.asarray(h.keypoints_2d, np.float64), False, K)[0].to(device)

    def once():
        with torch.no_grad():
            ctx = image
            if lm is not None:
                feats = lm(crops).features
                ctx = type(image)(feats, image.kp_crop, image.crop_glob, image.present)
            decode(net, kp, gl, hypotheses=batch, steps=steps, temperature=1.0, image=ctx)

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    once()
    sync()
    t0 = time.perf_counter()
    for _ in range(repeat):
        once()
    sync()
    rate = batch * repeat / (time.perf_counter() - t0)
    name = torch.cuda.get_device_name() if device == "cuda" else device
    return (f"{name}: {rate:.0f} hands/s at batch {batch}, T={steps} "
            f"(landmark network + decoding, no refinement)")


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
            hands += [(h, K, img) for h in found]
    times["image context (crop + landmark network)"] = []
    if est.uses_image:
        from maskhand.inference.model.context import mirror_view

        for h, K, img in hands:
            uv = torch.as_tensor(np.asarray(h.keypoints_2d, np.float64))[None]
            if h.side == "left":
                uv, _ = mirror_view(uv, torch.as_tensor(K)[None], None)
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                est.image_context(img, uv[0].numpy(), h.side == "left", K)
                times["image context (crop + landmark network)"].append((time.perf_counter() - t0) * 1000)
    configs = [("model T=1, no refinement", 1, False), ("model T=5, no refinement", 5, False),
               ("model T=1 + refinement", 1, True), ("model T=5 + refinement", 5, True)]
    for name, steps, refine in configs:
        times[name] = []
        for h, K, img in hands:
            for r in range(args.repeat):
                t0 = time.perf_counter()
                est(h.keypoints_2d, h.confidence, K, h.side, h.world, hypotheses=args.hypotheses, seed=r,
                    steps=steps, refine=refine, image=img)
                times[name].append((time.perf_counter() - t0) * 1000)
    print(f"{len(paths)} images, {len(hands)} hands, {args.hypotheses} hypothesis/es, {args.repeat} repeats, "
          f"torch threads {torch.get_num_threads()}")
    print("| stage | median ms per hand | p90 ms |\n|---|---:|---:|")
    for name, v in times.items():
        if not v:
            continue
        print(f"| {name} | {statistics.median(v):.1f} | {np.percentile(v, 90):.1f} |")
    if torch.cuda.is_available():
        print(throughput(est, hands[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
