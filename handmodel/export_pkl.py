"""Write a HandModel in MANO's pickle layout, with plain numpy/scipy objects (no chumpy).

smplx's MANO layer loads the result directly (`smplx.MANO(path, use_pca=False,
flat_hand_mean=True)`): this is how the open hand interoperates with the ecosystem.
"""
import pickle
from pathlib import Path

import numpy as np
import scipy.sparse

from .model import HandModel


def mano_dict(model: HandModel) -> dict:
    """HandModel -> dict with MANO_*.pkl's keys (posedirs zero for the open hand)."""
    V = model.v_template.shape[0]
    kintree = np.stack([model.parents, np.arange(16)]).astype(np.int64)
    kintree[0, 0] = 4294967295  # MANO stores the root's parent as uint32(-1)
    return {
        "v_template": model.v_template.astype(np.float64),
        "f": model.faces.astype(np.uint32),
        "weights": model.weights.astype(np.float64),
        "J_regressor": scipy.sparse.csc_matrix(model.J_regressor.astype(np.float64)),
        "J": model.rest_joints(),
        "kintree_table": kintree,
        "shapedirs": model.shapedirs.astype(np.float64),
        "posedirs": (model.posedirs if model.posedirs is not None else np.zeros((V, 3, 135))).astype(np.float64),
        "hands_components": np.eye(45),
        "hands_mean": model.hands_mean.astype(np.float64),
        "hands_coeffs": np.zeros((1, 45)),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
        "maskhand_tip_vertices": model.tip_vertices.astype(np.int64),
        "maskhand_source": model.name,
    }


def export_mano_pkl(model: HandModel, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:
        pickle.dump(mano_dict(model), fh, protocol=2)
    return out
