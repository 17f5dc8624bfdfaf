"""MediaPipe Hands front end (issue 3) on the committed fixture renders: real MediaPipe, real pixels.

Ground truth is the renderer's own: `*_xyz.json` keypoints projected with `*_K.json`, and the side
in `*_meta.json`. One detector per mode is shared by the module (MediaPipe takes ~1 s to start).
"""
import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from maskhand.errors import MaskHandError
from maskhand.evaluation.metrics import project
from maskhand.inference.frames import open_frames
from maskhand.inference.images import load_image
from maskhand.inference.identity import settle_take
from maskhand.inference.keypoints import BOX_SCALE, KeypointDetector, detect_sequence

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HANDS = FIXTURES / "hands"
CLIP = FIXTURES / "hand_clip.mp4"

# MediaPipe's 2D error on these renders, as a fraction of the hand's box side (the square box the
# detector reports, ~1.3x the hand's extent). Measured on the 8 fixtures: 2.6-3.8% mean per image,
# 11% for the fist (its thumb tip is hidden and guessed), 4.2% over the set; per-image medians
# 2.3-6.3%; over the clip (closing into a fist) 2.4-7.3% per frame. Part of it is systematic: the
# renders' wrist is the model's wrist joint, ~1/10 of a box from MediaPipe's wrist landmark. A
# keypoint order, mirror, scale or offset bug costs > 15%, so these bounds catch those, not noise.
MAX_MEAN_ERROR_OF_BOX = 0.06  # mean over a set of images or a clip
MAX_MEDIAN_ERROR_OF_BOX = 0.10  # median keypoint error of one image
# Legacy MediaPipe can be unsure of the side of a palm-on hand (0.61 for fixture 0; an earlier
# render of a left palm scored 0.63 and came out wrong). Above this score every side was right.
CONFIDENT_SIDE = 0.75


def box_side(hand):
    return hand.box[2] - hand.box[0]


@pytest.fixture(scope="module")
def dataset():
    split = "evaluation"
    xyz = json.loads((HANDS / f"{split}_xyz.json").read_text())
    K = json.loads((HANDS / f"{split}_K.json").read_text())
    meta = json.loads((HANDS / f"{split}_meta.json").read_text())["images"]
    paths = sorted((HANDS / split / "rgb").glob("*.jpg"))
    assert len(paths) == len(xyz) == len(K) == len(meta) >= 8
    return [dict(path=p, xyz=np.array(x), K=np.array(k), uv=project(x, k), side=m["side"],
                 category=m.get("category")) for p, x, k, m in zip(paths, xyz, K, meta)]


@pytest.fixture(scope="module")
def detector():
    with KeypointDetector(max_hands=2) as det:
        yield det


@pytest.fixture(scope="module")
def detections(dataset, detector):
    return [detector.detect(load_image(item["path"])) for item in dataset]


def test_fixtures_hold_both_sides(dataset):
    assert {item["side"] for item in dataset} == {"left", "right"}


def most_confident(dataset, detections, side=None, open_hand=False):
    """The fixture whose (single) hand MediaPipe is surest of, optionally of one side.

    open_hand: skip fists, for images that halve the hand's size: MediaPipe's palm detector misses
    a 128 px fist (measured on these fixtures), it finds the open poses."""
    pairs = [(found[0].score, k) for k, (item, found) in enumerate(zip(dataset, detections))
             if len(found) == 1 and found[0].side == item["side"] and side in (None, item["side"])
             and not (open_hand and item["category"] == "fist")]
    assert pairs, "no fixture hand detected on its true side"
    return max(pairs)[1]


def test_every_fixture_hand_is_found_and_sure_sides_are_right(dataset, detections):
    """Legacy MediaPipe calls a right hand "Left" (it assumes a mirrored selfie); we correct it.
    Checked on both sides: every hand it is sure of must come out on its true side."""
    correct, sure_sides = 0, set()
    for item, found in zip(dataset, detections):
        assert len(found) == 1, (item["path"].name, [h.side for h in found])
        hand = found[0]
        assert hand.side in ("left", "right") and 0.5 <= hand.score <= 1.0
        correct += hand.side == item["side"]
        if hand.score >= CONFIDENT_SIDE:
            assert hand.side == item["side"], (item["path"].name, hand.score)
            sure_sides.add(hand.side)
    assert sure_sides == {"left", "right"}
    assert correct >= 0.75 * len(dataset), correct  # measured 8 of 8; MediaPipe's own labels: 0 of 8


def test_keypoints_match_the_renders_ground_truth(dataset, detections):
    means = []
    for item, found in zip(dataset, detections):
        hand = found[0]
        assert hand.keypoints_2d.shape == (21, 2) and hand.keypoints_2d.dtype == np.float64
        error = np.linalg.norm(hand.keypoints_2d - item["uv"], axis=1) / box_side(hand)
        means.append(error.mean())
        assert np.median(error) < MAX_MEDIAN_ERROR_OF_BOX, (item["path"].name, np.median(error))
    print("mean 2D error / box side per image:", np.round(means, 3))
    assert np.mean(means) < MAX_MEAN_ERROR_OF_BOX, means


def normalised(points):
    centred = points - points.mean(0)
    return centred / np.sqrt((centred ** 2).sum(1).mean())


def test_world_landmarks_are_metric_and_camera_aligned(dataset, detections):
    """MediaPipe's world landmarks against the render's camera-frame keypoints, both centred and
    scaled to unit size, no rotation fitted: the unflipped axes must fit better than any axis
    flipped, which holds only if they are the camera's (x right, y down, z away)."""
    errors = {flip: [] for flip in [(1, 1, 1), (-1, 1, 1), (1, -1, 1), (1, 1, -1)]}
    for item, found in zip(dataset, detections):
        world = found[0].world
        assert world.shape == (21, 3)
        palm = np.linalg.norm(world[9] - world[0])  # wrist -> middle MCP: 8-11 cm in adult hands
        assert 0.05 < palm < 0.15, (item["path"].name, palm)
        for flip in errors:
            diff = normalised(world) * flip - normalised(item["xyz"])
            errors[flip].append(np.sqrt((diff ** 2).sum(1).mean()))
    mean = {flip: float(np.mean(e)) for flip, e in errors.items()}
    print("normalised world error per axis flip:", mean)
    assert mean[(1, 1, 1)] < 0.6, mean  # measured 0.44; flips measured 0.72 (z) to 1.4 (y)
    assert all(mean[(1, 1, 1)] < m - 0.15 for flip, m in mean.items() if flip != (1, 1, 1)), mean


def test_score_confidence_and_box(detections, dataset):
    for item, found in zip(dataset, detections):
        hand = found[0]
        assert 0.5 <= hand.score <= 1.0
        assert hand.confidence.shape == (21,)
        np.testing.assert_allclose(hand.confidence, hand.score)  # every keypoint inside these images
        x0, y0, x1, y1 = hand.box
        assert x1 - x0 == pytest.approx(y1 - y0)
        lo, hi = hand.keypoints_2d.min(0), hand.keypoints_2d.max(0)
        assert x1 - x0 == pytest.approx((hi - lo).max() * BOX_SCALE)
        assert x0 < lo[0] and y0 < lo[1] and x1 > hi[0] and y1 > hi[1]


def test_keypoints_outside_the_image_get_lower_confidence(dataset, detector):
    """Cut the fingertips off: MediaPipe still places them (outside), with half the confidence."""
    item = next((i for i in dataset if i["category"] in ("open", "spread")), dataset[0])
    image = load_image(item["path"])
    uv = item["uv"]
    tips = uv[[8, 12, 16, 20]]
    # Crop on the side of the fingertips, 12% of the way from the tips to the wrist.
    direction = tips.mean(0) - uv[0]
    axis = int(np.argmax(np.abs(direction)))
    toward_high = direction[axis] > 0
    edge = tips[:, axis].max() if toward_high else tips[:, axis].min()
    cut = int(round(edge - 0.12 * direction[axis]))
    crop = image[:, :cut] if axis == 0 and toward_high else image[:, cut:] if axis == 0 else \
        image[:cut] if toward_high else image[cut:]
    found = detector.detect(np.ascontiguousarray(crop))
    assert len(found) == 1
    hand = found[0]
    height, width = crop.shape[:2]
    u, v = hand.keypoints_2d.T
    outside = (u < 0) | (u > width) | (v < 0) | (v > height)
    assert outside.any(), "the crop left every keypoint inside; the test image changed"
    np.testing.assert_allclose(hand.confidence[outside], hand.score * 0.5)
    np.testing.assert_allclose(hand.confidence[~outside], hand.score)


def test_mirrored_image_swaps_the_side_and_mirrors_the_keypoints(dataset, detector, detections):
    k = most_confident(dataset, detections)
    image = load_image(dataset[k]["path"])
    flipped = detector.detect(np.ascontiguousarray(image[:, ::-1]))
    original = detections[k][0]
    assert len(flipped) == 1 and flipped[0].side != original.side
    mirrored = flipped[0].keypoints_2d.copy()
    mirrored[:, 0] = image.shape[1] - mirrored[:, 0]
    assert np.linalg.norm(mirrored - original.keypoints_2d, axis=1).mean() < 0.03 * box_side(original)


def test_two_hands_sorted_left_to_right(dataset, detector, detections):
    right = dataset[most_confident(dataset, detections, "right", open_hand=True)]
    left = dataset[most_confident(dataset, detections, "left", open_hand=True)]
    image = np.concatenate([load_image(left["path"]), load_image(right["path"])], axis=1)
    found = detector.detect(image)
    assert [h.side for h in found] == ["left", "right"]
    width = image.shape[1] // 2
    assert found[0].center[0] < width < found[1].center[0]
    np.testing.assert_allclose(found[1].keypoints_2d - [width, 0], right["uv"], atol=0.1 * box_side(found[1]))
    with KeypointDetector(max_hands=1) as single:
        assert len(single.detect(image)) == 1


def test_huge_image_keeps_full_resolution_coordinates(dataset, detections, tmp_path):
    """6000x6000 through load_image: detection runs on a 1280 px copy, keypoints come back at 6000 px."""
    k = most_confident(dataset, detections)
    small = load_image(dataset[k]["path"])
    scale = 6000 / small.shape[1]
    path = tmp_path / "huge.jpg"
    assert cv2.imwrite(str(path), cv2.resize(small, (6000, 6000), interpolation=cv2.INTER_CUBIC)[..., ::-1])
    huge = load_image(path)
    assert huge.shape == (6000, 6000, 3)
    with KeypointDetector(max_hands=2, max_side=1280) as det:
        found = det.detect(huge)
    assert len(found) == 1 and found[0].side == dataset[k]["side"]
    # Pixel centres: original pixel i covers [i, i+1) and maps to [i*s, (i+1)*s), so u scales by s exactly.
    difference = np.linalg.norm(found[0].keypoints_2d / scale - detections[k][0].keypoints_2d, axis=1)
    assert difference.mean() < 1.5 and difference.max() < 4.0, difference  # original pixels


def test_grayscale_and_16_bit_images_are_detected(dataset, detector, detections, tmp_path):
    k = most_confident(dataset, detections)
    image = load_image(dataset[k]["path"])
    gray16 = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257
    path = tmp_path / "gray16.png"
    assert cv2.imwrite(str(path), gray16)
    found = detector.detect(load_image(path))
    assert len(found) == 1 and found[0].side == dataset[k]["side"]
    error = np.linalg.norm(found[0].keypoints_2d - dataset[k]["uv"], axis=1)
    assert np.median(error) < MAX_MEDIAN_ERROR_OF_BOX * box_side(found[0])


def test_no_hand_gives_an_empty_list(detector):
    empty = load_image(FIXTURES / "hands_none" / "evaluation" / "rgb" / "00000000.jpg")
    assert detector.detect(empty) == []
    assert detector.detect(np.full((64, 48), 200, np.uint8)) == []  # tiny grey frame


def test_tracking_follows_the_clip_in_every_frame():
    """A right hand closing into a fist: found in every frame, keypoints on the ground truth, and
    one side for the whole clip once the take's identity pass has voted (MediaPipe's own label
    flickers; inference/identity.settle_take)."""
    xyz = json.loads((FIXTURES / "hand_clip_xyz.json").read_text())
    K = json.loads((FIXTURES / "hand_clip_K.json").read_text())
    Ks = K if np.ndim(K) == 3 else [K] * len(xyz)
    with open_frames(CLIP) as frames, KeypointDetector(tracking=True) as tracker:
        assert frames.count == len(xyz)
        results = list(detect_sequence(frames, tracker))
        tracker.reset()  # a new track starts cleanly
        first_again = tracker.detect(next(iter(open_frames(CLIP)))[1])
    assert [i for i, _ in results] == list(range(len(xyz)))
    means = []
    for (index, hands), x, k in zip(results, xyz, Ks):
        assert len(hands) == 1, index
        error = np.linalg.norm(hands[0].keypoints_2d - project(x, k), axis=1) / box_side(hands[0])
        assert np.median(error) < MAX_MEDIAN_ERROR_OF_BOX, (index, np.median(error))
        means.append(error.mean())
    assert np.mean(means) < MAX_MEAN_ERROR_OF_BOX, np.round(means, 3)
    raw_right = sum(hands[0].side == "right" for _, hands in results)
    assert raw_right > len(results) / 2
    settled = settle_take([(i, [as_take_hand(h) for h in hands]) for i, hands in results]).frames
    assert [hands[0]["side"] for _, hands in settled] == ["right"] * len(xyz)
    assert [i for i, _ in settled] == [i for i, _ in results]
    assert sum(hands[0].side == "right" for _, hands in results) == raw_right  # input left as it was
    assert len(first_again) == 1


def as_take_hand(hand) -> dict:
    """A detection as the take's identity pass reads hands (HandResult JSON): side, score, keypoints
    and a (placeholder) MANO fit, which is what makes a hand keyable."""
    return {"side": hand.side, "score": hand.score, "keypoints_2d": hand.keypoints_2d.tolist(),
            "mano": {"global_orient": [0.0, 0.0, 0.0]}, "cam_t": [0.0, 0.0, 0.5]}


def test_the_take_settles_sides_per_track(dataset, detector, detections):
    """Two real detections side by side over five frames, one label flipped in one frame, then a
    one-frame dropout: each track keeps one side. A frame where the right hand was read as a left
    one never moves it to the left rig: its fit is of the wrong hand, so it becomes a gap (filled
    later, and marked), and the overruled label is recorded as an event."""
    right = dataset[most_confident(dataset, detections, "right", open_hand=True)]
    left = dataset[most_confident(dataset, detections, "left", open_hand=True)]
    two = detector.detect(np.concatenate([load_image(left["path"]), load_image(right["path"])], axis=1))
    assert [h.side for h in two] == ["left", "right"]
    doubt = replace(two[1], side="left", score=0.7)  # MediaPipe unsure for one frame
    lone = replace(two[1], side="left", score=0.6)  # after a dropout, where the right hand was
    sequence = [(0, two), (1, two), (2, [two[0], doubt]), (3, two), (4, two), (5, []), (6, [lone])]
    settled = settle_take([(i, [as_take_hand(h) for h in hands]) for i, hands in sequence])
    assert [sorted(h["side"] for h in hands) for _, hands in settled.frames] == \
        [["left", "right"]] * 2 + [["left"]] + [["left", "right"]] * 2 + [[], []]
    assert {(frame, kind) for frame, kind, _text, _side in settled.events} >= {(2, "side"), (6, "side")}
    assert doubt.side == "left"  # the input is left as it was


def test_detect_sequence_owns_its_detector_when_given_none():
    results = list(detect_sequence(open_frames(CLIP, (0, 2)), max_hands=1))
    assert [i for i, _ in results] == [0, 1, 2] and all(len(h) == 1 for _, h in results)


@pytest.mark.parametrize("options, message", [
    (dict(max_hands=0), "max_hands"),
    (dict(max_hands=1.5), "max_hands"),
    (dict(min_detection_confidence=1.5), "min_detection_confidence"),
    (dict(max_side=10), "max_side"),
])
def test_bad_options_raise(options, message):
    with pytest.raises(MaskHandError, match=message):
        KeypointDetector(**options)


def test_bad_images_and_closed_detector_raise(detector):
    with pytest.raises(MaskHandError, match="empty"):
        detector.detect(np.zeros((0, 10, 3), np.uint8))
    with pytest.raises(MaskHandError, match="uint8, uint16 or float"):
        detector.detect(np.zeros((10, 10, 3), np.int64))
    with pytest.raises(MaskHandError, match="tracking=True"):
        next(detect_sequence([], detector))
    closed = KeypointDetector()
    closed.close()
    with pytest.raises(MaskHandError, match="closed"):
        closed.detect(np.zeros((10, 10, 3), np.uint8))
