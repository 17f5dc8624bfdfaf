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

from fake_accelerator import NAME, fake_accelerator
from rendered_hands import rendered_hands
from test_hand_search import CROP, TIGHT, tight_crop

from maskhand.handmodel.open_hand import load_open_hand
from maskhand.inference.frame_batches import BatchedHandDetector
from maskhand.inference.frames import open_frames
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


def test_the_second_look_runs_on_the_pipelines_device(accelerator):
    """A hand MediaPipe misses (a render cropped tight, tests/test_hand_search.py) is found by the
    rotated and zoomed retries through the torch palm detector on the pipeline's device, as on the CPU."""
    item = rendered_hands()[TIGHT[0]]
    crop, _ = tight_crop(item["image"], item["uv"], 1.1)
    K = np.array([[CROP, 0, CROP / 2], [0, CROP, CROP / 2], [0, 0, 1.0]])
    with Pipeline(estimator="model") as cpu:
        [want] = cpu(crop, K)
    with Pipeline(estimator="model", device=accelerator) as dev:
        [got] = dev(crop, K)
        assert next(dev.detector._search.palm_net.parameters()).device.type == accelerator
    assert got.found_by == want.found_by and want.found_by.startswith("zoom out")
    # float rounding (the device pipeline keeps torch's threads), through the palm box into the crop
    np.testing.assert_allclose(got.keypoints_2d, want.keypoints_2d, atol=0.05)
    np.testing.assert_allclose(got.keypoints_3d, want.keypoints_3d, atol=2e-4)  # 0.2 mm


TRAIN_ON_BOTH = """
import json, sys
import torch
from fake_accelerator import NAME, fake_accelerator
from maskhand.training import distributed, train_tokenizer, train_transformer
from maskhand.training.config import TokenizerTrainConfig, TransformerTrainConfig

out, refuse_float64 = sys.argv[1], sys.argv[2] == "mps-like"
small = dict(steps=3, batch=16, pose_pool=600, held_out=64, threads=1)
runs = {}
with fake_accelerator(refuse_float64=refuse_float64) as name:
    for where in ("cpu", name):
        distributed.setup = lambda: distributed.Dist(0, 1, torch.device(where))
        folder = f"{out}/{where}"
        tok = train_tokenizer.train(TokenizerTrainConfig(**small, out=folder + "/tokenizer.pt"), log=lambda l: None)
        net = train_transformer.train(TransformerTrainConfig(**small, out=folder + "/transformer.pt",
                                                             tokenizer=folder + "/tokenizer.pt"), log=lambda l: None)
        runs[where] = {"tokenizer": tok, "transformer": net}
print(json.dumps(runs, default=str))
"""


@pytest.mark.parametrize("mode", ["cuda-like", "mps-like"])
def test_training_on_an_accelerator_matches_the_cpu(mode, tmp_path):
    """A few steps of the tokenizer and of the transformer (what a GPU is for), on the device and on
    the CPU from the same seeds: the same held-out figures, and checkpoints that load on the CPU.
    In a process of its own: torch's autograd engine counts a backend's devices when it first runs a
    backward pass, so the emulated device must exist before any test of this process trains on the CPU."""
    import json
    import subprocess
    import sys

    from maskhand.inference.model import checkpoint

    proc = subprocess.run([sys.executable, "-c", TRAIN_ON_BOTH, str(tmp_path), mode],
                          capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parent)
    assert proc.returncode == 0, proc.stderr
    runs = json.loads(proc.stdout.strip().splitlines()[-1])
    cpu, dev = runs["cpu"], runs[NAME]
    assert dev["tokenizer"]["device"].startswith(NAME) and dev["transformer"]["device"].startswith(NAME)
    assert dev["tokenizer"]["mpjpe_mm"] == pytest.approx(cpu["tokenizer"]["mpjpe_mm"], rel=1e-4)
    assert dev["transformer"]["pa_mpjpe_mm"] == pytest.approx(cpu["transformer"]["pa_mpjpe_mm"], rel=1e-4)
    for name in ("tokenizer", "transformer"):
        a = checkpoint.load(tmp_path / "cpu" / f"{name}.pt", name)["model"]
        b = checkpoint.load(tmp_path / NAME / f"{name}.pt", name)["model"]
        assert a.keys() == b.keys() and all(b[k].device.type == "cpu" for k in b)
        for k in a:
            torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5)


def test_the_gpu_throughput_benchmark_runs_on_an_accelerator(accelerator, hands):
    """benchmarks/bench_model_speed.py's GPU line (printed where CUDA exists) on the device: a batch of
    crops through the landmark network, then one decoding call over the batch."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_model_speed", Path(__file__).resolve().parents[1] / "benchmarks" / "bench_model_speed.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    item = hands[0]
    line = bench.throughput(GenerativeEstimator(), (item["hand"], item["K"], item["image"]), device=accelerator,
                            batch=4, steps=2, repeat=1)
    assert line.startswith(f"{accelerator}: ") and "hands/s at batch 4, T=2" in line
