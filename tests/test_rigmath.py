"""Rig maths without Blender: rotation conversions and MANO -> pose-bone rotations."""
import numpy as np
import pytest

from maskhand.errors import PoseDataError
from maskhand.handmodel.open_hand import load_open_hand
from maskhand.handmodel.rotations import (axis_angle_to_matrix, matrix_to_axis_angle,
                                          matrix_to_quaternion, quaternion_to_matrix)
from maskhand.rigmath.pose_to_bones import bone_quaternions, bone_quaternions_to_pose, root_locations
from maskhand.rigmath.rig_layout import joint_bone_names, rig_layout, tip_bone_names


def random_rotations(n, seed):
    q = np.random.default_rng(seed).normal(size=(n, 4))
    return quaternion_to_matrix(q)


@pytest.mark.parametrize("angle", [0.0, 1e-9, 0.3, np.pi / 2, np.pi - 1e-6, np.pi])
def test_axis_angle_round_trip(angle):
    axes = np.random.default_rng(0).normal(size=(20, 3))
    aa = axes / np.linalg.norm(axes, axis=1, keepdims=True) * angle
    R = axis_angle_to_matrix(aa)
    np.testing.assert_allclose(axis_angle_to_matrix(matrix_to_axis_angle(R)), R, atol=1e-7)


def test_quaternion_round_trip():
    R = random_rotations(200, 1)
    np.testing.assert_allclose(quaternion_to_matrix(matrix_to_quaternion(R)), R, atol=1e-12)


def rest_frames(layout, roll_seed=None):
    """Bone rest rotations as Blender builds them: Y along head->tail, Z towards z_axes
    (optionally with random extra rolls, to check the maths does not depend on them)."""
    B = np.zeros((16, 3, 3))
    rng = np.random.default_rng(roll_seed)
    for j in range(16):
        y = layout.tails[j] - layout.heads[j]
        y /= np.linalg.norm(y)
        z = layout.z_axes[j] - (layout.z_axes[j] @ y) * y
        z /= np.linalg.norm(z)
        x = np.cross(y, z)
        B[j] = np.stack([x, y, z], axis=1)
        if roll_seed is not None:
            B[j] = B[j] @ axis_angle_to_matrix(np.array([0, rng.uniform(-np.pi, np.pi), 0]))
    return B


def pose_bones_fk(Q, B, heads, parents, loc0):
    """Blender's pose evaluation for rotation-only children: W_j = W_p B_p^T B_j Q_j, heads carried."""
    F = Q.shape[0]
    W = np.zeros((F, 16, 3, 3))
    P = np.zeros((F, 16, 3))
    Rq = quaternion_to_matrix(Q)
    for j in range(16):
        p = parents[j]
        if p < 0:
            W[:, j] = B[j] @ Rq[:, j]
            P[:, j] = heads[j] + np.einsum("ik,fk->fi", B[j], loc0)
        else:
            W[:, j] = W[:, p] @ (B[p].T @ B[j]) @ Rq[:, j]
            P[:, j] = P[:, p] + np.einsum("fik,k->fi", W[:, p] @ B[p].T, heads[j] - heads[p])
    return W, P


@pytest.mark.parametrize("side, roll_seed", [("right", None), ("left", None), ("right", 3), ("left", 4)])
def test_bone_rotations_reproduce_the_hand_model(side, roll_seed):
    """Posing bones with Q = B^T R B puts every joint where the hand model puts it."""
    model = load_open_hand(side)
    layout = rig_layout(model)
    B = rest_frames(layout, roll_seed)
    rng = np.random.default_rng(5)
    go, hp, tr = rng.normal(size=(30, 3)), rng.normal(size=(30, 45)) * 0.5, rng.normal(size=(30, 3)) * 0.1
    Q = bone_quaternions(go, hp, B)
    _, P = pose_bones_fk(Q, B, layout.heads[:16], layout.parents[:16], root_locations(tr, B[0]))
    np.testing.assert_allclose(P, model.forward(go, hp, transl=tr).joints, atol=1e-9)
    go2, hp2 = bone_quaternions_to_pose(Q, B)
    np.testing.assert_allclose(axis_angle_to_matrix(hp2.reshape(-1, 3)),
                               axis_angle_to_matrix(hp.reshape(-1, 3)), atol=1e-9)


def test_layout_names_and_rolls():
    layout = rig_layout(load_open_hand("left"))
    assert layout.names[:2] == ["wrist.L", "index.01.L"] and layout.names[16:] == tip_bone_names("left")
    assert joint_bone_names("right")[-1] == "thumb.03.R"
    assert layout.deform.sum() == 16
    with pytest.raises(PoseDataError):
        joint_bone_names("middle")


def test_positive_x_rotation_flexes_on_both_sides():
    """With the layout's rolls, a +X pose-bone rotation curls a finger towards the palm."""
    for side in ("right", "left"):
        model = load_open_hand(side)
        layout = rig_layout(model)
        B = rest_frames(layout)
        Q = np.tile([1.0, 0, 0, 0], (1, 16, 1))
        Q[0, 2] = [np.cos(0.4), np.sin(0.4), 0, 0]  # index.02 about its X
        go, hp = bone_quaternions_to_pose(Q, B)
        tip = model.forward(go, hp).keypoints[0, 8]
        assert tip[1] < model.rest_tips()[1, 1] - 0.01, (side, tip)
