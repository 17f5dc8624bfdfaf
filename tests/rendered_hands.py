"""The committed fixture renders (tests/fixtures/hands, evaluation split) with their ground truth, for
the detection and image-context tests: the renderer's keypoints projected with its K, and the side."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from maskhand.evaluation.metrics import project
from maskhand.inference.images import load_image

HANDS = Path(__file__).resolve().parent / "fixtures" / "hands"


def rendered_hands() -> list[dict]:
    """[{image (H, W, 3) uint8, K (3, 3), uv (21, 2) px, xyz (21, 3) m, side}] in file order."""
    xyz = json.loads((HANDS / "evaluation_xyz.json").read_text())
    K = json.loads((HANDS / "evaluation_K.json").read_text())
    meta = json.loads((HANDS / "evaluation_meta.json").read_text())["images"]
    paths = sorted((HANDS / "evaluation" / "rgb").glob("*.jpg"))
    return [dict(image=load_image(p), K=np.array(k), uv=project(np.array(x), np.array(k)), xyz=np.array(x),
                 side=m["side"])
            for p, x, k, m in zip(paths, xyz, K, meta)]
