"""Run estimators over annotated images and score them with the standard metrics.

Each estimator (a `Pipeline` name: "mediapipe", "fitted", "model", ...) sees every image once;
the hands of one image are scored together after matching (evaluation.matching). Per matched hand:
- 3D keypoints: "keypoints_3d" of the result, or MediaPipe's hand-centred "world_landmarks" when an
  estimator has no metric 3D; PA-MPJPE and the 3D PCK/AUC on the Procrustes-aligned keypoints;
- vertices (when both the estimator and the ground truth have them): PA-MPVPE when the vertex
  counts agree, and F@5/F@15 between the aligned meshes (aligned by the keypoints' similarity when
  the counts differ, as FreiHAND does for non-MANO meshes);
- 2D: the estimator's 3D keypoints projected with K (its own reprojection), or its 2D keypoints when
  it has no camera-frame 3D; PCK@0.05 of the GT hand box.
Missed hands count against the detection rate and are left out of the 3D/2D metrics. Timings:
wall-clock ms per image of the estimator call (detection included, image decoding not), after one
untimed warm-up call.
With hypotheses > 1 an extra row "<name> best-of-N" scores, per hand, the hypothesis with the
lowest PA-MPJPE (an oracle: it needs the ground truth to choose).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from itertools import groupby

import numpy as np

from ..errors import MaskHandError
from . import metrics as M
from .datasets import Sample
from .matching import match_hands


def evaluate(samples: list[Sample], estimators: list[str], hypotheses: int = 1, seed: int = 0,
             mano_dir=None, progress: Callable[[str, int, int], None] | None = None,
             max_hands: int | None = None) -> dict:
    """Scores of every estimator on `samples`.

    progress(estimator, images_done, images_total) is called after each image. max_hands: the
    detector's limit (default: the most GT hands in one image, at least 1).
    Returns {"images", "hands", "hypotheses", "seed", "thresholds_mm", "rows": [summary per
    estimator (and best-of-N)], "pck_curves": {row: (100,)}, "per_hand": [one dict per GT hand
    and estimator]}.
    """
    from ..inference.images import load_image
    from ..inference.pipeline import ESTIMATORS, Pipeline

    unknown = [n for n in estimators if n not in ESTIMATORS]
    if unknown or not estimators:
        raise MaskHandError(f"unknown estimator(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
                            f"expected some of {', '.join(ESTIMATORS)}")
    if hypotheses < 1:
        raise MaskHandError(f"hypotheses must be at least 1; got {hypotheses}")
    if not samples:
        raise MaskHandError("the dataset holds no annotated hands to evaluate")

    images = [list(group) for _, group in groupby(sorted(samples, key=lambda s: s.image_id), key=lambda s: s.image_id)]
    max_hands = max_hands or max(1, max((len(g) for g in images), default=1))
    rows, curves, per_hand = [], {}, []
    for name in estimators:
        records, elapsed, false_pos = [], 0.0, 0
        # "mediapipe" is MediaPipe alone: no second look through the retry views (keypoints.py)
        with Pipeline(estimator=name, max_hands=max_hands, mano_dir=mano_dir,
                      retry=False if name == "mediapipe" else None) as pipe:
            # one untimed call first: MediaPipe builds its graph and torch warms up on the first image
            pipe(load_image(images[0][0].image), images[0][0].K, hypotheses=hypotheses, seed=seed)
            for done, group in enumerate(images, 1):
                rgb = load_image(group[0].image)
                t0 = time.perf_counter()
                hands = pipe(rgb, group[0].K, hypotheses=hypotheses, seed=seed)
                elapsed += time.perf_counter() - t0
                gt_2d = [M.project(s.xyz, s.K) for s in group]
                found = match_hands(gt_2d, [s.side for s in group], [h.keypoints_2d for h in hands],
                                    [h.side for h in hands])
                false_pos += len(hands) - sum(d is not None for d in found)
                for sample, kp2d, d in zip(group, gt_2d, found):
                    records.append(_score_hand(sample, kp2d, None if d is None else hands[d]))
                if progress is not None:
                    progress(name, done, len(images))
        ms = 1000.0 * elapsed / max(len(images), 1)
        row, curve = _summary(name, records, "", ms, false_pos)
        rows.append(row)
        curves[name] = curve
        if any(r.get("best") is not None for r in records):
            row, curve = _summary(f"{name} best-of-N", records, "best", ms, false_pos)
            rows.append(row)
            curves[row["estimator"]] = curve
        per_hand.extend({"estimator": name, **_public(r)} for r in records)
    return {"images": len(images), "hands": len(samples), "hypotheses": hypotheses, "seed": seed,
            "thresholds_mm": (M.pck_thresholds() * 1000).tolist(), "rows": rows,
            "pck_curves": {k: (v.tolist() if np.isfinite(v).all() else None) for k, v in curves.items()}, "per_hand": per_hand}


def _score_hand(sample: Sample, gt_2d: np.ndarray, hand) -> dict:
    """Every per-hand number for one GT hand and its detection (None: missed)."""
    rec = {"image": str(sample.image), "image_id": sample.image_id, "side": sample.side, "detected": hand is not None}
    if hand is None:
        return rec
    rec["detected_side"] = hand.side
    valid = np.ones(21, bool) if sample.valid is None else sample.valid
    pred3d = hand.keypoints_3d if hand.keypoints_3d is not None else hand.world_landmarks
    pred2d = M.project(hand.keypoints_3d, sample.K) if hand.keypoints_3d is not None else hand.keypoints_2d
    rec["main"] = _score_keypoints(pred3d, pred2d, sample, gt_2d, valid)
    if rec["main"] is not None and hand.vertices is not None and sample.verts is not None:
        rec["main"].update(_score_mesh(hand.vertices, pred3d, sample, valid))
    if len(hand.hypotheses) > 1:
        scored = [_score_keypoints(h.keypoints_3d, M.project(h.keypoints_3d, sample.K), sample, gt_2d, valid)
                  for h in hand.hypotheses]
        best = int(np.argmin([s["pa_mpjpe_mm"] for s in scored]))
        rec["best"] = {**scored[best], "hypothesis": best}
    return rec


def _score_keypoints(pred3d, pred2d, sample: Sample, gt_2d: np.ndarray, valid: np.ndarray) -> dict | None:
    if pred3d is None:
        return None
    errors = np.full(21, np.nan)
    errors[valid] = M.pa_errors(np.asarray(pred3d)[valid], sample.xyz[valid])
    hits = M.pck_2d_hits(pred2d, gt_2d, sample.visible_2d)
    return {"pa_mpjpe_mm": float(np.nanmean(errors) * 1000), "pa_errors_m": errors, "pck2d_hits": hits}


def _score_mesh(verts: np.ndarray, pred3d: np.ndarray, sample: Sample, valid: np.ndarray) -> dict:
    gt = sample.verts
    out = {}
    if len(verts) == len(gt):
        aligned = M.align(verts, gt)
        out["pa_mpvpe_mm"] = float(M.point_errors(aligned, gt).mean() * 1000)
    else:  # different meshes: move the vertices with the keypoints' similarity (FreiHAND's align_by_trafo)
        aligned = M.procrustes(np.asarray(pred3d)[valid], sample.xyz[valid]).apply(verts)
    for t in M.F_THRESHOLDS_M:
        out[f"f{round(t * 1000)}"] = M.f_score(aligned, gt, t)
    return out


def _summary(name: str, records: list[dict], key: str, ms: float, false_pos: int) -> tuple[dict, np.ndarray]:
    """One table row: detection counts plus the dataset-level metrics over the scored hands."""
    key = key or "main"
    detected = [r for r in records if r["detected"]]
    scored = [r[key] for r in detected if r.get(key) is not None]
    row = {"estimator": name, "detected": len(detected), "total": len(records),
           "detection_rate": len(detected) / max(len(records), 1), "false_positives": false_pos,
           "side_accuracy": _mean([r["detected_side"] == r["side"] for r in detected]),
           "scored_3d": len(scored), "ms_per_image": ms}
    curve = np.full(M.PCK_3D_STEPS, np.nan)
    if scored:
        errors = np.stack([s["pa_errors_m"] for s in scored])  # (hands, 21), NaN where no GT
        curve = M.pck_curve(errors)
        # FreiHAND: mean over keypoints of each keypoint's mean error over the hands
        row["pa_mpjpe_mm"] = float(np.nanmean(np.nanmean(errors, 0)) * 1000)
        row["auc"] = M.auc(curve)
        row["pck2d"] = M.pck_2d(np.stack([s["pck2d_hits"] for s in scored]))
        for k in ("pa_mpvpe_mm", "f5", "f15"):
            row[k] = _mean([s[k] for s in scored if k in s])
    return row, curve


def _mean(values: list) -> float | None:
    return float(np.mean(values)) if values else None


def _public(rec: dict) -> dict:
    """A per-hand record as JSON: arrays to lists (NaN -> None)."""
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, np.ndarray):
            return [None if not np.isfinite(x) else round(float(x), 6) for x in v]
        return v
    return clean(rec)
