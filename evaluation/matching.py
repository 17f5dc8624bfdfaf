"""Which detection is which ground-truth hand: a one-to-one assignment per image.

A detection may stand for a GT hand when the centroid of its 2D keypoints lies within half the GT
hand's size (longer side of the GT keypoints' box) of the GT keypoints' centroid. Among those,
the assignment minimises the total cost (Hungarian), where the cost is the mean 2D keypoint
distance over the GT hand's size, plus SIDE_PENALTY when the detector called the hand's side
wrong: the same side is preferred, but a hand found with the wrong side still counts as found
(reported as side accuracy). GT hands left without a detection are misses; detections left
without a GT hand are false positives.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from .metrics import hand_box_size

MAX_CENTROID_OFFSET = 0.5  # x GT hand size: farther away it is another hand (or none)
SIDE_PENALTY = 0.5  # cost added for a wrong side: larger than a typical keypoint error (< 0.2)


def match_hands(gt_2d: list[np.ndarray], gt_sides: list[str], det_2d: list[np.ndarray],
                det_sides: list[str]) -> list[int | None]:
    """For each GT hand (21, 2) px the index of its detection (21, 2) px, or None when missed."""
    if not gt_2d or not det_2d:
        return [None] * len(gt_2d)
    blocked = 1e6
    cost = np.full((len(gt_2d), len(det_2d)), blocked)
    for g, (gkp, gside) in enumerate(zip(gt_2d, gt_sides)):
        size = max(hand_box_size(gkp), 1e-6)
        for d, (dkp, dside) in enumerate(zip(det_2d, det_sides)):
            offset = np.linalg.norm(dkp.mean(0) - gkp.mean(0)) / size
            if offset <= MAX_CENTROID_OFFSET:
                cost[g, d] = np.linalg.norm(dkp - gkp, axis=1).mean() / size + (SIDE_PENALTY if dside != gside else 0.0)
    rows, cols = linear_sum_assignment(cost)
    out: list[int | None] = [None] * len(gt_2d)
    for g, d in zip(rows, cols):
        if cost[g, d] < blocked:
            out[g] = int(d)
    return out
