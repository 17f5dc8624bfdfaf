"""MANO arrays -> a MaskHand rig's bone rotations and keys: the one pose recipe.

Every path that poses or keys a MaskHand rig goes through here (a hypothesis picked in the panel,
Keyframe, a tracked take, an imported MANO file, the headless `animate`, the benchmark renderer),
so they agree to the last bit: the rig's side -> its joint bone names -> the rig's own bone rest
rotations B -> Q = B^T R B per joint (rigmath.pose_to_bones) -> the wrist bone's location from the
camera translation.

Legend: N poses, J=16 MANO joints (wrist; index, middle, pinky, ring, thumb x3). Quaternions are
Blender's (w, x, y, z). Poses are the hand's own side, hand_pose flat-hand relative; cam_t is the
MANO translation in the camera frame (OpenCV), metres.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PoseDataError, RigError
from ..handmodel.parts import SIDES
from ..posefiles.sequence import PoseSequence
from ..rigmath.pose_to_bones import bone_quaternions, bone_quaternions_to_pose, root_locations
from ..rigmath.rig_layout import joint_bone_names
from .build_rig import PROP_BETAS, PROP_SIDE, bone_rest_rotations
from .keyframes import keyed_frames, merge_pose_keys, read_pose_action, write_pose_action


@dataclass(frozen=True)
class RigPose:
    """What poses a rig: names (J,) joint bones in MANO order; quaternions (N, J, 4); wrist (N, 3) the
    wrist bone's location, in its rest axes (None when no cam_t was given)."""
    names: list
    quaternions: np.ndarray
    wrist: np.ndarray | None


def rig_side(arm_obj) -> str:
    """The side of a MaskHand rig, or RigError naming what is wrong with the object."""
    if arm_obj is None:
        raise RigError("no hand rig selected: select a MaskHand armature (Add Hand Rig makes one)")
    if arm_obj.type != 'ARMATURE':
        raise RigError(f"'{arm_obj.name}' is a {arm_obj.type.lower()}, not an armature")
    side = arm_obj.get(PROP_SIDE)
    if side not in SIDES:
        for guess in SIDES:
            if all(n in arm_obj.data.bones for n in joint_bone_names(guess)):
                return guess
        missing = [n for n in joint_bone_names("right") if n not in arm_obj.data.bones]
        raise RigError(f"armature '{arm_obj.name}' is not a MaskHand rig: it lacks bones "
                       f"{', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
    return side


def rig_pose(arm_obj, global_orient, hand_pose, cam_t=None) -> RigPose:
    """The rig's bone rotations (and wrist locations) for N poses; nothing in Blender changes.

    global_orient (N, 3), hand_pose (N, 45), cam_t (N, 3) or None; axis-angle radians.
    Raises RigError for an object that is not a MaskHand rig (or lacks bones), PoseDataError for bad arrays.
    """
    go = np.asarray(global_orient, np.float64)
    hp = np.asarray(hand_pose, np.float64)
    if go.ndim != 2 or go.shape[1] != 3 or hp.shape != (len(go), 45):
        raise PoseDataError(f"poses must be global_orient (N, 3) and hand_pose (N, 45); got {go.shape} and {hp.shape}")
    t = None if cam_t is None else np.asarray(cam_t, np.float64)
    if t is not None and t.shape != (len(go), 3):
        raise PoseDataError(f"cam_t must be (N, 3) = ({len(go)}, 3); got {t.shape}")
    if not (np.isfinite(go).all() and np.isfinite(hp).all() and (t is None or np.isfinite(t).all())):
        raise PoseDataError("the poses hold NaN or infinite values")
    names = joint_bone_names(rig_side(arm_obj))
    missing = [n for n in names if n not in arm_obj.pose.bones]
    if missing:
        raise RigError(f"rig '{arm_obj.name}' lacks bones {', '.join(missing)}")
    B = bone_rest_rotations(arm_obj, names)  # (J, 3, 3)
    return RigPose(names, bone_quaternions(go, hp, B), None if t is None else root_locations(t, B[0]))


def set_pose(arm_obj, pose: RigPose, index: int = 0, use_location: bool = False) -> list:
    """Put pose `index` of `pose` on the rig's bones (no keys); the wrist moves only with use_location."""
    for name, q in zip(pose.names, pose.quaternions[index]):
        pb = arm_obj.pose.bones[name]
        pb.rotation_mode = 'QUATERNION'
        pb.rotation_quaternion = q.tolist()
    wrist = pose.wrist[index].tolist() if use_location and pose.wrist is not None else (0.0, 0.0, 0.0)
    arm_obj.pose.bones[pose.names[0]].location = wrist
    return list(pose.names)


def key_poses(arm_obj, action_name: str, frames, global_orient, hand_pose, cam_t=None, merge: bool = False):
    """Key N poses at `frames` (N,) on the rig, in bulk: a new action, or with `merge` the rig's own
    action with keys replaced only inside [frames[0], frames[-1]] (blender/keyframes.py).

    cam_t (N, 3) also keys the wrist bone's location; None keys rotations only. Everything is
    checked before Blender data changes. Returns the action.
    """
    return key_rig_pose(arm_obj, action_name, frames, rig_pose(arm_obj, global_orient, hand_pose, cam_t), merge)


def key_rig_pose(arm_obj, action_name: str, frames, pose: RigPose, merge: bool = False):
    """key_poses for a RigPose computed beforehand (callers that check several rigs before keying any)."""
    locations = None if pose.wrist is None else {pose.names[0]: pose.wrist}
    if merge:
        return merge_pose_keys(arm_obj, action_name, pose.names, frames, pose.quaternions, locations=locations)
    return write_pose_action(arm_obj, action_name, pose.names, frames, pose.quaternions, locations=locations)


def read_keyed_take(arm_obj, fps: float = 30.0) -> tuple[PoseSequence, np.ndarray]:
    """The MANO poses a MaskHand rig's action holds, read back at its keyed frames (the inverse of
    key_poses, rotations only): (PoseSequence of the rig's side and shape, scene frames (F,))."""
    pose_names = joint_bone_names(rig_side(arm_obj))
    frames = keyed_frames(arm_obj, pose_names[0])
    B = bone_rest_rotations(arm_obj, pose_names)
    go, hp = bone_quaternions_to_pose(read_pose_action(arm_obj, pose_names, frames), B)
    betas = np.asarray(arm_obj.get(PROP_BETAS, np.zeros(10)), np.float64)
    action = arm_obj.animation_data.action
    return PoseSequence(go, hp, np.tile(betas, (len(frames), 1)), side=rig_side(arm_obj), fps=fps,
                        source=action.name), frames
