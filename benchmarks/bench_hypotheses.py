"""Are the model's hypotheses distinct where the input is ambiguous, and collapsed where it is not?

    .venv/bin/python benchmarks/bench_hypotheses.py [--hands 100] [--hypotheses 10]

Spread of a hand = mean over hypothesis pairs of the PA-aligned mean keypoint distance (mm), with
refinement off (the model's own distribution). Conditions, on poses the model never saw:
- clear: exact 2D keypoints and world landmarks;
- noisy: MediaPipe-like noise (training.synthetic_views);
- ambiguous: 2D only (no world landmarks: depth is unknown) and two fingers' keypoints hidden
  (confidence 0, placed on the wrist).
"""
from __future__ import annotations

import argparse
import itertools
import numpy as np
import torch

from maskhand.evaluation.metrics import pa_mpjpe_mm
from maskhand.handmodel import pose_library
from maskhand.inference.model.estimator import GenerativeEstimator
from maskhand.inference.torch_hand import TorchHand
from maskhand.training.synthetic_views import detector_noise, place_in_camera


def spread(hyps):
    return float(np.mean([pa_mpjpe_mm(a.keypoints_3d, b.keypoints_3d, allow_reflection=False) for a, b in itertools.combinations(hyps, 2)]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hands", type=int, default=100)
    ap.add_argument("--hypotheses", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(1)
    est = GenerativeEstimator()
    rng = np.random.default_rng(2024)
    g = torch.Generator().manual_seed(2024)
    hp, _ = pose_library.sample_poses(args.hands, rng)
    go = pose_library.sample_global_orient(args.hands, rng)
    hand = TorchHand(est.model)
    with torch.no_grad():
        kp, _ = hand(torch.as_tensor(go, dtype=torch.float32), torch.as_tensor(hp, dtype=torch.float32))
        cam, K = place_in_camera(kp - kp[:, :1], g)
        uv_n, conf_n, world_n = detector_noise(cam, K, g)
    cam, K = cam.double().numpy(), K.double().numpy()
    proj = np.einsum("bij,bnj->bni", K[:, :2, :2], cam[..., :2] / cam[..., 2:]) + K[:, None, :2, 2]
    rows = {"clear": [], "noisy": [], "ambiguous": []}
    errs = {k: [] for k in rows}
    for i in range(args.hands):
        hidden = rng.choice(5, 2, replace=False)
        conf_a = np.ones(21)
        uv_a = proj[i].copy()
        for f in hidden:
            idx = [1 + 4 * f + j for j in range(4)]
            conf_a[idx] = 0.0
            uv_a[idx] = uv_a[0]
        inputs = {"clear": (proj[i], np.ones(21), cam[i] - cam[i].mean(0)),
                  "noisy": (uv_n[i].double().numpy(), conf_n[i].double().numpy(), world_n[i].double().numpy()),
                  "ambiguous": (uv_a, conf_a, None)}
        for name, (uv, conf, world) in inputs.items():
            hyps = est(uv, conf, K[i], "right", world, hypotheses=args.hypotheses, seed=i, refine=False)
            rows[name].append(spread(hyps))
            errs[name].append(pa_mpjpe_mm(hyps[0].keypoints_3d, cam[i], allow_reflection=False))
    print(f"{args.hands} unseen poses, {args.hypotheses} hypotheses, T=5, temperature 1, no refinement")
    print("| input | spread mm (median) | spread mm (p90) | top-1 PA-MPJPE mm |\n|---|---:|---:|---:|")
    for name in rows:
        print(f"| {name} | {np.median(rows[name]):.1f} | {np.percentile(rows[name], 90):.1f} | "
              f"{np.mean(errs[name]):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
