"""The 21 keypoints of a posed hand without skinning the mesh: what a fitter evaluates many times per step.

HandModel.forward skins every vertex; a least-squares step (inference.fit.LMRefiner) only needs the
16 joints and the 5 fingertip vertices, for some 60 perturbed poses at once. This is the same maths
(forward kinematics, then linear blend skinning of the tip vertices only, MANO's pose correctives on
them when the model has them) in few numpy calls: the joints are posed one tree level at a time
(the five fingers together), so the cost is a handful of small array operations, not one per joint.

Legend: B batch, J = 16 joints, S shape coefficients.
"""
from __future__ import annotations

import numpy as np

from .joints import MANO_TO_OPENPOSE
from .model import HandModel
from .rotations import axis_angle_to_matrix


class PosedKeypoints:
    """__call__(axis-angle (B, 16, 3), betas (B, S), transl (B, 3)) -> keypoints (B, 21, 3), OpenPose order."""

    def __init__(self, model: HandModel):
        self.model = model
        tips = np.asarray(model.tip_vertices)
        self.J_template = model.J_regressor @ model.v_template                                   # (J, 3)
        self.J_shapedirs = np.einsum("jv,vcs->jcs", model.J_regressor, model.shapedirs)          # (J, 3, S)
        self.tip_template = model.v_template[tips]                                               # (5, 3)
        self.tip_shapedirs = model.shapedirs[tips]                                               # (5, 3, S)
        self.tip_posedirs = None if model.posedirs is None else model.posedirs[tips]             # (5, 3, 135)
        self.tip_weights = model.weights[tips]                                                   # (5, J)
        parents = [int(p) for p in model.parents]
        depth = []
        for p in parents:
            depth.append(0 if p < 0 else depth[p] + 1)
        if depth[0] != 0 or any(d == 0 for d in depth[1:]):
            raise ValueError("the hand's joint tree must have joint 0 as its only root")
        # one (joints, their parents) pair per tree level below the root
        self.levels = [(np.array([j for j in range(len(parents)) if depth[j] == d]),
                        np.array([parents[j] for j in range(len(parents)) if depth[j] == d]))
                       for d in range(1, max(depth) + 1)]

    def __call__(self, aa: np.ndarray, betas: np.ndarray, transl: np.ndarray) -> np.ndarray:
        B, S = aa.shape[0], betas.shape[-1]
        R = axis_angle_to_matrix(aa)                                                              # (B, J, 3, 3)
        J = self.J_template + np.einsum("jcs,bs->bjc", self.J_shapedirs[..., :S], betas)         # (B, J, 3)
        G = np.empty_like(R)
        P = np.empty_like(J)
        G[:, 0], P[:, 0] = R[:, 0], J[:, 0]
        for joints, parents in self.levels:
            Gp = G[:, parents]
            G[:, joints] = Gp @ R[:, joints]
            P[:, joints] = P[:, parents] + (Gp @ (J[:, joints] - J[:, parents])[..., None])[..., 0]
        v = self.tip_template + np.einsum("vcs,bs->bvc", self.tip_shapedirs[..., :S], betas)     # (B, 5, 3)
        if self.tip_posedirs is not None:
            v = v + np.einsum("vcp,bp->bvc", self.tip_posedirs, (R[:, 1:] - np.eye(3)).reshape(B, 135))
        # each tip vertex: its weights blend the joints' rest -> posed maps (G_j, P_j - G_j J_j)
        offset = P - (G @ J[..., None])[..., 0]                                                   # (B, J, 3)
        Gw = np.matmul(self.tip_weights, G.reshape(B, -1, 9)).reshape(B, -1, 3, 3)                 # (B, 5, 3, 3)
        tips = (Gw @ v[..., None])[..., 0] + np.matmul(self.tip_weights, offset)
        kp = np.concatenate([P, tips], axis=1)[:, MANO_TO_OPENPOSE]
        return kp + np.asarray(transl)[:, None]
