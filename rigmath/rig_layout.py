"""Where the bones of a MaskHand rig go: heads, tails, rolls, parents, names.

One deforming bone per MANO joint (head at the joint, tail at the next joint or fingertip) plus
five non-deforming tip bones (heads at the fingertip vertices, for keypoints and IK targets).
Armature space is the hand model's frame; the armature object's rotation only orients it nicely
in Blender's world (see DISPLAY_ROTATION).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..handmodel.joints import FINGERS, PARENTS, TIP_ORDER, TIP_PARENT
from ..handmodel.model import HandModel
from ..handmodel.parts import check_side

TIP_LENGTH = 0.006  # metres; tip bones only mark the fingertip, their length is cosmetic

# Model frame -> Blender world for a hand added at the 3D cursor: fingers along +Y, palm down
# (-Z). Model axes: right hand fingers along -x, palm facing -y, thumb towards +z.
DISPLAY_ROTATION = np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def suffix(side: str) -> str:
    return ".R" if check_side(side) == "right" else ".L"


def joint_bone_names(side: str) -> list[str]:
    """The 16 deforming bones in MANO joint order: wrist.R, index.01.R ... thumb.03.R."""
    s = suffix(side)
    return ["wrist" + s] + [f"{f}.{k:02d}{s}" for f in FINGERS for k in (1, 2, 3)]


def tip_bone_names(side: str) -> list[str]:
    """The 5 tip bones in TIP_ORDER: thumb.tip.R, index.tip.R, ..."""
    return [f"{f}.tip{suffix(side)}" for f in TIP_ORDER]


@dataclass(frozen=True)
class RigLayout:
    """names (21,), heads (21, 3), tails (21, 3), z_axes (21, 3): the direction each bone's local Z
    should point to (sets the roll), parents (21,) index or -1, deform (21,) bool. Joint bones come
    first, in MANO order; tip bones follow in TIP_ORDER."""
    side: str
    names: list[str]
    heads: np.ndarray
    tails: np.ndarray
    z_axes: np.ndarray
    parents: np.ndarray
    deform: np.ndarray


def rig_layout(model: HandModel, betas: np.ndarray | None = None) -> RigLayout:
    """Bone placement for `model` with shape `betas` (S,), in the model frame.

    Rolls: every bone's local Z points along the rest hand's palm normal (-y, out of the palm),
    so its local X is the flexion axis and a positive X rotation curls a finger towards the
    palm, on either side.
    """
    J = model.rest_joints(betas)
    tips = model.rest_tips(betas)
    names = joint_bone_names(model.side) + tip_bone_names(model.side)
    heads = np.concatenate([J, tips])
    tails = np.zeros_like(heads)
    children = {p: j for j, p in enumerate(PARENTS) if p > 0}  # finger joints have one child
    for j in range(16):
        if j == 0:
            tails[j] = J[4]  # wrist points at the middle finger's knuckle
        elif j in children:
            tails[j] = J[children[j]]
        else:  # distal joint: ends at its fingertip
            tails[j] = tips[[TIP_PARENT[f] for f in TIP_ORDER].index(j)]
    for i, f in enumerate(TIP_ORDER):
        d = tips[i] - J[TIP_PARENT[f]]
        tails[16 + i] = tips[i] + TIP_LENGTH * d / np.linalg.norm(d)
    z_axes = np.tile([0.0, -1.0, 0.0], (21, 1))
    parents = np.concatenate([PARENTS, [TIP_PARENT[f] for f in TIP_ORDER]])
    deform = np.array([True] * 16 + [False] * 5)
    return RigLayout(model.side, names, heads, tails, z_axes, parents, deform)

