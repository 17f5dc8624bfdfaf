"""The benchmark renderer writes the FreiHAND layout with labels that match its pixels.

The renderer runs for real (Blender Cycles through the bpy module) in a subprocess, as users run it;
labels are checked against the core hand model, and the committed fixtures are checked the same way.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from maskhand.handmodel.open_hand import load_open_hand

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def project(xyz, K):
    p = np.asarray(xyz) @ np.asarray(K).T
    return p[..., :2] / p[..., 2:3]


def check_split(root: Path, split: str, n: int, size: int, verts: bool):
    """Layout of fixtures.md, and every label consistent with the others and the image."""
    import cv2

    xyz = np.array(json.loads((root / f"{split}_xyz.json").read_text()))
    K = np.array(json.loads((root / f"{split}_K.json").read_text()))
    mano = np.array(json.loads((root / f"{split}_mano.json").read_text()))
    meta = json.loads((root / f"{split}_meta.json").read_text())
    assert xyz.shape == (n, 21, 3) and K.shape == (n, 3, 3) and mano.shape == (n, 61)
    assert meta["hand_model"] == "open" and len(meta["images"]) == n
    assert (root / f"{split}_verts.json").is_file() == verts
    V = np.array(json.loads((root / f"{split}_verts.json").read_text())) if verts else None
    for i, info in enumerate(meta["images"]):
        img = cv2.imread(str(root / split / "rgb" / f"{i:08d}.jpg"))
        assert img is not None and img.shape == (size, size, 3) and img.std() > 5, i
        assert info["side"] in ("right", "left") and isinstance(info["category"], str)
        assert len(info["visible_2d"]) == 21 and info["self_check_px"] < 0.5
        model = load_open_hand(info["side"])
        out = model.forward(mano[i, None, :3], mano[i, None, 3:48], mano[i, None, 48:58], mano[i, None, 58:])
        np.testing.assert_allclose(out.keypoints[0], xyz[i], atol=1e-5)  # mano -> xyz, camera frame
        if V is not None:
            np.testing.assert_allclose(out.vertices[0], V[i], atol=1e-5)
        assert np.all(xyz[i, :, 2] > 0.05)  # in front of the camera
        uv = project(xyz[i], K[i])
        inside = np.all((uv > -0.5) & (uv < size - 0.5), axis=1)
        assert inside.sum() >= 15, f"image {i}: only {inside.sum()} keypoints project into the image"
        assert not np.any(np.array(info["visible_2d"]) & ~inside)
    return meta


def test_renderer_writes_consistent_layout_and_resumes(tmp_path):
    cmd = [sys.executable, str(REPO / "tools" / "render_dataset.py"), "--out", str(tmp_path), "--split", "training",
           "--count", "2", "--seed", "5", "--size", "128", "--samples", "4", "--verts", "--threads", "2"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "s/image" in run.stdout and "done: 2 images" in run.stdout
    meta = check_split(tmp_path, "training", 2, 128, verts=True)
    # seed 5 gives one right and one left hand (image seeds 500000, 500001)
    assert [m["side"] for m in meta["images"]] == ["right", "left"]
    assert [m["seed"] for m in meta["images"]] == [500000, 500001]
    mano = np.array(json.loads((tmp_path / "training_mano.json").read_text()))
    assert not np.allclose(mano[0], mano[1])
    # run again: finished images are skipped, the lists stay the same
    first = (tmp_path / "training_xyz.json").read_text()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "nothing new to render" in again.stdout
    assert (tmp_path / "training_xyz.json").read_text() == first


def test_bad_arguments_exit_cleanly(tmp_path):
    run = subprocess.run([sys.executable, str(REPO / "tools" / "render_dataset.py"), "--out", str(tmp_path),
                          "--count", "0"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "error:" in run.stderr and "Traceback" not in run.stderr


def test_committed_fixtures_are_consistent():
    meta = check_split(FIXTURES / "hands", "evaluation", 8, 256, verts=False)
    sides = [m["side"] for m in meta["images"]]
    assert sides.count("left") == 4 and sides.count("right") == 4
    assert all(m["expect_detection"] for m in meta["images"])
    assert all(all(m["visible_2d"]) for m in meta["images"])  # no occluders, whole hands in view
    none = FIXTURES / "hands_none" / "evaluation" / "rgb" / "00000000.jpg"
    assert none.is_file()


def test_committed_clip_reads_back_with_labels():
    import cv2

    xyz = np.array(json.loads((FIXTURES / "hand_clip_xyz.json").read_text()))
    K = np.array(json.loads((FIXTURES / "hand_clip_K.json").read_text()))
    cap = cv2.VideoCapture(str(FIXTURES / "hand_clip.mp4"))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == 12 == len(xyz) and frames[0].shape == (192, 192, 3) and K.shape == (3, 3)
    uv = project(xyz, K)
    assert np.all((uv > 0) & (uv < 192))
    # the hand closes: fingertips get closer to the wrist
    tips = np.linalg.norm(xyz[:, [8, 12, 16, 20]] - xyz[:, :1], axis=2).mean(1)
    assert tips[-1] < tips[0] - 0.02 and np.all(np.diff(tips) < 1e-4)


def test_self_check_catches_labels_off_by_four_millimetres():
    bpy = pytest.importorskip("bpy")
    from maskhand.tools.render_scene import build_scene, sample_scene, self_check

    spec = sample_scene(77, size=128, samples=1)
    scene, mesh_obj, cam, gt = build_scene(spec)
    good_px, good_mm = self_check(scene, mesh_obj, cam, gt.vertices[0], spec.K)
    bad_px, _ = self_check(scene, mesh_obj, cam, gt.vertices[0] + np.array([0.004, 0.0, 0.0]), spec.K)
    assert good_px < 0.01 and good_mm < 0.01
    assert bad_px > 0.5
    bpy.ops.wm.read_factory_settings(use_empty=True)
