"""Key a pose sequence onto a MaskHand rig: the one place where Blender data meets pose data.

Used by the import operator and by the headless CLI, so both write the same keys. Everything is
validated before any Blender data changes, so a failure leaves the scene as it was.
"""
from __future__ import annotations

import numpy as np

from ..errors import RigError
from ..handmodel.model import HandModel
from .build_rig import PROP_BETAS
from .pose_keys import key_poses, rig_side


def apply_sequence(arm_obj, seq, hand_model: HandModel | None = None, frame_start: int = 1):
    """Write `seq` (a posefiles.PoseSequence) as one new action on `arm_obj`.

    hand_model: the active model, used for MANO's mean hand when the file stores poses relative
    to it. Returns (action, warnings) with warnings as (level, message) pairs for the caller.
    """
    warnings: list[tuple[str, str]] = []
    side = rig_side(arm_obj)
    if seq.side != side:
        raise RigError(f"the poses are for a {seq.side} hand but '{arm_obj.name}' is a {side} hand rig")

    hand_pose = np.asarray(seq.hand_pose, np.float64)
    if seq.hand_mean == "mano":
        mean = None if hand_model is None else hand_model.hands_mean
        if mean is not None and np.any(mean):
            hand_pose = hand_pose + mean[None]
        else:
            warnings.append(('WARNING', f"{seq.source}: poses are stored relative to MANO's mean hand, "
                                        "which only the MANO files hold; keyed them relative to the flat hand"))
    rig_betas = np.asarray(arm_obj.get(PROP_BETAS, np.zeros(10)), np.float64)
    file_betas = np.asarray(seq.betas, np.float64).reshape(-1, np.shape(seq.betas)[-1]).mean(0)
    n = min(len(rig_betas), len(file_betas))
    if np.abs(rig_betas[:n] - file_betas[:n]).max(initial=0.0) > 1e-3:
        warnings.append(('INFO', f"{seq.source}: the file's hand shape differs from the rig's; "
                                 "the rig keeps its own bone lengths"))

    frames = frame_start + np.arange(len(hand_pose), dtype=np.float64)
    action = key_poses(arm_obj, seq.source, frames, seq.global_orient, hand_pose, seq.transl)
    return action, warnings
