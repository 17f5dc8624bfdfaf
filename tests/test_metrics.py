"""evaluation.metrics against hand-computed cases and against FreiHAND's own recipe (scipy's
orthogonal_procrustes), so the numbers we publish mean what the field's numbers mean."""
import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from maskhand.evaluation import metrics as M


def _hand_like(seed=0, n=21):
    """A chiral, non-planar point set of hand size (metres)."""
    return np.random.default_rng(seed).normal(scale=0.04, size=(n, 3)) + [0.02, -0.01, 0.5]


def _freihand_align(gt, pred):
    """FreiHAND eval.py's align_w_scale, written out from its description, with scipy as it uses."""
    t1, t2 = gt.mean(0), pred.mean(0)
    a, b = gt - t1, pred - t2
    s1, s2 = np.linalg.norm(a) + 1e-8, np.linalg.norm(b) + 1e-8
    R, s = orthogonal_procrustes(a / s1, b / s2)
    return (b / s2) @ R.T * s * s1 + t1


# FreiHAND divides by (norm + 1e-8) when aligning, which leaves nanometre residues on perfect
# predictions: "zero" below means under 0.1 micrometre (1e-4 mm).
ZERO_MM = 1e-4


def test_identity_has_zero_error_and_perfect_scores():
    gt = _hand_like()
    assert M.pa_mpjpe_mm(gt, gt) == pytest.approx(0.0, abs=ZERO_MM)
    assert M.auc(M.pck_curve(np.zeros((1, 21)))) == 1.0  # all errors exactly 0: the whole curve is 1
    # After alignment the residues (~1e-9 m) miss only the 0 mm threshold, as in FreiHAND's evaluator:
    # the first trapezoid loses half its area, AUC = 1 - 0.5 / 99.
    curve = M.pck_curve(M.pa_errors(gt, gt)[None])
    np.testing.assert_allclose(curve[1:], 1.0)
    assert M.auc(curve) >= 1 - 0.5 / 99
    assert M.f_score(gt, gt, 0.005) == 1.0


@pytest.mark.parametrize("allow_reflection", [True, False])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scaled_rotated_translated_copy_aligns_to_zero(seed, allow_reflection):
    gt = _hand_like(seed)
    R = Rotation.random(random_state=seed).as_matrix()
    pred = 1.7 * gt @ R.T + [0.3, -0.2, 1.1]
    assert M.point_errors(pred, gt).mean() > 0.1  # far apart before alignment
    assert M.pa_mpjpe_mm(pred, gt, allow_reflection) == pytest.approx(0.0, abs=ZERO_MM)
    sim = M.procrustes(pred, gt, allow_reflection)
    assert sim.scale == pytest.approx(1 / 1.7, rel=1e-6)
    np.testing.assert_allclose(sim.rotation, R.T, atol=1e-9)


def test_alignment_equals_freihand_recipe_on_noisy_predictions():
    for seed in range(5):
        gt = _hand_like(seed)
        pred = 0.9 * gt @ Rotation.random(random_state=seed).as_matrix().T + np.random.default_rng(seed).normal(
            scale=0.01, size=gt.shape)
        np.testing.assert_allclose(M.align(pred, gt), _freihand_align(gt, pred), atol=1e-12)


def test_known_stretch_has_hand_computed_error():
    # gt: a cross of half-width 1 m; pred stretched x2 along y. Best similarity keeps R = I and picks
    # the scale s minimising 2(s-1)^2 + 2(2s-1)^2, i.e. s = 0.6: the x points end 0.4 m off, the
    # y points 0.2 m off, mean 0.3 m.
    gt = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]], float)
    pred = gt * [1, 2, 1]
    assert M.procrustes(pred, gt).scale == pytest.approx(0.6)
    np.testing.assert_allclose(M.pa_errors(pred, gt), [0.4, 0.4, 0.2, 0.2], atol=1e-9)
    assert M.pa_mpjpe_mm(pred, gt) == pytest.approx(300.0)


def test_known_offset_before_alignment_and_none_after():
    gt = _hand_like()
    pred = gt + [0.003, 0.004, 0.0]  # 5 mm everywhere
    np.testing.assert_allclose(M.point_errors(pred, gt), 0.005)
    assert M.pa_mpjpe_mm(pred, gt) == pytest.approx(0.0, abs=ZERO_MM)


def test_reflection_is_aligned_as_freihand_does_and_refused_without_it():
    gt = _hand_like(4)
    mirrored = gt * [-1, 1, 1]  # a left hand for a right one
    assert M.pa_mpjpe_mm(mirrored, gt, allow_reflection=True) == pytest.approx(0.0, abs=ZERO_MM)
    assert np.linalg.det(M.procrustes(mirrored, gt).rotation) == pytest.approx(-1.0)
    assert M.pa_mpjpe_mm(mirrored, gt, allow_reflection=False) > 5.0
    assert np.linalg.det(M.procrustes(mirrored, gt, allow_reflection=False).rotation) == pytest.approx(1.0)


def test_pck_curve_thresholds_monotone_and_step_auc():
    t = M.pck_thresholds()
    assert len(t) == 100 and t[0] == 0.0 and t[-1] == pytest.approx(0.05)
    errors = np.random.default_rng(0).uniform(0, 0.06, size=(30, 21))
    curve = M.pck_curve(errors)
    assert np.all(np.diff(curve) >= 0) and 0 <= curve[0] <= curve[-1] <= 1
    # every error 25 mm: the curve steps from 0 to 1 between thresholds 49 and 50 (of 0..99); the
    # trapezoid gives 49.5 of 99 intervals.
    assert M.auc(M.pck_curve(np.full((3, 21), 0.025))) == pytest.approx(0.5)
    # <= as EvalUtil: an error equal to a threshold counts at that threshold
    assert M.pck_curve(np.full((1, 21), t[10]))[10] == 1.0


def test_pck_curve_ignores_missing_keypoints():
    errors = np.zeros((2, 21))
    errors[0, 5] = np.nan  # no ground truth: neither a hit nor a miss
    np.testing.assert_allclose(M.pck_curve(errors), 1.0)


def test_f_score_hand_computed_cases():
    grid = np.stack(np.meshgrid([0, 0.1, 0.2], [0, 0.1], [0.5]), -1).reshape(-1, 3)  # 6 points 10 cm apart
    shifted = grid + [0.01, 0, 0]  # every point 10 mm off
    assert M.f_score(shifted, grid, 0.005) == 0.0
    assert M.f_score(shifted, grid, 0.015) == 1.0
    # half the points predicted exactly: precision 1, recall 1/2, F = 2/3
    assert M.f_score(grid[:3], grid, 0.005) == pytest.approx(2 / 3)
    assert M.f_score(np.zeros((0, 3)), grid, 0.005) == 0.0


def test_nearest_distances_chunks_agree_with_brute_force():
    a, b = _hand_like(1, 50), _hand_like(2, 70)
    brute = np.linalg.norm(a[:, None] - b[None], axis=-1).min(1)
    np.testing.assert_allclose(M.nearest_distances(a, b, chunk=7), brute)


def test_pck_2d_threshold_is_share_of_box_longer_side():
    gt = np.zeros((21, 2))
    gt[:, 0] = np.linspace(100, 200, 21)  # box 100 x 40 px: limit 0.05 * 100 = 5 px
    gt[:, 1] = np.linspace(50, 90, 21)
    pred = gt.copy()
    pred[0] += [5.0, 0.0]  # exactly on the limit: counts (<=)
    pred[1] += [0.0, 5.01]  # just outside
    hits = M.pck_2d_hits(pred, gt)
    assert hits[0] == 1.0 and hits[1] == 0.0 and np.nansum(hits) == 20
    visible = np.ones(21, bool)
    visible[1] = False
    hits = M.pck_2d_hits(pred, gt, visible)
    assert np.isnan(hits[1]) and M.pck_2d(hits[None]) == 1.0


def test_pck_2d_averages_per_keypoint_over_hands():
    hits = np.ones((2, 21))
    hits[0, 0] = 0.0
    hits[1, 0] = np.nan  # keypoint 0 counted once, missed once: 0 for that keypoint
    assert M.pck_2d(hits) == pytest.approx(20 / 21)


def test_project_matches_pinhole():
    K = np.array([[500.0, 0, 128], [0, 500.0, 96], [0, 0, 1]])
    uv = M.project(np.array([[0.1, -0.05, 0.5]]), K)
    np.testing.assert_allclose(uv, [[128 + 100, 96 - 50]])
