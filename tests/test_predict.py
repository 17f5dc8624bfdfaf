"""`python -m maskhand predict` end to end in a subprocess: rendered fixtures in, the documented JSON
out (docs/PREDICT.md), a bad file recorded per image without stopping the run."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from maskhand.inference.model.estimator import weights_available

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hands"
pytestmark = pytest.mark.slow


def run_predict(tmp_path, *args):
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, "-m", "maskhand", "predict", *map(str, args), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    return proc, (json.loads(out.read_text()) if out.exists() else None)


def project(X, K):
    X, K = np.asarray(X), np.asarray(K)
    return (K[:2, :2] @ (X[:, :2] / X[:, 2:]).T).T + K[:2, 2]


def test_predict_writes_hands_and_records_a_bad_file(tmp_path):
    images = [FIXTURES / "evaluation/rgb/00000002.jpg", FIXTURES / "evaluation/rgb/00000005.jpg"]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(images[0].read_bytes()[:300])
    K_all = json.loads((FIXTURES / "evaluation_K.json").read_text())
    intrinsics = tmp_path / "K.json"
    intrinsics.write_text(json.dumps([K_all[2], K_all[5], K_all[2]]))
    proc, doc = run_predict(tmp_path, *images, bad, "--intrinsics", intrinsics, "--estimator", "fitted")
    assert proc.returncode == 1, proc.stderr          # one image failed
    assert "broken.jpg" in proc.stderr
    assert [Path(e["path"]).name for e in doc["images"]] == ["00000002.jpg", "00000005.jpg", "broken.jpg"]
    assert doc["images"][2]["error"] and not doc["images"][2]["hands"]
    xyz = json.loads((FIXTURES / "evaluation_xyz.json").read_text())
    sides = [m["side"] for m in json.loads((FIXTURES / "evaluation_meta.json").read_text())["images"]]
    for entry, idx in zip(doc["images"][:2], (2, 5)):
        assert entry["error"] is None and (entry["width"], entry["height"]) == (256, 256)
        assert entry["K"] == K_all[idx]
        (hand,) = entry["hands"]
        assert hand["side"] == sides[idx]
        assert np.shape(hand["keypoints_2d"]) == (21, 2) and np.shape(hand["keypoints_3d"]) == (21, 3)
        assert set(hand["mano"]) == {"global_orient", "hand_pose", "betas"}
        assert len(hand["mano"]["hand_pose"]) == 45 and len(hand["cam_t"]) == 3
        # the 3D hand sits where the true one is: reprojects onto it and at a plausible depth
        gt = np.asarray(xyz[idx])
        reproj = np.linalg.norm(project(hand["keypoints_3d"], K_all[idx]) - project(gt, K_all[idx]), axis=1)
        assert reproj.mean() < 12, reproj.mean()
        assert abs(np.mean(hand["keypoints_3d"], 0)[2] - gt[:, 2].mean()) < 0.5 * gt[:, 2].mean()
    assert doc["timings_ms"]["total"] > 0


@pytest.mark.skipif(not weights_available(), reason="default weights not trained yet")
def test_predict_with_the_model_gives_ranked_seeded_hypotheses(tmp_path):
    image = FIXTURES / "evaluation/rgb/00000006.jpg"
    proc, doc = run_predict(tmp_path, image, "--hypotheses", "3", "--seed", "4")
    assert proc.returncode == 0, proc.stderr
    assert doc["estimator"] == "model"
    (hand,) = doc["images"][0]["hands"]
    hyps = hand["hypotheses"]
    assert len(hyps) == 3
    assert [h["score"] for h in hyps] == sorted((h["score"] for h in hyps), reverse=True)
    assert hand["mano"] == hyps[0]["mano"]
    assert all(len(h["tokens"]) == len(hyps[0]["tokens"]) for h in hyps)
    assert sorted(h["temperature"] for h in hyps) == [0.0, 1.0, 1.0]  # the greedy answer and two draws
    proc2, doc2 = run_predict(tmp_path, image, "--hypotheses", "3", "--seed", "4")
    assert [h["tokens"] for h in doc2["images"][0]["hands"][0]["hypotheses"]] == [h["tokens"] for h in hyps]
    proc3, doc3 = run_predict(tmp_path, image, "--hypotheses", "3", "--seed", "4", "--draws-only")
    assert proc3.returncode == 0, proc3.stderr
    assert [h["temperature"] for h in doc3["images"][0]["hands"][0]["hypotheses"]] == [1.0, 1.0, 1.0]


def test_predict_refuses_a_missing_input_with_one_sentence(tmp_path):
    proc, doc = run_predict(tmp_path, tmp_path / "nope.png", "--estimator", "fitted")
    assert proc.returncode != 0
    assert "nope.png" in proc.stderr and "Traceback" not in proc.stderr


def test_images_too_small_for_detection_get_an_error_naming_their_size(tmp_path):
    """Issue 16: a 1x1 image passed as "0 hands, no error"."""
    import cv2

    from maskhand.inference.images import MIN_DETECT_SIDE

    tiny, strip, ok = tmp_path / "tiny.png", tmp_path / "strip.png", tmp_path / "ok.png"
    cv2.imwrite(str(tiny), np.full((1, 1, 3), 128, np.uint8))
    cv2.imwrite(str(strip), np.full((MIN_DETECT_SIDE - 1, 400, 3), 128, np.uint8))
    cv2.imwrite(str(ok), np.full((MIN_DETECT_SIDE, MIN_DETECT_SIDE, 3), 128, np.uint8))
    proc, doc = run_predict(tmp_path, tiny, strip, ok, "--estimator", "mediapipe")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    errors = [e["error"] for e in doc["images"]]
    assert errors[0] == (f"the image is 1x1 pixels, too small to find a hand in; hand detection needs at least "
                         f"{MIN_DETECT_SIDE} pixels on the shorter side")
    assert f"the image is 400x{MIN_DETECT_SIDE - 1} pixels" in errors[1]
    assert errors[2] is None and doc["images"][2]["hands"] == []  # big enough, just no hand
    assert f"tiny.png: {errors[0]}" in proc.stderr


@pytest.mark.skipif(not weights_available(), reason="default weights not trained yet")
def test_detecting_one_photo_ahead_changes_no_result():
    """predict reads and detects the next photo while the model works on the current one
    (inference/lookahead.py); every hand must be the one a plain photo-by-photo loop gives."""
    from maskhand.inference.camera import default_intrinsics
    from maskhand.inference.images import load_image
    from maskhand.inference.pipeline import Pipeline
    from maskhand.inference.predict import predict

    images = [FIXTURES / f"evaluation/rgb/0000000{i}.jpg" for i in (1, 3, 4, 7)]
    doc = predict(images, hypotheses=2, seed=3)
    with Pipeline() as pipe:
        for path, entry in zip(images, doc["images"]):
            image = load_image(path)
            plain = pipe(image, default_intrinsics(image.shape[1], image.shape[0]), hypotheses=2, seed=3)
            assert entry["error"] is None and len(entry["hands"]) == len(plain) >= 1, path.name
            for got, want in zip(entry["hands"], plain):
                assert got["side"] == want.side and got["found_by"] == want.found_by
                assert [h["tokens"] for h in got["hypotheses"]] == [h.to_json()["tokens"] for h in want.hypotheses]
                np.testing.assert_allclose(got["keypoints_3d"], want.keypoints_3d, atol=1e-6)  # JSON keeps micrometres
