"""Which side is each hand, and what a wrong side costs (issue 13): the detector's side against the
ground truth, the landmark network's handedness on the model's own crop, and the model run with each
side on the same detections.

    .venv/bin/python benchmarks/bench_side.py [--sets fixtures,real,bench] [--bench DIR] [--cache dets.pkl]
        [--store side.pkl]

Why: MediaPipe's world landmarks do not depend on the side it names (the landmark network gives
them whatever its handedness head says), but the model's answer does: a left hand is mirrored into
a right one before the model sees it, so a hand given the wrong side comes back as the mirror image
of a hand, which no rotation aligns with the truth. Per detected hand (bench_refine.py's detections
and matching) this prints and stores: the detector's side and score, the handedness the landmark
network gives on the model's context crop (the crop predict cuts anyway, in the model's view: a
left hand's crop flipped, so a right-looking crop means the side was right), and PA-MPJPE of the
model's default answer given the detector's side and given the other one, beside MediaPipe's world
landmarks.
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

OTHER = {"left": "right", "right": "left"}


@torch.no_grad()
def crop_handedness(net, image, d, K, side: str) -> float:
    """The landmark network's handedness (> 0.5: a right hand) on the model's context crop of detection
    d taken as a `side` hand (a left hand's crop is the mirrored one)."""
    from maskhand.inference.mediapipe_torch import run_landmarks
    from maskhand.inference.model.context import mirror_view
    from maskhand.inference.model.image_context import view_crop, view_rect

    uv = torch.as_tensor(np.asarray(d.keypoints_2d, np.float64))[None]
    mirrored = side == "left"
    if mirrored:
        uv, _ = mirror_view(uv, torch.as_tensor(K)[None], None)
    rect = view_rect(uv[0].numpy())
    out = run_landmarks(net, view_crop(image, rect, mirrored, float(K[0, 2]))[None])
    return float(out.handedness[0])


def collect(args):
    from maskhand.inference.images import load_image
    from maskhand.inference.mediapipe_torch import load_landmark_net
    from maskhand.inference.model.estimator import GenerativeEstimator

    sets = load_sets(args)
    found = detect_all(sets, args.cache)
    est = GenerativeEstimator(None)
    net = load_landmark_net("cpu")
    rows = []
    for name, samples in sets.items():
        for s, d in matched(samples, found):
            if d is None:
                continue
            image = load_image(s.image)
            row = {"set": name, "image": str(s.image), "gt": s.side, "side": d.side, "score": float(d.score),
                   "found_by": d.found_by, "mediapipe": pa_mm(d.world, s)}
            for side in ("left", "right"):
                hyp = est(d.keypoints_2d, d.confidence, s.K, side, d.world, image=image)[0]
                row[f"model_{side}"] = pa_mm(hyp.keypoints_3d, s)
                row[f"model_{side}_score"] = float(hyp.score)
                # handedness on the view crop of this side: > 0.5 = the crop looks like a right hand
                row[f"crop_{side}"] = crop_handedness(net, image, d, s.K, side)
            rows.append(row)
        print(f"{name}: {sum(r['set'] == name for r in rows)} hands", flush=True)
    return rows


def report(rows):
    for name in sorted({r["set"] for r in rows}):
        rs = [r for r in rows if r["set"] == name]
        wrong = [r for r in rs if r["side"] != r["gt"]]
        print(f"\n{name}: {len(rs)} hands, detector's side wrong on {len(wrong)}")
        for r in wrong:
            print(f"  {Path(r['image']).name} gt {r['gt']} said {r['side']} score {r['score']:.2f} by {r['found_by']}: "
                  f"model {r['model_' + r['side']]:.1f} (other side {r['model_' + r['gt']]:.1f}) mediapipe "
                  f"{r['mediapipe']:.1f}; crop right-ness as said {r['crop_' + r['side']]:.2f}")
        rules = {
            "detector": lambda r: r["side"],
            "truth (bound)": lambda r: r["gt"],
            "crop as said": lambda r: r["side"] if (r["crop_" + r["side"]] > 0.5) else OTHER[r["side"]],
            "crop both views": lambda r: "right" if r["crop_right"] + (1 - r["crop_left"]) > 1.0 else "left",
            "model score": lambda r: "right" if r["model_right_score"] > r["model_left_score"] else "left",
        }
        for label, rule in rules.items():
            sides = [rule(r) for r in rs]
            err = np.mean([r["model_" + sd] for r, sd in zip(rs, sides)])
            ok = sum(sd == r["gt"] for r, sd in zip(rs, sides))
            print(f"  {label:18s} side right {ok}/{len(rs)}  model PA-MPJPE {err:.2f} mm")
        print(f"  MediaPipe world   {np.mean([r['mediapipe'] for r in rs]):.2f} mm")


def main() -> int:
    ap = argparse.ArgumentParser()
    add_set_args(ap, "fixtures,real,bench", vt=Path("/nonexistent"))
    ap.add_argument("--store", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = stored(args.store, lambda: collect(args))
    report(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
