"""Camera intrinsics: the user's K when given (`--intrinsics`), else a documented default.

K is the 3x3 pinhole matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] in pixels, OpenCV convention
(x right, y down, z forward; pixel (i, j) covers [i, i+1) x [j, j+1), so the image centre is
(W/2, H/2), the convention MediaPipe's normalised coordinates times the image size follow).
Metric depth from one image is only as good as K: a wrong focal length scales the hand's distance.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..errors import InputFileError, MaskHandError

# Without intrinsics the focal length in pixels equals the image's longer side: a field of view of
# 2*atan(1/2) = 53.1 degrees across the longer side, i.e. a 36 mm full-frame-equivalent lens. A
# simple, size-independent middle ground: a phone's main camera is wider (24-28 mm equivalent,
# about 65-73 degrees) and cropped or zoomed shots are narrower. Pass --intrinsics when it matters.
DEFAULT_FOCAL = "longer side"
DEFAULT_FOV_DEG = math.degrees(2.0 * math.atan(0.5))


def default_intrinsics(width: int, height: int) -> np.ndarray:
    """(3, 3) float64 K with fx = fy = max(width, height) and the principal point at the centre."""
    if not (_is_positive_int(width) and _is_positive_int(height)):
        raise MaskHandError(f"image size must be two positive integers; got {width!r} x {height!r}")
    f = float(max(width, height))
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def load_intrinsics(path, count: int) -> list[np.ndarray]:
    """The K for each of `count` images from a JSON file.

    The file holds one 3x3 matrix (used for every image) or a list of exactly `count` 3x3 matrices
    (one per image, in processing order). Every K must be finite with positive fx, fy and a last
    row of [0, 0, 1]. Returns `count` (3, 3) float64 arrays; raises InputFileError otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"cannot read intrinsics {path}: no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputFileError(f"cannot read intrinsics {path}: not valid JSON ({err})") from err
    expected = f"expected one 3x3 matrix or a list of {count} 3x3 matrices (one per image)"
    try:
        K = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputFileError(f"intrinsics {path} are not numeric matrices; {expected}") from err
    if K.shape == (3, 3):
        Ks = np.broadcast_to(K, (count, 3, 3))
    elif K.ndim == 3 and K.shape[1:] == (3, 3):
        if len(K) != count:
            raise InputFileError(f"intrinsics {path} hold {len(K)} matrices for {count} images; {expected}")
        Ks = K
    else:
        raise InputFileError(f"intrinsics {path} have shape {K.shape}; {expected}")
    for i, k in enumerate(Ks):
        problem = _problem(k)
        if problem:
            which = "" if K.ndim == 2 else f" (matrix {i})"
            raise InputFileError(f"intrinsics {path}{which} are not a camera matrix: {problem}")
    return [np.array(k) for k in Ks]


def _problem(K: np.ndarray) -> str | None:
    """What makes K unusable as a pinhole camera, or None."""
    if not np.all(np.isfinite(K)):
        return "it holds NaN or infinite values"
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        return f"focal lengths must be positive; got fx={K[0, 0]:g}, fy={K[1, 1]:g}"
    if not np.allclose(K[2], [0.0, 0.0, 1.0], atol=1e-6):
        return f"the last row must be [0, 0, 1]; got {K[2].tolist()}"
    return None


def _is_positive_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0
