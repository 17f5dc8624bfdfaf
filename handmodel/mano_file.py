"""Real MANO: MANO_RIGHT.pkl / MANO_LEFT.pkl read safely (no code runs from the pickle).

The official files are Python-2 pickles holding chumpy objects; safe_pickle maps those to plain
arrays. Fingertips use the vertex ids the community uses with MANO (as smplx does).
"""
from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from .model import HandModel
from .safe_pickle import load_mano_dict

# MANO's fingertip vertices in TIP_ORDER (thumb, index, middle, ring, pinky), as in smplx.
MANO_TIP_VERTICES = np.array([744, 320, 443, 554, 671])


def mano_path(folder_or_file: str | Path, side: str) -> Path:
    """The MANO file for `side`: the path itself if it is a file, else FOLDER/MANO_<SIDE>.pkl."""
    p = Path(folder_or_file).expanduser()
    if p.is_file():
        return p
    f = p / f"MANO_{side.upper()}.pkl"
    if not f.is_file():
        raise ModelFileError(f"MANO model for the {side} hand not found: expected {f}")
    return f


def hand_model_from_mano_dict(data: dict, side: str, name: str,
                              tip_vertices: np.ndarray | None = None) -> HandModel:
    """A MANO-layout dict (as in MANO_*.pkl or our export) -> HandModel."""
    J_reg = data["J_regressor"]
    J_reg = np.asarray(J_reg.todense() if hasattr(J_reg, "todense") else J_reg, np.float64)
    parents = np.asarray(data["kintree_table"][0], np.int64).copy()
    parents[0] = -1
    from .joints import PARENTS
    if not np.array_equal(parents, PARENTS):
        raise ModelFileError(f"{name}: joint tree {parents.tolist()} is not MANO's 16-joint tree")
    v = np.asarray(data["v_template"], np.float64)
    tips = MANO_TIP_VERTICES if tip_vertices is None else np.asarray(tip_vertices, np.int64)
    if tips.max() >= v.shape[0]:
        raise ModelFileError(f"{name}: fingertip vertex {tips.max()} out of range for {v.shape[0]} vertices")
    posedirs = np.asarray(data["posedirs"], np.float64)
    return HandModel(
        side=side,
        name=name,
        v_template=v,
        faces=np.asarray(data["f"], np.int64),
        weights=np.asarray(data["weights"], np.float64),
        J_regressor=J_reg,
        shapedirs=np.asarray(data["shapedirs"], np.float64),
        tip_vertices=tips,
        hands_mean=np.asarray(data.get("hands_mean", np.zeros(45)), np.float64).reshape(45),
        posedirs=posedirs if np.any(posedirs) else None,
    )


def load_mano_model(folder_or_file: str | Path, side: str) -> HandModel:
    """HandModel from a MANO pickle. For the left hand, the official MANO_LEFT.pkl's known
    shapedirs bug (x not mirrored) is fixed when MANO_RIGHT.pkl lies beside it, as HaMeR does."""
    path = mano_path(folder_or_file, side)
    data = load_mano_dict(path)
    tips = data.get("maskhand_tip_vertices")
    model = hand_model_from_mano_dict(data, side, path.name, tips)
    right = path.with_name("MANO_RIGHT.pkl")
    if side == "left" and path.name == "MANO_LEFT.pkl" and right.is_file():
        other = load_mano_dict(right)["shapedirs"]
        if np.abs(model.shapedirs[:, 0] - np.asarray(other)[:, 0]).sum() < 1.0:
            fixed = model.shapedirs.copy()
            fixed[:, 0] *= -1
            object.__setattr__(model, "shapedirs", fixed)
    return model
