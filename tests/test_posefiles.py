"""posefiles: every accepted layout reads back the values written; bad input fails with a typed error.

Fixture files are written here in tmp_path, in the layouts the tools write: HaMeR/WiLoR style
(npz, npy, pkl; axis-angle or rotation matrices; nested under pred_mano_params), FreiHAND rows
and MaskHand's plain JSON.
"""
import json
import os
import pickle

import numpy as np
import pytest

from maskhand.errors import InputFileError, PoseDataError, UnsafePickleError
from maskhand.posefiles import (PoseSequence, axis_angle_to_matrix, matrix_to_axis_angle,
                                read_pose_file, write_plain_json)
from maskhand.posefiles.mano_arrays import MIRROR_AXIS_ANGLE

N = 5
IS_RIGHT = np.array([1, 0, 1, 0, 0])


def random_axis_angle(rng, shape, max_angle=3.0):
    """(*shape, 3) axis-angle with angles in (0, max_angle): unique, so round trips compare exactly."""
    axis = rng.normal(size=shape + (3,))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    return axis * rng.uniform(0.05, max_angle, size=shape + (1,))


@pytest.fixture
def params():
    rng = np.random.default_rng(7)
    return {"global_orient": random_axis_angle(rng, (N,)),       # (N, 3)
            "hand_pose": random_axis_angle(rng, (N, 15)).reshape(N, 45),
            "betas": rng.normal(size=(N, 10)),
            "transl": rng.normal(size=(N, 3))}


def mirrored(aa, frames):
    """Expected left-hand values of HaMeR-style frames: mirrored back, (x, y, z) -> (x, -y, -z)."""
    return (aa[frames].reshape(len(frames), -1, 3) * MIRROR_AXIS_ANGLE).reshape(len(frames), -1)


# ---------------------------------------------------------------------------------------------
# Writers: (tmp_path, params) -> (path, {side: (frame indices, mirrored?)}, hand_mean, has transl)
# ---------------------------------------------------------------------------------------------

def npz_axis_angle(tmp, p):
    path = tmp / "hamer_aa.npz"
    np.savez(path, global_orient=p["global_orient"], hand_pose=p["hand_pose"], betas=p["betas"],
             transl=p["transl"])
    return path, {"right": (range(N), False)}, "flat", True


def npz_axis_angle_joints(tmp, p):
    path = tmp / "hamer_aa_joints.npz"
    np.savez(path, global_orient=p["global_orient"][:, None], hand_pose=p["hand_pose"].reshape(N, 15, 3),
             betas=p["betas"], cam_t=p["transl"])
    return path, {"right": (range(N), False)}, "flat", True


def npz_rotmat(tmp, p):
    path = tmp / "hamer_rotmat.npz"
    np.savez(path, global_orient=axis_angle_to_matrix(p["global_orient"])[:, None],      # (N, 1, 3, 3)
             hand_pose=axis_angle_to_matrix(p["hand_pose"].reshape(N, 15, 3)).astype(np.float32),
             betas=p["betas"], transl=p["transl"])
    return path, {"right": (range(N), False)}, "flat", True


def npz_rotmat_flat_orient_left(tmp, p):
    path = tmp / "wilor_left.npz"
    np.savez(path, global_orient=axis_angle_to_matrix(p["global_orient"]),               # (N, 3, 3)
             hand_pose=axis_angle_to_matrix(p["hand_pose"].reshape(N, 15, 3)),
             betas=p["betas"], is_right=np.zeros(N))
    return path, {"left": (range(N), True)}, "flat", False


def pkl_hamer_nested_mixed(tmp, p):
    """As HaMeR's forward returns it: pred_mano_params holds rotation matrices; sides in 'right'."""
    path = tmp / "hamer_out.pkl"
    out = {"pred_mano_params": {
        "global_orient": axis_angle_to_matrix(p["global_orient"])[:, None].astype(np.float32),
        "hand_pose": axis_angle_to_matrix(p["hand_pose"].reshape(N, 15, 3)).astype(np.float32),
        "betas": p["betas"]},
        "pred_cam_t_full": p["transl"], "right": IS_RIGHT.astype(np.float32),
        "pred_vertices": np.zeros((N, 778, 3), np.float32)}
    path.write_bytes(pickle.dumps(out))
    return (path, {"right": (np.flatnonzero(IS_RIGHT == 1), False), "left": (np.flatnonzero(IS_RIGHT == 0), True)},
            "flat", True)


def npy_dict_under_mano(tmp, p):
    path = tmp / "dump.npy"
    np.save(path, {"mano": {k: v for k, v in p.items()}, "is_right": IS_RIGHT}, allow_pickle=True)
    return (path, {"right": (np.flatnonzero(IS_RIGHT == 1), False), "left": (np.flatnonzero(IS_RIGHT == 0), True)},
            "flat", True)


def npz_object_dict(tmp, p):
    path = tmp / "saved_dict.npz"
    np.savez(path, pred_mano_params={k: p[k] for k in ("global_orient", "hand_pose", "betas")})
    return path, {"right": (range(N), False)}, "flat", False


def pkl_list_of_single_poses(tmp, p):
    """One dict per frame, each a single pose without a batch dim (global (3,), hand (45,), betas (10,))."""
    path = tmp / "per_frame.pkl"
    rows = [{"global_orient": p["global_orient"][i], "hand_pose": p["hand_pose"][i], "betas": p["betas"][i],
             "is_right": bool(IS_RIGHT[i])} for i in range(N)]
    path.write_bytes(pickle.dumps(rows, protocol=2))
    return (path, {"right": (np.flatnonzero(IS_RIGHT == 1), False), "left": (np.flatnonzero(IS_RIGHT == 0), True)},
            "flat", False)


def json_dict_of_lists(tmp, p):
    path = tmp / "arrays.json"
    path.write_text(json.dumps({k: v.tolist() for k, v in p.items()}))
    return path, {"right": (range(N), False)}, "flat", True


def freihand_nested_rows(tmp, p):
    path = tmp / "training_mano.json"
    rows = np.concatenate([p["global_orient"], p["hand_pose"], p["betas"], np.full((N, 3), 0.5)], axis=1)
    path.write_text(json.dumps([[row.tolist()] for row in rows]))
    return path, {"right": (range(N), False)}, "mano", False


def freihand_flat_rows(tmp, p):
    path = tmp / "evaluation_mano.json"
    rows = np.concatenate([p["global_orient"], p["hand_pose"], p["betas"], np.full((N, 3), 0.5)], axis=1)
    path.write_text(json.dumps(rows.tolist()))
    return path, {"right": (range(N), False)}, "mano", False


def plain_json(tmp, p):
    path = tmp / "take1.json"
    seq = PoseSequence(p["global_orient"], p["hand_pose"], p["betas"], p["transl"], side="left", fps=30.0)
    write_plain_json(path, seq)
    return path, {"left": (range(N), False)}, "flat", True


LAYOUTS = [npz_axis_angle, npz_axis_angle_joints, npz_rotmat, npz_rotmat_flat_orient_left,
           pkl_hamer_nested_mixed, npy_dict_under_mano, npz_object_dict, pkl_list_of_single_poses,
           json_dict_of_lists, freihand_nested_rows, freihand_flat_rows, plain_json]


@pytest.mark.parametrize("write", LAYOUTS, ids=lambda f: f.__name__)
def test_layout_reads_back_what_was_written(tmp_path, params, write):
    path, sides, hand_mean, has_transl = write(tmp_path, params)
    seqs = read_pose_file(path)
    assert [s.side for s in seqs] == list(sides), [s.side for s in seqs]
    for seq in seqs:
        frames, mirror = sides[seq.side]
        frames = np.asarray(list(frames))
        go, hp = params["global_orient"], params["hand_pose"]
        want_go = mirrored(go, frames) if mirror else go[frames]
        want_hp = mirrored(hp, frames) if mirror else hp[frames]
        tol = 1e-5 if "rotmat" in write.__name__ or "hamer_out" in path.name else 1e-12
        np.testing.assert_allclose(seq.global_orient, want_go, atol=tol, rtol=0)
        np.testing.assert_allclose(seq.hand_pose, want_hp, atol=tol, rtol=0)
        np.testing.assert_array_equal(seq.betas, params["betas"][frames])
        if has_transl:
            np.testing.assert_array_equal(seq.transl, params["transl"][frames])
        else:
            assert seq.transl is None
        assert seq.hand_mean == hand_mean and seq.source == path.stem and seq.fps == 30.0
        assert seq.global_orient.shape == (len(frames), 3) and seq.hand_pose.shape == (len(frames), 45)


@pytest.mark.parametrize("side, expected", [(None, ["right", "left"]), ("right", ["right"]), ("left", ["left"])])
def test_side_argument_selects_hands(tmp_path, params, side, expected):
    path, *_ = pkl_hamer_nested_mixed(tmp_path, params)
    seqs = read_pose_file(path, side=side)
    assert [s.side for s in seqs] == expected
    assert [s.num_frames for s in seqs] == [int((IS_RIGHT == (s.side == "right")).sum()) for s in seqs]


def test_side_argument_labels_files_without_sides_and_left_is_not_mirrored(tmp_path, params):
    path, *_ = npz_axis_angle(tmp_path, params)
    (seq,) = read_pose_file(path, side="left")
    assert seq.side == "left"
    np.testing.assert_array_equal(seq.hand_pose, params["hand_pose"])  # no is_right: taken as given


def test_left_mirrored_false_keeps_values(tmp_path, params):
    path, *_ = pkl_hamer_nested_mixed(tmp_path, params)
    left = read_pose_file(path, side="left", left_mirrored=False)[0]
    np.testing.assert_allclose(left.hand_pose, params["hand_pose"][IS_RIGHT == 0], atol=1e-5)


@pytest.mark.parametrize("write, side", [(npz_rotmat_flat_orient_left, "right"), (plain_json, "right")])
def test_asking_for_a_side_the_file_lacks(tmp_path, params, write, side):
    path, *_ = write(tmp_path, params)
    with pytest.raises(PoseDataError, match="no right-hand frames"):
        read_pose_file(path, side=side)


@pytest.mark.parametrize("file_fps, arg, expected", [(None, None, 30.0), (None, 60, 60.0), (24, None, 24.0),
                                                     (24, 50.0, 50.0), (23.976, None, 23.976)])
def test_fps(tmp_path, params, file_fps, arg, expected):
    if file_fps is None:
        path, *_ = npz_axis_angle(tmp_path, params)
    else:
        path = write_plain_json(tmp_path / "clip.json", PoseSequence(params["global_orient"], params["hand_pose"],
                                                                     fps=file_fps))
    assert [s.fps for s in read_pose_file(path, fps=arg)] == [expected]


@pytest.mark.parametrize("go, hp, betas", [
    ((3,), (45,), (10,)),
    ((1, 3), (15, 3), (1, 10)),
    ((3, 3), (15, 3, 3), (10,)),          # one frame as rotation matrices
    ((1, 1, 3, 3), (15, 3, 3), None),
    ((1, 3), (1, 45), (1, 10)),          # a batch of one
    ((1, 3, 3), (1, 15, 3, 3), (1, 10)),
])
def test_single_pose_is_one_frame(tmp_path, go, hp, betas):
    rng = np.random.default_rng(1)
    g_aa, h_aa = random_axis_angle(rng, ()), random_axis_angle(rng, (15,))
    g = axis_angle_to_matrix(g_aa) if go[-2:] == (3, 3) else g_aa
    h = axis_angle_to_matrix(h_aa) if hp[-2:] == (3, 3) else h_aa
    data = {"global_orient": g.reshape(go), "hand_pose": h.reshape(hp)}
    b = rng.normal(size=10)
    if betas:
        data["betas"] = b.reshape(betas)
    np.savez(tmp_path / "one.npz", **data)
    (seq,) = read_pose_file(tmp_path / "one.npz")
    np.testing.assert_allclose(seq.global_orient, g_aa[None], atol=1e-12)
    np.testing.assert_allclose(seq.hand_pose, h_aa.reshape(1, 45), atol=1e-12)
    np.testing.assert_array_equal(seq.betas, b[None] if betas else np.zeros((1, 10)))


def test_plain_json_round_trip_is_exact(tmp_path, params):
    for transl in (params["transl"], None):
        seq = PoseSequence(params["global_orient"], params["hand_pose"], params["betas"][:, :6], transl,
                           side="left", fps=25.0, source="take", hand_mean="mano")
        path = write_plain_json(tmp_path / "take.json", seq)
        (back,) = read_pose_file(path)
        assert (back.side, back.fps, back.hand_mean, back.source) == ("left", 25.0, "mano", "take")
        for name in ("global_orient", "hand_pose", "betas", "transl"):
            a, b = getattr(seq, name), getattr(back, name)
            assert (a is None and b is None) or np.array_equal(a, b), name
        assert json.loads(path.read_text())["format"] == "maskhand.mano"


# ---------------------------------------------------------------------------------------------
# Rotations
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("angle", [0.0, 1e-12, 1e-7, 1e-3, 0.5, 2.0, np.pi - 1e-3, np.pi - 1e-7, np.pi])
def test_axis_angle_round_trip(angle):
    rng = np.random.default_rng(int(angle * 1e3) % 1000)
    axes = rng.normal(size=(64, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    aa = axes * angle
    R = axis_angle_to_matrix(aa)
    back = matrix_to_axis_angle(R)
    np.testing.assert_allclose(axis_angle_to_matrix(back), R, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(back, axis=1), angle, atol=1e-6)
    if angle < np.pi - 1e-3:  # below pi the axis-angle is unique
        np.testing.assert_allclose(back, aa, atol=1e-9)


def test_identity_is_zero_and_random_matrices_round_trip():
    assert np.array_equal(matrix_to_axis_angle(np.eye(3)), np.zeros(3))
    rng = np.random.default_rng(0)
    q = rng.normal(size=(500, 4))
    from maskhand.handmodel.rotations import quaternion_to_matrix
    R = quaternion_to_matrix(q).reshape(5, 100, 3, 3)
    np.testing.assert_allclose(axis_angle_to_matrix(matrix_to_axis_angle(R)), R, atol=1e-10)


@pytest.mark.parametrize("matrix, message", [
    (2 * np.eye(3), "rotation matrices"),
    (np.diag([1.0, 1.0, -1.0]), r"det -1"),
    (np.array([[1, 0.1, 0], [0, 1, 0], [0, 0, 1.0]]), "rotation matrices"),
    (np.full((3, 3), np.nan), "NaN"),
    (np.eye(4), r"\(\.\.\., 3, 3\)"),
])
def test_non_rotations_are_refused(matrix, message):
    with pytest.raises(PoseDataError, match=message):
        matrix_to_axis_angle(matrix)


# ---------------------------------------------------------------------------------------------
# PoseSequence validation
# ---------------------------------------------------------------------------------------------

def test_pose_sequence_pads_betas_and_defaults():
    seq = PoseSequence(np.zeros((2, 3)), np.zeros((2, 45)), np.ones((2, 4)))
    assert seq.betas.shape == (2, 10) and seq.betas[:, :4].all() and not seq.betas[:, 4:].any()
    assert PoseSequence(np.zeros((2, 3)), np.zeros((2, 45))).betas.shape == (2, 10)


@pytest.mark.parametrize("kwargs, message", [
    ({"hand_pose": np.zeros((3, 44))}, r"hand_pose must have shape \(3, 45\).*got \(3, 44\)"),
    ({"global_orient": np.zeros((3, 4))}, r"global_orient must be \(F, 3\)"),
    ({"betas": np.zeros((3, 11))}, r"betas must have shape \(3, 10\)"),
    ({"transl": np.zeros((2, 3))}, r"transl must have shape \(3, 3\)"),
    ({"side": "both"}, "side must be 'right' or 'left'"),
    ({"hand_mean": "relaxed"}, "hand_mean must be 'flat' or 'mano'"),
    ({"fps": 0}, "fps must be a positive number"),
    ({"global_orient": np.zeros((0, 3)), "hand_pose": np.zeros((0, 45))}, "at least one frame"),
])
def test_pose_sequence_refuses(kwargs, message):
    args = {"global_orient": np.zeros((3, 3)), "hand_pose": np.zeros((3, 45)), **kwargs}
    with pytest.raises(PoseDataError, match=message):
        PoseSequence(**args)


@pytest.mark.parametrize("field", ["global_orient", "hand_pose", "betas", "transl"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_pose_sequence_names_field_and_frame_of_non_finite(field, bad):
    args = {"global_orient": np.zeros((4, 3)), "hand_pose": np.zeros((4, 45)), "betas": np.zeros((4, 10)),
            "transl": np.zeros((4, 3)), "source": "clip"}
    args[field] = args[field].copy()
    args[field][2, 1] = bad
    with pytest.raises(PoseDataError, match=f"{field} holds .* at frame 2 .* in clip"):
        PoseSequence(**args)


def test_with_flat_mean_adds_the_mean():
    mean = np.linspace(-0.2, 0.2, 45)
    seq = PoseSequence(np.zeros((2, 3)), np.ones((2, 45)), hand_mean="mano")
    flat = seq.with_flat_mean(mean)
    assert flat.hand_mean == "flat" and np.allclose(flat.hand_pose, 1 + mean)
    assert flat.with_flat_mean(mean) is flat


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------

def npz_with(**arrays):
    def write(path):
        np.savez(path, **arrays)
    return write


def text(s):
    def write(path):
        path.write_text(s)
    return write


def plain(**changes):
    frame = {"global_orient": [0.0] * 3, "hand_pose": [0.0] * 45}
    data = {"format": "maskhand.mano", "version": 1, "side": "right", "fps": 30, "hand_mean": "flat",
            "frames": [dict(frame), dict(frame)]}
    for key, value in changes.items():
        if key.startswith("frame1_"):
            data["frames"][1][key[7:]] = value
        else:
            data[key] = value
    return text(json.dumps(data))


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


GOOD_GO, GOOD_HP = np.zeros((3, 3)), np.zeros((3, 45))
NAN_HP = GOOD_HP.copy()
NAN_HP[2, 7] = np.nan

BAD_INPUTS = [
    ("nan.npz", npz_with(global_orient=GOOD_GO, hand_pose=NAN_HP), PoseDataError, "hand_pose holds nan at frame 2"),
    ("inf.json", plain(frame1_hand_pose=[0.0] * 44 + [float("inf")]), PoseDataError, "hand_pose holds inf at frame 1"),
    ("short.npz", npz_with(global_orient=GOOD_GO, hand_pose=np.zeros((3, 44))), PoseDataError,
     r"hand_pose must be \(N, 45\).*got shape \(3, 44\)"),
    ("orient.npz", npz_with(global_orient=np.zeros((4, 3)), hand_pose=GOOD_HP), PoseDataError,
     r"global_orient must be \(3, 3\) axis-angle .* got shape \(4, 3\)"),
    ("betas.npz", npz_with(global_orient=GOOD_GO, hand_pose=GOOD_HP, betas=np.zeros((3, 16))), PoseDataError,
     r"betas must be \(3, S\)"),
    ("transl.npz", npz_with(global_orient=GOOD_GO, hand_pose=GOOD_HP, transl=np.zeros((3, 2))), PoseDataError,
     r"transl must have shape \(3, 3\)"),
    ("side.npz", npz_with(global_orient=GOOD_GO, hand_pose=GOOD_HP, is_right=np.array([1, 2, 0])), PoseDataError,
     "is_right must be 1 .right. or 0"),
    ("skew.npz", npz_with(global_orient=2 * np.tile(np.eye(3), (3, 1, 1)), hand_pose=GOOD_HP), PoseDataError,
     "rotation matrices"),
    ("other.npz", npz_with(vertices=np.zeros((3, 778, 3)), faces=np.zeros((5, 3))), PoseDataError,
     "not MANO pose data: expected keys global_orient and hand_pose.*; found faces, vertices"),
    ("other.json", text('{"keypoints": [1, 2]}'), PoseDataError, "not MANO pose data.*found keypoints"),
    ("rows.json", text(json.dumps([[0.0] * 60])), PoseDataError, "61 values .* got 60 in row 0"),
    ("plain44.json", plain(frame1_hand_pose=[0.0] * 44), PoseDataError,
     "hand_pose must have 45 values per frame; got 44 in frame 1"),
    ("plainv2.json", plain(version=2), PoseDataError, "version 2 is not supported; expected 1"),
    ("plainkey.json", plain(frame1_hand_poses=[0.0] * 45), PoseDataError, "unknown key.*hand_poses"),
    ("plainside.json", plain(side="both"), PoseDataError, "side must be 'right' or 'left'"),
    ("broken.json", text('{"format": '), InputFileError, "not valid JSON"),
    ("truncated.pkl", lambda p: p.write_bytes(pickle.dumps({"global_orient": GOOD_GO})[:-9]), InputFileError,
     "not a readable pickle"),
    ("broken.npz", text("not a zip"), InputFileError, "not a readable .npz"),
    ("poses.txt", text("0 0 0"), InputFileError, r"unsupported pose file type '\.txt'; expected one of .*\.npz"),
]


@pytest.mark.parametrize("name, write, error, message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input(tmp_path, name, write, error, message):
    path = tmp_path / name
    write(path)
    with pytest.raises(error, match=message):
        read_pose_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="pose file not found: .*nothing.npz"):
        read_pose_file(tmp_path / "nothing.npz")


@pytest.mark.parametrize("container", ["pkl", "npy", "npz"])
def test_hostile_pickle_runs_nothing(tmp_path, container):
    marker = tmp_path / "pwned"
    evil = {"global_orient": np.zeros(3), "hand_pose": np.zeros(45), "extra": Evil(marker)}
    path = tmp_path / f"evil.{container}"
    if container == "pkl":
        path.write_bytes(pickle.dumps(evil))
    elif container == "npy":
        np.save(path, evil, allow_pickle=True)
    else:
        np.savez(path, pred_mano_params=evil)
    with pytest.raises(UnsafePickleError, match=r"(posix|os|nt)\.system"):
        read_pose_file(path)
    assert not marker.exists()
