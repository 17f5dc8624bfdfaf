"""`maskhand train` runs for real: a few steps of each stage of the recipe write checkpoints that load,
carry their config, and plug into the estimator; the same command runs under torchrun with two processes (DDP)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from maskhand.inference.model import checkpoint

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow
SMALL = {"steps": 3, "batch": 16, "pose_pool": 600, "held_out": 64, "threads": 1}


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)


def test_train_all_runs_the_recipe_and_estimates_with_the_result(tmp_path):
    """`train all --config FOLDER --detections` runs the recipe's three stages: the tokenizer, the
    transformer on synthetic views, the fine-tune from it on real MediaPipe detections (of the fixture
    renders here); each checkpoint names the one it was built on, and the result plugs into the
    estimator."""
    dets = tmp_path / "dets.npz"
    proc = run([sys.executable, str(REPO / "tools" / "collect_detections.py"), str(REPO / "tests/fixtures/hands"),
                "--split", "evaluation", "--out", str(dets)])
    assert proc.returncode == 0, proc.stderr
    recipe = tmp_path / "recipe"
    recipe.mkdir()
    for stage in ("tokenizer", "transformer"):
        (recipe / f"{stage}.json").write_text(json.dumps(SMALL))
    w = tmp_path / "w"
    proc = run([sys.executable, "-m", "maskhand", "train", "all", "--config", recipe, "--out", w,
                "--detections", dets])
    assert proc.returncode == 1 and "finetune.json" in proc.stderr and not w.exists(), proc.stderr
    # the bundled recipe's fine-tune trains image tokens: detections without crops are refused up front
    (recipe / "finetune.json").write_text(json.dumps({**SMALL, "model": {"dropout": 0.0, "image_tokens": 49}}))
    proc = run([sys.executable, "-m", "maskhand", "train", "all", "--config", recipe, "--out", w,
                "--detections", dets])
    assert proc.returncode == 1 and "--image-context" in proc.stderr and not w.exists(), proc.stderr
    (recipe / "finetune.json").write_text(json.dumps({**SMALL, "steps": 2, "detections_held_out": 0.25}))
    proc = run([sys.executable, "-m", "maskhand", "train", "all", "--config", recipe, "--out", w,
                "--detections", dets])
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in w.iterdir()) == ["tokenizer.pt", "transformer.pt"]
    ck = checkpoint.load(w / "tokenizer.pt", "tokenizer")
    assert ck["train"]["steps"] == 3 and ck["config"]["tokens_per_part"] == 3
    assert "mpjpe_mm" in ck["metrics"] and "codebook" in ck["metrics"]
    ck = checkpoint.load(w / "transformer.pt", "transformer")
    assert ck["train"]["tokenizer"] == str(w / "tokenizer.pt") and ck["config"]["d_model"] == 128
    assert ck["train"]["steps"] == 2 and ck["train"]["detections"] == str(dets)
    synthetic = ck["train"]["init_train"]  # the synthetic stage, whose checkpoint was only a stepping stone
    assert synthetic["steps"] == 3 and synthetic["detections"] == "" and synthetic["tokenizer"] == str(w / "tokenizer.pt")
    assert {"detections_pa_mpjpe_mm_keypoints_only", "detections_pa_mpjpe_mm_keypoints_only_at_init"} <= set(
        ck["metrics"])

    import numpy as np
    from maskhand.inference.model.estimator import GenerativeEstimator, model_paths

    est = GenerativeEstimator(None, *model_paths(w))
    uv = np.random.default_rng(0).uniform(80, 180, (21, 2))
    hyps = est(uv, np.ones(21), np.array([[300.0, 0, 128], [0, 300, 128], [0, 0, 1]]), "left", None,
               hypotheses=2, refine=False)
    assert len(hyps) == 2 and all(np.isfinite(h.keypoints_3d).all() for h in hyps)


def test_a_typo_in_the_config_stops_before_training(tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text('{"step": 3}')
    proc = run([sys.executable, "-m", "maskhand", "train", "tokenizer", "--config", cfg, "--out", tmp_path / "t.pt"])
    assert proc.returncode != 0 and "step" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "t.pt").exists()


def test_torchrun_with_two_processes(tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    cfg = tmp_path / "small.json"
    cfg.write_text(json.dumps(SMALL))
    out = tmp_path / "ddp.pt"
    proc = run([torchrun, "--standalone", "--nproc_per_node=2", "-m", "maskhand", "train", "tokenizer",
                "--config", cfg, "--out", out])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert checkpoint.load(out, "tokenizer")["metrics"]["processes"] == 2
