"""inference/take.py, the one take pipeline's pure half (issue 12): the per-side choice and the Take
built from JSON hands, as the backend's track and Blender's own take both build it."""
import subprocess
import sys

import numpy as np
import pytest

from maskhand.inference.take import Take, TakeBuilder, best_per_side
from maskhand.posefiles.sequence import DEFAULT_FPS


def hand(side, score, mano=True, seed=0, centre=None):
    """A JSON hand; its keypoints spread +-30 px around `centre` (default: right hands at x=70, left at
    x=190, so two hands of a frame are two hands, and two of one side are one hand seen twice)."""
    rng = np.random.default_rng(seed)
    centre = np.array(centre if centre is not None else (70.0 if side == "right" else 190.0, 128.0))
    return {"side": side, "score": score, "keypoints_2d": (centre + rng.uniform(-30, 30, (21, 2))).tolist(),
            "mano": {"global_orient": rng.normal(size=3).tolist(), "hand_pose": rng.normal(size=45).tolist(),
                     "betas": rng.normal(size=10).tolist()} if mano else None,
            "cam_t": [0.0, 0.0, 0.5] if mano else None}


@pytest.mark.parametrize("hands, expected", [
    ([], []),
    ([hand("left", 0.9)], [("left", 0.9)]),
    ([hand("left", 0.9), hand("right", 0.5)], [("right", 0.5), ("left", 0.9)]),  # SIDES order
    ([hand("right", 0.5), hand("right", 0.8), hand("right", 0.7)], [("right", 0.8)]),
    ([hand("right", 0.99, mano=False), hand("right", 0.6)], [("right", 0.6)]),  # no MANO: never kept
    ([hand("left", 0.99, mano=False)], []),
])
def test_best_per_side_keeps_the_surest_hand_with_mano_per_side(hands, expected):
    assert [(h["side"], h["score"]) for h in best_per_side(hands)] == expected


def test_builder_records_every_frame_read_and_the_kept_hands_per_side():
    builder = TakeBuilder("clip.mp4", 24.0)
    frames = {4: [hand("right", 0.9, seed=1), hand("right", 0.4, seed=2)],
              5: [],
              6: [hand("left", 0.7, seed=3), hand("right", 0.8, seed=4)]}
    kept = {i: builder.add(i, hands) for i, hands in frames.items()}
    assert [h["score"] for h in kept[4]] == [0.9] and kept[5] == [] and [h["side"] for h in kept[6]] == ["right", "left"]
    K = np.array([[300.0, 0, 128], [0, 300, 128], [0, 0, 1]])
    take = builder.build(image_size=(256, 256), K=K, estimator="fitted", seconds=1.5, timings={"detect": 3.0})
    assert isinstance(take, Take) and take.source == "clip.mp4" and take.fps == 24.0
    assert take.frames.tolist() == [4, 5, 6] and take.frame_range == (4, 6) and not take.cancelled
    assert take.image_size == (256, 256) and np.array_equal(take.K, K) and take.estimator == "fitted"
    assert take.timings == {"detect": 3.0} and take.seconds == 1.5
    right, left = take.hands["right"], take.hands["left"]
    assert right.frames.tolist() == [4, 6] and left.frames.tolist() == [6]
    assert take.frames_with("right") == 2 and take.frames_with("left") == 1
    np.testing.assert_array_equal(right.hand_pose[0], frames[4][0]["mano"]["hand_pose"])  # the kept one
    np.testing.assert_array_equal(right.global_orient[1], frames[6][1]["mano"]["global_orient"])
    assert right.hand_pose.shape == (2, 45) and right.betas.shape == (2, 10) and right.cam_t.shape == (2, 3)
    assert right.keypoints_2d.shape == (2, 21, 2) and right.scores.tolist() == [0.9, 0.8]


def test_builder_pads_short_betas_and_an_empty_take_has_defaults():
    short = hand("right", 0.5)
    short["mano"]["betas"] = [0.1, 0.2]
    builder = TakeBuilder("shot_####.png", None)
    builder.add(0, [short])
    take = builder.build()
    assert take.fps == DEFAULT_FPS and take.hands["right"].betas.tolist() == [[0.1, 0.2] + [0.0] * 8]
    empty = TakeBuilder("clip.mp4", 30.0).build(cancelled=True)
    assert empty.hands == {} and empty.frames.tolist() == [] and empty.cancelled
    assert empty.image_size == (0, 0) and np.array_equal(empty.K, np.eye(3))


def test_a_built_take_smooths_like_a_tracked_one():
    builder = TakeBuilder("clip.mp4", 30.0)
    for i in range(6):
        builder.add(i, [hand("right", 0.9, seed=10 + i)])
    smoothed = builder.build().smoothed(strength=0.5)
    assert set(smoothed) == {"right"} and smoothed["right"].hand_pose.shape == (6, 45)


def test_take_imports_no_torch_or_cv2():
    """Blender's process imports inference.take: it must stay numpy only."""
    code = ("import sys, maskhand.inference.take; "
            "print(sorted(m for m in ('torch', 'cv2', 'mediapipe', 'bpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
