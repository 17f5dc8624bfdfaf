"""The standard hand-pose metrics, defined as the field's reference evaluators define them.

Sources (read, not copied): FreiHAND's `eval.py` + `EvalUtil` (lmb-freiburg/freihand) for the
Procrustes alignment, PA-MPJPE/PA-MPVPE, the F-scores and the 3D PCK/AUC; HaMeR's `EvaluatorPCK`
(geopavlakos/hamer, hamer/utils/pose_utils.py) for the 2D PCK of its HInt benchmark.
docs/EVALUATION.md states every choice in words.

Legend: N points (21 keypoints or V vertices). 3D in metres, 2D in pixels; errors are returned in
metres unless the name says mm.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PCK_3D_MAX_M = 0.050  # FreiHAND: PCK curve over 0..50 mm ...
PCK_3D_STEPS = 100  # ... at 100 evenly spaced thresholds (np.linspace, both ends included)
F_THRESHOLDS_M = (0.005, 0.015)  # FreiHAND's F@5mm and F@15mm
PCK_2D_FRACTION = 0.05  # HInt: PCK@0.05 of the hand box's size


@dataclass(frozen=True)
class Similarity:
    """x_aligned = scale * (x - source_mean) @ rotation.T + target_mean, for (N, 3) rows x.

    rotation may be a reflection (det -1) when the alignment allowed it (FreiHAND's does).
    """
    rotation: np.ndarray  # (3, 3)
    scale: float
    source_mean: np.ndarray  # (3,)
    target_mean: np.ndarray  # (3,)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) -> (N, 3)."""
        return self.scale * (np.asarray(points, float) - self.source_mean) @ self.rotation.T + self.target_mean


def procrustes(pred: np.ndarray, gt: np.ndarray, allow_reflection: bool = True) -> Similarity:
    """The similarity (scale, rotation, translation) that best maps `pred` (N, 3) onto `gt` (N, 3).

    As FreiHAND's align_w_scale: both sets centred on their means and divided by their Frobenius
    norms, rotation from the SVD of gt_n^T pred_n (scipy's orthogonal_procrustes, which does NOT
    exclude reflections), scale = sum of the singular values. allow_reflection=False forces
    det(R) = +1 as HaMeR/HMR's compute_similarity_transform does; the two agree unless the
    prediction is mirrored or degenerate.
    """
    pred, gt = np.asarray(pred, float), np.asarray(gt, float)
    # 1. Centre and normalise both sets (1e-8 as FreiHAND, so a collapsed prediction does not divide by 0).
    mu_p, mu_g = pred.mean(0), gt.mean(0)
    p, g = pred - mu_p, gt - mu_g
    norm_p, norm_g = np.linalg.norm(p) + 1e-8, np.linalg.norm(g) + 1e-8
    p, g = p / norm_p, g / norm_g
    # 2. Rotation R with g ~ p @ R.T: maximise trace(R^T g^T p).
    u, sing, vt = np.linalg.svd(g.T @ p)
    d = np.ones(3)
    if not allow_reflection and np.linalg.det(u @ vt) < 0:
        d[-1] = -1.0
    rotation = (u * d) @ vt
    # 3. Scale of the normalised prediction onto the normalised ground truth, back to metres.
    scale = float((sing * d).sum()) * norm_g / norm_p
    return Similarity(rotation=rotation, scale=scale, source_mean=mu_p, target_mean=mu_g)


def align(pred: np.ndarray, gt: np.ndarray, allow_reflection: bool = True) -> np.ndarray:
    """`pred` (N, 3) moved onto `gt` (N, 3) by procrustes()."""
    return procrustes(pred, gt, allow_reflection).apply(pred)


def point_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N, 3), (N, 3) -> (N,) Euclidean distance per point."""
    return np.linalg.norm(np.asarray(pred, float) - np.asarray(gt, float), axis=-1)


def pa_errors(pred: np.ndarray, gt: np.ndarray, allow_reflection: bool = True) -> np.ndarray:
    """(N,) per-point distance (metres) after Procrustes-aligning `pred` onto `gt`."""
    return point_errors(align(pred, gt, allow_reflection), gt)


def pa_mpjpe_mm(pred: np.ndarray, gt: np.ndarray, allow_reflection: bool = True) -> float:
    """Mean per-point error after similarity Procrustes, in mm (PA-MPJPE on keypoints, PA-MPVPE on vertices)."""
    return float(pa_errors(pred, gt, allow_reflection).mean() * 1000.0)


def nearest_distances(source: np.ndarray, target: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """(S,) distance from each `source` (S, 3) point to its nearest `target` (T, 3) point."""
    source, target = np.asarray(source, float), np.asarray(target, float)
    out = np.empty(len(source))
    for start in range(0, len(source), chunk):  # (chunk, T) distance blocks keep memory flat
        block = source[start:start + chunk]
        d2 = ((block[:, None, :] - target[None, :, :]) ** 2).sum(-1)
        out[start:start + chunk] = np.sqrt(d2.min(1))
    return out


def f_score(pred: np.ndarray, gt: np.ndarray, threshold: float) -> float:
    """F-score at `threshold` metres between two point sets of any sizes (FreiHAND's calculate_fscore).

    precision: share of predicted points within threshold of some GT point; recall: share of GT
    points within threshold of some predicted point (strict <, as FreiHAND); F = 2PR / (P + R), 0 when
    both are 0 or a set is empty.
    """
    if len(pred) == 0 or len(gt) == 0:
        return 0.0
    precision = float((nearest_distances(pred, gt) < threshold).mean())
    recall = float((nearest_distances(gt, pred) < threshold).mean())
    if precision + recall == 0.0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


def pck_thresholds(max_m: float = PCK_3D_MAX_M, steps: int = PCK_3D_STEPS) -> np.ndarray:
    """(steps,) thresholds in metres: np.linspace(0, max_m, steps), FreiHAND's get_measures(0, 0.05, 100)."""
    return np.linspace(0.0, max_m, steps)


def pck_curve(errors: np.ndarray, thresholds: np.ndarray | None = None) -> np.ndarray:
    """PCK curve of per-keypoint errors, as FreiHAND's EvalUtil.

    errors: (M, J) metres, M hands x J keypoints (NaN = not evaluated). For each keypoint j the
    share of its errors <= t (inclusive, as EvalUtil._get_pck), then the mean over keypoints.
    Returns (T,) in [0, 1], non-decreasing in t.
    """
    errors = np.atleast_2d(np.asarray(errors, float))
    thresholds = pck_thresholds() if thresholds is None else np.asarray(thresholds, float)
    curves = []
    for column in errors.T:  # one curve per keypoint, over the hands where it was evaluated
        column = column[np.isfinite(column)]
        if column.size:
            curves.append((column[None, :] <= thresholds[:, None]).mean(1))
    if not curves:
        return np.full(len(thresholds), np.nan)
    return np.mean(curves, axis=0)


def auc(curve: np.ndarray, thresholds: np.ndarray | None = None) -> float:
    """Area under a PCK curve normalised to [0, 1]: trapezoid(curve) / trapezoid(ones), as FreiHAND.

    (FreiHAND averages per-keypoint AUCs; the trapezoid rule is linear, so that equals the AUC of
    the mean curve that pck_curve returns.)
    """
    thresholds = pck_thresholds() if thresholds is None else np.asarray(thresholds, float)
    curve = np.asarray(curve, float)
    return float(np.trapz(curve, thresholds) / np.trapz(np.ones_like(thresholds), thresholds))


def hand_box_size(keypoints_2d: np.ndarray, visible: np.ndarray | None = None) -> float:
    """Longer side (px) of the tight axis-aligned box around the GT keypoints that count.

    HInt's box comes from its annotated keypoints; here: the visible ones when visibility is known,
    else all 21.
    """
    kp = np.asarray(keypoints_2d, float)
    if visible is not None:
        kp = kp[np.asarray(visible, bool)]
    if len(kp) == 0:
        return float("nan")
    extent = kp.max(0) - kp.min(0)
    return float(extent.max())


def pck_2d_hits(pred_2d: np.ndarray, gt_2d: np.ndarray, visible: np.ndarray | None = None,
                fraction: float = PCK_2D_FRACTION) -> np.ndarray:
    """(21,) per keypoint: 1.0 within fraction x hand_box_size (inclusive <=, as HaMeR's
    keypoint_pck_accuracy), 0.0 outside, NaN for a keypoint that does not count (not visible)."""
    gt_2d = np.asarray(gt_2d, float)
    counts = np.ones(len(gt_2d), bool) if visible is None else np.asarray(visible, bool)
    limit = fraction * hand_box_size(gt_2d, counts)
    dist = np.linalg.norm(np.asarray(pred_2d, float) - gt_2d, axis=-1)
    hits = (dist <= limit).astype(float)
    hits[~counts] = np.nan
    return hits


def pck_2d(hits: np.ndarray) -> float:
    """Dataset PCK from stacked pck_2d_hits (M, 21): per keypoint the share of hits among the hands
    where it counts, then the mean over keypoints (HaMeR: correct.sum(0) / counted.sum(0), .mean())."""
    hits = np.atleast_2d(np.asarray(hits, float))
    counted = np.isfinite(hits)
    per_keypoint = np.nansum(hits, 0)[counted.any(0)] / counted.sum(0)[counted.any(0)]
    return float(per_keypoint.mean()) if per_keypoint.size else float("nan")


def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(N, 3) camera-frame points -> (N, 2) pixels with the pinhole K (FreiHAND's projectPoints)."""
    uvw = np.asarray(points, float) @ np.asarray(K, float).T
    return uvw[:, :2] / uvw[:, 2:3]
