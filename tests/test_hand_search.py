"""The second look for hands MediaPipe missed (inference/hand_search.py, issue 13 part 5): real
MediaPipe and its torch networks on the project's renders, cropped tight around the hand, a framing
MediaPipe's palm detector misses (no room around the palm) and the "zoom out" views recover."""
import threading

import cv2
import numpy as np
import pytest
from rendered_hands import rendered_hands

from maskhand.inference.hand_search import HandSearch, View, views
from maskhand.inference.keypoints import KeypointDetector
from maskhand.inference.pipeline import Pipeline

CROP = 224
# Renders whose hand MediaPipe finds in the full image but not in a crop of 1.0-1.1x the hand's
# keypoint extent (measured: fixtures 1 (the fist), 2 (pointing) and 6 (peace); 0, 3, 4, 5, 7 are
# still found there, so they are not misses to recover; the fist is left out: MediaPipe's own error on
# the whole render is 11 % of the box, its retried crop 13 %).
TIGHT = (2, 6)


def tight_crop(image, uv, scale):
    """The image cut to a square of `scale` x the keypoints' extent, resized to CROP px; the keypoints
    in the crop's pixels."""
    lo, hi = uv.min(0), uv.max(0)
    centre, half = (lo + hi) / 2, (hi - lo).max() * scale / 2
    x0, y0 = np.maximum(0, np.floor(centre - half)).astype(int)
    x1, y1 = np.minimum(image.shape[1::-1], np.ceil(centre + half)).astype(int)
    cut = np.ascontiguousarray(image[y0:y1, x0:x1])
    zoom = np.array([CROP / cut.shape[1], CROP / cut.shape[0]])
    return cv2.resize(cut, (CROP, CROP), interpolation=cv2.INTER_AREA), (uv - [x0, y0]) * zoom


@pytest.fixture(scope="module")
def fixtures():
    return rendered_hands()


@pytest.fixture(scope="module")
def detectors():
    with KeypointDetector(max_hands=2, retry=False) as plain, KeypointDetector(max_hands=2) as retrying:
        yield plain, retrying


@pytest.mark.parametrize("width,height", [(320, 200), (201, 333)])
def test_every_view_maps_its_pixels_back_onto_the_image(width, height):
    """A bright dot drawn in the image lands, in every view that shows it, where View.to_image maps back
    to the dot."""
    dot = np.array([71.0, 45.0])
    image = np.zeros((height, width, 3), np.uint8)
    cv2.circle(image, tuple(int(v) for v in dot), 3, (255, 255, 255), -1)
    names = []
    for view in views(width, height):
        names.append(view.name)
        seen = view.render(image)[:, :, 0].astype(float)
        assert seen.shape == (view.size[1], view.size[0])
        inside = np.hstack([dot, 1.0]) @ view.to_view.T
        if not (8 < inside[0] < view.size[0] - 8 and 8 < inside[1] < view.size[1] - 8):
            assert seen.max() == 0, view.name  # a tile away from the dot
            continue
        v, u = np.nonzero(seen > 0.5 * seen.max())
        w = seen[v, u]
        centre = np.array([(u * w).sum() / w.sum(), (v * w).sum() / w.sum()]) + 0.5  # pixel centres
        assert np.abs(view.to_image(centre) - (dot + 0.5)).max() < 0.6, view.name
        assert np.allclose(view.to_image(np.hstack([dot, 1.0]) @ view.to_view.T), dot)
    assert names == ["rotate 90", "rotate 180", "rotate 270", "zoom out", "zoom out more",
                     "zoom in 0 0", "zoom in 0 1", "zoom in 1 0", "zoom in 1 1"]


def test_a_quarter_turn_is_clockwise_on_screen():
    turn = next(v for v in views(300, 200) if v.name == "rotate 90")
    assert turn.size == (200, 300)
    # the image's top-middle goes to the view's right-middle
    assert np.allclose(np.hstack([[150.0, 0.0], 1.0]) @ turn.to_view.T, [200.0, 150.0])
    assert isinstance(turn, View)


@pytest.mark.parametrize("index", TIGHT)
def test_a_hand_filling_a_tight_crop_is_found_by_zooming_out(fixtures, detectors, index):
    plain, retrying = detectors
    item = fixtures[index]
    assert len(plain.detect(item["image"])) == 1  # MediaPipe finds it in the whole render
    crop, uv = tight_crop(item["image"], item["uv"], 1.1)
    assert plain.detect(crop) == []  # ... but not when the hand fills the picture
    found = retrying.detect(crop)
    assert len(found) == 1
    hand = found[0]
    assert hand.found_by.startswith("zoom out")
    assert hand.side == item["side"]
    assert 0.5 <= hand.score <= 1.0 and np.all(hand.confidence <= hand.score)
    # the keypoints come from the landmark network on the crop's own pixels: as close to the
    # render's ground truth as MediaPipe's are on whole renders (tests/test_keypoints.py: 6 % of the box)
    error = np.linalg.norm(hand.keypoints_2d - uv, axis=1).mean()
    assert error < 0.06 * (hand.box[2] - hand.box[0])
    # world landmarks: metric (a hand's span, not pixels), camera-aligned like MediaPipe's
    span = np.linalg.norm(hand.world[12] - hand.world[0])
    assert 0.08 < span < 0.25


def test_no_retry_when_tracking_or_when_asked_not_to(fixtures):
    with KeypointDetector(tracking=True) as tracker:
        assert tracker.retry is False
    with KeypointDetector(retry=False) as photos:
        crop, _ = tight_crop(fixtures[TIGHT[0]]["image"], fixtures[TIGHT[0]]["uv"], 1.1)
        assert photos.detect(crop) == []


def test_predict_reports_which_try_found_each_hand(fixtures):
    crop, _ = tight_crop(fixtures[TIGHT[0]]["image"], fixtures[TIGHT[0]]["uv"], 1.1)
    K = np.array([[CROP, 0, CROP / 2], [0, CROP, CROP / 2], [0, 0, 1.0]])
    with Pipeline(estimator="fitted") as pipe:
        [retried] = pipe(crop, K)
        [direct] = pipe(fixtures[TIGHT[0]]["image"], K)
    assert retried.to_json()["found_by"].startswith("zoom out")
    assert direct.to_json()["found_by"] == "mediapipe"
    assert retried.keypoints_3d is not None and retried.side == fixtures[TIGHT[0]]["side"]


def test_two_threads_detect_photos_at_once_each_with_a_detector_of_its_own(fixtures):
    """predict detects two photos at once (pipeline.py, lookahead.py): each thread takes a detector no
    other is using, and what each finds, second look included, is what one detector finds alone."""
    crops = [tight_crop(fixtures[i]["image"], fixtures[i]["uv"], 1.1)[0] for i in TIGHT]
    K = np.array([[CROP, 0, CROP / 2], [0, CROP, CROP / 2], [0, 0, 1.0]])
    with Pipeline(estimator="mediapipe") as pipe:
        if pipe.detect_workers < 2:
            pytest.skip("one usable core: photos are detected one at a time")
        alone = [pipe.detect_frames([c])[0] for c in crops]
        assert len(pipe.detectors) == 1
        together, errors = [None, None], []
        both_in = threading.Barrier(2, timeout=10)

        def detect(i):
            try:
                both_in.wait()
                together[i] = pipe.detect_frames([crops[i]])[0]
            except Exception as err:  # reported below, in the test's thread
                errors.append(err)

        threads = [threading.Thread(target=detect, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
        detectors = pipe.detectors
        assert len(detectors) == 2 and detectors[0] is pipe.detector
        for got, want in zip(together, alone):
            assert len(got) == len(want) == 1 and got[0].found_by == want[0].found_by
            assert got[0].found_by.startswith("zoom out")
            np.testing.assert_allclose(got[0].keypoints_2d, want[0].keypoints_2d, atol=1e-4)
        # later calls reuse the idle detectors
        assert len(pipe(crops[0], K)) == 1 and len(pipe.detectors) == 2
    assert all(d._hands is None for d in detectors)  # close() closed both graphs
    with Pipeline(estimator="mediapipe", tracking=True) as tracking:
        assert tracking.detect_workers == 1  # video mode follows hands frame to frame, in order


def small_in_large(item, size=1280):
    """The render at 2/3 scale near the top-left corner of a grey size x 0.75 size picture (MediaPipe,
    seeing it letterboxed to 192 px, misses it), and its keypoints there."""
    canvas = np.full((size * 3 // 4, size, 3), 90, np.uint8)
    h, w = item["image"].shape[:2]
    small = cv2.resize(item["image"], (w * 2 // 3, h * 2 // 3), interpolation=cv2.INTER_AREA)
    x0, y0 = int(0.08 * size), int(0.06 * size)
    canvas[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    return canvas, item["uv"] * [small.shape[1] / w, small.shape[0] / h] + [x0, y0]


def batch_sizes(net):
    """A list that records the batch size of every call of `net`, and the hook to remove."""
    sizes = []
    return sizes, net.register_forward_hook(lambda module, inputs, output: sizes.append(inputs[0].shape[0]))


@pytest.fixture(scope="module")
def search():
    return HandSearch()  # KeypointDetector's defaults: palm proposals from RETRY_PALM_SCORE, presence 0.5


@pytest.mark.parametrize("index", [0, 4])
def test_a_small_hand_in_a_large_picture_is_found_by_a_tile_before_any_turned_view(fixtures, detectors, search, index):
    plain, _ = detectors
    picture, uv = small_in_large(fixtures[index])
    assert plain.detect(picture) == []  # MediaPipe misses it
    views_run, hook = batch_sizes(search.palm_net)
    try:
        [hand] = search.search(picture)
    finally:
        hook.remove()
    assert hand.found_by == "zoom in 0 0"
    assert views_run == [2, 4]  # the zoomed-out views, then the tiles; the turned images never ran
    lo, hi = uv.min(0), uv.max(0)
    assert np.linalg.norm(hand.keypoints_2d - uv, axis=1).mean() < 0.06 * (hi - lo).max()


def test_each_try_sends_at_most_max_crops_palms_through_the_landmark_network(fixtures):
    """Four hands in one picture (a 2 x 2 mosaic of a render): the zoomed-out views propose all four;
    max_crops=2 lets the two best-scoring ones through the landmark network, 4 all of them."""
    image = fixtures[0]["image"]
    mosaic = np.vstack([np.hstack([image, image[:, ::-1]]), np.hstack([image[:, ::-1], image])])
    found = {}
    for cap in (2, 4):
        capped = HandSearch(max_crops=cap, sure_palm_score=0.0)  # every palm at min_presence: the cap alone
        crops_run, hook = batch_sizes(capped.landmark_net)
        try:
            found[cap] = capped.search(mosaic, max_hands=4)
        finally:
            hook.remove()
        assert crops_run == [cap]  # one try (the zoomed-out views found hands), one landmark batch
    assert len(found[2]) == 2 and len(found[4]) == 4
    centres = [np.floor(h.keypoints_2d.mean(0) / image.shape[1::-1]) for h in found[4]]
    assert len({tuple(c) for c in centres}) == 4  # one hand per quarter of the mosaic


def test_a_low_scoring_palm_counts_only_where_the_landmark_network_is_nearly_sure(fixtures, search):
    """The small hand of fixture 4 in a large picture: the zoomed-out views propose it with palm scores
    of about 0.1-0.15 and the landmark network, seeing a tiny hand, says presence about 0.55 and puts it
    a quarter of the hand's size off. Taken at MediaPipe's presence of 0.5 that is the answer; needing
    UNSURE_PALM_PRESENCE of palms under sure_palm_score, the search goes on to the tiles and finds it
    where it is."""
    picture, uv = small_in_large(fixtures[4])
    extent = (uv.max(0) - uv.min(0)).max()
    [hasty] = HandSearch(sure_palm_score=0.0).search(picture)
    [hand] = search.search(picture)
    assert hasty.found_by.startswith("zoom out") and hand.found_by.startswith("zoom in")
    assert np.linalg.norm(hasty.keypoints_2d - uv, axis=1).mean() > 0.15 * extent
    assert np.linalg.norm(hand.keypoints_2d - uv, axis=1).mean() < 0.06 * extent


def test_the_retries_palm_threshold():
    """KeypointDetector's retries propose palms from hand_search.RETRY_PALM_SCORE (or the upright
    pass's threshold where that is lower), unless told otherwise; a threshold outside [0, 1] is refused."""
    from maskhand.errors import MaskHandError
    from maskhand.inference.hand_search import RETRY_PALM_SCORE

    blank = np.full((240, 320, 3), 90, np.uint8)
    for kwargs, want in (({}, RETRY_PALM_SCORE), ({"min_detection_confidence": 0.05}, 0.05),
                         ({"retry_palm_score": 0.4}, 0.4)):
        with KeypointDetector(**kwargs) as det:
            assert det.detect(blank) == []
            assert det._search.min_palm_score == pytest.approx(want)
            assert det._search.min_presence == 0.5
            # palms under the upright pass's own threshold are the unsure ones
            assert det._search.sure_palm_score == kwargs.get("min_detection_confidence", 0.5)
    with pytest.raises(MaskHandError, match="retry_palm_score"):
        KeypointDetector(retry_palm_score=1.5)
