"""HandModel: one MANO-compatible interface for the open hand and for real MANO files.

Parameters follow MANO: global_orient (3) + hand_pose (45) axis-angle, local rotations in the
model frame (rest frames aligned with the model axes), hand_pose relative to the flat hand
(smplx's flat_hand_mean=True), betas (S), transl (3). Units are metres.
Legend: B batch, V vertices, J=16 joints, S shape parameters.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import PoseDataError
from . import lbs
from .joints import MANO_TO_OPENPOSE, PARENTS
from .rotations import axis_angle_to_matrix


@dataclass(frozen=True)
class HandOutput:
    """What a forward pass gives: vertices (B, V, 3), joints (B, 16, 3), keypoints (B, 21, 3)
    in OpenPose order (fingertips are mesh vertices), global transforms (B, 16, 4, 4)."""
    vertices: np.ndarray
    joints: np.ndarray
    keypoints: np.ndarray
    transforms: np.ndarray


@dataclass(frozen=True)
class HandModel:
    """A skinned hand with MANO's joint tree.

    side: "right" or "left"; name: where it comes from ("open hand" or the MANO file name).
    v_template (V, 3); faces (F, 3) int; weights (V, 16); J_regressor (16, V) dense;
    shapedirs (V, 3, S); posedirs (V, 3, 135) or None (pose correctives, MANO only);
    tip_vertices: vertex index of each fingertip in TIP_ORDER (thumb, index, middle, ring, pinky);
    hands_mean (45,): MANO's mean hand pose (zeros for the open hand), used only to convert
    poses stored relative to the mean.
    """
    side: str
    name: str
    v_template: np.ndarray
    faces: np.ndarray
    weights: np.ndarray
    J_regressor: np.ndarray
    shapedirs: np.ndarray
    tip_vertices: np.ndarray
    hands_mean: np.ndarray
    posedirs: np.ndarray | None = None
    parents: np.ndarray = field(default_factory=lambda: PARENTS.copy())

    @property
    def num_betas(self) -> int:
        return self.shapedirs.shape[-1]

    def shaped(self, betas: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(B, S') betas (S' <= S, missing ones are 0) -> rest vertices (B, V, 3), joints (B, 16, 3)."""
        betas = np.zeros((1, 0)) if betas is None else np.atleast_2d(np.asarray(betas, np.float64))
        if betas.shape[-1] > self.num_betas:
            raise PoseDataError(f"betas have {betas.shape[-1]} values; this hand model has "
                                f"{self.num_betas} shape parameters")
        v = self.v_template[None] + np.einsum("vcs,bs->bvc", self.shapedirs[..., :betas.shape[-1]], betas)
        return v, np.einsum("jv,bvc->bjc", self.J_regressor, v)

    def rest_joints(self, betas: np.ndarray | None = None) -> np.ndarray:
        """(S,) betas -> (16, 3) rest joint positions."""
        return self.shaped(betas)[1][0]

    def rest_tips(self, betas: np.ndarray | None = None) -> np.ndarray:
        """(S,) betas -> (5, 3) rest fingertip positions in TIP_ORDER."""
        return self.shaped(betas)[0][0, self.tip_vertices]

    def forward(self, global_orient, hand_pose, betas=None, transl=None,
                use_posedirs: bool = True) -> HandOutput:
        """Pose the hand.

        Args:
            global_orient: (B, 3) axis-angle, or (B, 3, 3) matrices.
            hand_pose: (B, 45) axis-angle (flat-hand relative), or (B, 15, 3, 3) matrices.
            betas: (B, S') or (S',) or None.
            transl: (B, 3) or None.
            use_posedirs: add MANO's pose correctives when the model has them.
        Returns:
            HandOutput in the model frame, translated by transl.
        """
        go = np.asarray(global_orient, np.float64)
        hp = np.asarray(hand_pose, np.float64)
        R_go = go if go.ndim == 3 else axis_angle_to_matrix(go.reshape(-1, 3))
        R_go = R_go.reshape(-1, 1, 3, 3)
        R_hp = hp if hp.ndim == 4 else axis_angle_to_matrix(hp.reshape(hp.shape[0], 15, 3))
        R_hp = R_hp.reshape(-1, 15, 3, 3)
        if R_go.shape[0] != R_hp.shape[0]:
            raise PoseDataError(f"global_orient has {R_go.shape[0]} poses but hand_pose has {R_hp.shape[0]}")
        B = R_go.shape[0]
        rot = np.concatenate([R_go, R_hp], axis=1)  # (B, 16, 3, 3)
        if not np.all(np.isfinite(rot)):
            raise PoseDataError("pose holds NaN or infinite values")

        b = None if betas is None else np.asarray(betas, np.float64)
        if b is not None and b.ndim == 1:
            b = np.broadcast_to(b, (B, b.shape[0]))
        v, J = self.shaped(b)
        v = np.broadcast_to(v, (B,) + v.shape[1:]).copy()
        J = np.broadcast_to(J, (B,) + J.shape[1:]).copy()
        if use_posedirs and self.posedirs is not None:
            feat = (rot[:, 1:] - np.eye(3)).reshape(B, 135)
            v = v + np.einsum("vcp,bp->bvc", self.posedirs, feat)

        G, posed_joints = lbs.forward_kinematics(rot, J, self.parents)
        verts = lbs.skin(v, self.weights, lbs.skinning_transforms(G, J))
        if transl is not None:
            t = np.asarray(transl, np.float64).reshape(-1, 1, 3)
            verts = verts + t
            posed_joints = posed_joints + t
            G = G.copy()
            G[..., :3, 3] += t
        tips = verts[:, self.tip_vertices]
        keypoints = np.concatenate([posed_joints, tips], axis=1)[:, MANO_TO_OPENPOSE]
        return HandOutput(vertices=verts, joints=posed_joints, keypoints=keypoints, transforms=G)

    def mirrored(self) -> "HandModel":
        """The other side: MANO's left hand is the right hand mirrored across the model's YZ plane."""
        flip = np.array([-1.0, 1.0, 1.0])
        return HandModel(
            side="left" if self.side == "right" else "right",
            name=self.name,
            v_template=self.v_template * flip,
            faces=self.faces[:, ::-1].copy(),  # mirroring flips the winding; keep normals outward
            weights=self.weights,
            J_regressor=self.J_regressor,
            shapedirs=self.shapedirs * flip[None, :, None],
            tip_vertices=self.tip_vertices,
            hands_mean=mirror_pose(self.hands_mean.reshape(1, 45))[0],
            posedirs=None if self.posedirs is None else _mirror_posedirs(self.posedirs),
            parents=self.parents,
        )


def mirror_pose(aa: np.ndarray) -> np.ndarray:
    """(..., 3k) axis-angle of one side -> the mirrored side's (negate y and z of each vector).

    A rotation mirrored across the YZ plane, M R M with M = diag(-1, 1, 1), has axis-angle
    (x, -y, -z): this is how left and right MANO poses relate (and how HaMeR mirrors hands).
    """
    aa = np.asarray(aa, np.float64)
    out = aa.reshape(aa.shape[:-1] + (-1, 3)).copy()
    out[..., 1:] *= -1
    return out.reshape(aa.shape)


def _mirror_posedirs(posedirs: np.ndarray) -> np.ndarray:
    """(V, 3, 135) pose correctives of one side -> the mirrored side's.

    The feature of a mirrored pose is M (R - I) M, which flips the sign of entry (a, b) of each
    joint's 3x3 block by s_a * s_b with s = (-1, 1, 1); the offsets themselves flip in x.
    """
    s = np.array([-1.0, 1.0, 1.0])
    feature_sign = np.tile(np.outer(s, s).reshape(9), 15)  # (135,)
    return posedirs * s[None, :, None] * feature_sign[None, None, :]
