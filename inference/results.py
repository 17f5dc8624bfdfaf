"""What estimators return for one image, and its JSON form (docs/PREDICT.md).

Legend: V vertices. Camera frame: OpenCV (x right, y down, z forward), metres. Keypoints in
OpenPose/FreiHAND order (21). MANO parameters of the hand's own side (a left hand's are left-hand
parameters, as MANO_LEFT takes them), hand_pose relative to the flat hand.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Hypothesis:
    """One candidate pose: score (higher is better), keypoints_3d (21, 3) camera frame,
    mano {global_orient (3,), hand_pose (45,), betas (S,)}, cam_t (3,), seed/temperature when sampled,
    tokens: the VQ-MANO token ids it was decoded from (of the right-hand view: left hands are
    mirrored before tokenizing), which a later request can lock part by part; part_confidence: (6,) per
    hand part (handmodel.parts.PARTS order) the geometric mean probability of its tokens when the
    sampler fixed them, 0..1 (1 for locked parts); None for estimators without tokens."""
    score: float
    keypoints_3d: np.ndarray
    mano: dict
    cam_t: np.ndarray
    seed: int | None = None
    temperature: float | None = None
    tokens: list[int] | None = None
    part_confidence: list[float] | None = None

    def to_json(self) -> dict:
        out = {"score": float(self.score), "keypoints_3d": _list(self.keypoints_3d),
               "mano": {k: _list(v) for k, v in self.mano.items()}, "cam_t": _list(self.cam_t)}
        if self.seed is not None:
            out["seed"], out["temperature"] = int(self.seed), float(self.temperature or 0.0)
        if self.tokens is not None:
            out["tokens"] = [int(t) for t in self.tokens]
        if self.part_confidence is not None:
            out["part_confidence"] = [round(float(c), 5) for c in self.part_confidence]
        return out


@dataclass
class HandResult:
    """One hand in an image.

    side: "left" | "right" (as seen in the image, mirror-corrected); score: detection confidence;
    keypoints_2d (21, 2) px in the full image; keypoints_3d (21, 3) camera frame metres (None when the
    method has no metric 3D, e.g. MediaPipe: then world_landmarks only); mano/cam_t of the best
    hypothesis; hypotheses ranked best first; vertices (V, 3) camera frame (not written to JSON);
    found_by: which detection try found it ("mediapipe", or a retry view: inference/hand_search.py).
    """
    side: str
    score: float
    keypoints_2d: np.ndarray
    keypoints_3d: np.ndarray | None = None
    mano: dict | None = None
    cam_t: np.ndarray | None = None
    hypotheses: list[Hypothesis] = field(default_factory=list)
    vertices: np.ndarray | None = None
    world_landmarks: np.ndarray | None = None  # (21, 3) MediaPipe metric, hand-centred
    box: tuple[float, float, float, float] | None = None  # square crop (x0, y0, x1, y1) px
    found_by: str = "mediapipe"

    def to_json(self) -> dict:
        return {
            "side": self.side,
            "score": float(self.score),
            "found_by": self.found_by,
            "keypoints_2d": _list(self.keypoints_2d),
            "keypoints_3d": _list(self.keypoints_3d),
            "mano": None if self.mano is None else {k: _list(v) for k, v in self.mano.items()},
            "cam_t": _list(self.cam_t),
            "hypotheses": [h.to_json() for h in self.hypotheses],
        }


def _list(a):
    return None if a is None else np.asarray(a, dtype=np.float64).round(6).tolist()
