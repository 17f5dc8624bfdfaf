"""The hand model: MANO-compatible conventions, mirroring, and agreement with smplx's MANO layer."""
import numpy as np
import pytest

from maskhand.handmodel import JOINT_NAMES, load_hand_model
from maskhand.handmodel.export_pkl import export_mano_pkl
from maskhand.handmodel.joints import finger_joints
from maskhand.handmodel.model import mirror_pose
from maskhand.handmodel.open_hand import load_open_hand
from maskhand.handmodel.posed_keypoints import PosedKeypoints


def random_poses(n, seed, scale=0.6):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 3)) * 1.5, rng.normal(size=(n, 45)) * scale,
            rng.normal(size=(n, 10)), rng.normal(size=(n, 3)) * 0.1)


def test_open_hand_layout():
    m = load_open_hand("right")
    V = m.v_template.shape[0]
    assert m.weights.shape == (V, 16) and np.allclose(m.weights.sum(1), 1, atol=1e-5)
    assert m.J_regressor.shape == (16, V) and np.allclose(m.J_regressor.sum(1), 1, atol=1e-4)
    assert m.shapedirs.shape == (V, 3, 10)
    assert m.faces.max() < V and len(JOINT_NAMES) == 16
    out = m.forward(np.zeros((1, 3)), np.zeros((1, 45)))
    assert out.keypoints.shape == (1, 21, 3)
    np.testing.assert_allclose(out.joints[0], m.rest_joints(), atol=1e-12)


@pytest.mark.parametrize("finger", ["index", "middle", "ring", "pinky", "thumb"])
def test_rest_pose_is_a_flat_hand(finger):
    """Zero pose is MANO's flat template: straight fingers, in MANO's canonical frame."""
    m = load_open_hand("right")
    J = m.rest_joints()
    tips = dict(zip(("thumb", "index", "middle", "ring", "pinky"), m.rest_tips()))
    a, b, c = finger_joints(finger)
    pts = np.stack([J[a], J[b], J[c], tips[finger]])
    seg = np.diff(pts, axis=0)
    seg /= np.linalg.norm(seg, axis=1, keepdims=True)
    bend = np.degrees(np.arccos(np.clip((seg[:-1] * seg[1:]).sum(1), -1, 1)))
    assert bend.max() < 3.0, bend
    wrist = J[0]
    if finger != "thumb":  # fingers point along -x, the hand lies in the x-z plane
        assert seg[0][0] < -0.9 and abs(seg[0][1]) < 0.1, seg[0]
    else:  # thumb on +z, beside the index
        assert pts[-1][2] > J[1][2] and pts[-1][0] < wrist[0]


def test_left_is_the_mirrored_right():
    r, l = load_open_hand("right"), load_open_hand("left")
    go, hp, betas, tr = random_poses(8, seed=1)
    out_r = r.forward(go, hp, betas, tr * np.array([-1, 1, 1]))
    out_l = l.forward(mirror_pose(go), mirror_pose(hp), betas, tr)
    flip = np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(out_l.vertices, out_r.vertices * flip, atol=1e-10)
    np.testing.assert_allclose(out_l.keypoints, out_r.keypoints * flip, atol=1e-10)


def test_flexion_closes_fingers_towards_the_palm():
    """+z rotations flex a right hand's fingers towards its palm (-y), as in MANO."""
    m = load_open_hand("right")
    hp = np.zeros((1, 15, 3))
    hp[0, :12, 2] = 0.5  # about 30 degrees at every finger joint
    tips = m.forward(np.zeros((1, 3)), hp.reshape(1, 45)).keypoints[0, [8, 12, 16, 20]]
    assert np.all(tips[:, 1] < m.rest_tips()[1:, 1] - 0.02), tips


@pytest.mark.parametrize("side", ["right", "left"])
def test_agrees_with_smplx_mano_layer(tmp_path, side):
    """Our LBS vs smplx's MANO layer loaded from our MANO-layout export: 50 random poses."""
    torch = pytest.importorskip("torch")
    smplx = pytest.importorskip("smplx")
    model = load_hand_model(side)
    path = export_mano_pkl(model, tmp_path / f"MANO_{side.upper()}.pkl")
    layer = smplx.MANO(str(path), is_rhand=side == "right", use_pca=False, flat_hand_mean=True,
                       num_betas=10, dtype=torch.float64)
    go, hp, betas, tr = random_poses(50, seed=7 if side == "right" else 8)
    with torch.no_grad():
        ref = layer(global_orient=torch.from_numpy(go), hand_pose=torch.from_numpy(hp),
                    betas=torch.from_numpy(betas), transl=torch.from_numpy(tr))
    ours = model.forward(go, hp, betas, tr)
    np.testing.assert_allclose(ours.vertices, ref.vertices.numpy(), atol=1e-5)
    np.testing.assert_allclose(ours.joints, ref.joints.numpy()[:, :16], atol=1e-5)
    tips = ref.vertices.numpy()[:, model.tip_vertices]
    np.testing.assert_allclose(ours.keypoints[:, [4, 8, 12, 16, 20]], tips, atol=1e-5)


@pytest.mark.parametrize("correctives", [False, True])
def test_posed_keypoints_equal_the_full_forward_pass(correctives):
    """The fitter's keypoints-only pass (no mesh skinning) gives forward()'s keypoints, also with MANO's
    pose correctives (here random ones: the open hand has none) and partial betas."""
    from dataclasses import replace

    model = load_open_hand("right")
    if correctives:
        model = replace(model, posedirs=np.random.default_rng(3).normal(size=(len(model.v_template), 3, 135)) * 1e-3)
    go, hp, betas, tr = random_poses(40, seed=5)
    aa = np.concatenate([go[:, None], hp.reshape(-1, 15, 3)], 1)
    for b in (betas, betas[:, :4]):
        want = model.forward(go, hp, b, tr).keypoints
        np.testing.assert_allclose(PosedKeypoints(model)(aa, b, tr), want, atol=1e-12)


@pytest.mark.parametrize("side", ["right", "left"])
def test_mano_folder_loads_through_the_safe_reader(tmp_path, side, monkeypatch):
    """A MANO-layout folder (here: our own export) is picked up by name, by env var, and read safely."""
    model = load_open_hand(side)
    export_mano_pkl(model, tmp_path / f"MANO_{side.upper()}.pkl")
    go, hp, betas, tr = random_poses(5, seed=2)
    want = model.forward(go, hp, betas, tr)
    for loaded in (load_hand_model(side, tmp_path), _with_env(monkeypatch, tmp_path, side)):
        assert loaded.name == f"MANO_{side.upper()}.pkl"
        got = loaded.forward(go, hp, betas, tr)
        np.testing.assert_allclose(got.vertices, want.vertices, atol=1e-9)
        np.testing.assert_allclose(got.keypoints, want.keypoints, atol=1e-9)


def _with_env(monkeypatch, folder, side):
    monkeypatch.setenv("MASKHAND_MANO_DIR", str(folder))
    return load_hand_model(side)


def test_missing_mano_file_is_a_clear_error(tmp_path):
    from maskhand.errors import ModelFileError

    with pytest.raises(ModelFileError, match="MANO_LEFT.pkl"):
        load_hand_model("left", tmp_path)
