"""The inference backend as Blender uses it: a real server process driven by the real client.

Each client starts `inference/server.py` with this venv's Python (which has torch and MediaPipe), on
the committed rendered fixtures (tests/fixtures, tools/make_test_fixtures.py). One test runs the
client inside real bpy through the add-on's preferences, in a fresh subprocess.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from extension_install import INSTALL_PROLOGUE, RESULT_EPILOGUE

from maskhand.blender import backend_install
from maskhand.blender.backend_client import BackendClient
from maskhand.blender.backend_install import StreamedProcess
from maskhand.errors import BackendError, MaskHandError, ProtocolError
from maskhand.evaluation.metrics import project
from maskhand.inference import protocol
from maskhand.inference.device import pick_device

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
HANDS = FIXTURES / "hands" / "evaluation"
CLIP = FIXTURES / "hand_clip.mp4"


def _image(i: int) -> Path:
    return HANDS / "rgb" / f"{i:08d}.jpg"


def _fixture_labels(i: int):
    root = FIXTURES / "hands"
    side = json.loads((root / "evaluation_meta.json").read_text())["images"][i]["side"]
    xyz = np.array(json.loads((root / "evaluation_xyz.json").read_text())[i])
    K = np.array(json.loads((root / "evaluation_K.json").read_text())[i])
    return side, project(xyz, K)


def _wait_for(handle, predicate, seconds=60.0):
    end = time.monotonic() + seconds
    while not predicate() and not handle.done and time.monotonic() < end:
        handle.poll()
        time.sleep(0.02)


@pytest.fixture(scope="module")
def client():
    c = BackendClient(sys.executable, device="cpu")
    yield c
    c.shutdown()


# -- pure pieces -------------------------------------------------------------------------------------------
def test_protocol_round_trip_and_refusals():
    msg = protocol.message("estimate", "7", {"image": "a.jpg", "K": np.eye(3)})
    line = protocol.encode(msg)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    expected = {"id": "7", "type": "estimate", "payload": {"image": "a.jpg", "K": np.eye(3).tolist()}}
    assert protocol.decode(line) == expected
    with pytest.raises(ProtocolError, match="NaN|JSON"):
        protocol.encode(protocol.message("result", "1", {"x": float("nan")}))
    for bad, why in ((b"not json\n", "not JSON"), (b"[1, 2]\n", "JSON object"),
                     (b'{"id": "1", "type": "explode"}\n', "unknown message type"),
                     (b'{"id": "1", "type": "hello", "payload": 3}\n', "payload")):
        with pytest.raises(ProtocolError, match=why):
            protocol.decode(bad)


@pytest.mark.parametrize("choice, found, expected", [
    ("auto", {"torch": "t", "cuda": ["H100"], "mps": False}, "cuda"),
    ("auto", {"torch": "t", "cuda": [], "mps": True}, "mps"),
    ("auto", {"torch": "t", "cuda": [], "mps": False}, "cpu"),
    ("CPU", {"torch": "t", "cuda": ["H100"], "mps": True}, "cpu"),
    ("mps", {"torch": "t", "cuda": [], "mps": True}, "mps"),
])
def test_pick_device(choice, found, expected):
    assert pick_device(choice, found) == expected


@pytest.mark.parametrize("choice, why", [("cuda", "sees no CUDA"), ("mps", "cannot use Apple"),
                                         ("tpu", "unknown device")])
def test_pick_device_refuses_what_is_missing(choice, why):
    with pytest.raises(MaskHandError, match=why):
        pick_device(choice, {"torch": "t", "cuda": [], "mps": False})


def test_install_helpers_find_a_python_311_and_stream_a_failing_pip(tmp_path):
    base = backend_install.find_base_python()
    assert backend_install.python_version(base) == (3, 11)
    steps = backend_install.install_steps(tmp_path / "env", base)
    assert [argv[1:3] for _, argv in steps] == [["-m", "venv"], ["-m", "pip"]]
    assert steps[1][1][0] == str(backend_install.env_python(tmp_path / "env"))
    assert steps[1][1][-1] == str(backend_install.REQUIREMENTS) and backend_install.REQUIREMENTS.is_file()
    # pip's failure must arrive as lines and a non-zero code (what the Install operator shows).
    proc = StreamedProcess([sys.executable, "-m", "pip", "install", "--no-index", "-r", str(tmp_path / "missing.txt")])
    while proc.returncode is None:
        time.sleep(0.05)
    time.sleep(0.2)
    lines = proc.new_lines()
    assert proc.returncode != 0 and any("missing.txt" in line for line in lines), lines


# -- a real server -----------------------------------------------------------------------------------------
def test_hello_reports_versions_device_and_estimators(client):
    hello = client.call("hello", timeout=120)
    assert hello["protocol"] == protocol.PROTOCOL_VERSION and hello["pid"] == client.pid
    assert hello["device"] == "cpu" and hello["devices"]["torch"] == hello["versions"]["torch"]
    assert hello["versions"]["mediapipe"] and hello["python"].startswith("3.11")
    assert "fitted" in hello["estimators"]["names"] and hello["estimators"]["auto"] in hello["estimators"]["names"]
    assert client.ready["pid"] == client.pid


def test_first_load_reports_progress(client):
    seen = []
    result = client.request("load", {"estimator": "fitted", "max_hands": 1}, on_progress=seen.append,
                            timeout=120).wait()
    steps = [p["step"] for p in seen]
    assert steps[-1] == "ready" and "pipeline" in steps, steps
    fractions = [p["fraction"] for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert result["estimator"] == "fitted" and result["device"] == "cpu"
    again = client.request("load", {"estimator": "fitted", "max_hands": 1})
    again.wait(60)
    assert again.progress == []  # warm: the second load builds nothing


@pytest.mark.parametrize("index", [0, 3])
def test_estimate_finds_the_rendered_hand_and_its_side(client, index):
    side, uv_true = _fixture_labels(index)
    res = client.call("estimate", {"image": str(_image(index)), "K": None, "hypotheses": 1, "seed": 0,
                                   "temperature": 1.0, "locked": None, "max_hands": 2, "estimator": "auto"},
                      timeout=120)
    assert (res["width"], res["height"]) == (256, 256)
    np.testing.assert_allclose(res["K"], [[256, 0, 128], [0, 256, 128], [0, 0, 1]])
    assert len(res["hands"]) == 1, [h["side"] for h in res["hands"]]
    hand = res["hands"][0]
    assert hand["side"] == side
    assert len(hand["mano"]["hand_pose"]) == 45 and len(hand["hypotheses"]) == 1
    # MediaPipe is rough on some renders (a few joints off by 40 px) but a mirrored, scaled or
    # transposed result would be off everywhere: the median joint stays within 8% of the image.
    error_px = np.median(np.linalg.norm(np.array(hand["keypoints_2d"]) - uv_true, axis=1))
    assert error_px < 0.08 * 256, error_px


def test_missing_and_corrupt_images_fail_naming_the_file_and_the_server_lives_on(client, tmp_path):
    pid = client.call("hello")["pid"]
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(_image(2).read_bytes()[:400])
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    for path in (tmp_path / "missing.jpg", truncated, garbage):
        with pytest.raises(BackendError) as info:
            client.call("estimate", {"image": str(path)}, timeout=60)
        assert info.value.name == "InputFileError" and str(path) in str(info.value), str(info.value)
    for payload, why in (({"image": str(_image(2)), "colour": 1}, "unknown option 'colour'"),
                         ({"image": str(_image(2)), "K": [[0, 0, 1], [0, 1, 1], [0, 0, 1]]}, "camera matrix"),
                         ({"image": str(_image(2)), "estimator": "magic"}, "estimator")):
        with pytest.raises(BackendError, match=why):
            client.call("estimate", payload, timeout=60)
    res = client.call("estimate", {"image": str(_image(2))}, timeout=60)
    assert [h["side"] for h in res["hands"]] == ["right"]
    assert client.pid == pid and client.starts == 1


def test_track_streams_frames_and_cancel_keeps_the_finished_ones(client):
    frames = []
    done = client.request("track", {"source": str(CLIP), "frame_range": [0, 1]}, on_progress=frames.append,
                          timeout=120).wait()
    per_frame = [p for p in frames if p["stage"] == "frame"]
    assert done["frames"] == 2 and [p["frame"] for p in per_frame] == [0, 1]
    assert all(len(p["hands"]) == 1 and p["hands"][0]["side"] == "right" for p in per_frame), per_frame

    handle = client.request("track", {"source": str(CLIP)}, timeout=120)
    _wait_for(handle, lambda: any(p["stage"] == "frame" for p in handle.progress))
    handle.cancel()
    with pytest.raises(BackendError, match="cancelled after") as info:
        handle.wait(60)
    assert info.value.cancelled and handle.cancelled
    kept = [p for p in handle.progress if p["stage"] == "frame"]
    assert 1 <= len(kept) < kept[0]["total"] == 12
    assert [p["frame"] for p in kept] == list(range(len(kept))) and all(p["hands"] for p in kept)
    assert client.call("hello")["pid"] == client.pid  # the server is fine after a cancel


def test_track_of_one_frame_keeps_locked_parts(client):
    """Resample on a movie frame is a one-frame track: the model's token locks must reach it."""
    from maskhand.inference.model.estimator import weights_available

    if not weights_available():
        pytest.skip("the generative model's weights are not installed")
    frames = []
    req = {"source": str(CLIP), "frame_range": [3, 3], "hypotheses": 3, "seed": 1, "estimator": "model"}
    client.request("track", req, on_progress=frames.append, timeout=120).wait()
    (first,) = [p["hands"][0] for p in frames if p["stage"] == "frame"]
    tokens = first["hypotheses"][0]["tokens"]
    locked = {"right": {"tokens": tokens, "parts": ["index", "thumb"]}}
    frames.clear()
    client.request("track", dict(req, seed=2, temperature=2.0, locked=locked), on_progress=frames.append,
                   timeout=120).wait()
    (again,) = [p["hands"][0] for p in frames if p["stage"] == "frame"]
    for hyp in again["hypotheses"]:  # 3 tokens per part; index is part 1, thumb part 5
        assert hyp["tokens"][3:6] == tokens[3:6] and hyp["tokens"][15:18] == tokens[15:18]
    assert any(h["tokens"] != tokens for h in again["hypotheses"])


def test_track_keeps_one_hand_per_side_and_ends_with_the_take_summary(client):
    """The track request runs inference.tracking.track (issue 12): per frame only the kept hands."""
    frames = []
    done = client.request("track", {"source": str(CLIP), "frame_range": [4, 6], "estimator": "fitted"},
                          on_progress=frames.append, timeout=120).wait()
    per_frame = [p for p in frames if p["stage"] == "frame"]
    assert [(p["frame"], p["done"], p["total"]) for p in per_frame] == [(4, 1, 3), (5, 2, 3), (6, 3, 3)]
    for p in per_frame:
        sides = [h["side"] for h in p["hands"]]
        assert len(sides) == len(set(sides)) and all(h["mano"] and h["cam_t"] for h in p["hands"]), sides
    assert set(done) == {"frames", "total", "fps", "width", "height", "K", "estimator"}
    assert (done["frames"], done["total"], done["estimator"]) == (3, 3, "fitted")
    assert done["fps"] == pytest.approx(12.0) and (done["width"], done["height"]) == (192, 192)
    np.testing.assert_allclose(done["K"], [[192, 0, 96], [0, 192, 96], [0, 0, 1]])


def test_estimate_reads_one_frame_of_a_movie(client):
    """Estimate on a movie frame reads that frame itself (issue 12: no more one-frame track)."""
    res = client.call("estimate", {"source": str(CLIP), "frame": 5, "estimator": "fitted"}, timeout=120)
    assert res["image"] == str(CLIP) and res["frame"] == 5 and (res["width"], res["height"]) == (192, 192)
    assert [h["side"] for h in res["hands"]] == ["right"] and len(res["hands"][0]["mano"]["hand_pose"]) == 45
    frames = []
    client.request("track", {"source": str(CLIP), "frame_range": [5, 5], "estimator": "fitted"},
                   on_progress=frames.append, timeout=120).wait()
    (tracked,) = [p["hands"][0] for p in frames if p["stage"] == "frame"]
    # the same pixels: MediaPipe's image and video modes find the same keypoints within a few pixels
    gap = np.linalg.norm(np.array(res["hands"][0]["keypoints_2d"]) - tracked["keypoints_2d"], axis=1)
    assert np.median(gap) < 0.02 * 192, gap
    assert client.call("estimate", {"image": str(_image(2))}, timeout=60)["frame"] is None
    with pytest.raises(BackendError, match=r"no frames in range 40..40 \(it has 12\)") as info:
        client.call("estimate", {"source": str(CLIP), "frame": 40}, timeout=60)
    assert info.value.name == "InputFileError"
    with pytest.raises(BackendError, match="'frame' goes with 'source'") as info:
        client.call("estimate", {"image": str(_image(2)), "frame": 1}, timeout=60)
    assert info.value.name == "RequestError"


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL/SIGSTOP are POSIX signals")
def test_killed_or_hung_backend_is_reported_and_replaced(tmp_path):
    missing = {"image": str(tmp_path / "missing.jpg")}  # a request any fresh backend answers in a blink
    c = BackendClient(sys.executable, device="cpu")
    try:
        handle = c.request("load", {"estimator": "fitted"}, timeout=120)
        _wait_for(handle, lambda: handle.progress)
        assert not handle.done
        first = c.pid
        os.kill(first, signal.SIGKILL)  # a crash in the middle of the request
        with pytest.raises(BackendError) as info:
            handle.wait(30)
        message = str(info.value)
        assert info.value.name == "BackendDied" and f"exit code {-signal.SIGKILL}" in message, message
        assert f"maskhand backend 0.1.0 started: pid {first}" in message, message  # the stderr tail
        assert not c.alive

        with pytest.raises(BackendError, match="missing.jpg: no such file"):
            c.call("estimate", missing, timeout=60)
        second = c.pid
        assert second != first and c.starts == 2
        os.kill(second, signal.SIGSTOP)  # a hang: alive, silent
        with pytest.raises(BackendError, match="did not answer") as info:
            c.request("estimate", missing, timeout=1.0).wait(30)
        assert info.value.name == "BackendTimeout" and not c.alive
        with pytest.raises(BackendError, match="missing.jpg: no such file"):
            c.call("estimate", missing, timeout=60)
        assert c.pid not in (first, second) and c.starts == 3
    finally:
        c.shutdown()


def test_shutdown_and_closed_stdin_leave_no_process():
    c = BackendClient(sys.executable, device="cpu")
    c.start()
    end = time.monotonic() + 60
    while c.ready is None and time.monotonic() < end:
        time.sleep(0.02)
    proc = c._proc
    assert c.ready["pid"] == proc.pid and c.alive
    c.shutdown()
    assert proc.returncode == 0 and not c.alive  # it exited by itself, not killed
    with pytest.raises(ProcessLookupError):
        os.kill(proc.pid, 0)
    # A parent that vanishes closes the pipe: the server finishes what it was sent and exits on EOF.
    raw = subprocess.run(c.command(), input=b'{"id": "1", "type": "load", "payload": {"max_hands": 0}}\n',
                         capture_output=True, timeout=120)
    replies = [protocol.decode(line) for line in raw.stdout.splitlines()]
    assert raw.returncode == 0, raw.stderr[-2000:]
    assert [(r["type"], r["id"]) for r in replies] == [("ready", None), ("error", "1")], replies
    assert "max_hands" in replies[1]["payload"]["message"]


def test_missing_interpreter_is_a_clear_error(tmp_path):
    c = BackendClient(tmp_path / "no" / "python")
    with pytest.raises(BackendError, match="does not exist") as info:
        c.request("hello")
    assert info.value.name == "BackendStartError" and not c.alive


def test_an_interpreter_without_the_packages_is_a_clear_error(tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True, timeout=120)
    c = BackendClient(backend_install.env_python(tmp_path / "bare"))
    try:
        with pytest.raises(MaskHandError, match="cannot import torch .*Install Backend"):
            c.call("hello", timeout=60)
        assert c.alive  # a clear error, not a crash: the process still answers
    finally:
        c.shutdown()


# Inside real bpy: the add-on registered, its preferences pointing at this venv's Python.
BPY_SCRIPT = r'''
import json, os, sys, traceback
sys.excepthook = lambda *exc: (traceback.print_exception(*exc), sys.stderr.flush(), os._exit(1))  # no hang at exit
import bpy
import maskhand

image = sys.argv[1]
bpy.context.preferences.addons.new().module = "maskhand"  # what enabling the add-on does first
maskhand.register()
from maskhand import prefs
from maskhand.blender import backend_client, backend_install

out = {}
p = prefs.get(bpy.context)
p.backend_python, p.device = sys.executable, 'CPU'
out["state_before"] = prefs.backend_state(bpy.context)
# Offline (the default here): Install Backend must refuse before it touches pip or the disk.
out["online_access"] = bpy.app.online_access
try:
    bpy.ops.preferences.maskhand_install_backend()
    out["install_offline"] = "it ran"
except RuntimeError as err:  # an ERROR report reaches a script as RuntimeError
    out["install_offline"] = str(err)
out["env_made"] = prefs.backend_env_dir().exists()
out["check"] = sorted(bpy.ops.preferences.maskhand_check_backend())
out["report"] = p.backend_report
client = prefs.backend(bpy.context)
out["state_running"] = prefs.backend_state(bpy.context)
res = client.call("estimate", {"image": image}, timeout=120)
out["sides"] = [h["side"] for h in res["hands"]]
proc = client._proc
maskhand.unregister()
out["exit_code_after_unregister"] = proc.poll()
out["heavy_modules"] = sorted(m for m in ("torch", "mediapipe", "cv2", "smplx") if m in sys.modules)
print("RESULT " + json.dumps(out))
sys.stdout.flush()
os._exit(0)  # bpy can hang while the interpreter shuts down
'''


def test_inside_blender_the_preferences_start_the_backend_and_unregister_stops_it(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(BPY_SCRIPT)
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    run = subprocess.run([sys.executable, str(script), str(_image(3))], capture_output=True, text=True,
                         timeout=180, cwd=tmp_path, env=env)
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, run.stdout[-3000:] + run.stderr[-3000:]
    out = json.loads(line[len("RESULT "):])
    assert out["state_before"] == "installed" and out["state_running"] == "running"
    assert out["online_access"] is False and "allow online access" in out["install_offline"] and not out["env_made"]
    assert out["check"] == ["FINISHED"] and "using CPU" in out["report"], out["report"]
    assert out["sides"] == [_fixture_labels(3)[0]]
    assert out["exit_code_after_unregister"] == 0
    assert out["heavy_modules"] == []  # Blender's process never imported the backend's libraries


QUIT_SCRIPT = r'''
import sys
import bpy
import maskhand
from maskhand.blender import backend_client, backend_install

client = backend_client.shared_client(sys.executable, "cpu")
client.call("hello", timeout=120)
print("CHILD", client.pid, flush=True)
# No shutdown: quitting must stop the backend (atexit), as when Blender quits with it running.
'''


def test_quitting_blender_with_the_backend_running_stops_it(tmp_path):
    script = tmp_path / "quit.py"
    script.write_text(QUIT_SCRIPT)
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env=env)
    pids = [int(ln.split()[1]) for ln in run.stdout.splitlines() if ln.startswith("CHILD ")]
    assert run.returncode == 0 and len(pids) == 1, run.stdout[-2000:] + run.stderr[-2000:]
    with pytest.raises(ProcessLookupError):  # reaped by its parent on the way out: no orphan, no zombie
        os.kill(pids[0], 0)


# The add-on as users get it: built into a zip, installed as bl_ext.<repo>.maskhand, enabled.
EXTENSION_SCRIPT = INSTALL_PROLOGUE + r'''
image = sys.argv[3]
prefs = sys.modules[mod + ".prefs"]
p = prefs.get(bpy.context)
p.backend_python, p.device = sys.executable, 'CPU'
client = prefs.backend(bpy.context)
res = client.call("estimate", {"image": image}, timeout=120)
out.update({"package_root": str(client.package_root), "env_dir": str(prefs.backend_env_dir()),
            "sides": [h["side"] for h in res["hands"]], "backend_version": client.call("hello")["maskhand"]})
proc = client._proc
addon_utils.disable(mod, default_set=True)
out["exit_code_after_disable"] = proc.poll()
''' + RESULT_EPILOGUE


def test_the_installed_extension_runs_the_backend_from_its_own_folder(tmp_path, extension_zip):
    repo_dir = tmp_path / "repo"
    repo_dir.mkdir()
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    run = subprocess.run([sys.executable, "-c", EXTENSION_SCRIPT, str(extension_zip), str(repo_dir),
                          str(_image(0))], capture_output=True, text=True, timeout=180,
                         cwd=tmp_path, env=env)
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, run.stdout[-3000:] + run.stderr[-3000:]
    out = json.loads(line[len("RESULT "):])
    repo_module = out["module"].split(".")[1]
    assert out["package_root"] == str(repo_dir / "maskhand")  # the installed copy, not this checkout
    assert out["env_dir"] == str(tmp_path / "user" / "extensions" / ".user" / repo_module / "maskhand" / "backend")
    assert out["sides"] == [_fixture_labels(0)[0]] and out["backend_version"] == "0.1.0"
    assert out["exit_code_after_disable"] == 0
