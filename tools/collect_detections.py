"""Run MediaPipe on a rendered dataset and pair each detection with its ground truth, for training.

    python tools/collect_detections.py /work/data/rendered/train --split training --out detections.npz
        [--image-context J]

With --image-context J, each detection also gets the image evidence of issue 13's image tokens
(inference/model/image_context.py): MediaPipe's landmark network's feature map on the hand's crop,
once as at run time and J - 1 times with the crop moved as a tracker's would wander (shift 5 %,
scale 10 %, rotation 10 degrees, normal), in float16 (113 KB per crop).

Ranges (`--start`, `--limit`) can run in parallel and be joined in order, with the same result as
one run (each image's crops are seeded by its index):

    python tools/collect_detections.py DIR --split training --out a.npz --limit 1000 --image-context 4 &
    python tools/collect_detections.py DIR --split training --out b.npz --start 1000 --image-context 4
    python tools/collect_detections.py --join a.npz b.npz --out detections.npz

Writes the arrays training.detections.DetectionSet reads (left hands mirrored to right, view and
pose), and prints the detector's error statistics in the terms of training.synthetic_views'
NoiseModel (2D error over box size, outlier rate, world-landmark depth scale and noise), which is
how that noise model's ranges were checked (docs/MODEL.md).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from maskhand.evaluation.metrics import align, project
from maskhand.handmodel.model import mirror_pose
from maskhand.inference.images import load_image
from maskhand.inference.keypoints import KeypointDetector
from maskhand.inference.pipeline import PHOTO_DETECTION_CONFIDENCE

JITTER_SIGMA = (0.05, 0.05, 0.10, np.radians(10.0))  # shift x, shift y (of the crop's side), log scale, rotation


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path, nargs="?", help="a tools/render_dataset.py folder (not with --join)")
    ap.add_argument("--split", default="training")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--limit", type=int, help="stop before this image index")
    ap.add_argument("--start", type=int, default=0, help="first image index (ranges can run in parallel and be "
                    "joined with --join; every image's crops are seeded by its index, so the result is the same)")
    ap.add_argument("--join", type=Path, nargs="*", default=None, metavar="NPZ",
                    help="instead of detecting: concatenate these files (in order) into --out")
    ap.add_argument("--image-context", type=int, default=0, metavar="J",
                    help="also store J crops' landmark-network features per detection (0: none)")
    args = ap.parse_args(argv)
    if args.join:
        parts = [np.load(f) for f in args.join]
        np.savez(args.out, **{k: np.concatenate([p[k] for p in parts]) for k in parts[0].files})
        print(f"joined {sum(len(p['uv']) for p in parts)} detections of {len(parts)} files into {args.out}")
        return 0
    if args.root is None:
        ap.error("give the rendered folder (or --join)")
    net = None
    if args.image_context:
        from maskhand.inference.mediapipe_torch import load_landmark_net
        from maskhand.inference.model.image_context import image_context

        net = load_landmark_net("cpu")
        out_img = {"features": [], "kp_crop": [], "crop_glob": []}

    r = args.root
    xyz = json.loads((r / f"{args.split}_xyz.json").read_text())
    Ks = json.loads((r / f"{args.split}_K.json").read_text())
    mano = json.loads((r / f"{args.split}_mano.json").read_text())
    meta_path = r / f"{args.split}_meta.json"
    meta = json.loads(meta_path.read_text())["images"] if meta_path.exists() else [{"side": "right"}] * len(xyz)
    n = min(len(xyz), args.limit or len(xyz))
    out = {k: [] for k in ("uv", "conf", "world", "K", "pose", "betas")}
    stats = {"err2d": [], "outlier": [], "depth_ratio": [], "world_err": []}
    missed = 0
    t0 = time.time()
    # what predict sees: its threshold for photos and the retry views (inference/keypoints.py)
    with KeypointDetector(max_hands=2, min_detection_confidence=PHOTO_DETECTION_CONFIDENCE) as det:
        for i in range(args.start, n):
            path = r / args.split / "rgb" / f"{i:08d}.jpg"
            if not path.exists():
                break
            K, X, side = np.asarray(Ks[i]), np.asarray(xyz[i]), meta[i]["side"]
            gt_uv = project(X, K)
            image = load_image(path)
            hands = [h for h in det.detect(image) if h.side == side]
            if not hands:
                missed += 1
                continue
            h = min(hands, key=lambda h: np.linalg.norm(h.keypoints_2d.mean(0) - gt_uv.mean(0)))
            uv, world, conf = h.keypoints_2d.astype(np.float64), h.world.astype(np.float64), h.confidence
            box = max(np.ptp(gt_uv[:, 0]), np.ptp(gt_uv[:, 1]))
            e = np.linalg.norm(uv - gt_uv, axis=1) / box
            stats["err2d"].append(np.median(e))
            stats["outlier"].append(np.mean(e > 0.15))
            cam = X - X.mean(0)
            w = world - world.mean(0)
            stats["depth_ratio"].append(np.std(w[:, 2]) / max(np.std(cam[:, 2]), 1e-6)
                                        / (np.std(w[:, :2]) / max(np.std(cam[:, :2]), 1e-6)))
            palm = np.linalg.norm(X[9] - X[0])
            stats["world_err"].append(np.mean(np.linalg.norm(align(w, cam, allow_reflection=False) - cam, axis=1)) / palm)
            p = np.asarray(mano[i], np.float64)
            pose = p[:48].reshape(16, 3)
            if side == "left":
                uv = uv.copy()
                uv[:, 0] = 2 * K[0, 2] - uv[:, 0]
                world = world * [-1, 1, 1]
                pose = mirror_pose(pose)
            if net is not None:
                rng = np.random.default_rng([0, i])  # per image, so ranges run apart give the same crops
                jitters = [None] + [rng.normal(0.0, JITTER_SIGMA) for _ in range(args.image_context - 1)]
                ctx = image_context(net, image, [(uv, side == "left")] * len(jitters), K, jitters=jitters)
                out_img["features"].append(ctx.features.numpy().astype(np.float16))
                out_img["kp_crop"].append(ctx.kp_crop.numpy()), out_img["crop_glob"].append(ctx.crop_glob.numpy())
            out["uv"].append(uv), out["conf"].append(conf), out["world"].append(world)
            out["K"].append(K), out["pose"].append(pose), out["betas"].append(p[48:58])
            if (i + 1) % 100 == 0:
                print(f"{i + 1}/{n}  {time.time() - t0:.0f} s", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.asarray(v, np.float32) for k, v in out.items()}
    if net is not None:
        arrays.update(features=np.stack(out_img["features"]), kp_crop=np.asarray(out_img["kp_crop"], np.float32),
                      crop_glob=np.asarray(out_img["crop_glob"], np.float32))
    np.savez(args.out, **arrays)  # uncompressed: the float16 features do not compress and load faster
    found = len(out["uv"])
    print(f"{found} detections of {found + missed} hands ({missed} missed); wrote {args.out}")
    for k, v in stats.items():
        v = np.asarray(v)
        print(f"{k:12s} median {np.median(v):.4f}  p10 {np.percentile(v, 10):.4f}  p90 {np.percentile(v, 90):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
