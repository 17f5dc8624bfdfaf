"""The hand model in torch, for fitting and training (same maths as handmodel.model, batched).

Legend: B batch, V vertices, J=16 joints. Built from a numpy HandModel, so the open hand and MANO
both work; right or left follows the HandModel given. Pose-corrective blend shapes are applied
when the model has them.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..handmodel.joints import MANO_TO_OPENPOSE
from ..handmodel.model import HandModel


def axis_angle_to_matrix_torch(aa: Tensor) -> Tensor:
    """(..., 3) axis-angle -> (..., 3, 3), differentiable at zero (Rodrigues with a safe angle)."""
    theta2 = (aa * aa).sum(-1, keepdim=True)
    theta = torch.sqrt(theta2 + 1e-12)
    k = aa / theta
    x, y, z = k.unbind(-1)
    zero = torch.zeros_like(x)
    K = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(aa.shape[:-1] + (3, 3))
    s = torch.sin(theta)[..., None]
    c = torch.cos(theta)[..., None]
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand(K.shape)
    return eye + s * K + (1 - c) * (K @ K)


class TorchHand(nn.Module):
    """Differentiable MANO-style LBS. forward -> (keypoints (B, 21, 3), vertices (B, V, 3) or None)."""

    def __init__(self, model: HandModel, dtype=torch.float32):
        super().__init__()
        self.side = model.side
        f = lambda a: torch.as_tensor(a, dtype=dtype)  # noqa: E731
        self.register_buffer("v_template", f(model.v_template))
        self.register_buffer("shapedirs", f(model.shapedirs))
        self.register_buffer("J_regressor", f(model.J_regressor))
        self.register_buffer("weights", f(model.weights))
        self.register_buffer("posedirs", f(model.posedirs) if model.posedirs is not None else None)
        self.register_buffer("tips", torch.as_tensor(model.tip_vertices, dtype=torch.long))
        self.register_buffer("openpose", torch.as_tensor(MANO_TO_OPENPOSE, dtype=torch.long))
        self.parents = [int(p) for p in model.parents]
        # joints grouped by depth in the tree; `at`: where each joint's parent sits in the order computed so far
        depth = []
        for p in self.parents:
            depth.append(0 if p < 0 else depth[p] + 1)
        order = [j for d in range(max(depth) + 1) for j in range(len(depth)) if depth[j] == d]
        pos = {j: i for i, j in enumerate(order)}
        self._roots = [j for j in order if depth[j] == 0]
        self._levels = [(torch.tensor([j for j in order if depth[j] == d]),
                         torch.tensor([pos[self.parents[j]] for j in order if depth[j] == d]))
                        for d in range(1, max(depth) + 1)]
        self._parent_idx = torch.tensor([max(p, 0) for p in self.parents])
        self._unsort = torch.tensor([pos[j] for j in range(len(order))])
        # Joints depend on the shape only through J_regressor @ (v_template + shapedirs b).
        self.register_buffer("J_template", self.J_regressor @ self.v_template)            # (J, 3)
        self.register_buffer("J_shapedirs", torch.einsum("jv,vcs->jcs", self.J_regressor, self.shapedirs))

    def forward(self, global_orient: Tensor, hand_pose: Tensor, betas: Tensor | None = None,
                transl: Tensor | None = None, with_vertices: bool = False, rotmats: Tensor | None = None):
        """global_orient (B, 3), hand_pose (B, 45) axis-angle [or rotmats (B, 16, 3, 3)], betas (B, S),
        transl (B, 3) -> keypoints (B, 21, 3) OpenPose order, vertices (B, V, 3) if asked."""
        if rotmats is None:
            B = global_orient.shape[0]
            aa = torch.cat([global_orient[:, None], hand_pose.reshape(B, 15, 3)], 1)
            R = axis_angle_to_matrix_torch(aa)                                               # (B, J, 3, 3)
        else:
            R, B = rotmats, rotmats.shape[0]
        S = 0 if betas is None else betas.shape[-1]
        J = self.J_template.expand(B, -1, -1)
        if S:
            J = J + torch.einsum("jcs,bs->bjc", self.J_shapedirs[..., :S], betas)
        # forward kinematics, one tree level at a time (the five fingers together): global rotation
        # and position of every joint
        G, P = R[:, self._roots], J[:, self._roots]
        for joints, at in self._levels:
            Gp = G[:, at]
            G = torch.cat([G, Gp @ R[:, joints]], 1)
            P = torch.cat([P, P[:, at] + (Gp @ (J[:, joints] - J[:, self._parent_idx[joints]])[..., None])[..., 0]], 1)
        G, P = G[:, self._unsort], P[:, self._unsort]                                  # (B, J, 3, 3), (B, J, 3)
        offset = P - (G @ J[..., None])[..., 0]                                        # rest -> posed

        def skin(idx=None):
            v = self.v_template if idx is None else self.v_template[idx]
            sd = self.shapedirs if idx is None else self.shapedirs[idx]
            w = self.weights if idx is None else self.weights[idx]
            v = v.expand(B, -1, -1)
            if S:
                v = v + torch.einsum("vcs,bs->bvc", sd[..., :S], betas)
            if self.posedirs is not None:
                pd = self.posedirs if idx is None else self.posedirs[idx]
                feat = (R[:, 1:] - torch.eye(3, dtype=R.dtype, device=R.device)).reshape(B, 135)
                v = v + torch.einsum("vcp,bp->bvc", pd, feat)
            T = torch.einsum("vj,bjik->bvik", w, G)
            t = torch.einsum("vj,bji->bvi", w, offset)
            return (T @ v[..., None])[..., 0] + t

        kp = torch.cat([P, skin(self.tips)], 1)[:, self.openpose]
        verts = skin() if with_vertices else None
        if transl is not None:
            kp = kp + transl[:, None]
            verts = None if verts is None else verts + transl[:, None]
        return kp, verts
