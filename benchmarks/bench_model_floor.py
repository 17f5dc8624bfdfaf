"""How close the hand model itself can come to annotated hands: the error floor under any estimator.

    .venv/bin/python benchmarks/bench_model_floor.py [--real GT3D.json] [--bench DIR] [--bench-limit 80]
        [--mano FOLDER_OR_PKL]

Each ground-truth hand is fitted with the fitted baseline's energy (inference.fit.Fitter) given its own
true keypoints: the projected 2D keypoints with confidence 1 and the true 3D keypoints as the world
landmarks, weighted 100x the default, with more steps, and without the joint limits. What is left
after that (PA-MPJPE, mm) is what the model's skeleton and shape space cannot express: a different
joint convention of the annotation (where a dataset puts the wrist or the thumb's base) or
proportions outside the shape space. An estimator that outputs this model's keypoints scores no
better than this floor on that data.

Prints per set: hands, the floor's PA-MPJPE, hands left above 5 mm and the worst keypoints; for the
shape coefficients frozen at 0, and for the fitted baseline's own energy with its joint limits on
(given perfect inputs: what its optimiser reaches; above the floor where it stops in a local minimum).
Sets: fixtures (tests/fixtures/hands, 8 renders), real (../shared/data/mmpose_samples
gt3d_freihand_format.json: InterHand2.6M photos + RHD renders of other hand models), bench (a
tools/render_dataset.py folder).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO.parent))

from maskhand.evaluation import metrics as M  # noqa: E402
from maskhand.evaluation.datasets import load_dataset  # noqa: E402
from maskhand.inference.fit import FitConfig, Fitter  # noqa: E402

NAMES = "W T1 T2 T3 T4 I1 I2 I3 I4 M1 M2 M3 M4 R1 R2 R3 R4 L1 L2 L3 L4".split()


def floor(fitter: Fitter, samples) -> np.ndarray:
    """(hands, 21) PA errors in mm of the best fit of each hand to its own ground truth."""
    out = []
    for s in samples:
        fit = fitter.fit(M.project(s.xyz, s.K), np.ones(21), s.K, s.side, s.xyz - s.xyz[:1])
        out.append(M.pa_errors(fit.keypoints_3d, s.xyz) * 1000)
    return np.stack(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", type=Path, default=REPO.parent / "shared/data/mmpose_samples/gt3d_freihand_format.json")
    ap.add_argument("--bench", type=Path, default=None)
    ap.add_argument("--bench-limit", type=int, default=80)
    ap.add_argument("--mano", default=None, help="a folder or MANO_RIGHT.pkl: real MANO instead of the open hand")
    args = ap.parse_args()
    from maskhand.handmodel.registry import load_hand_model

    model = load_hand_model("right", args.mano)
    sets = {"fixtures": load_dataset(REPO / "tests/fixtures/hands")}
    if args.real.is_file():
        sets["real"] = load_dataset(args.real)
    if args.bench and args.bench.exists():
        sets["bench"] = load_dataset(args.bench, limit=args.bench_limit)
    print(f"hand model: {args.mano or 'the open hand'}")
    print("| set | fit | hands | floor PA-MPJPE mm | hands over 5 mm | worst keypoints (mm) |")
    print("|---|---|---:|---:|---:|---|")
    fits = {"pose + shape": FitConfig(w_world=5.0, w_limits=0.0, steps_articulation=300, steps_joint=400),
            "pose only": FitConfig(w_world=5.0, w_limits=0.0, steps_articulation=300, steps_joint=400,
                                   fit_betas=False),
            "pose + shape, joint limits on": FitConfig(w_world=5.0, steps_articulation=300, steps_joint=400)}
    for label, config in fits.items():
        fitter = Fitter(model, config)
        for name, samples in sets.items():
            err = floor(fitter, samples)
            per, hands = err.mean(0), err.mean(1)
            worst = ", ".join(f"{NAMES[j]} {per[j]:.1f}" for j in np.argsort(-per)[:4])
            print(f"| {name} | {label} | {len(err)} | {per.mean():.2f} | {(hands > 5).sum()} | {worst} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
