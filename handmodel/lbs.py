"""Linear blend skinning as MANO defines it, in numpy.

Legend: B batch, V vertices, J=16 joints. Rotations are local (relative to the parent joint)
and expressed in the model frame: MANO's rest frames are all aligned with the model axes, so a
joint's rotation turns its subtree about the joint's rest position.
"""
import numpy as np


def forward_kinematics(rot: np.ndarray, joints: np.ndarray, parents: np.ndarray):
    """Local rotations -> global rigid transforms.

    Args:
        rot: (B, J, 3, 3) local rotations, joint 0 = global orientation.
        joints: (B, J, 3) rest joint positions.
        parents: (J,) parent index, -1 for the root; parents come before children.
    Returns:
        G: (B, J, 4, 4) global transforms of each joint (rest frame -> posed world).
        posed: (B, J, 3) posed joint positions.
    """
    B, J = rot.shape[:2]
    G = np.zeros((B, J, 4, 4))
    G[..., 3, 3] = 1.0
    for j in range(J):
        p = parents[j]
        local = np.zeros((B, 4, 4))
        local[:, :3, :3] = rot[:, j]
        local[:, :3, 3] = joints[:, j] - (joints[:, p] if p >= 0 else 0.0)
        local[:, 3, 3] = 1.0
        G[:, j] = local if p < 0 else G[:, p] @ local
    return G, G[..., :3, 3].copy()


def skinning_transforms(G: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """(B, J, 4, 4) global transforms, (B, J, 3) rest joints -> (B, J, 4, 4) rest-to-posed maps."""
    A = G.copy()
    A[..., :3, 3] -= np.einsum("bjik,bjk->bji", G[..., :3, :3], joints)
    return A


def skin(vertices: np.ndarray, weights: np.ndarray, A: np.ndarray) -> np.ndarray:
    """(B, V, 3) rest vertices, (V, J) weights, (B, J, 4, 4) maps -> (B, V, 3) posed vertices."""
    T = np.einsum("vj,bjik->bvik", weights, A)  # (B, V, 4, 4)
    return np.einsum("bvik,bvk->bvi", T[..., :3, :3], vertices) + T[..., :3, 3]
