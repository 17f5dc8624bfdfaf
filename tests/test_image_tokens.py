"""Image tokens for the masked transformer (issue 13, part 2): the crop the image context is cut from,
the transformer's handling of hands with and without an image, and a real (tiny) training run from
real MediaPipe detections of the project's renders to an estimator that looks at the image."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rendered_hands import HANDS, rendered_hands

from maskhand.errors import MaskHandError
from maskhand.inference.keypoints import KeypointDetector
from maskhand.inference.mediapipe_torch import load_landmark_net, run_landmarks
from maskhand.inference.model import checkpoint
from maskhand.inference.model.context import mirror_view
from maskhand.inference.model.estimator import DEFAULT_TRANSFORMER, GenerativeEstimator, model_paths
from maskhand.inference.model.image_context import ImageContext, crop_geometry, view_crop, view_rect
from maskhand.inference.model.transformer import MaskedPoseTransformer, TransformerConfig

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fixtures():
    """The fixture renders with MediaPipe's detection of each one's hand."""
    with KeypointDetector() as det:
        return [dict(item, hand=det.detect(item["image"])[0]) for item in rendered_hands()]


def view_of(item):
    """The hand's keypoints in the model's view (a left hand mirrored to a right one) and whether mirrored."""
    uv = torch.as_tensor(item["hand"].keypoints_2d)[None]
    mirrored = item["hand"].side == "left"
    if mirrored:
        uv, _ = mirror_view(uv, torch.as_tensor(item["K"])[None], None)
    return uv[0].numpy(), mirrored


def test_the_crop_shows_a_right_hand_where_its_keypoints_say(fixtures):
    """Cut from the image in the model's view, every crop holds a right hand (left hands are the flipped
    crop of the mirrored rectangle), upright, and MediaPipe's landmark network finds its keypoints where
    crop_geometry puts them."""
    net = load_landmark_net("cpu")
    crops, expected, sides = [], [], []
    for item in fixtures:
        uv_view, mirrored = view_of(item)
        rect = view_rect(uv_view)
        crops.append(view_crop(item["image"], rect, mirrored, item["K"][0, 2]))
        kp, glob = crop_geometry(uv_view, rect)
        assert np.all((kp > 0.05) & (kp < 0.95))  # the whole hand inside, with a margin
        assert abs(glob[0] ** 2 + glob[1] ** 2 - 1) < 1e-9 and 1.0 < glob[2] < 3.0
        expected.append(kp * 224)
        sides.append(item["side"])
    out = run_landmarks(net, np.stack(crops))
    assert {"left", "right"} <= set(sides)
    # the network's handedness: > 0.5 = a right hand; every view is one, left hands included
    assert (out.handedness.numpy() > 0.5).all(), out.handedness
    for i, kp in enumerate(expected):
        found = out.landmarks[i, :, :2].double().numpy()
        error = np.linalg.norm(found - kp, axis=1)
        assert np.median(error) < 0.03 * 224, (i, sides[i], np.median(error))
        wrist_to_middle = found[9] - found[0]
        assert wrist_to_middle[1] < -abs(wrist_to_middle[0])  # upright: the palm points up the crop


def test_bundled_weights_look_at_the_image(fixtures):
    """The bundled transformer is the recipe's fine-tune with image tokens: it reads the hand's crop,
    and on the fixture renders what it decodes with the image is closer to the truth than without."""
    from maskhand.evaluation.metrics import pa_mpjpe_mm

    ck = checkpoint.load(DEFAULT_TRANSFORMER, "transformer")
    assert ck["config"]["image_tokens"] == 49
    est = GenerativeEstimator()
    assert est.uses_image
    looked, blind = [], []
    for item in fixtures:
        h = item["hand"]
        args = (h.keypoints_2d, h.confidence, item["K"], h.side, h.world)
        looked.append(pa_mpjpe_mm(est(*args, image=item["image"], refine=False)[0].keypoints_3d, item["xyz"]))
        blind.append(pa_mpjpe_mm(est(*args, refine=False)[0].keypoints_3d, item["xyz"]))
    assert np.mean(looked) < np.mean(blind), (looked, blind)


def test_an_image_token_model_starts_from_a_keypoints_only_checkpoint(tmp_path):
    """The recipe's third stage: every keypoints-only weight is taken over, the image layers start
    fresh; a checkpoint of another shape is refused."""
    from dataclasses import asdict

    from maskhand.training.train_transformer import load_init

    plain = MaskedPoseTransformer(TransformerConfig(dropout=0.0))
    checkpoint.save(tmp_path / "plain.pt", "transformer", asdict(plain.cfg), plain)
    model = MaskedPoseTransformer(TransformerConfig(dropout=0.0, image_tokens=49))
    fresh = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("image_")}
    load_init(model, str(tmp_path / "plain.pt"), "cpu")
    for k, v in plain.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    assert all(torch.equal(model.state_dict()[k], v) for k, v in fresh.items())
    other = MaskedPoseTransformer(TransformerConfig(dropout=0.0, layers=2))
    checkpoint.save(tmp_path / "other.pt", "transformer", asdict(other.cfg), other)
    with pytest.raises(RuntimeError, match="does not fit"):
        load_init(model, str(tmp_path / "other.pt"), "cpu")


def test_a_keypoints_only_model_refuses_an_image():
    model = MaskedPoseTransformer(TransformerConfig(dropout=0.0)).eval()
    cfg = model.cfg
    with pytest.raises(ValueError, match="no image tokens"):
        model(torch.full((1, cfg.num_tokens), cfg.codebook_size), torch.zeros(1, 21, 9), torch.zeros(1, 4),
              ImageContext(torch.zeros(1, 1152, 7, 7), torch.zeros(1, 21, 2), torch.zeros(1, 3),
                           torch.ones(1, dtype=torch.bool)))


def test_a_hand_without_an_image_is_decoded_as_without_image_tokens():
    torch.manual_seed(0)
    model = MaskedPoseTransformer(TransformerConfig(image_tokens=49, dropout=0.0)).eval()
    B = 3
    ids = torch.randint(0, 257, (B, 18))
    kp, glob = torch.randn(B, 21, 9), torch.randn(B, 4)
    image = ImageContext(torch.rand(B, 1152, 7, 7), torch.rand(B, 21, 2), torch.rand(B, 3),
                         torch.tensor([True, False, True]))
    with torch.no_grad():
        with_image, betas_i = model(ids, kp, glob, image)
        without, betas_n = model(ids, kp, glob, None)
    assert torch.allclose(with_image[1], without[1], atol=1e-5) and torch.allclose(betas_i[1], betas_n[1], atol=1e-5)
    assert (with_image[0] - without[0]).abs().max() > 1e-3  # the image changes what is predicted
    with pytest.raises(ValueError, match="0 or 49"):
        MaskedPoseTransformer(TransformerConfig(image_tokens=10))


@pytest.mark.slow
def test_train_an_image_token_model_from_real_detections_and_estimate_with_it(tmp_path, fixtures):
    """tools/collect_detections.py --image-context on the fixture renders (real MediaPipe, real crops),
    a few more fine-tuning steps from the bundled weights, then the estimator looks at the image."""
    dets = tmp_path / "dets.npz"
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "collect_detections.py"), str(HANDS), "--split",
                           "evaluation", "--out", str(dets), "--image-context", "2"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = np.load(dets)
    assert data["features"].shape == (len(data["uv"]), 2, 1152, 7, 7) and data["features"].dtype == np.float16
    assert len(data["uv"]) == len(fixtures)
    w = tmp_path / "w"
    w.mkdir()
    (w / "tokenizer.pt").write_bytes(model_paths()[0].read_bytes())
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"steps": 3, "batch": 16, "pose_pool": 600, "held_out": 64, "threads": 1,
                               "tokenizer": str(w / "tokenizer.pt"), "init": str(DEFAULT_TRANSFORMER),
                               "detections": str(dets), "detections_fraction": 0.5, "detections_held_out": 0.25,
                               "model": {"dropout": 0.0, "image_tokens": 49}}))
    proc = subprocess.run([sys.executable, "-m", "maskhand", "train", "transformer", "--config", str(cfg), "--out",
                           str(w / "transformer.pt")], capture_output=True, text=True, timeout=600, cwd=REPO.parent)
    assert proc.returncode == 0, proc.stderr
    ck = checkpoint.load(w / "transformer.pt", "transformer")
    assert ck["config"]["image_tokens"] == 49
    assert ck["train"]["init_train"] == checkpoint.load(DEFAULT_TRANSFORMER, "transformer")["train"]
    assert {"detections_pa_mpjpe_mm_image", "detections_pa_mpjpe_mm_keypoints_only"} <= set(ck["metrics"])
    est = GenerativeEstimator(None, *model_paths(w))
    assert est.uses_image
    item = next(f for f in fixtures if f["side"] == "left")
    h = item["hand"]
    looked = est(h.keypoints_2d, h.confidence, item["K"], h.side, h.world, image=item["image"], refine=False)
    blind = est(h.keypoints_2d, h.confidence, item["K"], h.side, h.world, refine=False)
    assert np.isfinite(looked[0].keypoints_3d).all()
    assert looked[0].tokens != blind[0].tokens or not np.allclose(looked[0].mano["betas"], blind[0].mano["betas"])


def test_the_context_crop_gives_a_second_look_in_the_image_frame(fixtures):
    """The landmark network's own answer on the context crop (MediaPipe's tracking crop, made from the
    first look's keypoints) comes back in the image's frame, left hands un-mirrored: the same hand as the
    detector's (a few px, a few mm, same axes), and its world landmarks closer to the truth on average.
    The default refinement fits it, and on the fixtures that beats fitting the first look."""
    from dataclasses import replace

    from maskhand.evaluation.metrics import pa_mpjpe_mm

    est = GenerativeEstimator()
    assert est.config.refine_target == "crop"
    detector = replace(est.config, refine_target="detector")
    first, second, on_crop, on_detector = [], [], [], []
    for item in fixtures:
        h, K = item["hand"], item["K"]
        uv_view, mirrored = view_of(item)
        _, look = est.image_context(item["image"], uv_view, mirrored, K)
        uv2, w2 = look.keypoints_2d[0].copy(), look.world[0].copy()
        if mirrored:
            uv2[:, 0], w2[:, 0] = 2 * K[0, 2] - uv2[:, 0], -w2[:, 0]
        w1 = np.asarray(h.world)
        assert np.linalg.norm(uv2 - h.keypoints_2d, axis=1).mean() < 6.0, item["side"]
        centred = lambda w: w - w.mean(0)  # noqa: E731
        assert np.linalg.norm(centred(w2) - centred(w1), axis=1).mean() < 0.02, item["side"]
        first.append(np.linalg.norm(centred(w1) - centred(item["xyz"]), axis=1).mean())
        second.append(np.linalg.norm(centred(w2) - centred(item["xyz"]), axis=1).mean())
        args = (h.keypoints_2d, h.confidence, K, h.side, h.world)
        on_crop.append(pa_mpjpe_mm(est(*args, image=item["image"])[0].keypoints_3d, item["xyz"]))
        est.config, default = detector, est.config
        on_detector.append(pa_mpjpe_mm(est(*args, image=item["image"])[0].keypoints_3d, item["xyz"]))
        est.config = default
    assert np.mean(second) < np.mean(first), (second, first)
    assert np.mean(on_crop) < np.mean(on_detector), (on_crop, on_detector)


def test_flip_averaging_of_the_second_look_reaches_predict(fixtures):
    """flip_average: the second look is the mean of the crop's landmarks and its mirror image's, un-mirrored
    (the image tokens stay the direct crop's); Pipeline/predict pass the option on to the model."""
    from maskhand.inference.mediapipe_torch.crops import to_image
    from maskhand.inference.model.image_context import image_context
    from maskhand.inference.pipeline import Pipeline

    net = load_landmark_net("cpu")
    item = next(f for f in fixtures if f["side"] == "left")
    uv_view, mirrored = view_of(item)
    plain_ctx, plain = image_context(net, item["image"], [(uv_view, mirrored)], item["K"], with_landmarks=True)
    flip_ctx, flip = image_context(net, item["image"], [(uv_view, mirrored)], item["K"], with_landmarks=True,
                                   flip_average=True)
    assert torch.equal(plain_ctx.features, flip_ctx.features)
    rect = view_rect(uv_view)
    crop = view_crop(item["image"], rect, mirrored, item["K"][0, 2])
    of_mirror = run_landmarks(net, np.ascontiguousarray(crop[None, :, ::-1])).landmarks[0, :, :2].double().numpy()
    of_mirror[:, 0] = 224 - of_mirror[:, 0]
    expected = 0.5 * (plain.keypoints_2d[0] + to_image(of_mirror, rect, 224))
    np.testing.assert_allclose(flip.keypoints_2d[0], expected, atol=1e-3)
    assert 0 < np.abs(flip.keypoints_2d - plain.keypoints_2d).max() < 10
    K = item["K"]
    with Pipeline(estimator="model") as a, Pipeline(estimator="model", flip_average=True) as b:
        assert not a.generative.config.flip_average and b.generative.config.flip_average
        ra, rb = a(item["image"], K)[0], b(item["image"], K)[0]
    assert ra.side == rb.side == "left"
    assert not np.allclose(ra.hypotheses[0].keypoints_3d, rb.hypotheses[0].keypoints_3d)


def test_hypotheses_are_ranked_against_the_look_the_refinement_did_not_fit(fixtures):
    """rank_target "detector" (default): the ranking's reprojection term measures each refined hypothesis
    against the detector's keypoints, not against the second look the refinement just fitted; the
    hypotheses themselves are the same, only their scores (and so their order) change, by exactly the
    difference of the two reprojection errors."""
    from dataclasses import replace

    est = GenerativeEstimator()
    assert est.config.rank_target == "detector" and est.config.refine_target == "crop"
    item = next(f for f in fixtures if f["side"] == "left")
    h, K = item["hand"], item["K"]
    args = (h.keypoints_2d, h.confidence, K, h.side, h.world)
    on_detector = est(*args, hypotheses=3, seed=4, image=item["image"])
    est.config, default = replace(est.config, rank_target="refined"), est.config
    on_refined = est(*args, hypotheses=3, seed=4, image=item["image"])
    est.config = default
    uv_view, mirrored = view_of(item)
    _, look = est.image_context(item["image"], uv_view, mirrored, K)
    second = look.in_image(0, mirrored, float(K[0, 2]))[0]
    box = max(np.ptp(h.keypoints_2d[:, 0]), np.ptp(h.keypoints_2d[:, 1]))
    conf = np.asarray(h.confidence, np.float64)

    def err(kp3, uv):
        proj = (K[:2, :2] @ (kp3[:, :2] / kp3[:, 2:]).T).T + K[:2, 2]
        return (np.linalg.norm(proj - uv, axis=1) * conf).sum() / conf.sum()

    by_seed = {x.seed: x for x in on_refined}
    assert sorted(by_seed) == sorted(x.seed for x in on_detector)
    for x in on_detector:
        y = by_seed[x.seed]
        np.testing.assert_allclose(x.keypoints_3d, y.keypoints_3d)
        gap = est.config.reprojection_weight * (err(x.keypoints_3d, second) - err(x.keypoints_3d, h.keypoints_2d)) / box
        assert abs(gap) > 1e-6
        np.testing.assert_allclose(x.score - y.score, gap, rtol=1e-5, atol=1e-6)  # scores are float32 sums
    assert [x.score for x in on_detector] == sorted((x.score for x in on_detector), reverse=True)
    with pytest.raises(MaskHandError, match="rank_target"):
        GenerativeEstimator(config=replace(default, rank_target="elsewhere"))(*args, image=item["image"])


def test_several_hypotheses_include_the_greedy_answer_and_resample_draws_only(fixtures):
    """greedy_first (default): of N hypotheses at a temperature one is exactly what hypotheses=1 gives
    (the model's most likely pose, refined alike), labelled temperature 0, so asking for more never puts
    a worse answer first by chance, and one hypothesis is that pose at any temperature; the others are
    draws on their own streams. greedy_first=False (what Resample asks for) draws every one, so a
    resample brings new poses."""
    est = GenerativeEstimator()
    for item in fixtures[:2]:
        h, K = item["hand"], item["K"]
        args = (h.keypoints_2d, h.confidence, K, h.side, h.world)
        single = est(*args, image=item["image"])[0]
        several = est(*args, hypotheses=4, seed=3, image=item["image"])
        drawn = est(*args, hypotheses=4, seed=3, image=item["image"], greedy_first=False)
        assert len(several) == len(drawn) == 4
        greedy = [x for x in several if x.temperature == 0.0]
        assert len(greedy) == 1 and greedy[0].seed == 3000
        np.testing.assert_allclose(greedy[0].keypoints_3d, single.keypoints_3d, atol=1e-7)
        assert sorted(x.seed for x in several) == sorted(x.seed for x in drawn) == [3000, 3001, 3002, 3003]
        assert all(x.temperature == 1.0 for x in drawn)
        assert min(np.abs(x.keypoints_3d - single.keypoints_3d).max() for x in drawn) > 1e-4
        # the draws after the greedy row are the greedy_first=False call's draws on the same streams
        for x in several:
            if x.temperature == 1.0:
                twin = next(y for y in drawn if y.seed == x.seed)
                assert x.tokens == twin.tokens
        assert [x.score for x in several] == sorted((x.score for x in several), reverse=True)
        # one hypothesis at a temperature (the add-on always sends its Temperature) is that greedy answer
        (one,) = est(*args, hypotheses=1, temperature=1.0, seed=3, image=item["image"])
        assert one.temperature == 0.0 and one.tokens == single.tokens
        (draw,) = est(*args, hypotheses=1, temperature=1.0, seed=3, image=item["image"], greedy_first=False)
        assert draw.temperature == 1.0 and draw.tokens == next(y for y in drawn if y.seed == 3000).tokens
