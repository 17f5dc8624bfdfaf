"""Issue 14 with the real model on tests/fixtures/hand_clip.mp4 (12 frames of a right hand closing):
hypotheses kept and picked along the take, per-part confidence, one side, flags as data, and the
model's in-betweens across a cut."""
from dataclasses import replace

import numpy as np
import pytest

from maskhand.handmodel.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from maskhand.rigmath.gap_fill import FILL_PRIOR, spline_fill

CLIP = __import__("pathlib").Path(__file__).parent / "fixtures" / "hand_clip.mp4"
PER_FRAME = ("frames", "global_orient", "hand_pose", "betas", "cam_t", "scores", "keypoints_2d", "keypoints_3d",
             "detected_sides", "track_ids", "hyp_scores", "hyp_global_orient", "hyp_hand_pose", "hyp_betas",
             "hyp_cam_t", "hyp_keypoints_3d", "hyp_part_confidence", "hyp_tokens", "chosen")


@pytest.fixture(scope="module")
def tracked():
    pytest.importorskip("mediapipe")
    from maskhand.inference.model.estimator import weights_available
    from maskhand.inference.pipeline import Pipeline
    from maskhand.inference.tracking import VIDEO_HYPOTHESES, track

    if not weights_available():
        pytest.skip("the generative model's weights are not present")
    pipe = Pipeline(estimator="model", tracking=True)
    try:
        yield track(CLIP, pipeline=pipe, hypotheses=VIDEO_HYPOTHESES), pipe
    finally:
        pipe.close()


def test_the_take_is_one_right_hand_with_its_hypotheses_and_confidence(tracked):
    take, _ = tracked
    assert set(take.hands) == {"right"}
    right = take.hands["right"]
    assert right.num_frames == 12 and right.num_hypotheses == 3 and right.hyp_tokens.shape[:2] == (12, 3)
    assert np.all(np.isfinite(right.hyp_scores)) and np.all((right.chosen >= 0) & (right.chosen < 3))
    conf = right.part_confidence()
    assert conf.shape == (12, 6) and np.all((conf > 0) & (conf <= 1))
    assert np.all(right.part_spread() > 0)
    smoothed = take.smoothed(0.5)["right"]
    assert smoothed.num_frames == 12 and not smoothed.filled.any()
    assert np.all(np.isfinite(smoothed.part_confidence)) and smoothed.score.shape == (12,)
    assert all(isinstance(f, int) and kind in ("side", "duplicate", "spike", "wrist_spin", "gap", "finger_in_palm")
               for f, kind, _ in smoothed.flags)


def test_the_models_inbetweens_fill_a_cut_from_both_ends(tracked):
    from maskhand.inference.inbetween import MAX_PRIOR_DEG, prior_fills

    take, pipe = tracked
    h = take.hands["right"]
    keep = np.r_[0:4, 7:12]
    cut = replace(take, hands={"right": replace(h, **{k: getattr(h, k)[keep] for k in PER_FRAME})})
    fills = prior_fills(cut, pipe.generative)
    assert sorted(fills["right"]) == [4, 5, 6]
    spline = spline_fill(keep, h.global_orient[keep], h.hand_pose[keep], h.cam_t[keep], 10)[2]
    for f, pose in fills["right"].items():
        rel = np.einsum("jki,jkl->jil", axis_angle_to_matrix(spline[f].reshape(15, 3)), axis_angle_to_matrix(pose.reshape(15, 3)))
        assert np.degrees(np.linalg.norm(matrix_to_axis_angle(rel), axis=-1)).max() <= MAX_PRIOR_DEG + 1e-6
    cut.prior_fills = fills
    smoothed = cut.smoothed(0.5)["right"]
    assert smoothed.fill_kind.tolist() == [0] * 4 + [FILL_PRIOR] * 3 + [0] * 5
    assert [(f, k) for f, k, _ in smoothed.flags if k == "gap"] == [(4, "gap")]
