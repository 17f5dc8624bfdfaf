"""Take smoothing: one shape per take, quieter motion, gaps stay gaps, the filter restarts after
long gaps (rigmath.take_smoothing)."""
import numpy as np
import pytest

from maskhand.errors import PoseDataError
from maskhand.rigmath.take_smoothing import smooth_track

FPS = 30.0


def _noisy_take(frames, seed=0, noise=0.03):
    """A hand holding a fixed pose with per-frame estimation noise; returns (inputs, the true pose)."""
    rng = np.random.default_rng(seed)
    n = len(frames)
    go = np.array([0.3, -1.2, 0.4])
    hp = rng.uniform(-0.4, 0.4, 45)
    t = np.array([0.02, -0.01, 0.5])
    betas = rng.normal(0.0, 1.0, 10)
    inputs = dict(frames=np.asarray(frames), global_orient=go + noise * rng.standard_normal((n, 3)),
                  hand_pose=hp + noise * rng.standard_normal((n, 45)),
                  betas=betas + 0.3 * rng.standard_normal((n, 10)), cam_t=t + 0.005 * rng.standard_normal((n, 3)))
    return inputs, (go, hp, t, betas)


def test_noisy_hold_gets_quieter_and_one_shape():
    inputs, (go, hp, t, betas) = _noisy_take(np.arange(120))
    inputs["betas"][7] = 40.0  # one wild fit must not move the take's shape
    out = smooth_track("right", **inputs, fps=FPS, strength=0.6)
    assert out.betas.shape == (10,)
    np.testing.assert_allclose(out.betas, np.median(inputs["betas"], axis=0))
    assert np.abs(out.betas - betas).max() < 0.3
    for name, truth in (("hand_pose", hp), ("global_orient", go), ("cam_t", t)):
        raw = np.abs(inputs[name][20:] - truth).mean()
        smooth = np.abs(getattr(out, name)[20:] - truth).mean()
        assert smooth < 0.6 * raw, (name, raw, smooth)
    np.testing.assert_array_equal(out.frames, inputs["frames"])
    assert out.segments == ((0, 119),)


def test_strength_zero_keys_the_estimates():
    inputs, _ = _noisy_take(np.arange(10))
    out = smooth_track("left", **inputs, fps=FPS, strength=0.0)
    for name in ("global_orient", "hand_pose", "cam_t"):
        np.testing.assert_array_equal(getattr(out, name), inputs[name])
    assert out.side == "left"


def test_gaps_stay_gaps_and_long_gaps_restart_the_filter():
    frames = np.r_[0:20, 23:40, 80:100]  # a 2-frame gap (bridged), a 39-frame gap (restart)
    inputs, _ = _noisy_take(frames, seed=4)
    jump = np.array([1.0, 0.0, 0.0])  # the hand comes back somewhere else after the long gap
    inputs["cam_t"][frames >= 80] += jump
    out = smooth_track("right", **inputs, fps=FPS, strength=0.8, max_gap=10)
    np.testing.assert_array_equal(out.frames, frames)  # no values invented in the gaps
    assert out.segments == ((0, 39), (80, 99))
    first_back = np.nonzero(frames == 80)[0][0]
    # A restarted filter starts exactly on the new position; a continued one blends in its past.
    np.testing.assert_allclose(out.cam_t[first_back], inputs["cam_t"][first_back])
    bridged = smooth_track("right", **inputs, fps=FPS, strength=0.8, max_gap=100)
    assert bridged.segments == ((0, 99),)
    assert np.abs(bridged.cam_t[first_back] - inputs["cam_t"][first_back]).max() > 1e-3  # carried state


def test_pose_sequence_carries_one_shape():
    inputs, _ = _noisy_take(np.arange(5))
    seq = smooth_track("right", **inputs, fps=24.0).pose_sequence(24.0, "clip")
    assert seq.num_frames == 5 and seq.fps == 24.0 and seq.hand_mean == "flat"
    assert np.all(seq.betas == seq.betas[0])
    np.testing.assert_array_equal(seq.transl, smooth_track("right", **inputs, fps=24.0).cam_t)


@pytest.mark.parametrize("change, message", [
    (dict(frames=np.array([0, 2, 2, 3, 4])), "increase"),
    (dict(hand_pose=np.zeros((5, 44))), "hand_pose"),
    (dict(cam_t=np.full((5, 3), np.nan)), "NaN"),
    (dict(betas=np.zeros((5, 11))), "betas"),
    (dict(frames=np.arange(5.0)), "integers"),
])
def test_bad_input_is_a_plain_error(change, message):
    inputs, _ = _noisy_take(np.arange(5))
    inputs.update(change)
    with pytest.raises(PoseDataError, match=message):
        smooth_track("right", **inputs, fps=FPS)
