"""Which hand model is active: real MANO when the user points at MANO_*.pkl, else the open hand.

The MANO folder comes from the caller (Blender preferences, a CLI option) or from the
MASKHAND_MANO_DIR environment variable.
"""
import os
from pathlib import Path

from .model import HandModel
from .open_hand import load_open_hand
from .parts import check_side

ENV_VAR = "MASKHAND_MANO_DIR"


def mano_dir_from_env() -> Path | None:
    value = os.environ.get(ENV_VAR, "").strip()
    return Path(value) if value else None


def load_hand_model(side: str = "right", mano_dir: str | Path | None = None) -> HandModel:
    """The active hand model for `side`.

    mano_dir: a folder with MANO_RIGHT.pkl / MANO_LEFT.pkl (or a path to one of them); None
    falls back to $MASKHAND_MANO_DIR, then to the bundled open hand. A named folder without the
    file raises ModelFileError rather than silently using another model.
    """
    check_side(side)
    folder = Path(mano_dir) if mano_dir else mano_dir_from_env()
    if folder is None:
        return load_open_hand(side)
    from .mano_file import load_mano_model

    return load_mano_model(folder, side)
