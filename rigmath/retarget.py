"""MANO poses -> pose-bone quaternions of any hand rig, rest-pose aware, without constraints or bakes.

Target rigs have their own rest orientations, rolls and proportions, and their rest hand is rarely
MANO's flat hand. Copying MANO's local rotations would therefore point fingers elsewhere. Instead
every mapped finger bone is turned so its segment points where MANO's segment points, measured in
a palm frame that both hands share:

1. Palm frame P (3, 3), columns = (wrist -> middle knuckle, palm normal, their cross product), from
   the wrist and the index/middle/pinky knuckles; P_s of MANO's rest hand (model frame), P_t of the
   target's rest bones (armature space). T = P_t P_s^T takes MANO's model frame onto the target's
   armature space with the two rest palms on top of each other.
2. MANO forward kinematics gives each joint's global rotation G_j (F, 16, 3, 3) and each finger
   segment's posed direction d_j (joint j -> its child joint, the distal ones -> the fingertip).
3. In the target hand's own frame (the wrist's rotation taken out): M_j = T G_0^T G_j T^T carries
   MANO's twist, d'_j = T G_0^T d_j is where the segment must point; the bone's delta rotation is
   D_j = S_j M_j with S_j the smallest rotation taking M_j s_j onto d'_j (s_j: the target bone's
   rest segment direction, its head -> the next mapped joint's head, or -> its tail/tip bone).
   So directions match exactly and twist follows MANO's joint.
4. A bone's pose quaternion (rest-relative, as pose_bone.rotation_quaternion) follows from
   posed = parent_posed B_parent^T B_bone Q:  Q_j = B_j^T D_a^T D_j B_j, where a is the mapped
   finger bone above it in the armature (identity for a finger's first bone, whose parents, e.g.
   metacarpals, move rigidly with the hand). Bones between a and j must stay at rest (they do in
   Rigify, whose finger drivers rest while the finger master control does).
5. The wrist (hand) bone gets the palm's rotation, Q_0 = B_0^T (T G_0 T^T) B_0, unless the caller
   keeps the arm's hand as it is (pose_wrist=False) and only poses the fingers.

Metacarpals (MANO has none; its knuckles are rigid with its wrist) are keyed at rest: the proximal
finger bone absorbs any difference. Only rotations are written, so the target keeps its bone
lengths. Legend: F frames, N armature bones, J=16 MANO joints; quaternions (w, x, y, z).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import RigError
from ..handmodel import lbs
from ..handmodel.joints import PARENTS, TIP_ORDER, TIP_PARENT
from ..handmodel.model import HandModel
from ..handmodel.rotations import axis_angle_to_matrix, matrix_to_quaternion, quaternion_to_matrix
from .pose_to_bones import local_rotations
from .retarget_map import JOINT_SLOTS, METACARPAL_SLOTS, RetargetMap, validate

# MANO joint index of the index, middle and pinky knuckles (the palm frame's landmarks).
INDEX1, MIDDLE1, PINKY1 = 1, 4, 7
# The segment end of each MANO joint: its child joint, or for distal joints the fingertip
# (index 16 + position in TIP_ORDER of the [16 joints, 5 tips] array).
_CHILD = {int(p): j for j, p in enumerate(PARENTS) if p > 0}
_TIP_OF = {TIP_PARENT[f]: 16 + i for i, f in enumerate(TIP_ORDER)}
SEGMENT_END = np.array([MIDDLE1] + [_CHILD[j] if j in _CHILD else _TIP_OF[j] for j in range(1, 16)])


@dataclass(frozen=True)
class ArmatureRest:
    """An armature's rest pose as plain arrays (what blender.retarget reads from bpy).

    names (N,); parents (N,) int index or -1; matrices (N, 4, 4) bone.matrix_local (armature
    space, columns = the bone's X, Y, Z axes and head); tails (N, 3) bone.tail_local.
    """
    names: tuple
    parents: np.ndarray
    matrices: np.ndarray
    tails: np.ndarray

    def index(self, name: str) -> int:
        return self.names.index(name)

    def is_ancestor(self, a: int, b: int) -> bool:
        """True when bone a is above bone b in the hierarchy."""
        p = int(self.parents[b])
        while p >= 0:
            if p == a:
                return True
            p = int(self.parents[p])
        return False


@dataclass(frozen=True)
class TargetHand:
    """A mapping resolved on an armature: what step 3-5 need.

    bones (16,) names in MANO order; rest (16, 3, 3) rest rotations; heads (16, 3); seg_dirs (16, 3)
    unit rest segment directions; parent_slot (16,) the mapped joint above (or -1: moves with the
    hand); palm (3, 3) rest palm frame; metacarpals: names keyed at rest.
    """
    side: str
    bones: tuple
    rest: np.ndarray
    heads: np.ndarray
    seg_dirs: np.ndarray
    parent_slot: np.ndarray
    palm: np.ndarray
    metacarpals: tuple


def palm_frame(wrist, index1, middle1, pinky1) -> np.ndarray:
    """(..., 3) x4 points -> (..., 3, 3) rotations, columns = (wrist -> middle knuckle, palm normal
    from index x pinky knuckle vectors made orthogonal to it, their cross product).

    The same recipe on both hands of one side gives frames that agree on the palm's orientation
    (for a left hand the normal points the other way, on source and target alike).
    """
    e1 = _unit(middle1 - wrist)
    n = np.cross(index1 - wrist, pinky1 - wrist)
    n = _unit(n - e1 * np.sum(n * e1, axis=-1, keepdims=True))
    return np.stack([e1, n, np.cross(e1, n)], axis=-1)


def resolve_target(mapping: RetargetMap, rest: ArmatureRest) -> TargetHand:
    """Check `mapping` against the armature and gather its rest data (RigError naming bad bones)."""
    validate(mapping, rest.names)
    idx = np.array([rest.index(mapping.bones[s]) for s in JOINT_SLOTS])
    M = np.asarray(rest.matrices, np.float64)[idx]
    heads = M[:, :3, 3]
    ends = np.empty((16, 3))
    for j in range(16):
        e = int(SEGMENT_END[j])
        if e < 16:
            ends[j] = heads[e]
        else:
            tip = mapping.bones.get(f"{TIP_ORDER[e - 16]}_tip")
            ends[j] = (np.asarray(rest.matrices[rest.index(tip)])[:3, 3] if tip
                       else np.asarray(rest.tails[idx[j]], np.float64))
    seg = ends - heads
    short = [mapping.bones[JOINT_SLOTS[j]] for j in range(16) if np.linalg.norm(seg[j]) < 1e-9]
    if short:
        raise RigError(f"bone(s) {', '.join(short)} have no length to point along (head on the next joint or tail)")
    parent_slot = np.array([int(PARENTS[j]) if j > 0 and PARENTS[j] > 0 and rest.is_ancestor(idx[PARENTS[j]], idx[j])
                            else -1 for j in range(16)])
    palm = palm_frame(heads[0], heads[INDEX1], heads[MIDDLE1], heads[PINKY1])
    if not np.all(np.isfinite(palm)):
        raise RigError("the mapped wrist and index/middle/pinky bones lie on one line; no palm to align")
    metacarpals = tuple(mapping.bones[s] for s in METACARPAL_SLOTS if mapping.bones.get(s))
    return TargetHand(mapping.side, tuple(mapping.joint_bones()), M[:, :3, :3], heads, _unit(seg),
                      parent_slot, palm, metacarpals)


def source_points(model: HandModel, global_orient, hand_pose, betas=None):
    """MANO forward kinematics: (F, 21, 3) [16 joints, 5 tips in TIP_ORDER] and (F, 16, 3, 3) G.

    Skins only the five fingertip vertices (with MANO's pose correctives when the model has them),
    so long takes cost little: the same numbers as model.forward's joints and tip vertices.
    """
    R = local_rotations(global_orient, hand_pose)  # (F, 16, 3, 3)
    F = len(R)
    v, J = model.shaped(None if betas is None else np.asarray(betas, np.float64).reshape(1, -1))
    tips = np.broadcast_to(v[:, model.tip_vertices], (F, 5, 3))
    if model.posedirs is not None:
        feat = (R[:, 1:] - np.eye(3)).reshape(F, 135)
        tips = tips + np.einsum("vcp,fp->fvc", model.posedirs[model.tip_vertices], feat)
    G, joints = lbs.forward_kinematics(R, np.broadcast_to(J, (F, 16, 3)), model.parents)
    A = lbs.skinning_transforms(G, np.broadcast_to(J, (F, 16, 3)))
    tips = lbs.skin(tips, model.weights[model.tip_vertices], A)
    return np.concatenate([joints, tips], axis=1), G[..., :3, :3]


def retarget_quaternions(target: TargetHand, model: HandModel, global_orient, hand_pose, betas=None,
                         pose_wrist: bool = True) -> tuple[list[str], np.ndarray]:
    """MANO poses -> pose-bone quaternions of the target's mapped bones.

    Args:
        target: resolve_target's result; its side must be the model's.
        model: the source hand model (its rest joints, shaped by betas, define MANO's segments).
        global_orient: (F, 3) axis-angle; hand_pose: (F, 45) flat-hand relative; betas (S,) or None.
        pose_wrist: give the hand bone the palm's rotation; False poses the fingers only.
    Returns:
        (names (B,), quaternions (F, B, 4)): the wrist if pose_wrist, the 15 finger bones, then the
        mapped metacarpals at identity.
    """
    if model.side != target.side:
        raise RigError(f"the poses are for a {model.side} hand but the mapping is for the {target.side} hand")
    go = np.asarray(global_orient, np.float64)
    betas_rest = None if betas is None else np.asarray(betas, np.float64).reshape(-1)
    pts, G = source_points(model, go, hand_pose, betas_rest)  # (F, 21, 3), (F, 16, 3, 3)
    F = len(pts)
    # 1. Rest palms and the model -> armature alignment.
    J = model.rest_joints(betas_rest)
    P_s = palm_frame(J[0], J[INDEX1], J[MIDDLE1], J[PINKY1])
    T = target.palm @ P_s.T
    # 2. MANO segment directions.
    d = _unit(pts[:, SEGMENT_END[1:]] - pts[:, 1:16])  # (F, 15, 3)
    # 3. Hand-local deltas of the 15 finger bones.
    G0t = np.swapaxes(G[:, 0], -1, -2)  # (F, 3, 3)
    TG0t = np.einsum("ab,fbc->fac", T, G0t)  # (F, 3, 3)
    M = np.einsum("fab,fjbc,dc->fjad", TG0t, G[:, 1:], T)  # T G0^T G_j T^T, (F, 15, 3, 3)
    want = np.einsum("fab,fjb->fja", TG0t, d)  # (F, 15, 3)
    carried = np.einsum("fjab,jb->fja", M, target.seg_dirs[1:])
    D = np.concatenate([np.broadcast_to(np.eye(3), (F, 1, 3, 3)),
                        np.einsum("fjab,fjbc->fjac", swing(carried, want), M)], axis=1)  # (F, 16, 3, 3)
    # 4. Local quaternions through the mapped hierarchy.
    Da = np.where((target.parent_slot[None, :, None, None] >= 0),
                  D[:, np.maximum(target.parent_slot, 0)], np.eye(3))
    B = target.rest
    Q = np.einsum("jba,fjcb,fjcd,jde->fjae", B, Da, D, B)  # B^T Da^T D B
    names = list(target.bones[1:])
    quats = matrix_to_quaternion(Q[:, 1:])
    # 5. The wrist.
    if pose_wrist:
        C = np.einsum("ab,fbc,dc->fad", T, G[:, 0], T)
        q0 = matrix_to_quaternion(np.einsum("ba,fbc,cd->fad", B[0], C, B[0]))
        names = [target.bones[0]] + names
        quats = np.concatenate([q0[:, None], quats], axis=1)
    if target.metacarpals:
        names += list(target.metacarpals)
        rest_q = np.zeros((F, len(target.metacarpals), 4))
        rest_q[..., 0] = 1.0
        quats = np.concatenate([quats, rest_q], axis=1)
    return names, quats


def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3), (..., 3) directions -> (..., 3, 3) the smallest rotations taking a onto b."""
    a, b = _unit(a), _unit(b)
    v = np.cross(a, b)
    s = np.linalg.norm(v, axis=-1, keepdims=True)
    c = np.sum(a * b, axis=-1, keepdims=True)
    # Opposite directions: any axis orthogonal to a (cross with the least aligned basis axis).
    helper = np.eye(3)[np.argmin(np.abs(a), axis=-1)]
    ortho = _unit(np.cross(a, helper))
    axis = np.where(s > 1e-9, v / np.maximum(s, 1e-300), np.where(c < 0, ortho, 0.0))
    return axis_angle_to_matrix(axis * np.arctan2(s, c))


def posed_matrices(rest: ArmatureRest, quaternions: dict) -> np.ndarray:
    """Forward kinematics of an armature: {bone name: (4,) pose quaternion} (others at rest) ->
    (N, 4, 4) posed bone matrices in armature space (pose_bone.matrix), rotations only.

    posed_b = posed_parent @ inv(rest_parent) @ rest_b @ basis_b, as Blender composes them.
    """
    N = len(rest.names)
    Rm = np.asarray(rest.matrices, np.float64)
    out = np.empty((N, 4, 4))
    order = sorted(range(N), key=lambda b: _depth(rest.parents, b))
    for b in order:
        basis = np.eye(4)
        if rest.names[b] in quaternions:
            basis[:3, :3] = quaternion_to_matrix(np.asarray(quaternions[rest.names[b]], np.float64))
        p = int(rest.parents[b])
        out[b] = (Rm[b] if p < 0 else out[p] @ np.linalg.inv(Rm[p]) @ Rm[b]) @ basis
    return out


def palm_directions(points: np.ndarray) -> np.ndarray:
    """(F, 21, 3) [16 joints, 5 tips in TIP_ORDER] -> (F, 15, 3) unit directions of the finger
    segments in the hand's palm frame (the quantity retargeting preserves)."""
    pts = np.asarray(points, np.float64)
    P = palm_frame(pts[:, 0], pts[:, INDEX1], pts[:, MIDDLE1], pts[:, PINKY1])  # (F, 3, 3)
    d = _unit(pts[:, SEGMENT_END[1:]] - pts[:, 1:16])
    return np.einsum("fba,fjb->fja", P, d)


def segment_angles(source_points: np.ndarray, target_points: np.ndarray) -> np.ndarray:
    """(F, 21, 3) x2 -> (F, 15) angles in degrees between the source's and the target's finger
    segments, each measured in its own palm frame."""
    a, b = palm_directions(source_points), palm_directions(target_points)
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)))


def _depth(parents, b: int) -> int:
    d, p = 0, int(parents[b])
    while p >= 0:
        d, p = d + 1, int(parents[p])
    return d


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)
