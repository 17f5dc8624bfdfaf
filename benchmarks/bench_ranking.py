"""How to pick one of N hypotheses (issue 13, part 4): ranking rules scored on the same hypotheses.

    .venv/bin/python benchmarks/bench_ranking.py [--sets fixtures,real,bench] [--bench DIR] [--cache dets.pkl]
        [--n 8] [--temperature 1] [--store hyps.pkl]

Each detected hand (bench_refine.py's detections and matching) gets predict's default answer (greedy,
refined) and N drawn, refined hypotheses (greedy_first off; temperature --temperature; predict's
ranking score kept); every rule below then picks one of the same candidates, so the rows differ only
by the rule:

- greedy: predict's default (hypotheses=1), not one of the N;
- score: predict's ranking (token log-probability - 100 x the 2D error to the detector / box);
- medoid: the candidate whose keypoints lie nearest the others' (mean Procrustes-aligned distance),
  i.e. the sample the others agree with;
- world: the candidate nearest the detector's world landmarks (aligned);
- "+greedy": the greedy answer is one of the candidates;
- mean keypoints: not a pose, a bound: greedy's and the pool's keypoints aligned onto greedy's and
  averaged (what an average of the hypotheses could reach);
- oracle: the best of greedy and the pool against the ground truth (what a perfect ranking reaches).

--store keeps the candidates (and reads them back when present), so rules can be compared without
decoding again.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent  # benchmarks/, for bench_refine
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from bench_refine import add_set_args, detect_all, load_sets, matched, pa_mm, stored  # noqa: E402

from maskhand.evaluation import metrics as M  # noqa: E402


def aligned_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance (m) of a's keypoints Procrustes-aligned onto b's, symmetrised."""
    return 0.5 * float(M.pa_errors(a, b).mean() + M.pa_errors(b, a).mean())


def medoid(kps: list[np.ndarray]) -> int:
    n = len(kps)
    if n == 1:
        return 0
    d = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            d[i, j] = d[j, i] = aligned_distance(kps[i], kps[j])
    return int(np.argmin(d.sum(1)))


def features(d, greedy, pool, s) -> dict:
    """Per candidate (greedy first, then the pool as ranked): its ground-truth error (mm) and what a
    rule may look at: predict's score, the mean aligned distance to the other candidates (mm), the aligned
    distance to the detector's world landmarks (mm)."""
    cands = [greedy] + list(pool)
    kps = [np.asarray(h.keypoints_3d) for h in cands]
    n = len(kps)
    dist = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            dist[i, j] = dist[j, i] = aligned_distance(kps[i], kps[j]) * 1000
    mean = np.mean([kps[0]] + [M.align(k, kps[0]) for k in kps[1:]], 0)
    return {"err": np.array([pa_mm(k, s) for k in kps]), "score": np.array([h.score for h in cands]),
            "agree": dist.sum(1) / (n - 1), "world": np.array([aligned_distance(k, d.world) * 1000 for k in kps]),
            "mean_err": pa_mm(mean, s)}


# rule: features -> index of the candidate it picks (0 = greedy)
RULES = {
    "greedy": lambda f: 0,
    "score": lambda f: 1 + int(np.argmax(f["score"][1:])),
    "score +greedy": lambda f: int(np.argmax(f["score"])),
    "medoid": lambda f: 1 + int(np.argmin(f["agree"][1:])),
    "medoid +greedy": lambda f: int(np.argmin(f["agree"])),
    "world +greedy": lambda f: int(np.argmin(f["world"])),
    "medoid+world +greedy": lambda f: int(np.argmin(f["agree"] + f["world"])),
}


def collect(args):
    """[(set name, sample, detection, greedy Hypothesis, [N Hypothesis])] for every detected hand."""
    from maskhand.inference.images import load_image
    from maskhand.inference.model.estimator import GenerativeEstimator

    sets = load_sets(args)
    found = detect_all(sets, args.cache)
    est = GenerativeEstimator(None)
    rows = []
    for name, samples in sets.items():
        for s, d in matched(samples, found):
            if d is None:
                continue
            image = load_image(s.image)
            greedy = est(d.keypoints_2d, d.confidence, s.K, d.side, d.world, image=image)[0]
            pool = est(d.keypoints_2d, d.confidence, s.K, d.side, d.world, image=image, hypotheses=args.n,
                       temperature=args.temperature, seed=args.seed, greedy_first=False)
            rows.append((name, s, d, greedy, pool))
        print(f"{name}: {sum(r[0] == name for r in rows)} hands decoded", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    add_set_args(ap, "fixtures,real,bench", vt=Path("/nonexistent"))
    ap.add_argument("--store", type=Path, default=None)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = stored(args.store, lambda: collect(args))
    sizes = sorted({len(r[4]) for r in rows})
    print(f"{len(rows)} hands, greedy + {sizes} candidates each, temperature {args.temperature}")
    table = [(name, s, features(d, g, pool, s)) for name, s, d, g, pool in rows]
    print("| set | hands | " + " | ".join(RULES) + " | mean keypoints | oracle |")
    print("|---|---:|" + "---:|" * (len(RULES) + 2))
    for name in dict.fromkeys(r[0] for r in rows):
        mine = [f for n, _, f in table if n == name]
        cells = [np.mean([f["err"][rule(f)] for f in mine]) for rule in RULES.values()]
        cells += [np.mean([f["mean_err"] for f in mine]), np.mean([f["err"].min() for f in mine])]
        print(f"| {name} | {len(mine)} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
