"""Retargeting maths without Blender: mappings (presets, detection, validation, JSON) and the
rest-pose aware transfer on synthetic rigs with their own rolls, proportions and rest curl."""
import json

import numpy as np
import pytest

from maskhand.errors import InputFileError, RigError
from maskhand.handmodel.joints import FINGERS, PARENTS, TIP_ORDER
from maskhand.handmodel.model import mirror_pose
from maskhand.handmodel.open_hand import load_open_hand
from maskhand.handmodel.pose_library import sample_global_orient, sample_poses
from maskhand.rigmath.pose_to_bones import bone_quaternions
from maskhand.rigmath.retarget import (SEGMENT_END, ArmatureRest, posed_matrices, resolve_target,
                                       retarget_quaternions, segment_angles, source_points)
from maskhand.rigmath.retarget_map import (JOINT_SLOTS, PRESETS, RetargetMap, detect_map, load_map,
                                           map_from_json, match_preset, preset_map, save_map, split_side,
                                           validate)
from maskhand.rigmath.rig_layout import rig_layout

MODELS = {side: load_open_hand(side) for side in ("right", "left")}


def rest_matrix(head, tail, rng):
    """A bone's matrix_local: Y along head -> tail, a random roll."""
    y = (tail - head) / np.linalg.norm(tail - head)
    r = rng.normal(size=3)
    x = r - y * (r @ y)
    x /= np.linalg.norm(x)
    M = np.eye(4)
    M[:3, :3] = np.stack([x, y, np.cross(x, y)], axis=1)
    M[:3, 3] = head
    return M


def synthetic_rig(side, seed, between=True, flat=False):
    """An armature unlike MANO's: rotated, rest fingers curled, segments 0.8-1.3x as long, random
    rolls, metacarpal bones, and (between=True) unmapped driver bones between finger bones as
    Rigify has; flat=True parents every finger bone to the hand (no chains). Returns (ArmatureRest,
    RetargetMap)."""
    rng = np.random.default_rng(seed)
    model = MODELS[side]
    curl = np.zeros((1, 45))
    curl[0] = rng.normal(0, 0.15, 45)
    pts, _ = source_points(model, np.zeros((1, 3)), curl, rng.normal(size=10))
    pts = pts[0]
    new = pts.copy()
    parent21 = np.concatenate([PARENTS, [TIP_PARENT_IDX[f] for f in TIP_ORDER]])
    for j in range(1, 21):  # parents come before children in this layout
        new[j] = new[parent21[j]] + rng.uniform(0.8, 1.3) * (pts[j] - pts[parent21[j]])
    R0 = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    R0 *= np.sign(np.linalg.det(R0))
    new = new @ R0.T + rng.normal(size=3)
    s = ".R" if side == "right" else ".L"
    names, parents, mats, tails, bones = [], [], [], [], {}

    def add(name, head, tail, parent):
        names.append(name + s)
        parents.append(-1 if parent is None else names.index(parent + s))
        mats.append(rest_matrix(head, tail, rng))
        tails.append(tail)

    add("forearm", new[0] - 3 * (new[4] - new[0]), new[0], None)
    add("hand", new[0], new[4], "forearm")
    bones["wrist"] = "hand" + s
    for f in FINGERS:
        k = 1 + 3 * FINGERS.index(f)
        chain = list(range(k, k + 3)) + [16 + TIP_ORDER.index(f)]
        parent = "hand"
        if f != "thumb":
            add(f"mc_{f}", new[0] + 0.2 * (new[k] - new[0]), new[k], "hand")
            bones[f"{f}0"] = f"mc_{f}" + s
            parent = f"mc_{f}"
        for n in range(3):
            if between and n > 0:
                add(f"{f}_drv{n + 1}", new[chain[n]], new[chain[n]] + 0.01 * rng.normal(size=3), parent)
                parent = f"{f}_drv{n + 1}"
            add(f"{f}_{n + 1}", new[chain[n]], new[chain[n + 1]], parent)
            bones[f"{f}{n + 1}"] = f"{f}_{n + 1}" + s
            parent = "hand" if flat else f"{f}_{n + 1}"
    rest = ArmatureRest(tuple(names), np.array(parents), np.array(mats), np.array(tails))
    return rest, RetargetMap(side, bones)


TIP_PARENT_IDX = {"thumb": 15, "index": 3, "middle": 6, "ring": 12, "pinky": 9}


def posed_points(rest, mapping, names, quats):
    """(F, 21, 3) posed [16 mapped heads, 5 distal tails] of `rest` under per-frame quaternions."""
    idx = [rest.index(mapping.bones[s]) for s in JOINT_SLOTS]
    out = []
    for q in quats:
        P = posed_matrices(rest, dict(zip(names, q)))
        heads = P[idx, :3, 3]
        tips = []
        for f in TIP_ORDER:
            b = idx[TIP_PARENT_IDX[f]]
            length = np.linalg.norm(rest.tails[b] - rest.matrices[b][:3, 3])
            tips.append(P[b, :3, 3] + P[b, :3, 1] * length)
        out.append(np.concatenate([heads, tips]))
    return np.array(out)


def poses(n, seed):
    rng = np.random.default_rng(seed)
    return sample_global_orient(n, rng), sample_poses(n, rng)[0]


@pytest.mark.parametrize("side, between", [("right", True), ("left", True), ("right", False)])
def test_segments_point_like_mano_in_the_palm_frame(side, between):
    rest, mapping = synthetic_rig(side, seed=5 if side == "right" else 6, between=between)
    target = resolve_target(mapping, rest)
    go, hp = poses(30, seed=1)
    if side == "left":
        go, hp = mirror_pose(go), mirror_pose(hp)
    names, quats = retarget_quaternions(target, MODELS[side], go, hp)
    assert names[0] == mapping.bones["wrist"] and len(names) == 16 + 4
    np.testing.assert_allclose(quats[:, -4:], np.tile([1.0, 0, 0, 0], (30, 4, 1)))  # metacarpals at rest
    src, _ = source_points(MODELS[side], go, hp)
    angles = segment_angles(src, posed_points(rest, mapping, names, quats))
    assert angles.max() < 1e-4, angles.max()
    # The rest (unposed) target is far from MANO's flat hand, so the check can fail.
    rest_q = np.tile([1.0, 0, 0, 0], quats.shape[:2] + (1,))
    assert segment_angles(src, posed_points(rest, mapping, names, rest_q)).mean() > 10


def test_unchained_finger_bones_each_point_their_own_segment():
    """A rig whose finger bones all hang off the hand: no mapped parent, each bone turns about its
    own head, and its rest segment direction must end up along MANO's in the palm frame."""
    from maskhand.rigmath.retarget import palm_directions, palm_frame

    rest, mapping = synthetic_rig("left", seed=21, between=False, flat=True)
    target = resolve_target(mapping, rest)
    assert (target.parent_slot == -1).all()
    go, hp = poses(10, seed=3)
    go, hp = mirror_pose(go), mirror_pose(hp)
    names, quats = retarget_quaternions(target, MODELS["left"], go, hp)
    src, _ = source_points(MODELS["left"], go, hp)
    want = palm_directions(src)  # (F, 15, 3)
    idx = [rest.index(mapping.bones[s]) for s in JOINT_SLOTS]
    for f in range(len(go)):
        P = posed_matrices(rest, dict(zip(names, quats[f])))[idx]
        heads = P[:, :3, 3]
        palm = palm_frame(heads[0], heads[1], heads[4], heads[7])
        dirs = np.einsum("jab,jcb,jc->ja", P[:, :3, :3], target.rest, target.seg_dirs)[1:]
        np.testing.assert_allclose(dirs @ palm, want[f], atol=1e-9)


def test_fingers_only_leaves_the_hand_and_gives_the_same_finger_rotations():
    rest, mapping = synthetic_rig("right", seed=9)
    target = resolve_target(mapping, rest)
    go, hp = poses(5, seed=2)
    names_w, q_w = retarget_quaternions(target, MODELS["right"], go, hp, pose_wrist=True)
    names_f, q_f = retarget_quaternions(target, MODELS["right"], go, hp, pose_wrist=False)
    assert names_f == names_w[1:]
    np.testing.assert_allclose(q_f, q_w[:, 1:], atol=1e-12)
    src, _ = source_points(MODELS["right"], go, hp)
    assert segment_angles(src, posed_points(rest, mapping, names_f, q_f)).max() < 1e-4


def test_on_its_own_rig_retargeting_is_the_direct_mano_transfer():
    """MaskHand's rig has MANO's rest pose: the rest-aware path must reduce to Q = B^T R B."""
    model = MODELS["right"]
    layout = rig_layout(model)
    rng = np.random.default_rng(3)
    mats = np.array([rest_matrix(h, t, rng) for h, t in zip(layout.heads, layout.tails)])
    rest = ArmatureRest(tuple(layout.names), layout.parents, mats, layout.tails)
    mapping = match_preset("maskhand", "right", layout.names)
    go, hp = poses(10, seed=4)
    names, quats = retarget_quaternions(resolve_target(mapping, rest), model, go, hp)
    direct = bone_quaternions(go, hp, mats[:16, :3, :3])
    assert names == layout.names[:16]
    dots = np.abs(np.sum(quats * direct, axis=-1))
    assert dots.min() > 1 - 1e-9, dots.min()


def test_betas_change_the_source_segments():
    rest, mapping = synthetic_rig("right", seed=12, between=False)
    target = resolve_target(mapping, rest)
    go, hp = poses(3, seed=8)
    betas = np.full(10, 2.0)
    _, q0 = retarget_quaternions(target, MODELS["right"], go, hp)
    names, q1 = retarget_quaternions(target, MODELS["right"], go, hp, betas=betas)
    assert np.abs(q0 - q1).max() > 1e-4
    src, _ = source_points(MODELS["right"], go, hp, betas)
    assert segment_angles(src, posed_points(rest, mapping, names, q1)).max() < 1e-4


def test_wrong_side_poses_are_refused():
    rest, mapping = synthetic_rig("right", seed=1)
    with pytest.raises(RigError, match="left hand but the mapping is for the right"):
        retarget_quaternions(resolve_target(mapping, rest), MODELS["left"], *poses(1, 0))


# ---- mappings -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, side, stem", [
    ("f_index.01.R", "right", "f_index.01"), ("DEF-f_index.01.L", "left", "DEF-f_index.01"),
    ("mixamorig:LeftHandThumb1", "left", "HandThumb1"), ("mixamorig1:RightHand", "right", "Hand"),
    ("right_index1", "right", "index1"), ("finger2-1.R", "right", "finger2-1"), ("hand_l", "left", "hand"),
    ("Index1_R", "right", "Index1"), ("L_thumb2", "left", "thumb2"), ("HandRight", "right", "Hand"),
    ("spine.001", None, "spine.001"), ("root", None, "root"),
])
def test_split_side(name, side, stem):
    assert split_side(name) == (side, stem)


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("side", ["right", "left"])
def test_detection_finds_each_preset_on_a_two_handed_rig(preset, side):
    both = list(preset_map(preset, "right").bones.values()) + list(preset_map(preset, "left").bones.values())
    names = ["root", "spine", "DEF-hand.R", "ORG-f_index.01.R"] + both
    found = detect_map(names, side)
    assert found.preset == preset and found.bones == preset_map(preset, side).bones
    validate(found, names)


def test_detection_accepts_other_side_spellings():
    names = [f"{b.rsplit('.', 1)[0]}_r" for b in preset_map("mpfb", "right").bones.values()]
    found = detect_map(names + ["wrist_l"], "right")
    assert found.preset == "mpfb" and found.bones["index1"] == "finger2-1_r"
    with pytest.raises(RigError, match="no left hand"):
        detect_map(names, "left")


def test_detection_names_the_missing_bones():
    names = [b for s, b in preset_map("mixamo", "right").bones.items() if s not in ("ring2", "thumb3")]
    with pytest.raises(RigError, match=r"Mixamo, lacks mixamorig:RightHandRing2, mixamorig:RightHandThumb3"):
        detect_map(names, "right")


def test_validation_names_missing_wrong_side_and_repeated_bones():
    good = preset_map("rigify", "right")
    names = list(good.bones.values())
    validate(good, names)
    with pytest.raises(RigError, match=r"lacks the mapped bone\(s\) thumb3 -> 'thumb.03.R'"):
        validate(good, [n for n in names if n != "thumb.03.R"])
    wrong = RetargetMap("right", {**good.bones, "index2": "f_index.02.L"})
    with pytest.raises(RigError, match=r"right hand but names left-side bone\(s\) index2 -> 'f_index.02.L'"):
        validate(wrong, names + ["f_index.02.L"])
    twice = RetargetMap("right", {**good.bones, "index2": "f_index.01.R"})
    with pytest.raises(RigError, match=r"f_index.01.R are mapped to more than one slot"):
        validate(twice, names)
    partial = RetargetMap("right", {k: v for k, v in good.bones.items() if k != "wrist"})
    with pytest.raises(RigError, match=r"joint\(s\) wrist without a bone"):
        validate(partial, names)


def test_mapping_json_round_trip_and_bad_files(tmp_path):
    m = RetargetMap("left", {**preset_map("mpfb", "left").bones, "index_tip": "tip.L"}, "custom")
    path = save_map(m, tmp_path / "maps" / "char.json")
    assert load_map(path) == m
    assert json.loads(path.read_text())["bones"]["wrist"] == "wrist.L"
    for doc, msg in [({"format": "other"}, "not a MaskHand retarget mapping"),
                     ({**m.to_json(), "side": "up"}, "side must be"),
                     ({**m.to_json(), "bones": {"elbow": "x"}}, "unknown slot"),
                     ({**m.to_json(), "version": 2}, "version 2")]:
        with pytest.raises(InputFileError, match=msg):
            map_from_json(doc)
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(InputFileError, match="not valid JSON"):
        load_map(tmp_path / "bad.json")


def test_segment_end_layout():
    """Wrist -> middle knuckle, each finger joint -> its child, distal joints -> their fingertips."""
    assert SEGMENT_END[0] == 4 and SEGMENT_END[1] == 2 and SEGMENT_END[3] == 16 + TIP_ORDER.index("index")
    assert SEGMENT_END[15] == 16 + TIP_ORDER.index("thumb")


def test_source_points_are_the_hand_models_joints_and_fingertips():
    model = MODELS["left"]
    go, hp = poses(4, seed=11)
    betas = np.random.default_rng(0).normal(size=10)
    pts, G = source_points(model, go, hp, betas)
    ref = model.forward(go, hp, betas)
    np.testing.assert_allclose(pts[:, :16], ref.joints, atol=1e-12)
    np.testing.assert_allclose(pts[:, 16:], ref.vertices[:, model.tip_vertices], atol=1e-12)
    np.testing.assert_allclose(G, ref.transforms[..., :3, :3], atol=1e-12)
