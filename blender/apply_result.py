"""One estimated hypothesis -> the pose bones of a MaskHand rig, live or keyed at one frame.

The panels' hypothesis list, the Keyframe button and ``maskhand.api.apply`` all pose rigs through
here, and through blender/pose_keys.py like every other path that keys a rig, so they agree to the
last bit. Everything is validated before a bone changes, so a bad hypothesis leaves the rig as it was.

Legend: J=16 MANO joints (wrist; index, middle, pinky, ring, thumb x3). Quaternions (w, x, y, z).
A hypothesis is the JSON of inference.results.Hypothesis: {"score", "mano": {"global_orient" (3,),
"hand_pose" (45,) flat-hand relative, the hand's own side, "betas"}, "cam_t" (3,) camera frame
(OpenCV), "seed", "temperature", "tokens"}, and "side" where the caller attached it (maskhand.api does).
"""
from __future__ import annotations

import numpy as np

from ..errors import PoseDataError, RigError
from ..handmodel.parts import PART_JOINTS, PARTS
from ..rigmath.rig_layout import joint_bone_names
from .build_rig import PROP_SIDE
from .pose_keys import rig_pose, rig_side, set_pose

def hypothesis_pose(hypothesis: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A hypothesis dict -> (global_orient (3,), hand_pose (45,), cam_t (3,)) float64, or PoseDataError."""
    mano = hypothesis.get("mano") if isinstance(hypothesis, dict) else None
    if not isinstance(mano, dict):
        raise PoseDataError("the hypothesis has no MANO parameters (the 'mediapipe' estimator gives none)")
    try:
        go = np.asarray(mano["global_orient"], np.float64).reshape(3)
        hp = np.asarray(mano["hand_pose"], np.float64).reshape(45)
        cam_t = np.asarray(hypothesis.get("cam_t") or [0.0, 0.0, 0.0], np.float64).reshape(3)
    except (KeyError, TypeError, ValueError) as err:
        raise PoseDataError(f"the hypothesis's MANO parameters are malformed: {err}") from err
    if not (np.isfinite(go).all() and np.isfinite(hp).all() and np.isfinite(cam_t).all()):
        raise PoseDataError("the hypothesis's MANO parameters hold NaN or infinite values")
    return go, hp, cam_t


def merge_locked(base: dict, new: dict, parts) -> dict:
    """``new`` with the joints of the locked ``parts`` taken from ``base`` (both hypothesis dicts).

    The generative model keeps locked tokens, but its 2D refinement and any estimator without tokens
    may still move them; copying the locked joints' axis-angles guarantees the locked bones of the
    rig do not move (a bone's pose depends only on its own joint's local rotation).
    """
    unknown = [p for p in parts if p not in PART_JOINTS]
    if unknown:
        raise PoseDataError(f"unknown hand part(s) {', '.join(map(repr, unknown))}; expected some of {', '.join(PARTS)}")
    go_b, hp_b, _ = hypothesis_pose(base)
    go, hp, _ = hypothesis_pose(new)
    aa = np.concatenate([go[None], hp.reshape(15, 3)])  # (J, 3)
    aa_b = np.concatenate([go_b[None], hp_b.reshape(15, 3)])  # (J, 3)
    for part in parts:
        idx = list(PART_JOINTS[part])
        aa[idx] = aa_b[idx]
    merged = dict(new)
    merged["mano"] = dict(new["mano"], global_orient=aa[0].tolist(), hand_pose=aa[1:].reshape(45).tolist())
    merged["locked_parts"] = sorted(parts, key=PARTS.index)
    return merged


def find_rig(scene, side: str, preferred=None, active=None):
    """The rig that receives `side`'s hand: `preferred` (the panel's rig) when it is that side, else
    `active` (the active object), else the first MaskHand armature of that side in the scene, by
    name; None when there is none."""
    candidates = [preferred, active]
    candidates += sorted((o for o in scene.objects if o.type == 'ARMATURE' and o.get(PROP_SIDE) == side),
                         key=lambda o: o.name)
    for obj in candidates:
        if obj is None or obj.type != 'ARMATURE' or obj.name not in scene.objects:
            continue
        try:
            if rig_side(obj) == side:
                return obj
        except RigError:
            continue
    return None


def hypothesis_rig_pose(arm_obj, hypothesis: dict):
    """The RigPose (blender/pose_keys.py, N=1) that poses `arm_obj` as `hypothesis`; nothing changes yet.

    A hypothesis that names its side (maskhand.api's do) must match the rig's: a right hand's pose on
    a left rig would land mirrored, so it is refused with RigError. The wrist location is MANO's
    translation in the wrist bone's rest axes: with a camera at the armature's origin looking down
    its +z axis, the rig then lies over the hand in the image.
    """
    side = rig_side(arm_obj)
    wanted = hypothesis.get("side") if isinstance(hypothesis, dict) else None
    if wanted is not None and wanted != side:
        raise RigError(f"the hypothesis is for a {wanted} hand but '{arm_obj.name}' is a {side} hand rig")
    go, hp, cam_t = hypothesis_pose(hypothesis)
    return rig_pose(arm_obj, go[None], hp[None], cam_t[None])


def pose_rig(arm_obj, hypothesis: dict, use_location: bool = False) -> list[str]:
    """Set the rig's joint bones to `hypothesis` (no keyframes); returns the bone names posed.

    use_location: also move the wrist bone by the camera translation (see hypothesis_rig_pose);
    else the wrist stays where the rig is and only rotations change.
    """
    return set_pose(arm_obj, hypothesis_rig_pose(arm_obj, hypothesis), 0, use_location)


def key_rig(arm_obj, hypothesis: dict, frame: float, use_location: bool = False) -> list[str]:
    """Pose the rig as `hypothesis` and key its joint bones' rotations (and the wrist's location
    when use_location) at `frame`, one key per channel, into the rig's current action (Blender makes
    one with a slot when the rig has none). Returns the names of the bones keyed. Only the hand's joint
    bones are touched: other bones and channels of the action keep their keys.
    """
    names = pose_rig(arm_obj, hypothesis, use_location)
    for name in names:
        arm_obj.pose.bones[name].keyframe_insert("rotation_quaternion", frame=frame, group=name)
    if use_location:
        arm_obj.pose.bones[names[0]].keyframe_insert("location", frame=frame, group=names[0])
    return names


def read_pose(arm_obj) -> np.ndarray:
    """(J, 4) current rotation_quaternion of the rig's joint bones, MANO order (for tests and checks)."""
    names = joint_bone_names(rig_side(arm_obj))
    return np.array([tuple(arm_obj.pose.bones[n].rotation_quaternion) for n in names])
