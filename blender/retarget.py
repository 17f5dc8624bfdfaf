"""Retarget MANO poses onto any hand rig in Blender: read rest data, validate, pose or key in bulk.

The maths is rigmath.retarget (pure numpy); this module only turns an armature into plain arrays and
writes the resulting quaternions: live on the pose bones (one pose) or as keys merged into the
armature's own action (a take; the character's other animation stays). Every check runs before any
Blender data changes, so a bad mapping or bad poses leave the scene as it was.
"""
from __future__ import annotations

import numpy as np

from ..errors import RigError
from ..handmodel.model import HandModel
from ..rigmath.retarget import ArmatureRest, resolve_target, retarget_quaternions
from ..rigmath.retarget_map import JOINT_SLOTS, RetargetMap, detect_map, match_preset, preset_map, validate
from .keyframes import merge_pose_keys


def armature_of(obj):
    """`obj` when it is an armature object, else RigError saying what it is."""
    if obj is None:
        raise RigError("no target armature: select the character's armature")
    if getattr(obj, "type", None) != 'ARMATURE':
        raise RigError(f"'{obj.name}' is a {str(getattr(obj, 'type', '?')).lower()}, not an armature")
    return obj


def read_rest(arm_obj) -> ArmatureRest:
    """The armature's rest bones as arrays (bone.matrix_local, tail_local, parents), armature space."""
    bones = armature_of(arm_obj).data.bones
    names = tuple(b.name for b in bones)
    index = {n: i for i, n in enumerate(names)}
    mats = np.empty(len(bones) * 16, np.float32)
    bones.foreach_get("matrix_local", mats)
    # foreach_get flattens matrices column by column; transpose back to rows.
    mats = mats.reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64)
    tails = np.empty(len(bones) * 3, np.float32)
    bones.foreach_get("tail_local", tails)
    parents = np.array([index[b.parent.name] if b.parent else -1 for b in bones], np.int64)
    return ArmatureRest(names, parents, mats, tails.reshape(-1, 3).astype(np.float64))


def detect(arm_obj, side: str) -> RetargetMap:
    """The preset mapping that fits the armature's bone names for `side` (RigError if none)."""
    return detect_map([b.name for b in armature_of(arm_obj).data.bones], side)


def resolve_mapping(arm_obj, side: str, preset: str = "auto") -> RetargetMap:
    """The mapping of `side`'s hand on the armature: "auto" detects it from the bone names, a
    preset name (rigmath.retarget_map.PRESETS) matches that preset; RigError when it does not fit."""
    if preset == "auto":
        return detect(arm_obj, side)
    names = [b.name for b in armature_of(arm_obj).data.bones]
    mapping = match_preset(preset, side, names)
    missing = [preset_map(preset, side).bones[s] for s in JOINT_SLOTS if s not in mapping.bones]
    if missing:
        raise RigError(f"'{arm_obj.name}' does not fit the {preset} preset for the {side} hand: "
                       f"it lacks {', '.join(missing)}")
    validate(mapping, names)
    return mapping


def hand_quaternions(arm_obj, mapping: RetargetMap, model: HandModel, global_orient, hand_pose, betas=None,
                     pose_wrist: bool = True) -> tuple[list[str], np.ndarray]:
    """(names, (F, B, 4) quaternions) for the mapped bones; nothing in Blender changes."""
    target = resolve_target(mapping, read_rest(arm_obj))
    return retarget_quaternions(target, model, np.atleast_2d(global_orient), np.atleast_2d(hand_pose),
                                betas, pose_wrist=pose_wrist)


def pose_hand(arm_obj, mapping: RetargetMap, model: HandModel, global_orient, hand_pose, betas=None,
              pose_wrist: bool = True, key_frame: float | None = None) -> list[tuple[str, str]]:
    """Pose the mapped bones with one MANO pose (3,), (45,); with `key_frame`, also key it there
    (merged into the armature's action). Returns warnings as (level, message) pairs."""
    names, quats = hand_quaternions(arm_obj, mapping, model, global_orient, hand_pose, betas, pose_wrist)
    warnings = _mode_warnings(arm_obj, names)
    if key_frame is not None:
        merge_pose_keys(arm_obj, f"{arm_obj.name}Action", names, [float(key_frame)], quats[:1])
    for name, q in zip(names, quats[0]):
        pb = arm_obj.pose.bones[name]
        pb.rotation_mode = 'QUATERNION'
        pb.rotation_quaternion = q
    return warnings


def retarget_sequence(arm_obj, seq, mapping: RetargetMap, model: HandModel, frame_start: int = 1,
                      pose_wrist: bool = True, frames=None):
    """Key `seq` (posefiles.PoseSequence) onto the mapped bones from `frame_start`, or at the scene
    `frames` (F,) given (a tracked take with gaps).

    Keys go into the armature's own action (merged: keys of these bones in the take's frame range
    are replaced, everything else stays); an armature without animation gets a new action named
    after the take. MANO-mean-relative files are converted with the model's hands_mean.
    Returns (action, warnings) with warnings as (level, message) pairs.
    """
    armature_of(arm_obj)
    if seq.side != mapping.side:
        raise RigError(f"the poses are for a {seq.side} hand but the mapping is for the {mapping.side} hand")
    warnings: list[tuple[str, str]] = []
    hand_pose = np.asarray(seq.hand_pose, np.float64)
    if seq.hand_mean == "mano":
        if np.any(model.hands_mean):
            hand_pose = hand_pose + model.hands_mean[None]
        else:
            warnings.append(('WARNING', f"{seq.source}: poses are stored relative to MANO's mean hand, "
                                        "which only the MANO files hold; keyed them relative to the flat hand"))
    betas = np.asarray(seq.betas, np.float64).reshape(-1, np.shape(seq.betas)[-1]).mean(0)
    names, quats = hand_quaternions(arm_obj, mapping, model, seq.global_orient, hand_pose, betas, pose_wrist)
    warnings += _mode_warnings(arm_obj, names)
    if frames is None:
        frames = frame_start + np.arange(len(quats), dtype=np.float64)
    action = merge_pose_keys(arm_obj, seq.source, names, frames, quats)
    return action, warnings


def mapped_points(arm_obj, mapping: RetargetMap) -> np.ndarray:
    """(21, 3) posed armature-space points of the mapped hand as Blender evaluates it (constraints,
    drivers): the 16 joint bones' heads, then per finger in TIP_ORDER its tip bone's head or else
    its distal bone's tail. What retargeting is measured on (rigmath.retarget.segment_angles)."""
    from ..handmodel.joints import TIP_ORDER, TIP_PARENT
    from ..rigmath.retarget_map import JOINT_SLOTS

    pose = armature_of(arm_obj).pose.bones
    heads = [np.array(pose[mapping.bones[s]].head) for s in JOINT_SLOTS]
    ends = []
    for f in TIP_ORDER:
        tip = mapping.bones.get(f"{f}_tip")
        ends.append(np.array(pose[tip].head) if tip else np.array(pose[mapping.bones[JOINT_SLOTS[TIP_PARENT[f]]]].tail))
    return np.array(heads + ends, np.float64)


def _mode_warnings(arm_obj, names) -> list[tuple[str, str]]:
    """Bones switched from Euler/axis-angle to quaternions: their old rotation keys stop driving them."""
    switched = [n for n in names if arm_obj.pose.bones[n].rotation_mode != 'QUATERNION']
    if not switched:
        return []
    more = f" and {len(switched) - 6} more" if len(switched) > 6 else ""
    return [('WARNING', f"switched {', '.join(switched[:6])}{more} to quaternion rotation; "
                        "their Euler rotation keys no longer drive them")]
