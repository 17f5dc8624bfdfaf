"""The generative model's decoding/refinement/ranking variants on the same detections (issue 13).

    .venv/bin/python benchmarks/bench_refine.py [--sets fixtures,vt,bench,real] [--variants a,b,...]
        [--vt /tmp/vt] [--bench DIR] [--real GT3D.json] [--repeat 1] [--cache dets.pkl] [--list]
        [--checkpoints bundled,image=DIR] [--by-side] [--mirror DIR]

--checkpoints compares weights (a label=folder holding tokenizer.pt and transformer.pt, or "bundled");
weights with image tokens (issue 13) are given the image unless the variant spec says img=0.

MediaPipe (static mode, predict's detector settings) runs once per image; every variant then sees
the same matched detections, so the rows differ only by what the model does with them. Per set and
variant: hands scored, PA-MPJPE (mm, the harness's definition: per keypoint mean over hands, then
mean), 2D PCK@0.05 of the GT box (the top hypothesis projected with the GT K, as the harness),
best-of-N PA-MPJPE when N > 1 (oracle), and the median ms per hand of the estimator call
(detection excluded; one thread). The MediaPipe row is its world landmarks / its own 2D keypoints.

Sets (each used where present): fixtures = tests/fixtures/hands (8 renders); vt = the clips
benchmarks/bench_video_take.py renders (OUT_DIR/CLIP/rgb + gt.json; every frame as a photo);
bench = a tools/render_dataset.py folder (e.g. the first images of the seed-1 benchmark set);
real = ../shared/data/mmpose_samples/gt3d_freihand_format.json (InterHand2.6M + RHD).
"""
from __future__ import annotations

import argparse
import json
import pickle
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO.parent))

from maskhand.evaluation import metrics as M  # noqa: E402
from maskhand.evaluation.datasets import Sample, load_dataset  # noqa: E402
from maskhand.evaluation.matching import match_hands  # noqa: E402

# name: (SamplingConfig overrides, call kwargs). "before": the defaults before issue 13's changes
# (one draw at temperature 1, T=5, 60 Adam steps, reprojection weight 20, no greedy answer among the
# draws); "default": today's.
BEFORE = {"refine_method": "adam", "refine_steps": 60, "reprojection_weight": 20.0, "steps": 5, "greedy_first": False}
VARIANTS = {
    "before": (BEFORE, {"hypotheses": 1, "temperature": 1.0}),
    "before_n5": (BEFORE, {"hypotheses": 5, "temperature": 1.0}),
    "default": ({}, {"hypotheses": 1, "temperature": None}),
    "default_n3": ({}, {"hypotheses": 3, "temperature": None}),
    "default_n5": ({}, {"hypotheses": 5, "temperature": None}),
}


SPEC_KEYS = {"refine": ("refine_method", str), "it": ("refine_iterations", int), "w": ("refine_w_init", float),
             "tol": ("refine_tol", float), "T": ("steps", int), "gf": ("greedy_first", lambda v: v == "1"), "rw": ("reprojection_weight", float), "adam": ("refine_steps", int),
             "target": ("refine_target", str), "ww": ("refine_w_world", float),
             "flip": ("flip_average", lambda v: v == "1"), "rank": ("rank_target", str)}


def variant(name: str):
    """A preset name, or a spec "refine=lm:it=4:w=0.01:tol=1e-3:T=5:temp=0:n=1:rw=100:ww=0.05:gf=1:target=detector:flip=1:rank=refined"
    over today's defaults (refine=none: no refinement; refine=adam:adam=60: the Adam refinement)."""
    if name in VARIANTS:
        return VARIANTS[name]
    over, kw = {}, {"hypotheses": 1, "temperature": None}
    for item in name.split(":"):
        k, v = item.split("=")
        if k == "n":
            kw["hypotheses"] = int(v)
        elif k == "temp":
            kw["temperature"] = float(v)
        elif k == "img":  # img=0: an image-token model decodes from the keypoints alone
            over["_image"] = v != "0"
        elif k == "refine" and v == "none":
            over["refine"] = False
        else:
            key, cast = SPEC_KEYS[k]
            over[key] = cast(v)
    return over, kw


def vt_samples(root: Path) -> list[Sample]:
    out = []
    for gt in sorted(root.glob("*/gt.json")):
        doc = json.loads(gt.read_text())
        K = np.asarray(doc["K"], np.float64)
        for f, xyz in enumerate(doc["xyz"]):
            img = gt.parent / "rgb" / f"{f:04d}.jpg"
            if img.is_file():
                out.append(Sample(image=img, image_id=str(img), side=doc["side"], K=K, xyz=np.asarray(xyz, np.float64)))
    return out


def load_sets(args) -> dict[str, list[Sample]]:
    sets = {}
    for name in args.sets.split(","):
        if name == "fixtures":
            sets[name] = load_dataset(REPO / "tests/fixtures/hands")
        elif name == "vt" and args.vt.is_dir():
            sets[name] = vt_samples(args.vt)
        elif name == "bench" and args.bench and args.bench.exists():
            sets[name] = load_dataset(args.bench, limit=args.bench_limit)
        elif name == "real" and args.real.is_file():
            sets[name] = load_dataset(args.real)
    sets = {k: v for k, v in sets.items() if v}
    return {k: mirrored(v, args.mirror) for k, v in sets.items()} if args.mirror else sets


def mirrored(samples: list[Sample], folder: Path) -> list[Sample]:
    """The samples with each image flipped left-right (written once under `folder`) and its ground truth
    mirrored with it: side swapped, x -> -x in the camera frame, cx -> W - 1 - cx. A left hand becomes
    a right one, so the same hands score both ways and any asymmetry of the pipeline shows."""
    import hashlib

    import cv2

    from maskhand.inference.images import load_image

    out, flip = [], np.diag([-1.0, 1.0, 1.0])
    for s in samples:
        dst = folder / f"{hashlib.sha1(str(s.image).encode()).hexdigest()[:10]}_{Path(s.image).name}"
        image = load_image(s.image)
        if not dst.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(dst), cv2.cvtColor(np.ascontiguousarray(image[:, ::-1]), cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 98] if dst.suffix.lower() in (".jpg", ".jpeg") else [])
        K = s.K.copy()
        K[0, 2] = image.shape[1] - 1 - K[0, 2]
        out.append(replace(s, image=dst, image_id="mirror:" + s.image_id, side="right" if s.side == "left" else "left",
                           K=K, xyz=s.xyz @ flip, verts=None if s.verts is None else s.verts @ flip,
                           visible_2d=s.visible_2d, valid=s.valid))
    return out


def stored(path: Path | None, make):
    """make()'s result, read from path when it is there and written there when it was not (a pickle the
    benchmark itself wrote), so a report can be printed again without decoding every hand again."""
    if path and path.is_file():
        return pickle.loads(path.read_bytes())
    out = make()
    if path:
        path.write_bytes(pickle.dumps(out))
    return out


def detect_all(sets, cache: Path | None):
    """{image path: [HandKeypoints]} from MediaPipe static mode (predict's settings: its threshold for
    photos and the retry views), cached."""
    from maskhand.inference.images import load_image
    from maskhand.inference.keypoints import KeypointDetector
    from maskhand.inference.pipeline import PHOTO_DETECTION_CONFIDENCE

    found = {}
    if cache and cache.is_file():
        found = pickle.loads(cache.read_bytes())
    todo = sorted({str(s.image) for v in sets.values() for s in v} - set(found))
    if todo:
        with KeypointDetector(max_hands=2, min_detection_confidence=PHOTO_DETECTION_CONFIDENCE) as det:
            for p in todo:
                found[p] = det.detect(load_image(p))
        if cache:
            cache.write_bytes(pickle.dumps(found))
    return found


def flip_worlds(found, cache: Path | None):
    """{image path: [(keypoints_2d (21, 2) px, direct world (21, 3), flip-averaged world (21, 3))]} per
    torch palm crop (inference.mediapipe_torch: palm detector -> MediaPipe's hand rect -> landmark
    network on the crop and its mirror image), world landmarks turned by the rect's angle into
    MediaPipe's camera-aligned axes."""
    from maskhand.inference.images import load_image
    from maskhand.inference.mediapipe_torch import (crops_to_tensor, detect_palms, flip_averaged_world,
                                                    load_landmark_net, load_palm_detector)
    from maskhand.inference.mediapipe_torch.crops import crop, to_image

    out = {}
    if cache and cache.is_file():
        out = pickle.loads(cache.read_bytes())
    todo = sorted(p for p, d in found.items() if d and p not in out)
    if todo:
        palm_net, lm_net = load_palm_detector("cpu"), load_landmark_net("cpu")
        for p in todo:
            image = load_image(p)
            rows = []
            for palm in detect_palms(palm_net, [image])[0]:
                rect = palm.hand_rect()
                x = crops_to_tensor(crop(image, rect, 224)[None])
                with torch.no_grad():
                    lm = lm_net(x)
                    flip = flip_averaged_world(lm_net, x)[0].double().numpy()
                c, s_ = np.cos(rect.rotation), np.sin(rect.rotation)
                R = np.array([[c, -s_, 0], [s_, c, 0], [0, 0, 1.0]])
                uv = to_image(lm.landmarks[0, :, :2].double().numpy(), rect, 224)
                rows.append((uv, lm.world[0].double().numpy() @ R.T, flip @ R.T))
            out[p] = rows
        if cache:
            cache.write_bytes(pickle.dumps(out))
    return out


def with_flip_world(found, flips, which: str):
    """found with each detection's world replaced by the matching torch crop's ("direct" or "flip")."""
    from dataclasses import replace as dc_replace

    new, gaps = {}, []
    for p, dets in found.items():
        new[p] = []
        for d in dets:
            best = None
            for uv, direct, flip in flips.get(p, []):
                err = np.linalg.norm(uv - d.keypoints_2d, axis=1).mean() / max(np.ptp(d.keypoints_2d, 0).max(), 1)
                if err < 0.1 and (best is None or err < best[0]):
                    best = (err, direct, flip)
            if best is None:
                new[p].append(d)
                continue
            gaps.append(np.abs(best[1] - d.world).max())
            new[p].append(dc_replace(d, world=best[1] if which == "direct" else best[2]))
    print(f"world landmarks from the torch crops: {len(gaps)} detections matched, "
          f"direct vs MediaPipe's world max {max(gaps, default=0) * 1000:.2f} mm (median "
          f"{np.median(gaps) * 1000 if gaps else 0:.2f})")
    return new


def matched(samples, found):
    """[(sample, detection or None)] one per GT hand."""
    by_image = {}
    for s in samples:
        by_image.setdefault(str(s.image), []).append(s)
    out = []
    for p, group in by_image.items():
        dets = found[p]
        gt_2d = [M.project(s.xyz, s.K) for s in group]
        idx = match_hands(gt_2d, [s.side for s in group], [d.keypoints_2d for d in dets], [d.side for d in dets])
        out += [(s, None if i is None else dets[i]) for s, i in zip(group, idx)]
    return out


def pa_mm(kp, s) -> float:
    """PA-MPJPE in mm of one hand's 21 keypoints against sample s, over its valid joints."""
    valid = np.ones(21, bool) if s.valid is None else s.valid
    return float(M.pa_errors(np.asarray(kp)[valid], s.xyz[valid]).mean() * 1000)


def score(pred3d, pred2d, s: Sample):
    valid = np.ones(21, bool) if s.valid is None else s.valid
    err = np.full(21, np.nan)
    err[valid] = M.pa_errors(np.asarray(pred3d)[valid], s.xyz[valid])
    return err, M.pck_2d_hits(pred2d, M.project(s.xyz, s.K), s.visible_2d)


def second_look(est, s: Sample, d):
    """(world (21, 3), keypoints_2d (21, 2)) of the landmark network on the detection's context crop, in
    the image's frame (as GenerativeEstimator refines against them)."""
    from maskhand.inference.images import load_image
    from maskhand.inference.model.context import mirror_view

    K = torch.as_tensor(s.K)[None]
    uv = torch.as_tensor(np.asarray(d.keypoints_2d, np.float64))[None]
    mirrored = d.side == "left"
    if mirrored:
        uv, _ = mirror_view(uv, K, None)
    _, look = est.image_context(load_image(s.image), uv[0].numpy(), mirrored, s.K)
    uv2, w2 = look.in_image(0, mirrored, float(s.K[0, 2]))
    return w2, uv2


def summary(errs, hits):
    if not errs:
        return float("nan"), float("nan")
    return float(np.nanmean(np.nanmean(np.stack(errs), 0)) * 1000), M.pck_2d(np.stack(hits))


def add_set_args(ap: argparse.ArgumentParser, sets: str, vt: Path = Path("/tmp/vt")) -> None:
    """The options every benchmark on load_sets() and detect_all() takes: which sets, where they lie."""
    ap.add_argument("--sets", default=sets)
    ap.add_argument("--vt", type=Path, default=vt)
    ap.add_argument("--bench", type=Path, default=None)
    ap.add_argument("--bench-limit", type=int, default=None)
    ap.add_argument("--real", type=Path, default=REPO.parent / "shared/data/mmpose_samples/gt3d_freihand_format.json")
    ap.add_argument("--mirror", type=Path, default=None, metavar="DIR",
                    help="score every image flipped left-right instead (written into DIR), its ground truth mirrored")
    ap.add_argument("--cache", type=Path, default=None)


def main() -> int:
    ap = argparse.ArgumentParser()
    add_set_args(ap, "fixtures,vt,bench,real")
    ap.add_argument("--variants", default="before,default,before_n5,default_n5",
                    help="comma-separated presets or specs (see variant())")
    ap.add_argument("--repeat", type=int, default=1, help="timed calls per hand (the first result is scored)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--world", choices=("mediapipe", "direct", "flip"), default="mediapipe",
                    help="world landmarks given to the model (and scored in the mediapipe row): MediaPipe's, the "
                         "torch network's on the palm crop, or its flip-averaged ones")
    ap.add_argument("--checkpoints", default="bundled",
                    help="comma-separated label=folder (tokenizer.pt + transformer.pt) or 'bundled'")
    ap.add_argument("--second-look", action="store_true",
                    help="also score the landmark network's answer on the context crop (what the default "
                         "refinement fits; CropLandmarks) as a MediaPipe row")
    ap.add_argument("--by-side", action="store_true",
                    help="also print each set's left and right hands (the ground truth's side) as their own rows")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list:
        print("\n".join(VARIANTS))
        return 0
    torch.set_num_threads(1)
    from maskhand.inference.images import load_image
    from maskhand.inference.model.estimator import GenerativeEstimator, model_paths

    sets = load_sets(args)
    found = detect_all(sets, args.cache)
    if args.world != "mediapipe":
        flips = flip_worlds(found, args.cache.with_suffix(".flip.pkl") if args.cache else None)
        found = with_flip_world(found, flips, args.world)
    weights = [c.split("=", 1) if "=" in c else (c, None) for c in args.checkpoints.split(",")]
    looker = GenerativeEstimator(None) if args.second_look else None
    print(f"torch threads {torch.get_num_threads()}, seed {args.seed}, repeat {args.repeat}")
    print("| set | weights | variant | found | PA-MPJPE mm | PCK@0.05 2D | best-of-N mm | ms/hand (median) |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    parts = []
    for set_name, samples in sets.items():
        pairs = matched(samples, found)
        parts.append((set_name, pairs))
        if args.by_side:
            parts += [(f"{set_name} ({side})", [(s, d) for s, d in pairs if s.side == side]) for side in ("left", "right")]
    for set_name, pairs in parts:
        hits_found = [(s, d) for s, d in pairs if d is not None]
        e, h = zip(*[score(d.world, d.keypoints_2d, s) for s, d in hits_found]) if hits_found else ((), ())
        pa, pck = summary(list(e), list(h))
        print(f"| {set_name} | | mediapipe | {len(hits_found)}/{len(pairs)} | {pa:.2f} | {pck:.3f} | | |")
        if args.second_look:
            pa, pck = summary(*zip(*[score(*second_look(looker, s, d), s) for s, d in hits_found]))
            print(f"| {set_name} | | mediapipe, second look | {len(hits_found)}/{len(pairs)} | {pa:.2f} | {pck:.3f} | | |")
        for label, folder in weights:
            est = GenerativeEstimator(None, *model_paths(None if folder in (None, "bundled") else folder))
            base = est.config
            for v in args.variants.split(","):  # specs use ':' between keys
                over, kw = variant(v)
                over = dict(over)
                look = over.pop("_image", True) and est.uses_image
                est.config = replace(base, **over)
                errs, hits, best, ms = [], [], [], []
                for s, d in hits_found:
                    image = load_image(s.image) if look else None
                    for r in range(args.repeat):
                        t0 = time.perf_counter()
                        hyps = est(d.keypoints_2d, d.confidence, s.K, d.side, d.world, seed=args.seed, image=image, **kw)
                        ms.append((time.perf_counter() - t0) * 1000)
                        if r == 0:
                            res = hyps
                    e1, h1 = score(res[0].keypoints_3d, M.project(res[0].keypoints_3d, s.K), s)
                    errs.append(e1)
                    hits.append(h1)
                    if len(res) > 1:
                        best.append(min(np.nanmean(score(x.keypoints_3d, M.project(x.keypoints_3d, s.K), s)[0])
                                        for x in res) * 1000)
                pa, pck = summary(errs, hits)
                b = f"{np.mean(best):.2f}" if best else ""
                med = statistics.median(ms) if ms else float("nan")
                print(f"| {set_name} | {label} | {v} | {len(hits_found)}/{len(pairs)} | {pa:.2f} | {pck:.3f} | {b} | "
                      f"{med:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
