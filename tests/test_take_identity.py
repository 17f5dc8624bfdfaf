"""Issue 14, part 1: one hand, one side, one track (inference.identity, through TakeBuilder.build)."""
import numpy as np

from maskhand.inference.identity import settle_take
from maskhand.inference.take import TakeBuilder, best_per_side


def hand(side, score, x=100.0, seed=0, hypotheses=0):
    rng = np.random.default_rng(seed)
    kp = np.array([x, 120.0]) + rng.uniform(-30, 30, (21, 2))
    h = {"side": side, "score": score, "keypoints_2d": kp.tolist(),
         "mano": {"global_orient": [0.1, 0.2, 0.3], "hand_pose": rng.normal(0, 0.1, 45).tolist(), "betas": [0.0] * 10},
         "cam_t": [0.0, 0.0, 0.5], "keypoints_3d": rng.normal(0, 0.05, (21, 3)).tolist()}
    return h


def build(frames):
    builder = TakeBuilder("clip.mp4", 24.0)
    for i, hands in enumerate(frames):
        builder.add(i, hands)
    return builder.build()


def test_a_one_frame_handedness_flicker_stays_on_the_track_side():
    """Issue 14: a left/right flicker in the detections does not move a frame to the other rig."""
    frames = [[hand("right", 0.9, x=100 + i, seed=i)] for i in range(10)]
    frames[4] = [hand("left", 0.7, x=104, seed=4)]          # MediaPipe flips for one frame
    take = build(frames)
    assert set(take.hands) == {"right"}
    right = take.hands["right"]
    assert 4 not in right.frames.tolist() and right.num_frames == 9   # its fit is a left hand's: a gap
    assert any(f == 4 and k == "side" for f, k, _ in right.events)
    smoothed = take.smoothed(0.5)["right"]
    assert 4 in smoothed.frames.tolist() and smoothed.filled[smoothed.frames.tolist().index(4)]
    assert smoothed.flag_mask("side")[4] and smoothed.flag_mask("gap")[4]


def test_a_flicker_with_the_right_label_beside_it_keeps_the_right_fit():
    frames = [[hand("right", 0.9, x=100, seed=i)] for i in range(6)]
    frames[2] = [hand("left", 0.8, x=101, seed=20), hand("right", 0.6, x=99, seed=21)]  # one hand, two labels
    take = build(frames)
    right = take.hands["right"]
    assert set(take.hands) == {"right"} and right.frames.tolist() == list(range(6))
    assert right.detected_sides.tolist() == ["right"] * 6
    np.testing.assert_array_equal(right.hand_pose[2], frames[2][1]["mano"]["hand_pose"])
    assert [k for f, k, _ in right.events if f == 2] == ["side", "duplicate"]


def test_a_phantom_second_hand_of_the_same_side_is_dropped():
    frames = [[hand("right", 0.9, x=100, seed=i)] for i in range(8)]
    frames[3].append(hand("right", 0.95, x=104, seed=30))   # a duplicate box on the same hand, surer
    frames[5].append(hand("left", 0.55, x=102, seed=31))    # a phantom labelled the other side
    take = build(frames)
    assert set(take.hands) == {"right"} and take.hands["right"].num_frames == 8
    kinds = {(f, k) for f, k, _ in take.hands["right"].events}
    assert (3, "duplicate") in kinds and (5, "duplicate") in kinds


def test_two_real_hands_keep_their_own_sides_and_tracks():
    frames = [[hand("right", 0.9, x=60, seed=i), hand("left", 0.85, x=200, seed=50 + i)] for i in range(6)]
    frames[2][1]["side"], frames[2][1]["score"] = "right", 0.6   # the left hand misread as a right one
    take = build(frames)
    assert take.hands["right"].num_frames == 6
    assert take.hands["left"].num_frames == 5 and 2 not in take.hands["left"].frames.tolist()
    assert len(set(take.hands["right"].track_ids.tolist())) == 1


def test_best_per_side_answers_carry_the_others_so_both_builders_agree():
    """Blender builds its Take from the progress events (best_per_side's answer); the backend from
    every hand: same Take."""
    frames = [[hand("right", 0.9, x=100, seed=i)] for i in range(6)]
    frames[2] = [hand("right", 0.6, x=101, seed=40), hand("right", 0.7, x=99, seed=41)]
    frames[4] = [hand("left", 0.8, x=100, seed=42)]
    full = build(frames)
    relayed = build([best_per_side(hands) for hands in frames])
    for side in full.hands:
        np.testing.assert_array_equal(full.hands[side].frames, relayed.hands[side].frames)
        np.testing.assert_array_equal(full.hands[side].hand_pose, relayed.hands[side].hand_pose)
    assert "others" in best_per_side(frames[2])[0] and len(best_per_side(frames[2])) == 1


def test_settle_take_links_across_a_short_dropout_and_does_not_modify_its_input():
    frames = [(i, [hand("right", 0.9, x=100 + 2 * i, seed=i)]) for i in range(12)]
    frames[5] = (5, [])
    frames[6] = (6, [])
    before = [[dict(h) for h in hands] for _, hands in frames]
    settled = settle_take(frames)
    tracks = {h["track"] for _, hands in settled.frames for h in hands}
    assert tracks == {0} and [len(h) for _, h in settled.frames].count(0) == 2
    assert [[dict(h) for h in hands] for _, hands in frames] == before
