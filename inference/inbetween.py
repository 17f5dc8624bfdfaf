"""Gap frames in-between from the model's prior (masked in-betweening), for Take.prior_fills.

Why: across a dropout the spline (rigmath.gap_fill) moves each joint along the shortest smooth
curve, which a hand does not always do (fingers curl in sequence, a closing fist passes through
poses the prior knows). The masked transformer holds that prior; here it fills the fingers of a
gap frame from both ends:

1. Base: the spline's pose at the gap frame (rigmath.gap_fill.spline_fill), in the right-hand view
   (left hands mirrored, as the model sees them).
2. Context: the base pose's joints (hand model) projected with the take's K as keypoints and as
   world landmarks, the context the model would have had had the detector seen this pose.
3. Locks: the hand parts whose tokens are the same in the kept hypotheses of the frames before and
   after the gap stay locked to those tokens; the other parts are masked and decoded (greedy).
4. Residual: the decoded fingers are compared with the slerp of the two ends' decoded fingers; that
   difference (what the prior adds to a straight blend, per joint, at most MAX_PRIOR_DEG) is applied
   to the spline's rotations, so the fill still meets both ends exactly.
Parts whose residual would exceed MAX_PRIOR_DEG keep the spline (the prior disagrees too much with
both ends to be trusted there). Legend: J = 16 MANO joints, N tokens.
"""
from __future__ import annotations

import numpy as np
import torch

from ..handmodel.model import mirror_pose
from ..handmodel.parts import PARTS
from ..handmodel.rotations import axis_angle_to_matrix, matrix_to_axis_angle, matrix_to_quaternion, \
    quaternion_to_matrix
from ..rigmath.gap_fill import gap_frames, spline_fill
from ..rigmath.take_smoothing import DEFAULT_MAX_GAP
from .model.context import context_features
from .model.sampling import decode

MAX_PRIOR_DEG = 30.0  # the prior may bend a joint this far from the spline, no further
CONTEXT_CONFIDENCE = 0.9


def prior_fills(take, estimator, max_gap: int = DEFAULT_MAX_GAP) -> dict[str, dict[int, np.ndarray]]:
    """{side: {source frame: (45,) hand_pose of the side}} for every gap frame of at most max_gap
    frames whose two end frames carry tokens (the generative model's hypotheses). take: inference.take.Take;
    estimator: model.estimator.GenerativeEstimator."""
    out: dict[str, dict[int, np.ndarray]] = {}
    for side, h in take.hands.items():
        missing = gap_frames(h.frames, max_gap)
        if len(missing) == 0 or h.hyp_tokens is None or h.hyp_tokens.shape[-1] == 0:
            continue
        frames, go, hp, t, filled = spline_fill(h.frames, h.global_orient, h.hand_pose, h.cam_t, max_gap)
        betas = np.median(h.betas, axis=0)
        tokens = h.hyp_tokens[np.arange(h.num_frames), h.chosen]                # (N_meas, T)
        fills = {}
        for j in np.nonzero(filled)[0]:
            f = int(frames[j])
            after = int(np.searchsorted(h.frames, f))
            before = after - 1
            tb, ta = tokens[before], tokens[after]
            if np.any(tb < 0) or np.any(ta < 0):
                continue
            w = (f - h.frames[before]) / float(h.frames[after] - h.frames[before])
            fills[f] = inbetween(estimator, side, take.K, go[j], hp[j], betas, t[j], tb, ta, w)
        if fills:
            out[side] = fills
    return out


@torch.no_grad()
def inbetween(estimator, side: str, K, global_orient, hand_pose, betas, cam_t, tokens_before, tokens_after,
              w: float) -> np.ndarray:
    """One gap frame: the spline's pose (global_orient (3,), hand_pose (45,) of `side`, cam_t (3,)) and
    the tokens (N,) of the kept hypotheses before and after, w in (0, 1) the frame's place between
    them -> (45,) hand_pose of `side` (steps in the module docstring)."""
    # 1. the right-hand view
    mirror = side == "left"
    go, hp, t = (np.asarray(a, np.float64) for a in (global_orient, hand_pose, cam_t))
    if mirror:
        go, hp, t = mirror_pose(go), mirror_pose(hp), t * np.array([-1.0, 1.0, 1.0])
    # 2. context from the base pose, as the detector would have given it
    K = np.asarray(K, np.float64)
    kp = estimator.model.forward(go[None], hp[None], np.asarray(betas, np.float64)[None], t[None]).keypoints[0]
    z = np.maximum(kp[:, 2:], 1e-3)
    uv = kp[:, :2] / z @ K[:2, :2].T + K[:2, 2]
    dt = torch.float32
    kp_feat, glob = context_features(torch.as_tensor(uv, dtype=dt)[None],
                                     torch.full((1, 21), CONTEXT_CONFIDENCE, dtype=dt),
                                     torch.as_tensor(K, dtype=dt)[None], torch.as_tensor(kp - kp.mean(0), dtype=dt)[None])
    # 3. lock the parts both ends agree on, decode the rest
    tb = torch.as_tensor(np.asarray(tokens_before), dtype=torch.long)
    ta = torch.as_tensor(np.asarray(tokens_after), dtype=torch.long)
    per = estimator.tokens_per_part
    agree = [p for p in range(len(PARTS)) if torch.equal(tb[p * per:(p + 1) * per], ta[p * per:(p + 1) * per])]
    mask = estimator.locked_mask([PARTS[p] for p in agree])
    dec = decode(estimator.net, kp_feat.to(estimator.device), glob.to(estimator.device), hypotheses=1,
                 steps=estimator.config.steps, temperature=0.0, locked_ids=tb, locked=mask)
    rot = estimator.tok.decode(torch.cat([dec.ids, tb[None].to(estimator.device), ta[None].to(estimator.device)]))
    rot = rot.cpu().double().numpy()                                            # (3, 16, 3, 3): gap, before, after
    # 4. the prior's residual over a straight blend of the ends, on the spline
    ref = _slerp(rot[1, 1:], rot[2, 1:], w)                                     # (15, 3, 3)
    delta = np.einsum("jki,jkl->jil", ref, rot[0, 1:])                          # ref^T @ gap
    angle = np.degrees(np.linalg.norm(matrix_to_axis_angle(delta), axis=-1))   # (15,)
    joint_part = np.repeat(np.arange(1, len(PARTS)), 3)                        # MANO finger joints -> part
    for p in range(1, len(PARTS)):
        if np.any(angle[joint_part == p] > MAX_PRIOR_DEG):
            delta[joint_part == p] = np.eye(3)
    out = matrix_to_axis_angle(axis_angle_to_matrix(hp.reshape(15, 3)) @ delta).reshape(45)
    return mirror_pose(out) if mirror else out


def _slerp(Ra: np.ndarray, Rb: np.ndarray, w: float) -> np.ndarray:
    """(J, 3, 3), (J, 3, 3), w in [0, 1] -> (J, 3, 3) along the shorter arc."""
    qa, qb = matrix_to_quaternion(Ra), matrix_to_quaternion(Rb)
    dot = np.einsum("jk,jk->j", qa, qb)
    qb = np.where(dot[:, None] < 0, -qb, qb)
    dot = np.abs(dot).clip(-1.0, 1.0)
    theta = np.arccos(dot)
    small = theta < 1e-6
    s = np.where(small, 1.0, np.sin(theta))
    ca = np.where(small, 1 - w, np.sin((1 - w) * theta) / s)
    cb = np.where(small, w, np.sin(w * theta) / s)
    q = ca[:, None] * qa + cb[:, None] * qb
    return quaternion_to_matrix(q / np.linalg.norm(q, axis=-1, keepdims=True))
