"""The fitted baseline recovers known hands from their own 2D projections (and world landmarks)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from maskhand.errors import MaskHandError  # noqa: E402
from maskhand.handmodel.model import mirror_pose  # noqa: E402
from maskhand.handmodel.open_hand import load_open_hand  # noqa: E402
from maskhand.inference.fit import Fitter  # noqa: E402
from maskhand.inference.torch_hand import TorchHand  # noqa: E402

K = np.array([[600.0, 0, 160], [0, 600, 120], [0, 0, 1]])


def pa_mpjpe_mm(pred, gt):
    a, b = pred - pred.mean(0), gt - gt.mean(0)
    U, S, Vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(Vt.T @ U.T))
    R = Vt.T @ np.diag([1, 1, d]) @ U.T
    s = (S * [1, 1, d]).sum() / (a ** 2).sum()
    return np.linalg.norm(s * a @ R.T - b, axis=1).mean() * 1000


def synthetic_hand(side, seed):
    """A plausible pose 0.5 m in front of the camera, its 2D projection and noisy world landmarks."""
    return synthetic_hand_params(side, seed)[1:]


def synthetic_hand_params(side, seed):
    """synthetic_hand with its parameters first: ({global_orient, hand_pose, betas, cam_t}, X, uv, world)."""
    rng = np.random.default_rng(seed)
    hp = (rng.normal(size=(15, 3)) * [0.1, 0.1, 0.4]).clip(-0.4, 0.4)
    hp[:12, 2] = np.abs(hp[:12, 2]) * 2  # flexion only, no hyperextension
    hp = hp.ravel()
    go = rng.normal(size=3)
    if side == "left":
        hp = mirror_pose(hp)
    m = load_open_hand(side)
    t = np.array([0.02, -0.01, 0.5]) - m.forward(go[None], hp[None]).joints[0, 0]
    X = m.forward(go[None], hp[None], transl=t[None]).keypoints[0]
    uv = X[:, :2] / X[:, 2:] * K[0, 0] + K[:2, 2]
    world = X - X.mean(0) + rng.normal(size=(21, 3)) * 0.002
    params = {"global_orient": go, "hand_pose": hp, "betas": np.zeros(10), "cam_t": t}
    return params, X, uv + rng.normal(size=(21, 2)) * 0.5, world


def test_torch_hand_matches_numpy_model():
    for side in ("right", "left"):
        m = load_open_hand(side)
        rng = np.random.default_rng(0)
        go, hp, b, t = rng.normal(size=(3, 3)), rng.normal(size=(3, 45)) * .5, rng.normal(size=(3, 10)), rng.normal(size=(3, 3))
        kp, v = TorchHand(m, torch.float64)(*(torch.from_numpy(a) for a in (go, hp, b, t)), with_vertices=True)
        ref = m.forward(go, hp, b, t)
        np.testing.assert_allclose(kp.numpy(), ref.keypoints, atol=1e-10)
        np.testing.assert_allclose(v.numpy(), ref.vertices, atol=1e-10)


@pytest.fixture(scope="module")
def fitter():
    return Fitter()


@pytest.mark.parametrize("side, seed", [("right", 1), ("left", 2), ("right", 3), ("left", 4)])
def test_fit_recovers_pose_both_sides(fitter, side, seed):
    X, uv, world = synthetic_hand(side, seed)
    res = fitter.fit(uv, np.ones(21), K, side, world)
    assert res.side == side and res.reprojection_px < 4.0, res.reprojection_px
    assert pa_mpjpe_mm(res.keypoints_3d, X) < 8.0
    # the MANO parameters reproduce the returned keypoints on the hand's own side
    out = load_open_hand(side).forward(res.global_orient[None], res.hand_pose[None], res.betas[None], res.cam_t[None])
    np.testing.assert_allclose(out.keypoints[0], res.keypoints_3d, atol=1e-9)
    assert abs(res.keypoints_3d[0, 2] - X[0, 2]) < 0.1  # depth from the hand's size: within 10 cm


def test_fit_without_world_landmarks_still_reprojects(fitter):
    X, uv, _ = synthetic_hand("right", 5)
    res = fitter.fit(uv, np.ones(21), K, "right", None)
    assert res.reprojection_px < 6.0 and np.all(res.keypoints_3d[:, 2] > 0)


def test_low_confidence_keypoints_are_ignored(fitter):
    X, uv, world = synthetic_hand("right", 6)
    conf = np.ones(21)
    bad = uv.copy()
    bad[[8, 12]] += 80.0  # two wild outliers the detector was unsure of
    conf[[8, 12]] = 0.0
    res = fitter.fit(bad, conf, K, "right", world)
    assert pa_mpjpe_mm(res.keypoints_3d, X) < 10.0


def test_refine_from_an_initial_pose(fitter):
    X, uv, world = synthetic_hand("left", 7)
    first = fitter.fit(uv, np.ones(21), K, "left", world)
    init = {"global_orient": first.global_orient, "hand_pose": first.hand_pose, "betas": first.betas,
            "cam_t": first.cam_t}
    again = fitter.fit(uv, np.ones(21), K, "left", world, init=init)
    assert again.reprojection_px <= first.reprojection_px + 0.5


def perturbed(params, rng):
    return dict(params, global_orient=params["global_orient"] + rng.normal(size=3) * 0.1,
                hand_pose=params["hand_pose"] + rng.normal(size=45) * 0.1,
                cam_t=params["cam_t"] + [0.005, -0.002, 0.01])


@pytest.mark.parametrize("side", ["right", "left"])
def test_lm_refiner_polishes_perturbed_hypotheses_together(side):
    """The numpy Levenberg-Marquardt refinement takes perturbed starts back towards the hand that made the
    keypoints, several hypotheses in one batch exactly as one at a time."""
    from maskhand.inference.fit import LMRefiner

    params, X, uv, world = synthetic_hand_params(side, 11)
    rng = np.random.default_rng(4)
    starts = [perturbed(params, rng) for _ in range(2)]
    refiner = LMRefiner(load_open_hand("right"))
    together = refiner.refine(uv, np.ones(21), K, side, world, starts)
    for start, got in zip(starts, together):
        alone = refiner.refine(uv, np.ones(21), K, side, world, [start])[0]
        np.testing.assert_allclose(got.hand_pose, alone.hand_pose, atol=1e-9)
        before = load_open_hand(side).forward(start["global_orient"][None], start["hand_pose"][None],
                                              transl=start["cam_t"][None]).keypoints[0]
        seen = before[:, :2] / before[:, 2:] * K[0, 0] + K[:2, 2]
        assert pa_mpjpe_mm(got.keypoints_3d, X) < 0.7 * pa_mpjpe_mm(before, X)
        assert got.reprojection_px < 0.6 * np.linalg.norm(seen - uv, axis=1).mean()


def test_lm_refiner_world_weight_is_its_own():
    """RefineConfig.w_world weighs the world landmarks for the refinement only (None: the FitConfig's)."""
    from maskhand.inference.fit import FitConfig, LMRefiner, RefineConfig

    params, X, uv, world = synthetic_hand_params("right", 12)
    start = [perturbed(params, np.random.default_rng(5))]
    world = world + np.random.default_rng(6).normal(size=(21, 3)) * 0.01  # make the term matter
    refiner = LMRefiner(load_open_hand("right"))
    pose = lambda **kw: refiner.refine(uv, np.ones(21), K, "right", world, start, RefineConfig(**kw))[0].hand_pose  # noqa: E731
    np.testing.assert_allclose(pose(), pose(w_world=FitConfig().w_world), atol=1e-12)
    assert np.abs(pose(w_world=0.0) - pose(w_world=1.0)).max() > 0.01


@pytest.mark.parametrize("index", [14, 32])  # a thumbs-up and a fist of the pose library's draws
def test_articulation_from_several_starts_escapes_the_flat_hands_local_minimum(index):
    """Given a hand's true keypoints, stage (b) from the flat hand alone stops in a local minimum on
    curled hands (15-17 mm here); started from flat to fist at once and the best kept, it finds the hand."""
    from maskhand.evaluation.metrics import pa_errors, project
    from maskhand.handmodel.pose_library import sample_betas, sample_global_orient, sample_poses
    from maskhand.inference.fit import FitConfig

    rng = np.random.default_rng(7)
    poses, _ = sample_poses(40, rng)
    go, betas = sample_global_orient(40, rng)[index], sample_betas(40, rng)[index]
    model = load_open_hand("right")
    X = model.forward(go[None], poses[index][None], betas[None]).keypoints[0]
    X = X - X[:1] + [0.0, 0.0, 0.45]
    uv = project(X, K)
    errors = {}
    for starts in (("flat",), FitConfig().articulation_starts):
        fit = Fitter(model, FitConfig(articulation_starts=starts)).fit(uv, np.ones(21), K, "right", X - X[:1])
        errors[len(starts)] = pa_errors(fit.keypoints_3d, X).mean() * 1000
    assert errors[1] > 10.0 and errors[len(FitConfig().articulation_starts)] < 1.5, errors
    with pytest.raises(MaskHandError, match="articulation_starts"):
        FitConfig(articulation_starts=("flat", "jazz hands"))
