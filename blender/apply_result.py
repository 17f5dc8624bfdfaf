"""One estimated hypothesis -> the pose bones of a MaskHand rig, live or keyed at one frame.

The panels' hypothesis list, the Keyframe button and ``maskhand.api.apply`` all pose rigs through
here, so they agree to the last bit with ``apply_poses.apply_sequence`` (the same Q = B^T R B maths
of rigmath.pose_to_bones and the rig's own bone rest rotations). Everything is validated before a
bone changes, so a bad hypothesis leaves the rig as it was.

Legend: J=16 MANO joints (wrist; index, middle, pinky, ring, thumb x3). Quaternions (w, x, y, z).
A hypothesis is the JSON of inference.results.Hypothesis: {"score", "mano": {"global_orient" (3,),
"hand_pose" (45,) flat-hand relative, the hand's own side, "betas"}, "cam_t" (3,) camera frame
(OpenCV), "seed", "temperature", "tokens"}.
"""
from __future__ import annotations

import numpy as np

from ..errors import PoseDataError, RigError
from ..handmodel.joints import finger_joints
from ..rigmath.pose_to_bones import bone_quaternions, root_locations
from ..rigmath.rig_layout import joint_bone_names
from .apply_poses import rig_side
from .build_rig import PROP_SIDE, bone_rest_rotations

# The hand parts a resample can keep, named as the generative model's tokenizer names them, and the
# MANO joints each one owns.
PARTS = ("wrist", "index", "middle", "pinky", "ring", "thumb")
PART_JOINTS = {"wrist": (0,), **{f: finger_joints(f) for f in PARTS[1:]}}


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


def rig_quaternions(arm_obj, hypothesis: dict) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(bone names (J,), quaternions (J, 4), wrist location (3,)) that pose `arm_obj` as `hypothesis`.

    The wrist location is MANO's translation in the wrist bone's rest axes: with a camera at the
    armature's origin looking down its +z axis, the rig then lies over the hand in the image.
    """
    side = rig_side(arm_obj)
    go, hp, cam_t = hypothesis_pose(hypothesis)
    names = joint_bone_names(side)
    missing = [n for n in names if n not in arm_obj.pose.bones]
    if missing:
        raise RigError(f"rig '{arm_obj.name}' lacks bones {', '.join(missing)}")
    B = bone_rest_rotations(arm_obj, names)  # (J, 3, 3)
    quats = bone_quaternions(go[None], hp[None], B)[0]  # (J, 4)
    return names, quats, root_locations(cam_t[None], B[0])[0]


def pose_rig(arm_obj, hypothesis: dict, use_location: bool = False) -> list[str]:
    """Set the rig's joint bones to `hypothesis` (no keyframes); returns the bone names posed.

    use_location: also move the wrist bone by the camera translation (see rig_quaternions); else the
    wrist stays where the rig is and only rotations change.
    """
    names, quats, loc = rig_quaternions(arm_obj, hypothesis)
    for name, q in zip(names, quats):
        pb = arm_obj.pose.bones[name]
        pb.rotation_mode = 'QUATERNION'
        pb.rotation_quaternion = q.tolist()
    arm_obj.pose.bones[names[0]].location = loc.tolist() if use_location else (0.0, 0.0, 0.0)
    return names


def key_rig(arm_obj, hypothesis: dict, frame: float, use_location: bool = False) -> list[str]:
    """Pose the rig as `hypothesis` and key its joint bones' rotations (and the wrist's location
    when use_location) at `frame`, one key per channel, into the rig's current action (Blender makes
    one with a slot when the rig has none). Returns the names of the bones keyed. Only the hand's joint
    bones are touched: other bones and channels of the action keep their keys.
    """
    names = pose_rig(arm_obj, hypothesis, use_location)
    for name in names:
        pb = arm_obj.pose.bones[name]
        pb.keyframe_insert("rotation_quaternion", frame=frame, group=name)
    if use_location:
        arm_obj.pose.bones[names[0]].keyframe_insert("location", frame=frame, group=names[0])
    return names


def read_pose(arm_obj) -> np.ndarray:
    """(J, 4) current rotation_quaternion of the rig's joint bones, MANO order (for tests and checks)."""
    names = joint_bone_names(rig_side(arm_obj))
    return np.array([tuple(arm_obj.pose.bones[n].rotation_quaternion) for n in names])
