"""Hands found: MediaPipe's static mode against MaskHand's detector with its second look (issue 13, part 5).

    .venv/bin/python benchmarks/bench_detection.py [--bench DIR] [--real GT3D.json] [--thresholds 0.5,0.3]
        [--retries default,0.3/99]

Per set and configuration: annotated hands found (matched to the ground truth's 2D keypoints by
evaluation.matching, as the harness does), false positives (detections matched to no annotated hand;
in the no-hand set every detection is one), images where MediaPipe found nothing and the retry
found a hand, which retry views found them, and ms per image (median and mean: retries only run on misses, so the mean carries their cost).
Configurations: "mediapipe@T" = KeypointDetector(min_detection_confidence=T, retry=False), MediaPipe
Hands alone; "retry@T" = the same plus the retry views (inference/hand_search.py); "palm P, crops C":
the retries' palm threshold and their landmark passes per try ("default" = KeypointDetector's).

Sets (each used where present): fixtures = tests/fixtures/hands (8 renders); none = the no-hand
fixture plus 8 hand-free pictures drawn here (noise, gradients, a skin-coloured disc);
bench = a tools/render_dataset.py folder (e.g. the seed-1 benchmark renders);
real = ../shared/data/mmpose_samples/gt3d_freihand_format.json (InterHand2.6M + RHD);
photos = the real photos of tools/image_sets.py without 3D ground truth (counted, not matched).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO.parent))

from maskhand.evaluation import metrics as M  # noqa: E402
from maskhand.evaluation.datasets import load_dataset  # noqa: E402
from maskhand.evaluation.matching import match_hands  # noqa: E402


def hand_free_pictures() -> list[np.ndarray]:
    """Pictures without a hand: the no-hand fixture and drawn ones."""
    import cv2

    from maskhand.inference.images import load_image

    rng = np.random.default_rng(0)
    out = [load_image(REPO / "tests/fixtures/hands_none/evaluation/rgb/00000000.jpg")]
    for size in ((256, 256), (480, 640)):
        out.append(rng.integers(0, 256, (*size, 3), dtype=np.uint8))  # noise
        ramp = np.linspace(0, 255, size[1], dtype=np.uint8)[None, :, None]
        out.append(np.ascontiguousarray(np.broadcast_to(ramp, (*size, 3))))  # gradient
        skin = np.full((*size, 3), 40, np.uint8)
        cv2.circle(skin, (size[1] // 2, size[0] // 2), min(size) // 4, (224, 172, 140), -1)
        out.append(skin)
        out.append(np.full((*size, 3), 200, np.uint8))
    return out


def load_sets(args) -> dict[str, list]:
    """{set: [(image, [ground-truth 2D (21, 2)], [sides]) | (image, None, None)]}."""
    from itertools import groupby

    from maskhand.inference.images import load_image
    from maskhand.tools.image_sets import REAL, read_rgb

    sets = {}

    def annotated(samples):
        rows = []
        for _, group in groupby(sorted(samples, key=lambda s: s.image_id), key=lambda s: s.image_id):
            group = list(group)
            rows.append((load_image(group[0].image), [M.project(s.xyz, s.K) for s in group], [s.side for s in group]))
        return rows

    sets["fixtures"] = annotated(load_dataset(REPO / "tests/fixtures/hands", split="evaluation"))
    sets["none"] = [(img, [], []) for img in hand_free_pictures()]
    if args.bench and Path(args.bench).is_dir():
        sets["bench"] = annotated(load_dataset(Path(args.bench), split="evaluation"))
    if args.real.is_file():
        sets["real"] = annotated(load_dataset(args.real))
    folders = ("handmesh_crops", "mmpose_samples/freihand", "mmpose_samples/onehand10k", "mmpose_samples/panoptic",
               "photos/hamer_example_data", "photos/wilor_demo_img")
    photos = [p for f in folders for p in sorted((REAL / f).glob("*")) if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    if photos:
        sets["photos"] = [(read_rgb(p), None, None) for p in photos]
    return sets


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", default=None, help="a tools/render_dataset.py folder with an evaluation split")
    ap.add_argument("--real", type=Path, default=REPO.parent / "shared/data/mmpose_samples/gt3d_freihand_format.json")
    ap.add_argument("--thresholds", default="0.5,0.3", help="min_detection_confidence values to compare")
    ap.add_argument("--retries", default="default",
                    help="retry settings to compare: 'default' or PALM/CROPS (e.g. 0.3/99), comma-separated")
    args = ap.parse_args()
    import torch

    from maskhand.inference.keypoints import KeypointDetector

    torch.set_num_threads(1)
    sets = load_sets(args)
    print("| set | images | annotated hands | configuration | found | false positives | images rescued | "
          "rescuing views | ms/image: median / mean |")
    print("|---|---:|---:|---|---:|---:|---:|---|---:|")
    retries = [None if r == "default" else tuple(float(v) for v in r.split("/")) for r in args.retries.split(",")]
    for threshold in (float(t) for t in args.thresholds.split(",")):
        for retry in [False] + retries:
            name = f"mediapipe@{threshold:g}" if retry is False else f"retry@{threshold:g}"
            palm = None if not retry else retry[0]
            if retry:
                name += f", palm {retry[0]:g}, crops {retry[1]:g}"
            with KeypointDetector(max_hands=2, min_detection_confidence=threshold, retry=retry is not False,
                                  retry_palm_score=palm) as det:
                det.detect(sets["fixtures"][0][0])  # start-up outside the timing
                if retry is not False:
                    det._retried(sets["fixtures"][0][0], *sets["fixtures"][0][0].shape[1::-1])  # load the nets
                    if retry:
                        det._search.max_crops = int(retry[1])
                for set_name, rows in sets.items():
                    found = false_pos = rescued = 0
                    views, ms = Counter(), []
                    for image, gt, sides in rows:
                        t0 = time.perf_counter()
                        hands = det.detect(image)
                        ms.append((time.perf_counter() - t0) * 1000)
                        if hands and all(h.found_by != "mediapipe" for h in hands):
                            rescued += 1
                            views.update(h.found_by for h in hands)
                        if gt is None:
                            found += len(hands)
                            continue
                        matched = match_hands(gt, sides, [h.keypoints_2d for h in hands], [h.side for h in hands])
                        found += sum(m is not None for m in matched)
                        false_pos += len(hands) - sum(m is not None for m in matched)
                    annotated = "-" if rows[0][1] is None else sum(len(r[1]) for r in rows)
                    print(f"| {set_name} | {len(rows)} | {annotated} | {name} | {found} | "
                          f"{'-' if rows[0][1] is None else false_pos} | {rescued} | "
                          f"{', '.join(f'{v} {n}' for v, n in views.most_common()) or '-'} | "
                          f"{statistics.median(ms):.1f} / {statistics.mean(ms):.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
