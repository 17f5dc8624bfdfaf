"""A clip through MediaPipe's networks in torch, a batch of frames per call (inference/frame_batches.py,
issue 13 part 3), against MediaPipe's own video mode on the project's rendered clip."""
from pathlib import Path

import numpy as np
import pytest

from maskhand.errors import MaskHandError
from maskhand.inference.frame_batches import BatchedHandDetector
from maskhand.inference.frames import open_frames
from maskhand.inference.keypoints import KeypointDetector, detect_sequence
from maskhand.inference.pipeline import Pipeline
from maskhand.inference.tracking import track

CLIP = Path(__file__).resolve().parent / "fixtures" / "hand_clip.mp4"
# MediaPipe's video mode crops each frame from the last frame's landmarks, the batched detector from
# the palm detector (tracking only where it misses), so the two differ by their crops: measured 1.0 px
# mean, 2.1 px at worst on this 256 px clip. 4 px is about 4 % of the hand's box.
MAX_MEAN_GAP_PX = 4.0


@pytest.fixture(scope="module")
def frames():
    with open_frames(CLIP) as f:
        return list(f)


@pytest.fixture(scope="module")
def mediapipe_video(frames):
    with KeypointDetector(tracking=True) as det:
        return dict(detect_sequence(frames, det))


def mean_gap(a, b):
    return float(np.linalg.norm(a.keypoints_2d - b.keypoints_2d, axis=1).mean())


def test_batches_find_the_hand_mediapipe_tracks_in_every_frame(frames, mediapipe_video):
    det = BatchedHandDetector(batch=5, device="cpu")
    found = dict(det.detect_sequence(frames))
    assert list(found) == [i for i, _ in frames]
    for index, hands in found.items():
        assert len(hands) == len(mediapipe_video[index]) == 1
        hand, reference = hands[0], mediapipe_video[index][0]
        assert hand.side == reference.side == "right"
        assert mean_gap(hand, reference) < MAX_MEAN_GAP_PX
        # world landmarks in MediaPipe's camera-aligned axes, as its video mode gives them
        assert np.abs(hand.world - reference.world).mean() < 0.005
        assert hand.found_by == "palm"


def test_batched_equals_one_frame_at_a_time(frames):
    one = dict(BatchedHandDetector(batch=1, device="cpu").detect_sequence(frames))
    five = dict(BatchedHandDetector(batch=5, device="cpu").detect_sequence(frames))
    for index in one:
        np.testing.assert_allclose(one[index][0].keypoints_2d, five[index][0].keypoints_2d, atol=0.05)  # float rounding, through the palm box into the crop
        np.testing.assert_allclose(one[index][0].world, five[index][0].world, atol=1e-4)


def test_hands_the_palm_detector_misses_are_followed_from_the_frame_before(frames, mediapipe_video):
    det = BatchedHandDetector(batch=4, device="cpu")
    [first] = det.detect_batch([frames[0][1]])
    assert len(first) == 1
    det.min_palm_score = 1.0  # from here on the palm detector finds nothing: only tracking can
    rest = det.detect_batch([img for _, img in frames[1:]])
    for (index, _), hands in zip(frames[1:], rest):
        assert len(hands) == 1 and hands[0].found_by == "tracked", index
        assert mean_gap(hands[0], mediapipe_video[index][0]) < MAX_MEAN_GAP_PX
    det.reset()  # nothing to follow after a reset
    assert det.detect_batch([frames[5][1]]) == [[]]


def test_track_with_the_batched_detector_keys_every_frame_and_stops_on_request(frames):
    take = track(CLIP, estimator="fitted", frame_detector="torch", hypotheses=1)
    assert len(take.frames) == len(frames) and not take.cancelled
    assert list(take.hands) == ["right"]
    assert list(take.hands["right"].frames) == [f for f, _ in frames]
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 3

    with Pipeline(estimator="fitted", tracking=True, frame_detector="torch", frame_batch=8) as pipe:
        assert pipe.frame_batch == 8
        part = track(CLIP, pipeline=pipe, hypotheses=1, should_stop=stop)
    assert part.cancelled and 0 < len(part.frames) < len(frames)


def test_frame_detector_names_are_checked():
    with pytest.raises(MaskHandError, match="frame detector"):
        Pipeline(estimator="mediapipe", tracking=True, frame_detector="tflite")
    with Pipeline(estimator="mediapipe", tracking=True) as pipe:  # CPU: MediaPipe's own video mode
        assert isinstance(pipe.detector, KeypointDetector) and pipe.frame_batch == 1
