"""Install Backend for real: the built extension creates its own environment with pip, then estimates.

This is what an animator does first: install the extension zip, allow online access, press Install
Backend, then Estimate. Here in a fresh BLENDER_USER_RESOURCES, with pip downloading from PyPI
(torch comes from the machine's local wheel, as pip.conf says), and nothing pointed at this venv's
Python: the backend must run from the environment the button made. Skipped when PyPI cannot be
reached (the offline refusal is tested in test_backend.py). About 1 to 3 minutes and 2.2 GiB of
packages, removed afterwards.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from extension_install import INSTALL_PROLOGUE, RESULT_EPILOGUE

REPO = Path(__file__).resolve().parents[1]
HANDS = REPO / "tests" / "fixtures" / "hands"
IMAGE = HANDS / "evaluation" / "rgb" / "00000003.jpg"
SIDE = json.loads((HANDS / "evaluation_meta.json").read_text())["images"][3]["side"]

pytestmark = [pytest.mark.slow, pytest.mark.minutes]

SCRIPT = INSTALL_PROLOGUE + r'''
import time
image = sys.argv[3]
prefs = sys.modules[mod + ".prefs"]
out.update(state_before=prefs.backend_state(bpy.context), env_dir=str(prefs.backend_env_dir()))
bpy.context.preferences.system.use_online_access = True  # Preferences > System > Network
t0 = time.perf_counter()
out["install_backend"] = sorted(bpy.ops.preferences.maskhand_install_backend())
out["install_s"] = round(time.perf_counter() - t0, 1)
t0 = time.perf_counter()
out["state_after"] = prefs.backend_state(bpy.context)
out["interpreter"] = prefs.backend_interpreter(bpy.context)
out["check"] = sorted(bpy.ops.preferences.maskhand_check_backend())
out["report"] = prefs.get(bpy.context).backend_report
client = prefs.backend(bpy.context)
res = client.call("estimate", {"image": image}, timeout=300)
out["check_and_estimate_s"] = round(time.perf_counter() - t0, 1)
out["sides"] = [h["side"] for h in res["hands"]]
out["hypotheses"] = [len(h["hypotheses"]) for h in res["hands"]]
out["heavy_modules"] = sorted(m for m in ("torch", "mediapipe", "cv2", "smplx") if m in sys.modules)
proc = client._proc
addon_utils.disable(mod, default_set=True)
out["exit_code_after_disable"] = proc.poll()
''' + RESULT_EPILOGUE


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


def test_install_backend_makes_an_environment_that_estimates(tmp_path, extension_zip):
    if not _pypi_reachable():
        pytest.skip("PyPI cannot be reached: Install Backend needs it")
    repo_dir = tmp_path / "repo"
    repo_dir.mkdir()
    user = tmp_path / "user"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(user))
    try:
        run = subprocess.run([sys.executable, "-c", SCRIPT, str(extension_zip), str(repo_dir), str(IMAGE)],
                             capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env)
        line = next((ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")), None)
        assert line, run.stdout[-4000:] + run.stderr[-3000:]
        out = json.loads(line[len("RESULT "):])
        env_dir = Path(out["env_dir"])
        size = sum(f.stat().st_size for f in env_dir.rglob("*") if f.is_file() and not f.is_symlink())
        print(f"Install Backend {out['install_s']} s, Test Backend + first Estimate {out['check_and_estimate_s']} s, "
              f"environment {size / 2**30:.1f} GiB")  # the figures in docs/BENCHMARKS.md (pytest -s)
        assert env_dir.is_relative_to(user)  # the extension's user folder, not this venv
        assert out["state_before"] == "not installed"
        assert out["install"] == ["FINISHED"]  # the extension itself
        assert out["install_backend"] == ["FINISHED"] and out["state_after"] == "installed"
        assert Path(out["interpreter"]).is_relative_to(env_dir)
        assert out["check"] == ["FINISHED"] and "using CPU" in out["report"] and "MediaPipe 0.10.21" in out["report"]
        assert out["sides"] == [SIDE] and out["hypotheses"][0] >= 1
        assert out["heavy_modules"] == []  # Blender's process never imported the backend's libraries
        assert out["exit_code_after_disable"] == 0
    finally:
        shutil.rmtree(user, ignore_errors=True)  # 2.2 GiB of packages

