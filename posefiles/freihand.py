"""FreiHAND's training_mano.json / evaluation_mano.json: a JSON list of 61-value rows.

Each row is [61 floats] or [[61 floats]] (the official files use the latter):
  [0:3]   global_orient, axis-angle
  [3:48]  hand_pose, 15 joints x 3 axis-angle in MANO order, relative to MANO's MEAN hand
  [48:58] betas
  [58:61] uv_root (2, pixels) and scale (1): a weak-perspective root position, NOT a metric
          translation (it needs the image's K and the posed model to become one), so it is not read.
FreiHAND's own toolbox (lmb-freiburg/freihand, utils/model.py) splits rows this way (split_theta)
and poses MANO with use_mean_pose=True, i.e. flat_hand_mean=False: hence hand_mean="mano".
All FreiHAND hands are right hands; each row is an independent sample, not a video frame.
"""
import numpy as np

from ..errors import PoseDataError
from .sequence import PoseSequence

ROW_SIZE = 61


def is_freihand_rows(data) -> bool:
    """Whether parsed JSON looks like FreiHAND MANO rows (a list of number lists)."""
    if not isinstance(data, list) or not data:
        return False
    first = data[0]
    if isinstance(first, list) and len(first) == 1 and isinstance(first[0], list):
        first = first[0]
    return isinstance(first, list) and len(first) > 0 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in first)


def sequences_from_freihand(rows: list, source: str, side: str | None, fps: float) -> list[PoseSequence]:
    """FreiHAND rows -> [PoseSequence] with hand_mean="mano", transl None, side right unless told."""
    table = np.empty((len(rows), ROW_SIZE))  # (N, 61)
    for i, row in enumerate(rows):
        if isinstance(row, list) and len(row) == 1 and isinstance(row[0], list):
            row = row[0]
        if not isinstance(row, list) or len(row) != ROW_SIZE:
            got = len(row) if isinstance(row, list) else type(row).__name__
            raise PoseDataError(f"{source}: FreiHAND MANO rows must have {ROW_SIZE} values "
                                f"(48 pose, 10 shape, 3 root); got {got} in row {i}")
        try:
            table[i] = np.asarray(row, dtype=np.float64)
        except (TypeError, ValueError):
            raise PoseDataError(f"{source}: row {i} must hold only numbers") from None
    return [PoseSequence(global_orient=table[:, 0:3], hand_pose=table[:, 3:48], betas=table[:, 48:58],
                         transl=None, side=side or "right", fps=fps, source=source, hand_mean="mano")]
