"""`maskhand train` runs for real: a few steps of each stage write checkpoints that load, carry their
config, and plug into the estimator; the same command runs under torchrun with two processes (DDP)."""
import json
import shutil
import subprocess
import sys

import pytest

from maskhand.inference.model import checkpoint

pytestmark = pytest.mark.slow
SMALL = {"steps": 3, "batch": 16, "pose_pool": 600, "held_out": 64, "threads": 1}


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)


def test_train_both_stages_and_estimate_with_the_result(tmp_path):
    cfg = tmp_path / "small.json"
    cfg.write_text(json.dumps(SMALL))
    tok = tmp_path / "w" / "tokenizer.pt"
    proc = run([sys.executable, "-m", "maskhand", "train", "tokenizer", "--config", cfg, "--out", tok])
    assert proc.returncode == 0, proc.stderr
    ck = checkpoint.load(tok, "tokenizer")
    assert ck["train"]["steps"] == 3 and ck["config"]["tokens_per_part"] == 3
    assert "mpjpe_mm" in ck["metrics"] and "codebook" in ck["metrics"]

    cfg.write_text(json.dumps({**SMALL, "tokenizer": str(tok)}))
    tr = tmp_path / "w" / "transformer.pt"
    proc = run([sys.executable, "-m", "maskhand", "train", "transformer", "--config", cfg, "--out", tr])
    assert proc.returncode == 0, proc.stderr
    ck = checkpoint.load(tr, "transformer")
    assert ck["train"]["tokenizer"] == str(tok) and ck["config"]["d_model"] == 128

    import numpy as np
    from maskhand.inference.model.estimator import GenerativeEstimator, model_paths

    est = GenerativeEstimator(None, *model_paths(tmp_path / "w"))
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
    torchrun = shutil.which("torchrun", path=str(__import__("pathlib").Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    cfg = tmp_path / "small.json"
    cfg.write_text(json.dumps(SMALL))
    out = tmp_path / "ddp.pt"
    proc = run([torchrun, "--standalone", "--nproc_per_node=2", "-m", "maskhand", "train", "tokenizer",
                "--config", cfg, "--out", out])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert checkpoint.load(out, "tokenizer")["metrics"]["processes"] == 2
