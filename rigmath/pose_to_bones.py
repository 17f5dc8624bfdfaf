"""MANO parameters -> pose-bone rotations of a rig with arbitrary bone rest orientations.

MANO's local rotation R_j turns joint j's subtree about the joint, in the model frame (its rest
frames are the model axes). A Blender bone with rest orientation B_j (armature space, columns =
the bone's X, Y, Z axes) poses as W_j = W_parent B_parent^T B_j Q_j. Asking W_j = G_j B_j (the
rest bone carried by MANO's global transform G_j = G_parent R_j) gives

    Q_j = B_j^T R_j B_j

for every bone, root included: rest-pose aware and independent of bone rolls.
Legend: F frames, J=16 joints. Quaternions are (w, x, y, z) as Blender stores them.
"""
import numpy as np

from ..errors import PoseDataError
from ..handmodel.rotations import axis_angle_to_matrix, matrix_to_quaternion, quaternion_to_matrix


def local_rotations(global_orient: np.ndarray, hand_pose: np.ndarray) -> np.ndarray:
    """(F, 3), (F, 45) axis-angle -> (F, 16, 3, 3) MANO local rotations."""
    go = np.asarray(global_orient, np.float64)
    hp = np.asarray(hand_pose, np.float64)
    if go.ndim != 2 or go.shape[1] != 3 or hp.ndim != 2 or hp.shape[1] != 45 or len(go) != len(hp):
        raise PoseDataError(f"expected global_orient (F, 3) and hand_pose (F, 45); got {go.shape} and {hp.shape}")
    if not (np.all(np.isfinite(go)) and np.all(np.isfinite(hp))):
        raise PoseDataError("pose holds NaN or infinite values")
    aa = np.concatenate([go[:, None], hp.reshape(-1, 15, 3)], axis=1)
    return axis_angle_to_matrix(aa)


def bone_quaternions(global_orient, hand_pose, bone_rest: np.ndarray) -> np.ndarray:
    """MANO pose -> pose-bone quaternions.

    Args:
        global_orient: (F, 3) axis-angle.
        hand_pose: (F, 45) axis-angle, flat-hand relative.
        bone_rest: (16, 3, 3) rest rotation of each joint's bone in armature space (Blender's
            bone.matrix_local.to_3x3()), MANO joint order; armature space = the model frame.
    Returns:
        (F, 16, 4) quaternions (w, x, y, z) for pose_bone.rotation_quaternion.
    """
    R = local_rotations(global_orient, hand_pose)
    B = np.asarray(bone_rest, np.float64)
    Q = np.einsum("jki,fjkl,jlm->fjim", B, R, B)  # B^T R B
    return matrix_to_quaternion(Q)


def bone_quaternions_to_pose(quaternions: np.ndarray, bone_rest: np.ndarray):
    """The inverse: (F, 16, 4) pose-bone quaternions -> (F, 3) global_orient, (F, 45) hand_pose."""
    from ..handmodel.rotations import matrix_to_axis_angle

    B = np.asarray(bone_rest, np.float64)
    R = np.einsum("jik,fjkl,jml->fjim", B, quaternion_to_matrix(quaternions), B)  # B Q B^T
    aa = matrix_to_axis_angle(R)
    return aa[:, 0], aa[:, 1:].reshape(-1, 45)


def root_locations(transl: np.ndarray, wrist_rest: np.ndarray) -> np.ndarray:
    """(F, 3) MANO transl -> (F, 3) pose_bone.location of the parentless wrist bone
    (a root bone's location is in its own rest axes)."""
    return np.asarray(transl, np.float64) @ np.asarray(wrist_rest, np.float64)
