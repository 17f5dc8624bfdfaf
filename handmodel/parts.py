"""Hand sides and hand parts: the one definition every layer uses (core, backend, Blender side).

Parts are what the generative model tokenises and what a user locks: the wrist, then the fingers
in MANO's order (joints.FINGERS). PART_JOINTS maps each to its MANO joint indices (0 wrist; 1..15
the fingers, proximal first), as joints.py lays them out.
"""
from __future__ import annotations

from ..errors import PoseDataError
from .joints import FINGERS, finger_joints

SIDES = ("right", "left")  # the order sides are listed in everywhere (results, takes, reports)

PARTS = ("wrist",) + FINGERS  # ("wrist", "index", "middle", "pinky", "ring", "thumb")
PART_JOINTS: dict[str, tuple[int, ...]] = {"wrist": (0,), **{f: finger_joints(f) for f in FINGERS}}


def check_side(side, where: str = "") -> str:
    """`side` when it is "right" or "left"; else PoseDataError, because a side names which MANO hand
    (MANO_RIGHT or MANO_LEFT) a pose belongs to, so a bad one is bad pose data wherever it came
    from (a file, an argument, a request). where: appended to the message (" in take.npz")."""
    if side not in SIDES:
        raise PoseDataError(f"side must be 'right' or 'left'; got {side!r}{where}")
    return side
