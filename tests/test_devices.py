"""The CUDA / Apple MPS code paths, run on an emulated accelerator (tests/fake_accelerator.py).

No machine this project is built on has a GPU, so everything behind `device != "cpu"` (the generative
estimator's tensors, batched landmarks for its image tokens, the torch palm detector on video frames
and in the second look) would otherwise never run. The emulated device enforces what those devices
enforce (no mixing with CPU tensors; on MPS no float64; no .numpy() of device memory) and computes with
the CPU's kernels, so on it every path must give the CPU's answer. That checks device placement, not
GPU numerics or speed.
"""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from fake_accelerator import fake_accelerator
from rendered_hands import rendered_hands

from maskhand.handmodel.open_hand import load_open_hand
from maskhand.inference.frame_batches import BatchedHandDetector
from maskhand.inference.frames import open_frames
from maskhand.inference.hand_search import HandSearch
from maskhand.inference.keypoints import KeypointDetector
from maskhand.inference.mediapipe_torch import landmark, palm
from maskhand.inference.model.estimator import GenerativeEstimator
from maskhand.inference.pipeline import Pipeline

CLIP = Path(__file__).resolve().parent / "fixtures" / "hand_clip.mp4"


@pytest.fixture(params=["cuda-like", "mps-like"])
def accelerator(request, monkeypatch):
    """The emulated device's name; the network loaders take it as they take "cuda" (their own device
    check knows only real device names)."""
    for module in (palm, landmark):
        monkeypatch.setattr(module, "pick_device", lambda choice: choice)
    with fake_accelerator(refuse_float64=request.param == "mps-like") as name:
        yield name


@pytest.fixture(scope="module")
def hands():
    """Two fixture renders (a right and a left hand) with MediaPipe's detection of each."""
    items = rendered_hands()
    items = [next(i for i in items if i["side"] == "right"), next(i for i in items if i["side"] == "left")]
    with KeypointDetector() as det:
        return [dict(item, hand=det.detect(item["image"])[0]) for item in items]


def test_the_emulated_device_refuses_what_cuda_and_mps_refuse():
    """The emulation can fail: it raises where the real devices raise."""
    with fake_accelerator(refuse_float64=True) as name:
        x = torch.ones(3, device=name)
        assert x.device.type == name
        with pytest.raises(RuntimeError, match="same device"):
            x + torch.ones(3)
        with pytest.raises(TypeError, match="numpy"):
            x.numpy()
        with pytest.raises(TypeError, match="float64"):
            x.double()
        assert (x * torch.tensor(2.0)).cpu().tolist() == [2.0, 2.0, 2.0]  # 0-dim CPU scalars are fine
        np.testing.assert_array_equal(x.cpu().double().numpy(), np.ones(3))


def test_predict_on_an_accelerator_gives_the_cpus_hypotheses(accelerator, hands):
    """Pipeline(device=...) decodes, looks at the crop (batched landmarks on the device) and refines:
    the same hypotheses as on the CPU, with the model's tensors on the device."""
    with Pipeline(estimator="model") as cpu:
        want = [cpu(h["image"], h["K"], hypotheses=3, seed=4) for h in hands]
    with Pipeline(estimator="model", device=accelerator) as dev:
        assert next(dev.generative.net.parameters()).device.type == accelerator
        got = [dev(h["image"], h["K"], hypotheses=3, seed=4) for h in hands]
        assert next(dev.generative._landmark_net.parameters()).device.type == accelerator
    for a, b in zip(want, got):
        assert [r.side for r in a] == [r.side for r in b]
        for ha, hb in zip(a[0].hypotheses, b[0].hypotheses):
            assert ha.tokens == hb.tokens
            np.testing.assert_allclose(hb.keypoints_3d, ha.keypoints_3d, atol=1e-5)


def test_mano_pose_correctives_and_locked_parts_on_an_accelerator(accelerator, hands):
    """A hand model with MANO's pose correctives (real MANO has them; here random ones on the open hand)
    skins on the device, and locked parts (Resample) keep their tokens there."""
    right = load_open_hand("right")
    right = replace(right, posedirs=np.random.default_rng(3).normal(size=(len(right.v_template), 3, 135)) * 1e-3)
    cpu = GenerativeEstimator(right)
    dev = GenerativeEstimator(right, device=accelerator)
    h = hands[0]["hand"]
    args = (h.keypoints_2d, h.confidence, hands[0]["K"], h.side, h.world)
    first = cpu(*args, hypotheses=2, seed=1, refine=False)
    locked = {"tokens": first[0].tokens, "parts": ["wrist", "thumb"]}
    want = cpu(*args, hypotheses=3, seed=2, temperature=2.0, locked=locked, refine=False)
    got = dev(*args, hypotheses=3, seed=2, temperature=2.0, locked=locked, refine=False)
    for a, b in zip(want, got):
        assert a.tokens == b.tokens
        np.testing.assert_allclose(b.keypoints_3d, a.keypoints_3d, atol=1e-5)


def test_video_frame_batches_on_an_accelerator_track_as_on_the_cpu(accelerator):
    """The torch palm detector and landmark network over batches of frames (the frame detector "auto"
    picks on CUDA/MPS) find the CPU's hands."""
    with open_frames(CLIP) as f:
        frames = list(f)[:6]
    want = dict(BatchedHandDetector(batch=4, device="cpu").detect_sequence(frames))
    got = dict(BatchedHandDetector(batch=4, device=accelerator).detect_sequence(frames))
    assert list(got) == list(want)
    for index in want:
        assert len(got[index]) == len(want[index]) == 1
        np.testing.assert_allclose(got[index][0].keypoints_2d, want[index][0].keypoints_2d, atol=1e-3)
        np.testing.assert_allclose(got[index][0].world, want[index][0].world, atol=1e-5)


def test_the_second_look_on_an_accelerator_finds_the_cpus_hand(accelerator, hands):
    """HandSearch (rotated and zoomed retries through the torch palm detector) on the device."""
    image = hands[1]["image"]
    want = HandSearch().search(image)
    got = HandSearch(device=accelerator).search(image)
    assert [h.found_by for h in got] == [h.found_by for h in want] and want
    np.testing.assert_allclose(got[0].keypoints_2d, want[0].keypoints_2d, atol=1e-3)
