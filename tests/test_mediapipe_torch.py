"""MediaPipe's hand networks in torch (inference.mediapipe_torch) against MediaPipe itself (issue 13, part 1).

How the comparison is made fair ("given the same crop"): mediapipe 0.10.21 bundles no standalone TFLite
interpreter (no tflite_runtime, ai_edge_litert or tensorflow), so the reference is MediaPipe's own
calculator graph: ImageToTensorCalculator -> InferenceCalculator (TFLite + XNNPACK, what Hands runs)
-> the raw output tensors (inference.mediapipe_torch.reference.RawTensors). Both sides get the very
same 224 x 224 uint8 crop; on an image of the tensor's size MediaPipe's image-to-tensor step is the
identity, so any difference is the networks'. The crops are the ones MediaPipe would take: the palm
detector's hand rectangle (rotated, 2.6x the palm box), cut with crops.crop. Comparing against
mp.solutions.hands instead would mix in its own crop, which is only a re-implementation away from
ours (0.0-0.6 px on the renders, see test_end_to_end_close_to_mediapipe_hands).

The palm detector is compared with MediaPipe's PalmDetectionCpu subgraph on whole images (letterbox,
network, anchors, weighted NMS, letterbox removal all on both sides).

Thresholds are the issue's (0.5 px mean, 1 mm mean; boxes within a few px); the measured figures are
far below (about 1e-4 px and 1e-4 mm: benchmarks/bench_mediapipe_torch.py).
Real photos (research-only, ../shared/data or MASKHAND_REAL_DATA) are used when present, else skipped.
"""
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")
pytest.importorskip("mediapipe")

from maskhand.errors import MaskHandError, ModelFileError  # noqa: E402
from maskhand.inference.mediapipe_torch import (FEATURE_SHAPE, crops_to_tensor, detect_palms,  # noqa: E402
                                                flip_averaged_world, hand_crops, load_landmark_net, load_palm_detector,
                                                run_landmarks)
from maskhand.inference.mediapipe_torch import loader  # noqa: E402
from maskhand.inference.mediapipe_torch.crops import Rect, crop, to_image  # noqa: E402
from maskhand.inference.mediapipe_torch.palm import ssd_anchors, weighted_nms  # noqa: E402
from maskhand.inference.mediapipe_torch.reference import PalmDetections, RawTensors  # noqa: E402
from maskhand.inference.mediapipe_torch.tflite_reader import tflite_padding  # noqa: E402
from maskhand.tools import image_sets  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def render_images() -> list[np.ndarray]:
    return image_sets.render_images(clip_indices=(0, 6, 11))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("mediapipe_torch_cache")


@pytest.fixture(scope="module")
def nets(cache):
    torch.set_num_threads(1)
    return load_landmark_net(cache=cache), load_palm_detector(cache=cache)


@pytest.fixture(scope="module")
def reference():
    raw, palms = RawTensors("hand_landmark"), PalmDetections()
    yield raw, palms
    raw.close()
    palms.close()


def landmark_errors(landmark_net, raw, crops) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per crop: mean 2D landmark distance (px), mean world distance (mm), max |presence, handedness| gap."""
    out = run_landmarks(landmark_net, np.stack(crops))
    px, mm, scores = [], [], []
    for i, c in enumerate(crops):
        ref = raw(c)
        px.append(np.linalg.norm(out.landmarks[i, :, :2].numpy() - ref[0].reshape(21, 3)[:, :2], axis=1).mean())
        mm.append(1000 * np.linalg.norm(out.world[i].numpy() - ref[3].reshape(21, 3), axis=1).mean())
        scores.append(max(abs(out.presence[i].item() - ref[1][0]), abs(out.handedness[i].item() - ref[2][0])))
    return np.array(px), np.array(mm), np.array(scores)


# -- pure pieces ----------------------------------------------------------------------------------

@pytest.mark.parametrize("padding, size, kernel, stride, pads", [
    (0, [224, 224], [3, 3], [2, 2], [0, 1, 0, 1]),   # stride 2, even: the odd pixel after (TF), not before
    (0, [112, 112], [3, 3], [1, 1], [1, 1, 1, 1]),
    (0, [96, 96], [5, 5], [2, 2], [1, 2, 1, 2]),
    (0, [7, 7], [5, 5], [1, 1], [2, 2, 2, 2]),
    (0, [24, 24], [2, 2], [2, 2], [0, 0, 0, 0]),
    (1, [224, 224], [3, 3], [2, 2], [0, 0, 0, 0]),
])
def test_same_padding_is_tensorflows(padding, size, kernel, stride, pads):
    assert tflite_padding(padding, size, kernel, stride, [1, 1]) == pads


def test_anchors_cover_both_grids():
    anchors = ssd_anchors()
    assert anchors.shape == (2016, 2)
    np.testing.assert_allclose(anchors[:2], [[1 / 48, 1 / 48]] * 2)  # 24 x 24 grid, 2 anchors a cell
    np.testing.assert_allclose(anchors[1152:1158], [[1 / 24, 1 / 24]] * 6)  # 12 x 12 grid, 6 a cell
    np.testing.assert_allclose(anchors[-1], [23 / 24, 23 / 24])


def test_weighted_nms_merges_overlaps_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], float)
    keypoints = boxes[:, None, :2].copy()
    kept = weighted_nms(boxes, keypoints, np.array([0.9, 0.6, 0.8]))
    assert [round(k[0], 3) for k in kept] == [0.9, 0.8]
    np.testing.assert_allclose(kept[0][1], [0.4, 0, 10.4, 10])  # (0.9 * 0 + 0.6 * 1) / 1.5 = 0.4
    np.testing.assert_allclose(kept[0][2], [[0.4, 0]])
    np.testing.assert_allclose(kept[1][1], boxes[2])


def test_legacy_bilinear_resize_is_tf1s():
    """TF1's resize (neither align_corners nor half_pixel_centers): source = destination x in/out, clamped.
    MediaPipe's palm detector uses half-pixel centres; this path is for models that do not."""
    from maskhand.inference.mediapipe_torch.graph import _legacy_resize

    x = torch.tensor([0.0, 1.0, 2.0]).view(1, 1, 1, 3).expand(1, 1, 2, 3)
    out = _legacy_resize(x, (4, 6))
    np.testing.assert_allclose(out[0, 0, 0], [0, 0.5, 1, 1.5, 2, 2])
    assert out.shape == (1, 1, 4, 6) and torch.equal(out[0, 0, 0], out[0, 0, 3])


@pytest.mark.parametrize("rect", [Rect(100, 80, 60, 60, 0.0), Rect(30.5, 70, 90, 90, 0.7), Rect(0, 0, 40, 40, -2.5)])
def test_crop_points_round_trip(rect):
    m = np.vstack([rect.crop_to_image(224), [0, 0, 1]])
    uv = np.array([[0, 0], [224, 224], [112, 37.5]])
    np.testing.assert_allclose(to_image(uv, rect, 224), (np.c_[uv, np.ones(3)] @ m.T)[:, :2])
    np.testing.assert_allclose(to_image(np.array([112.0, 112.0]), rect, 224), [rect.cx, rect.cy], atol=1e-9)
    corner = to_image(np.array([0.0, 0.0]), rect, 224) - [rect.cx, rect.cy]
    assert np.linalg.norm(corner) == pytest.approx(rect.width / np.sqrt(2))


# -- the cache and the wheel's files ---------------------------------------------------------------

def test_conversion_is_cached_outside_the_package(nets, cache, monkeypatch):
    files = sorted((cache / "mediapipe_torch").glob("*.pt"))
    assert [f.name.split("-")[0] for f in files] == ["hand_landmark_full", "palm_detection_full"], files
    ckpt = loader.load_checkpoint("hand_landmark", cache=cache)
    assert ckpt["format"] == loader.FORMAT and ckpt["source"]["sha256"] == loader.file_sha256(
        loader.model_file("hand_landmark"))
    for key, value in nets[0].graph.state_dict().items():
        assert torch.equal(value, ckpt["model"][key]), key
    monkeypatch.setenv(loader.CACHE_ENV, str(cache / "elsewhere"))
    assert loader.cache_dir() == cache / "elsewhere"
    assert not any(REPO.rglob("hand_landmark_full-*.pt"))


def test_missing_or_broken_model_is_a_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="missing"):
        loader.load_checkpoint("hand_landmark", source=tmp_path / "hand_landmark_full.tflite", cache=tmp_path)
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ModelFileError):
        loader.load_checkpoint("hand_landmark", source=broken, cache=tmp_path)
    with pytest.raises(ModelFileError, match="unknown MediaPipe model"):
        loader.model_file("face_mesh")


# -- parity with MediaPipe ---------------------------------------------------------------------------

def test_landmarks_match_mediapipe_on_renders(nets, reference):
    crops = hand_crops(nets[1], render_images())
    px, mm, scores = landmark_errors(nets[0], reference[0], crops)
    assert len(crops) >= 12
    assert px.mean() < 0.5 and px.max() < 0.5, px
    assert mm.mean() < 1.0 and mm.max() < 1.0, mm
    assert scores.max() < 1e-3, scores


def test_landmarks_match_mediapipe_on_real_photos(nets, reference):
    images = image_sets.real_images()
    if not images:
        pytest.skip(f"no real photos under {image_sets.REAL} (research-only data, outside the repository)")
    px, mm, scores = landmark_errors(nets[0], reference[0], hand_crops(nets[1], images))
    assert px.mean() < 0.5 and mm.mean() < 1.0, (px, mm)
    assert scores.max() < 1e-3, scores


@pytest.mark.parametrize("source", ["renders", "real"])
def test_palms_match_mediapipe(nets, reference, source):
    images = render_images() if source == "renders" else image_sets.real_images()
    if not images:
        pytest.skip(f"no real photos under {image_sets.REAL}")
    if source == "renders":  # one non-square image each way, so the letterbox is exercised
        images += [np.pad(images[0], ((0, 0), (40, 90), (0, 0))), np.pad(images[1], ((70, 10), (0, 0), (0, 0)))]
    found = 0
    for image, palms in zip(images, detect_palms(nets[1], images)):
        theirs = reference[1](image)
        assert len(palms) == len(theirs), (image.shape, [p.score for p in palms], [t[0] for t in theirs])
        for palm, (score, box, points) in zip(palms, theirs):
            assert palm.score == pytest.approx(score, abs=1e-3)
            assert np.abs(np.array(palm.box) - box).max() < 2.0
            assert np.abs(palm.keypoints - points).max() < 2.0
            found += 1
    assert found >= (len(images) if source == "renders" else 1)


def test_end_to_end_close_to_mediapipe_hands(nets):
    """Our crop (palm -> hand rect -> warp) plus the torch landmarks, against mp.solutions.hands' keypoints
    in image pixels: not the same crop, so only close (MediaPipe warps with its own float maths)."""
    from maskhand.inference.keypoints import KeypointDetector

    images = [image_sets.read_rgb(p) for p in image_sets.RENDERS]
    with KeypointDetector(max_hands=1) as detector:
        hands = [detector.detect(image) for image in images]
    for image, palms, found in zip(images, detect_palms(nets[1], images, max_palms=1), hands):
        rect = palms[0].hand_rect()
        out = run_landmarks(nets[0], crop(image, rect, 224)[None])
        uv = to_image(out.landmarks[0, :, :2].numpy().astype(float), rect, 224)
        assert np.linalg.norm(uv - found[0].keypoints_2d, axis=1).mean() < 1.5


def test_handedness_says_the_persons_side(nets):
    import json

    sides = [m["side"] for m in json.loads((REPO / "tests/fixtures/hands/evaluation_meta.json").read_text())["images"]]
    images = [image_sets.read_rgb(p) for p in image_sets.RENDERS]
    out = run_landmarks(nets[0], np.stack(hand_crops(nets[1], images)))
    assert ["right" if h > 0.5 else "left" for h in out.handedness.tolist()] == sides


# -- batches, features, flip averaging ----------------------------------------------------------------

def test_batched_equals_one_at_a_time(nets):
    crops = np.stack(hand_crops(nets[1], [image_sets.read_rgb(p) for p in image_sets.RENDERS[:5]]))
    together = run_landmarks(nets[0], crops, batch_size=16)
    alone = run_landmarks(nets[0], crops, batch_size=1)
    for field in ("landmarks", "world", "presence", "handedness", "features"):
        np.testing.assert_allclose(getattr(together, field), getattr(alone, field), atol=2e-4, err_msg=field)


def test_feature_map_is_what_the_heads_pool(nets):
    crops = np.stack(hand_crops(nets[1], [image_sets.read_rgb(p) for p in image_sets.RENDERS[:2]]))
    out = run_landmarks(nets[0], crops)
    assert tuple(out.features.shape) == (2, *FEATURE_SHAPE)
    world_fc = nets[0].graph.ops[-1]  # the last op is the world-landmark head
    again = torch.nn.functional.linear(out.features.mean(dim=(2, 3)), world_fc.weight, world_fc.bias)
    np.testing.assert_allclose(again.view(2, 21, 3), out.world, atol=1e-5)


def test_flip_averaging_mirrors_with_the_crop(nets):
    crops = crops_to_tensor(np.stack(hand_crops(nets[1], [image_sets.read_rgb(p) for p in image_sets.RENDERS[:4]])))
    averaged = flip_averaged_world(nets[0], crops)
    of_mirror = flip_averaged_world(nets[0], crops.flip(-1))
    np.testing.assert_allclose(of_mirror, averaged * torch.tensor([-1.0, 1.0, 1.0]), atol=1e-6)
    with torch.no_grad():
        single = nets[0](crops).world
    gap_mm = 1000 * (averaged - single).norm(dim=-1).mean(dim=-1)
    assert gap_mm.max() < 15.0 and gap_mm.min() > 0.0, gap_mm


def test_bad_inputs_raise(nets):
    with pytest.raises(MaskHandError, match="224"):
        nets[0](torch.zeros(1, 3, 192, 192))
    with pytest.raises(MaskHandError, match="uint8"):
        crops_to_tensor(np.zeros((1, 224, 224, 3), np.float32))
    with pytest.raises(MaskHandError, match="192"):
        nets[1](torch.zeros(2, 3, 224, 224))
    with pytest.raises(MaskHandError, match="at least one crop"):
        run_landmarks(nets[0], np.zeros((0, 224, 224, 3), np.uint8))


def test_nets_go_to_the_picked_device(cache):
    from maskhand.inference.device import pick_device

    net = load_landmark_net(device="auto", cache=cache)
    assert next(net.parameters()).device.type == pick_device("auto")
    assert not any(p.requires_grad for p in net.parameters())
    with pytest.raises(MaskHandError, match="unknown device"):
        load_palm_detector(device="tpu", cache=cache)
