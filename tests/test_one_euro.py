"""One Euro filter: quieter on noise, bounded lag on a step, passthrough at strength 0, rotations
filtered without full turns (rigmath.one_euro)."""
import math

import numpy as np
import pytest

from maskhand.errors import MaskHandError
from maskhand.handmodel.rotations import axis_angle_to_matrix
from maskhand.rigmath.one_euro import (OneEuroParams, one_euro, one_euro_rotations, params_for_strength,
                                       sign_continuous, step_lag_frames)

RATE = 30.0


def _times(n, rate=RATE):
    return np.arange(n) / rate


@pytest.mark.parametrize("strength", [0.25, 0.5, 1.0])
def test_noisy_constant_gets_quieter(strength):
    rng = np.random.default_rng(0)
    x = 0.3 + 0.01 * rng.standard_normal((300, 5, 1))
    y = one_euro(x, _times(300), params_for_strength(strength))
    before, after = x[30:].std(axis=0).mean(), y[30:].std(axis=0).mean()
    assert after < 0.6 * before, (before, after)
    np.testing.assert_allclose(y[30:].mean(axis=0), 0.3, atol=0.005)


def test_stronger_smoothing_is_quieter():
    rng = np.random.default_rng(1)
    x = 0.01 * rng.standard_normal((300, 8, 1))
    spread = [one_euro(x, _times(300), params_for_strength(s))[30:].std() for s in (0.2, 0.5, 0.8)]
    assert spread[0] > spread[1] > spread[2], spread


@pytest.mark.parametrize("min_cutoff, rate", [(0.5, 30.0), (2.0, 30.0), (2.0, 60.0), (8.0, 24.0)])
def test_step_followed_within_documented_lag(min_cutoff, rate):
    n_before, n = 20, 400
    x = np.zeros((n, 1, 1))
    x[n_before:] = 1.0
    y = one_euro(x, _times(n, rate), OneEuroParams(min_cutoff=min_cutoff, beta=0.0))[:, 0, 0]
    bound = step_lag_frames(min_cutoff, rate)
    reached = np.nonzero(y[n_before:] >= 1.0 - math.exp(-1.0))[0][0] + 1  # samples including the step's
    assert reached <= bound, (reached, bound)
    assert reached >= bound - 2, (reached, bound)  # the bound is tight, not a vacuous large number
    assert np.all(np.diff(y) >= -1e-12) and y[-1] > 0.999  # no overshoot, settles


def test_speed_opens_the_cutoff():
    x = np.zeros((60, 1, 1))
    x[10:] = 1.0
    params = params_for_strength(0.7)
    slow = one_euro(x, _times(60), OneEuroParams(params.min_cutoff, 0.0))[:, 0, 0]
    fast = one_euro(x, _times(60), params)[:, 0, 0]
    assert fast[14] > slow[14] + 0.05, (fast[14], slow[14])


def test_strength_zero_is_passthrough():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 3, 4))
    assert params_for_strength(0.0) is None
    np.testing.assert_array_equal(one_euro(x, _times(50), None), x)
    aa = rng.standard_normal((50, 15, 3))
    np.testing.assert_array_equal(one_euro_rotations(aa, _times(50), params_for_strength(0)), aa)


def test_strength_map_is_monotonic_and_checked():
    ps = [params_for_strength(s) for s in (0.01, 0.5, 1.0)]
    assert ps[0].min_cutoff > ps[1].min_cutoff > ps[2].min_cutoff
    assert ps[0].beta > ps[1].beta > ps[2].beta
    assert ps[1].min_cutoff == pytest.approx(10.0 * 0.05 ** 0.5)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(MaskHandError):
            params_for_strength(bad)


def test_times_must_increase():
    with pytest.raises(MaskHandError):
        one_euro(np.zeros((3, 1, 1)), np.array([0.0, 0.1, 0.1]), params_for_strength(0.5))


def _angle_between(aa1, aa2):
    R = np.swapaxes(axis_angle_to_matrix(aa1), -1, -2) @ axis_angle_to_matrix(aa2)
    return np.arccos(np.clip((np.trace(R, axis1=-2, axis2=-1) - 1) / 2, -1, 1))


def test_rotation_through_180_degrees_never_spins():
    """Turning steadily about z through 180 degrees: axis-angle jumps from +pi z to -pi z (and the
    quaternion's sign flips); the filtered rotation must stay next to the input, never a turn away."""
    angles = np.linspace(2.6, 3.7, 60)  # crosses pi
    aa = np.zeros((60, 1, 3))
    wrapped = np.where(angles > np.pi, angles - 2 * np.pi, angles)
    aa[:, 0, 2] = wrapped
    assert np.abs(np.diff(aa[:, 0, 2])).max() > 6.0  # the input's axis-angle really jumps
    out = one_euro_rotations(aa, _times(60), params_for_strength(0.8))
    err = _angle_between(out, aa)[:, 0]
    assert err.max() < 0.15, err.max()  # lag of a slow turn, not 2 pi
    step = _angle_between(out[1:], out[:-1])[:, 0]
    assert step.max() < 0.1, step.max()  # each frame moves a little, never a spin


def test_sign_continuous_keeps_rotations():
    rng = np.random.default_rng(3)
    q = rng.standard_normal((40, 2, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    q[::3] *= -1
    s = sign_continuous(q)
    assert np.all(np.einsum("tgk,tgk->tg", s[1:], s[:-1]) >= 0)
    np.testing.assert_allclose(np.abs(np.einsum("tgk,tgk->tg", s, q)), 1.0)
