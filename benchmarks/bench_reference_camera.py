"""Does Set Up Reference Camera line the rig up with its picture? (issue 15, item 2)

    .venv/bin/python benchmarks/bench_reference_camera.py [--hypotheses 3] [--no-real]

For each picture, in real bpy with the real backend process: a factory scene, one MaskHand rig per
hand side in the ground truth, Estimate (bpy.ops.view3d.maskhand_estimate), Set Up Reference Camera
(bpy.ops.view3d.maskhand_reference_camera), then the rig's 21 keypoints (heads of its joint and tip
bones, blender/reference_camera.rig_keypoints) projected as the new camera renders them
(reference_camera.project_points) and compared with:

- det: the detected 2D keypoints of the hand that posed the rig (MediaPipe's): mean px, and % of
  the picture's width;
- gt: the ground-truth 2D keypoints (the annotated 3D joints projected with the annotated K);
- estimate vs det: the hypothesis's own 21 keypoints (its hand model projected with K) against the
  detected ones: how well the estimate itself fits the picture, which bounds what any camera shows;
- det vs gt: the detector's own error;
- exact: the rig's 16 joints against the hypothesis's own hand model posed with its camera
  translation and projected with the K the estimate used (max px): the camera and the rig agree
  with the estimate, whatever the estimate's own error; should be ~0.

Pictures: the 8 rendered fixture images (tests/fixtures/hands/evaluation, K known), and where present
the InterHand2.6M photos and RHD renders of ../shared/data/mmpose_samples/gt3d_freihand_format.json
(or $MASKHAND_REAL_DATA; never copied into the repository). The Estimate operator sends no K (the
backend then uses its default camera, focal length = the longer image side); "K" = "true" runs the
same operator with the annotated K added to its request (workflow.estimate_payload wrapped), which
is what a user gets with a matching camera. Both rows are printed for each hand.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "hands"
REAL = Path(os.environ.get("MASKHAND_REAL_DATA", REPO.parent / "shared" / "data"))
GT3D = REAL / "mmpose_samples" / "gt3d_freihand_format.json"


def project(K: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """(21, 3) camera-frame points, (3, 3) K -> (21, 2) pixels."""
    p = xyz @ K.T
    return p[:, :2] / p[:, 2:]


def pictures(use_real: bool) -> list[tuple[str, Path, list]]:
    """(set name, image, [Sample, ...]) per picture, the hands of one picture together."""
    from maskhand.evaluation.datasets import load_dataset

    samples = [("fixture render", s) for s in load_dataset(FIXTURES, split="evaluation")]
    if use_real and GT3D.is_file():  # named by their folder: interhand2.6m (real photos), rhd (renders)
        samples += [(s.image_id.split("/")[0], s) for s in load_dataset(GT3D)]
    by_image = defaultdict(list)
    for name, s in samples:
        by_image[(name, s.image)].append(s)
    return [(name, image, hands) for (name, image), hands in by_image.items()]


def measure_picture(image: Path, samples: list, hypotheses: int, K_true: bool) -> list[dict]:
    """Estimate + Set Up Reference Camera on `image`; one row per ground-truth hand."""
    import bpy

    from maskhand.blender import workflow
    from maskhand.blender.build_rig import add_hand_rig
    from maskhand.blender.reference_camera import project_points, rig_keypoints
    from maskhand.handmodel.joints import MANO_TO_OPENPOSE
    from maskhand.handmodel.open_hand import load_open_hand

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    rigs = {}
    for n, side in enumerate(sorted({s.side for s in samples})):
        rigs[side], _ = add_hand_rig(scene.collection, load_open_hand(side), location=(0.3 * n, 0, 0))
    bpy.context.view_layer.objects.active = next(iter(rigs.values()))
    s = scene.maskhand.estimate
    s.image_path, s.hypotheses_count = str(image), hypotheses

    rows = []
    base = [{"image": image.name, "side": smp.side, "K": "true" if K_true else "default"} for smp in samples]
    original = workflow.estimate_payload
    if K_true:  # the operator has no K field: add the annotated K to the request it sends
        K = samples[0].K.tolist()
        workflow.estimate_payload = lambda settings, seed: {**original(settings, seed), "K": K}
    try:
        t0 = time.perf_counter()
        estimated = bpy.ops.view3d.maskhand_estimate()
        seconds = time.perf_counter() - t0
        placed = bpy.ops.view3d.maskhand_reference_camera()
    except RuntimeError as err:  # the operator reported an error (no hand found, say)
        return [{**b, "note": str(err).removeprefix("Error: ").strip()} for b in base]
    finally:
        workflow.estimate_payload = original
    if estimated != {'FINISHED'} or placed != {'FINISHED'}:
        return [{**b, "note": f"no camera: {s.status}"} for b in base]
    picture = json.loads(s.last_image)
    K_used, width = np.asarray(picture["K"]), picture["width"]
    chosen = {item.side: item for item in workflow.chosen_hypotheses(s)}
    cam = scene.camera
    for b, smp in zip(base, samples):
        item = chosen.get(smp.side)
        if item is None:
            rows.append({**b, "note": f"no {smp.side} hand detected"})
            continue
        rig = rigs[smp.side]
        seen = project_points(scene, cam, rig_keypoints(rig))  # (21, 2) OpenPose order
        detected = np.asarray(item.hand()["keypoints_2d"])[:, :2]
        gt = project(smp.K, smp.xyz)
        valid = np.ones(21, bool) if smp.valid is None else smp.valid
        hyp = item.hypothesis()
        model = load_open_hand(smp.side).forward(np.asarray(hyp["mano"]["global_orient"])[None],
                                                 np.asarray(hyp["mano"]["hand_pose"])[None],
                                                 np.asarray(rig["maskhand_betas"])[None],
                                                 np.asarray(hyp["cam_t"])[None])
        expected = project(K_used, model.joints[0])
        own = project(K_used, model.keypoints[0])  # the estimate's own 21 keypoints, OpenPose order
        joints_seen = seen[np.argsort(MANO_TO_OPENPOSE)[:16]]  # back to MANO's 16 joints
        det = float(np.linalg.norm(seen - detected, axis=1).mean())
        det_gt = float(np.linalg.norm(detected[valid] - gt[valid], axis=1).mean())
        rig_gt = float(np.linalg.norm(seen[valid] - gt[valid], axis=1).mean())
        if det_gt > 0.25 * width:  # the rig's hand is another hand of this side than the annotated one
            rows.append({**b, "note": "the detected hand of this side is not the annotated one"})
            continue
        rows.append({**b, "width": width, "det": det, "gt": rig_gt, "det_gt": det_gt,
                     "own": float(np.linalg.norm(own - detected, axis=1).mean()),
                     "exact": float(np.abs(joints_seen - expected).max()), "seconds": seconds})
    return rows


def fmt(row: dict) -> str:
    if "note" in row:
        return f"| {row['set']} | {row['image']} | {row['side']} | {row['K']} | {row['note']} | | | | |"
    w = row["width"]
    return (f"| {row['set']} | {row['image']} | {row['side']} | {row['K']} | {row['det']:.1f} ({100 * row['det'] / w:.1f}%) "
            f"| {row['gt']:.1f} ({100 * row['gt'] / w:.1f}%) | {row['own']:.1f} | {row['det_gt']:.1f} | {row['exact']:.4f} |")


def summary(rows: list[dict]) -> list[str]:
    lines = []
    for (name, K), group in sorted(_groups(rows).items()):
        ok = [r for r in group if "note" not in r]
        if not ok:
            continue
        pct = lambda key: 100 * np.mean([r[key] / r["width"] for r in ok])  # noqa: E731
        lines.append(f"| **{name}, mean of {len(ok)}/{len(group)} hands** | | | {K} | "
                     f"{np.mean([r['det'] for r in ok]):.1f} ({pct('det'):.1f}%) | "
                     f"{np.mean([r['gt'] for r in ok]):.1f} ({pct('gt'):.1f}%) | "
                     f"{np.mean([r['own'] for r in ok]):.1f} | {np.mean([r['det_gt'] for r in ok]):.1f} | "
                     f"{max(r['exact'] for r in ok):.4f} |")
    return lines


def _groups(rows):
    out = defaultdict(list)
    for r in rows:
        out[(r["set"], r["K"])].append(r)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hypotheses", type=int, default=3)
    ap.add_argument("--no-real", action="store_true", help="only the rendered fixture pictures")
    args = ap.parse_args(argv)

    import bpy

    import maskhand
    from maskhand import api
    from maskhand.blender import backend_client, workflow

    maskhand.register()
    api.use_interpreter(sys.executable)  # this venv has the backend's packages
    rows = []
    try:
        for name, image, samples in pictures(not args.no_real):
            for K_true in (False, True):
                for row in measure_picture(image, samples, args.hypotheses, K_true):
                    rows.append({"set": name, **row})
                    print(fmt(rows[-1]), flush=True)
    finally:
        workflow.use_client(None)
        maskhand.unregister()
        backend_client.shutdown_all()
    print()
    print(f"bpy {bpy.app.version_string}; {args.hypotheses} hypotheses; rig = rig keypoints through the reference "
          "camera; det = detected (MediaPipe) 2D keypoints; gt = ground-truth 2D keypoints")
    print("| set | image | side | K | rig vs det, mean px (% width) | rig vs gt, mean px (% width) "
          "| estimate vs det, mean px | det vs gt, mean px | exact: rig vs own model, max px |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(fmt(row))
    for line in summary(rows):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
