"""The hand pose prior gives plausible, reproducible hands: checked on the real open hand model."""
import numpy as np
import pytest

from maskhand.errors import PoseDataError
from maskhand.handmodel import pose_library as pl
from maskhand.handmodel.model import mirror_pose
from maskhand.handmodel.open_hand import load_open_hand

REQUIRED = ("flat", "open", "relaxed", "fist", "point", "pinch", "ok", "peace", "victory", "thumbs_up",
            "spread", "claw", "grasp_cylinder", "grasp_sphere", "three", "four", "rock", "horns", "call_me")


@pytest.fixture(scope="module")
def right():
    return load_open_hand("right")


def posed(model, hand_pose):
    hp = np.atleast_2d(hand_pose)
    return model.forward(np.zeros((len(hp), 3)), hp)


def test_every_required_gesture_is_a_finite_pose_within_limits():
    for name in REQUIRED:
        hp = np.asarray(pl.GESTURES[name], np.float64)
        assert hp.shape == (45,) and np.all(np.isfinite(hp)), name
        np.testing.assert_allclose(pl.clip_to_limits(hp), hp, atol=1e-9, err_msg=name)


def test_joint_frames_are_orthonormal_and_finger_flexion_curls_towards_the_palm(right):
    A = pl.JOINT_AXES
    np.testing.assert_allclose(np.einsum("jki,jkl->jil", A, A), np.broadcast_to(np.eye(3), A.shape), atol=1e-9)
    c = np.zeros((15, 3))
    c[:, pl.FLEX] = 0.5
    bent = posed(right, pl.from_anatomical(c)).keypoints[0]
    flat = posed(right, np.zeros(45)).keypoints[0]
    # palm faces -y in the model frame: every fingertip moves to -y
    assert np.all(bent[[4, 8, 12, 16, 20], 1] < flat[[4, 8, 12, 16, 20], 1] - 0.01)


def test_clip_to_limits_bounds_every_component():
    wild = np.random.default_rng(3).normal(0.0, 2.0, (200, 45))
    c = pl.to_anatomical(pl.clip_to_limits(wild))
    assert np.all(c >= pl.JOINT_LIMITS[..., 0] - 1e-9) and np.all(c <= pl.JOINT_LIMITS[..., 1] + 1e-9)
    assert pl.JOINT_LIMITS.shape == (15, 3, 2) and np.all(pl.JOINT_LIMITS[..., 0] < pl.JOINT_LIMITS[..., 1])


@pytest.mark.parametrize("name", ["pinch", "ok"])
def test_thumb_and_index_tips_touch(right, name):
    assert pl.tip_distance(right, pl.GESTURES[name], "thumb", "index") < 0.015
    assert pl.tip_distance(right, pl.GESTURES["flat"], "thumb", "index") > 0.05


def test_fist_brings_every_fingertip_closer_to_the_palm(right):
    def tip_to_palm(hp):
        k = posed(right, hp).keypoints[0]
        palm = k[[0, 5, 9, 13, 17]].mean(0)
        return np.linalg.norm(k[[4, 8, 12, 16, 20]] - palm, axis=1)

    fist, flat = tip_to_palm(pl.GESTURES["fist"]), tip_to_palm(pl.GESTURES["flat"])
    assert np.all(fist < flat - 0.01), (fist, flat)


def test_sampler_is_deterministic_finite_and_within_limits():
    a, ca = pl.sample_poses(300, np.random.default_rng(7))
    b, cb = pl.sample_poses(300, np.random.default_rng(7))
    c, _ = pl.sample_poses(300, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert ca == cb and not np.allclose(a, c)
    assert a.shape == (300, 45) and np.all(np.isfinite(a))
    np.testing.assert_allclose(pl.clip_to_limits(a), a, atol=1e-9)


def test_default_mix_covers_the_main_categories():
    _, cats = pl.sample_poses(600, np.random.default_rng(1))
    for needed in ("fist", "pinch", "point", "spread", "relaxed", "random", "interp", "mixed"):
        assert needed in cats, needed
    only, cats = pl.sample_poses(20, np.random.default_rng(1), mix={"fist": 1.0})
    assert set(cats) == {"fist"}
    with pytest.raises(PoseDataError):
        pl.sample_poses(5, np.random.default_rng(1), mix={"wave": 1.0})


def test_sampled_dip_follows_pip():
    poses, _ = pl.sample_poses(400, np.random.default_rng(5), mix={"random": 1.0})
    c = pl.to_anatomical(poses)
    for finger in pl.FOUR:
        k = 3 * pl.FINGERS.index(finger)
        pip, dip = c[:, k + 1, pl.FLEX], c[:, k + 2, pl.FLEX]
        assert np.corrcoef(pip, dip)[0, 1] > 0.9
        inside = (dip > pl.JOINT_LIMITS[k + 2, 2, 0] + 0.2) & (dip < pl.JOINT_LIMITS[k + 2, 2, 1] - 0.2)
        assert np.median(np.abs(dip[inside] - pl.DIP_PER_PIP * pip[inside])) < 0.06


def test_left_hands_mirror_the_right(right):
    left = load_open_hand("left")
    hp = pl.sample_poses(5, np.random.default_rng(2))[0]
    np.testing.assert_allclose(mirror_pose(mirror_pose(hp)), hp, atol=1e-12)
    r = posed(right, hp).keypoints
    lft = posed(left, mirror_pose(hp)).keypoints
    np.testing.assert_allclose(lft * np.array([-1.0, 1.0, 1.0]), r, atol=1e-9)


def test_betas_and_global_orient_samplers():
    betas = pl.sample_betas(500, np.random.default_rng(4), scale=2.0)
    assert betas.shape == (500, 10) and np.abs(betas).max() <= 2.5 and np.abs(betas).max() > 2.0
    np.testing.assert_array_equal(betas, pl.sample_betas(500, np.random.default_rng(4), scale=2.0))
    go = pl.sample_global_orient(4000, np.random.default_rng(4))
    assert go.shape == (4000, 3) and np.all(np.linalg.norm(go, axis=1) <= np.pi + 1e-9)
    # uniform rotations: the rotated x axis points anywhere, mean direction near zero
    from maskhand.handmodel.rotations import axis_angle_to_matrix

    x = axis_angle_to_matrix(go)[:, :, 0]
    assert np.linalg.norm(x.mean(0)) < 0.05
