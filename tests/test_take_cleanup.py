"""Issue 14, parts 2-5 on synthetic takes: the path through the hypotheses, gap fill, zero-phase
smoothing that can be redone, confidence and flags (rigmath.take_paths, gap_fill, zero_phase,
take_flags, take_smoothing.clean_track, inference.take)."""
import numpy as np
import pytest

from maskhand.handmodel.open_hand import load_open_hand
from maskhand.handmodel.pose_library import GESTURES
from maskhand.handmodel.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from maskhand.inference.take import TakeBuilder
from maskhand.rigmath.gap_fill import FILL_PRIOR, FILL_SPLINE, spline_fill
from maskhand.rigmath.take_flags import fingers_in_palm
from maskhand.rigmath.take_paths import best_path
from maskhand.rigmath.take_smoothing import clean_track
from maskhand.rigmath.zero_phase import lam_for_cutoff, whittaker

FPS = 24.0


def motion(n=48, seed=0, noise=0.0):
    """A smooth take: the wrist turning, fingers closing; (frames, go, hp, t) plus noise."""
    rng = np.random.default_rng(seed)
    s = np.linspace(0, 1, n)[:, None]
    go = np.array([0.2, -1.0, 0.3]) + s * np.array([0.0, 0.8, 0.2])
    hp = (1 - s) * GESTURES["open"] + s * GESTURES["fist"]
    t = np.array([0.01, -0.02, 0.45]) + s * np.array([0.03, 0.0, 0.05])
    return (np.arange(n), go + noise * rng.standard_normal(go.shape), hp + noise * rng.standard_normal(hp.shape),
            t + noise * 0.1 * rng.standard_normal(t.shape))


def accel(x):
    return np.abs(x[:-2] - 2 * x[1:-1] + x[2:]).mean()


def test_whittaker_is_zero_phase_and_strength_zero_is_the_input():
    t = np.arange(200) / FPS
    y = np.sin(2 * np.pi * 0.8 * t)[:, None]
    x = whittaker(y, None, lam_for_cutoff(2.24, FPS))
    lag = np.argmax(np.correlate(x[:, 0], y[:, 0], "full")) - (len(y) - 1)
    assert lag == 0 and np.abs(x[20:-20] - y[20:-20]).max() < 0.05   # a 0.8 Hz motion passes, unshifted
    np.testing.assert_array_equal(whittaker(y, None, 0.0), y)


def test_clean_track_quiets_noise_without_lag_and_depth_apart():
    frames, go, hp, t = motion(noise=0.03, seed=1)
    truth = motion()
    out = clean_track("right", frames, go, hp, np.zeros((48, 10)), t, FPS, strength=0.6)
    assert out.method == "zero_phase" and not out.filled.any() and out.segments == ((0, 47),)
    assert accel(out.hand_pose) < 0.3 * accel(hp)
    assert np.abs(out.hand_pose - truth[2]).mean() < 0.6 * np.abs(hp - truth[2]).mean()
    # depth is smoothed harder than x, y
    xy = clean_track("right", frames, go, hp, np.zeros((48, 10)), t, FPS, strength=0.6).cam_t
    assert accel(xy[:, 2]) / accel(t[:, 2]) < accel(xy[:, 0]) / accel(t[:, 0])
    same = clean_track("right", frames, go, hp, np.zeros((48, 10)), t, FPS, strength=0.0)
    np.testing.assert_allclose(same.hand_pose, hp, atol=1e-9)


def test_gaps_are_filled_from_both_ends_smoothly_and_marked():
    frames, go, hp, t = motion()
    keep = np.r_[0:20, 24:48]  # 4 frames lost
    f, go_f, hp_f, t_f, filled = spline_fill(frames[keep], go[keep], hp[keep], t[keep], max_gap=6)
    assert f.tolist() == list(range(48)) and filled.tolist() == [20 <= i < 24 for i in range(48)]
    assert np.abs(hp_f[20:24] - hp[20:24]).max() < 0.02 and np.abs(t_f[20:24] - t[20:24]).max() < 1e-3
    out = clean_track("right", frames[keep], go[keep], hp[keep], np.zeros((44, 10)), t[keep], FPS, max_gap=6)
    assert out.num_frames == 48 and out.fill_kind[20:24].tolist() == [FILL_SPLINE] * 4
    assert [(fr, k) for fr, k, _ in out.flags if k == "gap"] == [(20, "gap")]
    long_gap = clean_track("right", frames[keep], go[keep], hp[keep], np.zeros((44, 10)), t[keep], FPS, max_gap=3)
    assert long_gap.num_frames == 44 and long_gap.segments == ((0, 19), (24, 47))   # too long: stays a gap
    prior = {21: hp[21] + 0.01}
    with_prior = clean_track("right", frames[keep], go[keep], hp[keep], np.zeros((44, 10)), t[keep], FPS,
                             max_gap=6, prior=prior)
    assert with_prior.fill_kind[21] == FILL_PRIOR and "model prior" in [t for _, k, t in with_prior.flags if k == "gap"][0]


def test_resmoothing_recomputes_from_the_raw_take():
    builder = TakeBuilder("clip.mp4", FPS)
    frames, go, hp, t = motion(noise=0.02, seed=3)
    rng = np.random.default_rng(0)
    for i in frames:
        kp = rng.normal(0, 0.03, (21, 3))
        builder.add(int(i), [{"side": "left", "score": 0.9, "keypoints_2d": (100 + rng.uniform(-20, 20, (21, 2))).tolist(),
                              "keypoints_3d": kp.tolist(), "cam_t": t[i].tolist(),
                              "mano": {"global_orient": go[i].tolist(), "hand_pose": hp[i].tolist(), "betas": [0.1] * 10}}])
    take = builder.build()
    a, b, a2 = take.smoothed(0.2)["left"], take.smoothed(0.9)["left"], take.smoothed(0.2)["left"]
    np.testing.assert_array_equal(a.hand_pose, a2.hand_pose)
    assert accel(b.hand_pose) < accel(a.hand_pose)
    np.testing.assert_array_equal(take.hands["left"].hand_pose, hp)   # the raw take is untouched
    assert a.score.shape == (48,) and np.all(a.score == 0.9) and a.hypothesis.tolist() == [0] * 48
    assert a.part_spread.shape == (48, 6) and np.all(a.part_spread == 0) and np.isnan(a.part_confidence).all()
    one_euro = take.smoothed(0.5, method="one_euro")["left"]
    assert one_euro.method == "one_euro" and one_euro.num_frames == 48
    report = a.report()
    assert report["frames"] == list(range(48)) and isinstance(report["flags"], list)


def test_the_path_through_the_hypotheses_prefers_the_smooth_one():
    rng = np.random.default_rng(5)
    n, h = 30, 3
    base = rng.normal(0, 0.04, (21, 3))
    joints = np.repeat(base[None, None], n, 0).repeat(h, 1).copy()
    joints[:, 1] += rng.normal(0, 0.03, (n, 21, 3))       # hypothesis 1 jumps around ...
    joints[:, 2] += 0.05                                   # 2 is a shifted copy (wrist-relative: same as 0)
    joints[:, 2, 0] += 0.05
    scores = np.zeros((n, h))
    scores[:, 1] = 0.3                                     # ... but scores a little higher
    scores[:, 0] = rng.normal(0, 0.05, n)
    scores[::3, 2] = -np.inf                               # some frames have fewer hypotheses
    assert (best_path(scores, joints, np.arange(n), smoothness=0.0) == np.argmax(scores, 1)).all()
    path = best_path(scores, joints, np.arange(n), smoothness=1.0)
    assert set(path.tolist()) <= {0, 2} and np.all(np.isfinite(scores[np.arange(n), path]))


def test_the_take_keeps_every_hypothesis_and_picks_a_path():
    builder = TakeBuilder("clip.mp4", FPS)
    rng = np.random.default_rng(2)
    base = rng.normal(0, 0.04, (21, 3))
    for i in range(10):
        hyps = []
        for j, (score, wobble) in enumerate(((0.5, 0.03), (0.2, 0.0), (0.0, 0.0))):
            kp = base + (rng.normal(0, wobble, (21, 3)) if wobble else 0.0) + 0.001 * j
            hyps.append({"score": score, "keypoints_3d": kp.tolist(), "cam_t": [0, 0, 0.5], "tokens": [j] * 18,
                         "part_confidence": [0.5 + 0.1 * j] * 6,
                         "mano": {"global_orient": [0.0, 0.0, float(j)], "hand_pose": [float(j)] * 45, "betas": [0.0] * 10}})
        builder.add(i, [{"side": "right", "score": 0.9, "keypoints_2d": (100 + rng.uniform(-20, 20, (21, 2))).tolist(),
                         "mano": hyps[0]["mano"], "cam_t": hyps[0]["cam_t"], "keypoints_3d": hyps[0]["keypoints_3d"],
                         "hypotheses": hyps}])
    take = builder.build()
    right = take.hands["right"]
    assert right.num_hypotheses == 3 and right.hyp_tokens.shape == (10, 3, 18)
    assert set(right.chosen.tolist()) <= {1, 2} and np.all(right.hand_pose == right.chosen[:, None])
    greedy = take.repick(0.0).hands["right"]
    assert greedy.chosen.tolist() == [0] * 10 and np.all(greedy.hand_pose == 0)
    assert right.part_spread().shape == (10, 6) and np.all(right.part_spread()[:, 1:] > 0)
    assert np.allclose(right.part_confidence(), 0.5 + 0.1 * right.chosen[:, None])


def test_flags_spike_wrist_spin_and_finger_in_palm():
    model = load_open_hand("right")
    frames, go, hp, t = motion()
    go = go.copy()
    go[30] += np.array([0.0, 0.0, 2.5])                      # the wrist flips for one frame
    kp = model.forward(go, hp, np.zeros((48, 10)), t).keypoints
    kp[12, 5:] += 0.03                                      # the fingers jump 3 cm for one frame
    out = clean_track("right", frames, go, hp, np.zeros((48, 10)), t, FPS, keypoints=kp)
    assert out.flag_mask("wrist_spin")[30] and out.flag_mask("spike")[12] and out.spike[12]
    assert out.weights[12] < 0.1 and out.wrist_turn_deg[30] > 100
    tip_in = kp[0].copy()
    tip_in[8] = (kp[0, 0] + kp[0, 5] + kp[0, 17]) / 3         # index tip in the middle of the palm
    palm = fingers_in_palm(np.stack([kp[0], tip_in]))
    assert not palm[0].any() and palm[1].tolist() == [False, True, False, False, False]


@pytest.mark.parametrize("strength", [0.0, 0.5, 1.0])
def test_measured_frames_keep_their_count_and_order(strength):
    frames, go, hp, t = motion(n=12, noise=0.01)
    out = clean_track("right", frames, go, hp, np.zeros((12, 10)), t, FPS, strength=strength)
    assert out.frames.tolist() == list(range(12)) and out.hand_pose.shape == (12, 45) and out.betas.shape == (10,)


def test_one_flipped_wrist_frame_does_not_flip_the_rest_of_the_take():
    """Regression (issue 14, the benchmark's left clip): a wrist estimate turned ~160 degrees for one
    frame handed the frames after it the opposite quaternion sign, and the smoother averaged q with -q."""
    from maskhand.rigmath.take_flags import wrist_spins

    frames, go, hp, t = motion()
    go = go.copy()
    R = axis_angle_to_matrix(go[23])
    flip = axis_angle_to_matrix(np.array([0.0, 0.0, np.radians(162.0)]))
    go[23] = matrix_to_axis_angle(flip @ R)
    out = clean_track("right", frames, go, hp, np.zeros((48, 10)), t, FPS, strength=0.5)
    turns = wrist_spins(out.frames, out.global_orient, FPS)[1]
    assert turns.max() < 20.0, turns.round(0)
    assert out.flag_mask("wrist_spin")[23]
