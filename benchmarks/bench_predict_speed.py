"""`predict`'s marginal cost per photo against MediaPipe alone, same images, same process (issue 13).

    .venv/bin/python benchmarks/bench_predict_speed.py [IMAGES or FOLDERS...] [--repeat 5] [--hypotheses 1]

Default images: samples/hand_photo.jpg, the 8 rendered fixtures and, where present, the real photos of
../shared/data (handmesh crops, HaMeR/WiLoR demo photos, mmpose FreiHAND/OneHand10K/InterHand2.6M).
One warm Pipeline with predict's defaults (estimator auto, default K) and one MediaPipe detector
(static mode at predict's palm score, without the second look: MediaPipe as it ships) take turns on
each image, `--repeat` times (after one untimed warm-up call each), so load from other jobs hits both
alike. Prints per set: images, hands found (by MediaPipe alone / by predict), median ms per image
of MediaPipe alone and of the pipeline (detection + model), their ratio, and the pipeline's median
model time per image. Torch runs on one thread (as predict does).
Works on older trees too (run with PYTHONPATH pointing at an exported copy), which is how the
"before" row of docs/BENCHMARKS.md was measured.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared/data"


def default_sets() -> dict[str, list[Path]]:
    sets = {"renders": [REPO / "samples/hand_photo.jpg"]
            + sorted((REPO / "tests/fixtures/hands/evaluation/rgb").glob("*.jpg"))}
    real = []
    for sub in ("handmesh_crops", "photos/hamer_example_data", "photos/wilor_demo_img", "mmpose_samples/freihand",
                "mmpose_samples/onehand10k", "mmpose_samples/interhand2.6m"):
        real += sorted(p for p in (DATA / sub).glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if real:
        sets["real photos"] = real
    return sets


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("images", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--hypotheses", type=int, default=1)
    ap.add_argument("--torch", action="store_true",
                    help="also time the torch networks (inference.mediapipe_torch: palm detector, MediaPipe's crops, "
                         "the landmark network batched over an image's palms; hands = crops with presence >= 0.5)")
    args = ap.parse_args()
    import torch

    from maskhand.inference.camera import default_intrinsics
    from maskhand.inference.images import load_image
    from maskhand.inference.keypoints import KeypointDetector
    from maskhand.inference.pipeline import Pipeline

    if args.images:
        paths = []
        for p in args.images:
            paths += sorted(q for q in p.iterdir()) if p.is_dir() else [p]
        sets = {"given": paths}
    else:
        sets = default_sets()
    import inspect

    import maskhand
    plain = {"retry": False} if "retry" in inspect.signature(KeypointDetector).parameters else {}

    print(f"tree {Path(maskhand.__file__).parent}, load average {os.getloadavg()[0]:.2f} at start")
    torch_cols = " torch networks ms/image | torch hands |" if args.torch else ""
    print("| set | images | hands found: MediaPipe / predict | MediaPipe alone ms/image | predict ms/image | ratio | model ms/image |"
          + torch_cols)
    print("|---|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if args.torch else ""))
    if args.torch:
        import numpy as np

        from maskhand.inference.mediapipe_torch import (crops_to_tensor, detect_palms, load_landmark_net,
                                                        load_palm_detector)
        from maskhand.inference.mediapipe_torch.crops import crop
        palm_net, lm_net = load_palm_detector("cpu"), load_landmark_net("cpu")

        def torch_detect(image):
            palms = detect_palms(palm_net, [image], max_palms=2)[0]
            if not palms:
                return 0
            x = crops_to_tensor(np.stack([crop(image, p.hand_rect(), 224) for p in palms]))
            with torch.no_grad():
                return int((lm_net(x).presence >= 0.5).sum())
    try:
        from maskhand.inference.pipeline import PHOTO_DETECTION_CONFIDENCE as score
    except ImportError:  # trees before the second look
        score = 0.5
    with Pipeline() as pipe, KeypointDetector(max_hands=2, min_detection_confidence=score, **plain) as det:
        torch.set_num_threads(1)
        for name, paths in sets.items():
            mp_ms, pipe_ms, model_ms, found, p_found, t_ms, t_found = [], [], [], 0, 0, [], 0
            for p in paths:
                img = load_image(p)
                K = default_intrinsics(img.shape[1], img.shape[0])
                det.detect(img)
                pipe(img, K, hypotheses=args.hypotheses)
                per_mp, per_pipe, per_model = [], [], []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    hands = det.detect(img)
                    per_mp.append((time.perf_counter() - t0) * 1000)
                    before = pipe.timings["model"]
                    t0 = time.perf_counter()
                    results = pipe(img, K, hypotheses=args.hypotheses)
                    per_pipe.append((time.perf_counter() - t0) * 1000)
                    per_model.append(pipe.timings["model"] - before)
                found += len(hands)
                p_found += len(results)
                if args.torch:
                    torch_detect(img)
                    per_t = []
                    for _ in range(args.repeat):
                        t0 = time.perf_counter()
                        n = torch_detect(img)
                        per_t.append((time.perf_counter() - t0) * 1000)
                    t_found += n
                    t_ms.append(statistics.median(per_t))
                mp_ms.append(statistics.median(per_mp))
                pipe_ms.append(statistics.median(per_pipe))
                model_ms.append(statistics.median(per_model))
            a, b = statistics.median(mp_ms), statistics.median(pipe_ms)
            print(f"| {name} | {len(paths)} | {found} / {p_found} | {a:.1f} | {b:.1f} | {b / a:.2f} | "
                  f"{statistics.median(model_ms):.1f} |"
                  + (f" {statistics.median(t_ms):.1f} | {t_found} |" if args.torch else ""), flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
