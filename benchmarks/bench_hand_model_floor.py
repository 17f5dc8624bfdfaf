"""How close the hand model itself can come to annotated 3D joints: the floor under any estimator's
PA-MPJPE that poses this model (issue 13).

    .venv/bin/python benchmarks/bench_hand_model_floor.py [GT ...] [--restarts 4] [--steps 600]

Each annotated hand is fitted directly to its own ground-truth joints (pose, global rotation and a
scale; once with the mean shape, once with the shape parameters free), from several random global
rotations, and the best fit's PA-MPJPE over the valid joints is its floor. On real hands this is
where the open hand's skeleton (joint centres, bone proportions) differs from how annotators place
joints; on the project's renders it should be near zero (the renders are of this hand).
Default GT: ../shared/data/mmpose_samples/gt3d_freihand_format.json (InterHand2.6M + RHD) and the
committed rendered fixtures.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO.parent))

from maskhand.evaluation import metrics as M  # noqa: E402
from maskhand.evaluation.datasets import load_dataset  # noqa: E402
from maskhand.handmodel.registry import load_hand_model  # noqa: E402
from maskhand.inference.torch_hand import TorchHand  # noqa: E402

DEFAULT_GT = (REPO.parent / "shared/data/mmpose_samples/gt3d_freihand_format.json",
              REPO / "tests/fixtures/hands")


def fit_floor(hand: TorchHand, xyz: np.ndarray, valid: np.ndarray, free_shape: bool, restarts: int,
              steps: int) -> float:
    """The lowest PA-MPJPE (mm, valid joints) of `hand` fitted to `xyz` from `restarts` starts."""
    gt = torch.tensor(xyz - xyz[:1])
    w = torch.tensor(valid, dtype=torch.float64)[:, None]
    best = np.inf
    for trial in range(restarts):
        go = torch.tensor(np.random.default_rng(trial).normal(0, 1.5, (1, 3)), requires_grad=True)
        hp = torch.zeros(1, 45, dtype=torch.float64, requires_grad=True)
        betas = torch.zeros(1, 10, dtype=torch.float64, requires_grad=free_shape)
        opt = torch.optim.Adam([go, hp] + ([betas] if free_shape else []), lr=0.05)
        for _ in range(steps):
            kp, _ = hand(go, hp, betas)
            kp = kp[0] - kp[0, :1]
            scale = (w * kp * gt).sum() / (w * kp * kp).sum()
            loss = (w * (scale * kp - gt) ** 2).sum() / w.sum() + 1e-6 * (betas ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        kp = kp.detach().numpy()
        best = min(best, M.pa_mpjpe_mm(kp[valid], xyz[valid]))
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gt", nargs="*", type=Path, help="evaluation sets (default: the real gt3d file and the fixtures)")
    ap.add_argument("--restarts", type=int, default=4)
    ap.add_argument("--steps", type=int, default=600)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("| set | hands | floor, mean shape: mean (min-max) mm | floor, shape fitted: mean (min-max) mm |")
    print("|---|---:|---:|---:|")
    for path in args.gt or [p for p in DEFAULT_GT if p.exists()]:
        samples = load_dataset(path)
        rows = {}
        for free in (False, True):
            rows[free] = [fit_floor(TorchHand(load_hand_model(s.side), dtype=torch.float64), s.xyz,
                                    np.ones(21, bool) if s.valid is None else s.valid, free, args.restarts, args.steps)
                          for s in samples]
        cells = [f"{np.mean(v):.2f} ({min(v):.2f}-{max(v):.2f})" for v in (rows[False], rows[True])]
        print(f"| {path.name} | {len(samples)} | {cells[0]} | {cells[1]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
