"""The photo/video workflow in real bpy with the real backend process (issue 5, Blender UI part).

Estimate -> hypotheses listed, rigs posed; select -> live pose, no key; Keyframe -> one key per bone;
Resample with locks; Track Range on the rendered clip; cancel; a killed backend; bad input. The
modal operators' work is tested through the start/poll/finish functions they call, and the
operators themselves through their blocking execute (bpy as a module has no event loop).
"""
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")
from maskhand.blender import backend_client  # noqa: E402
from maskhand.blender.apply_result import read_pose  # noqa: E402
from maskhand.handmodel.parts import PART_JOINTS  # noqa: E402
from maskhand.blender.build_rig import add_hand_rig  # noqa: E402
from maskhand.blender.keyframes import object_fcurves  # noqa: E402
from maskhand.blender.source_image import png_bytes  # noqa: E402
from maskhand.handmodel.open_hand import load_open_hand  # noqa: E402
from maskhand.rigmath.rig_layout import joint_bone_names  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RGB = REPO / "tests" / "fixtures" / "hands" / "evaluation" / "rgb"
# The backend's Python (torch, MediaPipe): this one, unless the Blender-side tests run on another
# bpy (tests/test_blender_versions.py), whose Python has no backend packages.
BACKEND_PYTHON = os.environ.get("MASKHAND_BACKEND_PYTHON", sys.executable)
CLIP = REPO / "tests" / "fixtures" / "hand_clip.mp4"

pytestmark = pytest.mark.slow  # one backend process for the module: ~60 s in all on 2 CPU cores


@pytest.fixture(scope="module")
def addon():
    """The add-on registered in this process, its operators on a backend run by this venv's Python."""
    import maskhand
    from maskhand import api
    from maskhand.blender import workflow

    maskhand.register()
    client = api.use_interpreter(BACKEND_PYTHON)
    yield client
    workflow.use_client(None)
    maskhand.unregister()
    backend_client.shutdown_all()


@pytest.fixture(scope="module")
def three_hands(tmp_path_factory):
    """One picture of three rendered hands side by side: left (fist), right (peace), right (spread)
    (MediaPipe finds all three in this order; it misses one in some other arrangements)."""
    row = np.concatenate([load_rgb(RGB / f"{i:08d}.jpg") for i in (1, 6, 4)], axis=1)
    path = tmp_path_factory.mktemp("pictures") / "three_hands.png"
    path.write_bytes(png_bytes(row))
    return path


@pytest.fixture
def rigs(fresh_scene, addon):
    """A right and a left rig in the factory scene."""
    right, _ = add_hand_rig(fresh_scene.collection, load_open_hand("right"))
    left, _ = add_hand_rig(fresh_scene.collection, load_open_hand("left"), location=(0.3, 0, 0))
    bpy.context.view_layer.objects.active = right
    return right, left


def settings():
    return bpy.context.scene.maskhand.estimate


def load_rgb(path) -> np.ndarray:
    """(H, W, 3) uint8 pixels of an image file (Pillow: Blender's side has no OpenCV)."""
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


def rest():
    return np.tile([1.0, 0.0, 0.0, 0.0], (16, 1))


def same_rotations(a, b, atol=1e-6):
    """Per bone: do quaternions a and b (J, 4) give the same rotation (q and -q alike)?"""
    return np.abs(np.abs(np.sum(a * b, axis=-1)) - 1.0) < atol


def keys_per_bone(arm):
    """{bone: [frames of its rotation keys]} over the rig's assigned action."""
    return {path.split('"')[1]: sorted(k.co[0] for k in fc.keyframe_points)
            for (path, index), fc in object_fcurves(arm).items() if path.endswith("rotation_quaternion") and index == 0}


def snapshot():
    """What a failed operator must leave as it was."""
    scene = bpy.context.scene
    poses = {o.name: read_pose(o).round(9).tolist() for o in scene.objects if o.get("maskhand_side")}
    s = settings()
    return (sorted(o.name for o in bpy.data.objects), sorted(a.name for a in bpy.data.actions), poses,
            [h.payload for h in s.hypotheses], s.active_index, s.seed, sorted(i.name for i in bpy.data.images))


class ModalRun:
    """Drives an operator's own modal() the way Blender's event loop would: TIMER events, and an
    Esc press when asked. bpy as a module has no event loop, so this plain object stands in for
    the running operator (its _job, _timer, _esc and report) and for the events; everything else is real."""

    def __init__(self, operator_class, job):
        self.cls, self._job, self._timer, self.bl_idname = operator_class, job, None, operator_class.bl_idname
        self._esc = False  # as the operator's class attribute (operators/modal_job.py) starts it
        self.reports = []

    def report(self, level, message):
        self.reports.append((sorted(level)[0], message))

    def _end(self, context):
        return self.cls._end(self, context)

    def step(self, key="TIMER", value="NOTHING"):
        event = type("Event", (), {"type": key, "value": value})()
        return self.cls.modal(self, bpy.context, event)


def test_estimate_lists_hands_and_poses_matching_rigs(rigs, three_hands):
    right, left = rigs
    s = settings()
    s.image_path = str(three_hands)
    s.hypotheses_count, s.max_hands = 3, 3
    assert bpy.ops.view3d.maskhand_estimate() == {'FINISHED'}

    sides = sorted({(h.side, h.hand_index) for h in s.hypotheses})
    assert sides == [("left", 0), ("right", 1), ("right", 2)], sides
    assert all(h.rank >= 1 and np.isfinite(h.score) for h in s.hypotheses)
    assert not same_rotations(read_pose(right), rest()).all() and not same_rotations(read_pose(left), rest()).all()
    assert right.animation_data is None and left.animation_data is None, "estimating must not key"

    # Selecting the other right hand's best hypothesis poses the right rig live; still no keys.
    before_right, before_left = read_pose(right), read_pose(left)
    other = next(i for i, h in enumerate(s.hypotheses) if h.side == "right" and h.hand_index == 2 and h.rank == 1)
    s.active_index = other
    assert not same_rotations(read_pose(right), before_right, atol=1e-4).all(), "the rig did not follow the selection"
    assert same_rotations(read_pose(left), before_left).all(), "the left rig must not move"
    assert right.animation_data is None or right.animation_data.action is None

    # Keyframe: exactly one key per hand bone of each posed rig, at the current frame.
    bpy.context.scene.frame_set(7)
    pose_now = read_pose(right)
    assert bpy.ops.anim.maskhand_keyframe_hypothesis() == {'FINISHED'}
    for rig in (right, left):
        keys = keys_per_bone(rig)
        assert sorted(keys) == sorted(joint_bone_names(rig["maskhand_side"])), sorted(keys)
        assert all(frames == [7.0] for frames in keys.values()), keys
    assert same_rotations(read_pose(right), pose_now).all(), "Keyframe keyed another pose than the one shown"


def test_a_hand_found_on_a_second_look_says_so(rigs, tmp_path):
    """A render cut tight around its hand (MediaPipe alone finds nothing there; the backend's retry
    views do, tests/test_hand_search.py): the Estimate button poses the rig and its report says how."""
    xyz = np.array(json.loads((RGB.parents[1] / "evaluation_xyz.json").read_text())[2])
    K = np.array(json.loads((RGB.parents[1] / "evaluation_K.json").read_text())[2])
    uv = (xyz @ K.T)[:, :2] / (xyz @ K.T)[:, 2:]
    centre, half = (uv.min(0) + uv.max(0)) / 2, (uv.max(0) - uv.min(0)).max() * 1.1 / 2
    x0, y0 = np.maximum(0, np.floor(centre - half)).astype(int)
    x1, y1 = np.ceil(centre + half).astype(int)
    path = tmp_path / "tight.png"
    path.write_bytes(png_bytes(np.ascontiguousarray(load_rgb(RGB / "00000002.jpg")[y0:y1, x0:x1])))
    right, _ = rigs
    s = settings()
    s.image_path, s.hypotheses_count = str(path), 1
    assert bpy.ops.view3d.maskhand_estimate() == {'FINISHED'}
    assert [h.side for h in s.hypotheses] == ["right"]
    assert "on a second look: zoom out" in s.status, s.status
    assert not same_rotations(read_pose(right), rest()).all()


def test_resample_keeps_locked_fingers(rigs):
    right, _ = rigs
    s = settings()
    s.image_path = str(RGB / "00000004.jpg")  # a right hand, spread
    s.hypotheses_count, s.seed = 4, 0
    from maskhand.blender.workflow import start_estimate
    from maskhand.operators.estimate import MASKHAND_OT_estimate

    run = ModalRun(MASKHAND_OT_estimate, start_estimate(bpy.context))  # the button's modal path
    result = {'RUNNING_MODAL'}
    while result == {'RUNNING_MODAL'}:
        result = run.step()
        time.sleep(0.02)
    assert result == {'FINISHED'} and "Found 1 hand" in run.reports[0][1], run.reports
    before = read_pose(right)
    estimator_gives_many = len(s.hypotheses) > 1
    if estimator_gives_many:  # Estimate's hypotheses include the model's greedy answer (temperature 0)
        assert [h.hypothesis()["temperature"] for h in s.hypotheses].count(0.0) == 1
    s.lock_index = s.lock_thumb = True
    assert bpy.ops.view3d.maskhand_resample() == {'FINISHED'}
    assert s.seed == 1
    after = read_pose(right)
    locked = [j for p in ("index", "thumb") for j in PART_JOINTS[p]]
    assert same_rotations(after[locked], before[locked], atol=1e-6).all(), "a locked finger moved"
    free = [j for j in range(1, 16) if j not in locked]
    for h in s.hypotheses:  # every new hypothesis carries the locked joints of the base
        assert h.hypothesis()["locked_parts"] == ["index", "thumb"]
        if estimator_gives_many:  # and is drawn: the greedy answer would be the same pose every time
            assert h.hypothesis()["temperature"] == 1.0
    if estimator_gives_many:  # the generative model: a new seed draws other poses for the free fingers
        assert not same_rotations(after[free], before[free], atol=1e-4).all(), "resampling changed nothing"
    else:  # the fitted baseline has one answer; the free fingers come back as they were
        assert same_rotations(after[free], before[free], atol=1e-4).all()


def test_track_range_keys_the_clip(rigs):
    right, _ = rigs
    s = settings()
    s.image_path, s.source_start = str(CLIP), 0  # scene frame 0 shows the clip's frame 0
    s.frame_start, s.frame_end, s.smoothing = 4, 11, 0.5
    assert bpy.ops.anim.maskhand_track_range() == {'FINISHED'}
    keys = keys_per_bone(right)
    assert sorted(keys) == sorted(joint_bone_names("right"))
    frames = keys["wrist.R"]
    assert frames == [float(f) for f in range(4, 12)], frames
    assert all(k == frames for k in keys.values())
    assert right.animation_data.action.name.startswith("MaskHand hand_clip.mp4 right")


def test_esc_during_track_keeps_only_completed_frames(rigs):
    from maskhand.blender.workflow import start_track
    from maskhand.operators.track import MASKHAND_OT_track_range

    right, _ = rigs
    s = settings()
    s.image_path, s.source_start, s.frame_start, s.frame_end = str(CLIP), 1, 1, 12
    s.keep_completed = True
    run = ModalRun(MASKHAND_OT_track_range, start_track(bpy.context))
    result = {'RUNNING_MODAL'}
    while len(run._job.frames) < 5 and result == {'RUNNING_MODAL'}:
        result = run.step()
        time.sleep(0.02)
    assert result == {'RUNNING_MODAL'} and s.progress > 0.0, "the panel's progress did not move"
    assert right.animation_data is None, "keys were written before the track ended"
    run.step("ESC", "PRESS")
    while result == {'RUNNING_MODAL'}:
        result = run.step()
        time.sleep(0.02)
    assert result == {'FINISHED'}, run.reports
    assert run._job.handle.cancelled and "cancelled after" in run.reports[0][1], run.reports
    completed = sorted(run._job.frames)
    assert 5 <= len(completed) < 12, completed
    with_hand = [f + 1 for f, hands in run._job.frames.items() if any(h["side"] == "right" for h in hands)]
    frames = keys_per_bone(right)["wrist.R"]
    assert frames == sorted(float(f) for f in with_hand), (frames, completed)


def test_cancelled_track_can_key_nothing(rigs):
    from maskhand.blender.workflow import finish_track, start_track

    right, _ = rigs
    s = settings()
    s.image_path, s.frame_start, s.frame_end, s.keep_completed = str(CLIP), 1, 12, False
    job = start_track(bpy.context)
    while len(job.frames) < 2 and not job.done:
        job.take(job.handle.poll())
        time.sleep(0.02)
    job.handle.cancel()
    job_done = time.monotonic() + 60
    while not job.done and time.monotonic() < job_done:
        job.take(job.handle.poll())
        time.sleep(0.02)
    before = snapshot()
    reports = finish_track(bpy.context, job, cancelled=True)
    assert "nothing keyed" in reports[0][1]
    assert snapshot() == before and right.animation_data is None


def test_killed_backend_is_reported_and_the_next_estimate_works(rigs, addon):
    from maskhand.blender.workflow import finish_estimate, start_estimate

    right, _ = rigs
    s = settings()
    s.image_path = str(RGB / "00000002.jpg")
    before = snapshot()
    job = start_estimate(bpy.context)
    addon.kill("the test killed the backend")
    while not job.done:
        job.handle.poll()
        time.sleep(0.02)
    with pytest.raises(backend_client.BackendError, match="killed the backend"):
        finish_estimate(bpy.context, job)
    assert snapshot() == before
    starts = addon.starts
    # The button's path (invoke); without a window (bpy as a module) it runs to the end at once.
    assert bpy.ops.view3d.maskhand_estimate('INVOKE_DEFAULT') == {'FINISHED'}
    assert addon.starts == starts + 1 and len(s.hypotheses) >= 1
    assert not same_rotations(read_pose(right), rest()).all()


@pytest.mark.parametrize("name, content", [("missing.jpg", None), ("corrupt.jpg", b"\xff\xd8\xff\xe0 not a jpeg")])
def test_bad_image_names_the_file_and_changes_nothing(rigs, tmp_path, name, content):
    s = settings()
    s.image_path = str(RGB / "00000002.jpg")
    assert bpy.ops.view3d.maskhand_estimate() == {'FINISHED'}  # a state worth keeping
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    s.image_path = str(path)
    before = snapshot()
    with pytest.raises(RuntimeError, match=name):  # bpy.ops turns the ERROR report into RuntimeError
        bpy.ops.view3d.maskhand_estimate()
    assert snapshot() == before


def test_blender_image_without_file_is_sent_as_pixels(rigs):
    """A packed/generated image (no file on disk) reaches the backend as a temporary PNG."""
    rgb = load_rgb(RGB / "00000002.jpg")  # (H, W, 3) uint8
    h, w, _ = rgb.shape
    img = bpy.data.images.new("pasted", w, h)
    rgba = np.concatenate([rgb[::-1] / 255.0, np.ones((h, w, 1))], axis=2).astype(np.float32)
    img.pixels.foreach_set(rgba.ravel())
    s = settings()
    s.source_kind, s.image = 'IMAGE', img
    assert bpy.ops.view3d.maskhand_estimate() == {'FINISHED'}
    assert [h.side for h in s.hypotheses][:1] == ["right"]
    assert not Path(json.loads(s.last_image)["path"]).exists(), "the temporary PNG was left behind"


def test_operators_are_undoable_with_tooltips(addon):
    for op in (bpy.ops.view3d.maskhand_estimate, bpy.ops.view3d.maskhand_resample,
               bpy.ops.anim.maskhand_keyframe_hypothesis, bpy.ops.anim.maskhand_track_range):
        rna = op.get_rna_type()
        assert {'REGISTER', 'UNDO'} <= set(op.bl_options), op
        assert len(rna.description) > 20, op  # the tooltip


def test_scripting_page_example_runs(rigs):
    """docs/SCRIPTING.md's example, run as written (with the fixture picture as its image)."""
    text = (REPO / "docs" / "SCRIPTING.md").read_text(encoding="utf-8")
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    image = str(RGB / "00000002.jpg")
    namespace = {"IMAGE": image}
    exec(compile(code.replace('IMAGE = "/path/to/photo.jpg"', f"IMAGE = {image!r}"), "SCRIPTING.md", "exec"),
         namespace)
    right = bpy.data.objects["MaskHand.R"]
    assert keys_per_bone(right)["wrist.R"] == [1.0]


CLIP_SCRIPT = """
import os, sys
import bpy
bpy.ops.wm.read_factory_settings(use_empty=True)
import maskhand
from maskhand import api
from maskhand.blender.apply_result import read_pose
maskhand.register()
api.use_interpreter(sys.argv[2])
scene = bpy.context.scene
clip = bpy.data.movieclips.load(sys.argv[1])
clip.frame_start = 101                      # the clip's first frame shows at scene frame 101
bpy.ops.object.maskhand_add_rig(side='RIGHT')
rig = bpy.context.active_object
cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
scene.collection.objects.link(cam)
scene.camera = cam
bg = cam.data.background_images.new()
bg.source, bg.clip = 'MOVIE_CLIP', clip
s = scene.maskhand.estimate
results = []
for kind in ('CLIP', 'CAMERA_BG'):
    s.source_kind, s.clip = kind, clip
    scene.frame_set(111)                    # the clip's last frame: the hand is closed
    rig.pose.bones["index.02.R"].rotation_quaternion = (1, 0, 0, 0)
    ok = bpy.ops.view3d.maskhand_estimate() == {'FINISHED'}
    results.append((kind, ok, [h.side for h in s.hypotheses], float(read_pose(rig)[2, 0])))
scene.frame_set(99)                         # before the clip starts
try:
    bpy.ops.view3d.maskhand_estimate()
    results.append("no error")
except RuntimeError as err:
    results.append(str(err))
print("RESULT", repr(results))
sys.stdout.flush()
api.client().shutdown()
os._exit(0)                                 # a loaded movie can stall bpy's exit
"""


def test_movie_clip_and_camera_background_sources(tmp_path):
    """A Blender movie clip and the camera's background clip, at a scene frame mapped through the
    clip's Start Frame (own process: a loaded movie can stall bpy's exit)."""
    import subprocess

    run = subprocess.run([sys.executable, "-c", CLIP_SCRIPT, str(CLIP), BACKEND_PYTHON], capture_output=True, text=True,
                         timeout=240, cwd=tmp_path)
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, run.stdout[-2000:] + run.stderr[-2000:]
    import ast

    results = ast.literal_eval(line[len("RESULT "):])
    for kind, ok, sides, w_index02 in results[:2]:
        assert ok and sides[:1] == ["right"], results
        assert w_index02 < 0.999, f"{kind}: the index finger was not posed ({w_index02})"
    assert "before the first frame" in results[2], results


# -- maskhand.api: the whole job from a script (issue 12) ---------------------------------------------
def test_button_and_api_give_the_same_pose(rigs):
    """The Estimate button and api.estimate + api.apply run the same workflow: the same bones."""
    from maskhand import api

    right, _ = rigs
    s = settings()
    s.image_path, s.hypotheses_count, s.seed, s.temperature = str(RGB / "00000004.jpg"), 3, 0, 1.0
    assert bpy.ops.view3d.maskhand_estimate() == {'FINISHED'}
    by_button = read_pose(right)
    for name in joint_bone_names("right"):
        right.pose.bones[name].rotation_quaternion = (1.0, 0.0, 0.0, 0.0)
    hands = api.estimate(RGB / "00000004.jpg", hypotheses=3, seed=0, temperature=1.0)
    best = next(h for h in hands if h["side"] == "right")["hypotheses"][0]
    assert best["side"] == "right"
    api.apply(best, right.name)  # by name
    assert np.allclose(read_pose(right), by_button, atol=1e-9), "button and API posed the rig differently"


def test_api_add_rig_and_apply_checks_side_and_frame(fresh_scene, addon):
    from maskhand import api
    from maskhand.errors import MaskHandError

    left = api.add_rig("left", name="Hero.L")
    assert left.name == "Hero.L" and left["maskhand_side"] == "left" and left.type == 'ARMATURE'
    right = api.add_rig()
    assert right["maskhand_side"] == "right"
    with pytest.raises(MaskHandError, match="side must be"):
        api.add_rig("up")
    hands = api.estimate(RGB / "00000004.jpg", hypotheses=1)
    best = next(h for h in hands if h["side"] == "right")["hypotheses"][0]
    before = read_pose(left).copy()
    with pytest.raises(MaskHandError, match="for a right hand but 'Hero.L' is a left hand rig"):
        api.apply(best, left)
    assert np.array_equal(read_pose(left), before) and left.animation_data is None
    with pytest.raises(MaskHandError, match="no object named"):
        api.apply(best, "no such rig")
    fresh_scene.frame_set(3)
    api.apply(best, right, frame=10, keyframe=True)
    assert fresh_scene.frame_current == 3, "apply moved the scene's frame"
    assert keys_per_bone(right)["wrist.R"] == [10.0]
    api.apply(best, right, frame=12, go_to_frame=True)
    assert fresh_scene.frame_current == 12


def test_api_track_keys_the_clip_and_adds_missing_rigs(fresh_scene, addon):
    from maskhand import api

    calls = []
    actions = api.track(CLIP, frames=(1, 6), hypotheses=1, seed=0, smoothing=0.5,
                        on_frame=lambda done, total: calls.append((done, total)))
    assert set(actions) == {"right"}, actions
    rig = bpy.data.objects[next(o.name for o in bpy.data.objects if o.get("maskhand_side") == "right")]
    assert rig.animation_data.action == actions["right"]
    assert keys_per_bone(rig)["wrist.R"] == [float(f) for f in range(1, 7)]  # frame i -> scene frame i + 1
    assert [d for d, _ in calls] == list(range(1, 7)) and all(t == 6 for _, t in calls), calls

    # The same take onto a given rig (by name), and on to a character's hand by retargeting.
    from retarget_rigs import build_smplx_hands

    again = api.track(CLIP, frames=(3, 4), rigs={"right": rig.name})  # part of the same take again
    assert again["right"] == actions["right"] == rig.animation_data.action, "re-tracking a range made a new take"
    assert keys_per_bone(rig)["wrist.R"] == [float(f) for f in range(1, 7)], "the rest of the take was dropped"
    character = build_smplx_hands("Character")
    action = api.retarget(again["right"], character, preset="auto")
    assert character.animation_data.action == action
    keyed = sorted({k.co[0] for fc in object_fcurves(character).values() for k in fc.keyframe_points})
    assert keyed == [float(f) for f in range(1, 7)], keyed


def test_api_track_backend_killed_from_on_frame(rigs, addon):
    """Killing the backend mid-track raises a BackendError that says so; the rig keeps its previous
    action (no half-written take); the next call starts a fresh backend and works."""
    from maskhand import api
    from maskhand.errors import BackendError

    right, _ = rigs
    assert api.apply(api.estimate(RGB / "00000004.jpg", hypotheses=1)[0]["hypotheses"][0], right,
                     frame=1, keyframe=True)
    previous = right.animation_data.action
    starts = addon.starts

    def kill_after_three(done, total):
        if done == 3:
            addon.kill("the test killed the backend")

    with pytest.raises(BackendError, match=r"stopped during the track after \d+ frame.*killed the backend"):
        api.track(CLIP, rigs={"right": right}, on_frame=kill_after_three)
    assert right.animation_data.action == previous and keys_per_bone(right)["wrist.R"] == [1.0]
    actions = api.track(CLIP, frames=(1, 3), rigs={"right": right})
    assert addon.starts == starts + 1 and right.animation_data.action == actions["right"]


# -- the reference camera and the keypoint overlay (issue 15) -------------------------------------------
def test_reference_camera_lines_the_rig_up_with_the_picture(rigs):
    """Looking through the new camera shows the rig on the hand: its joints, projected as the camera
    renders them, land on the detected keypoints (figure: benchmarks/bench_reference_camera.py)."""
    from maskhand.blender.reference_camera import project_points, rig_keypoints

    right, left = rigs
    s = settings()
    s.image_path, s.hypotheses_count = str(RGB / "00000004.jpg"), 3
    assert not bpy.ops.view3d.maskhand_reference_camera.poll(), "no estimate yet: nothing to line up"
    assert bpy.ops.view3d.maskhand_estimate() == {'FINISHED'}
    assert bpy.ops.view3d.maskhand_reference_camera() == {'FINISHED'}
    scene, picture = bpy.context.scene, json.loads(s.last_image)
    cam = scene.camera
    assert cam.name == "MaskHand Reference" and cam.data.show_background_images and s.use_camera_translation
    (bg,) = cam.data.background_images
    assert bg.source == 'IMAGE' and Path(bpy.path.abspath(bg.image.filepath)).resolve() == RGB / "00000004.jpg"
    assert (scene.render.resolution_x, scene.render.resolution_y) == (picture["width"], picture["height"])
    chosen = next(h for h in s.hypotheses if h.side == "right" and h.chosen)
    # The camera lines up exactly: the rig's joints land where the hypothesis's own hand model,
    # posed in the camera frame with its translation and projected with K, puts them.
    hyp, K = chosen.hypothesis(), np.asarray(picture["K"])
    model = load_open_hand("right").forward(np.asarray(hyp["mano"]["global_orient"])[None],
                                            np.asarray(hyp["mano"]["hand_pose"])[None],
                                            np.asarray(right["maskhand_betas"])[None], np.asarray(hyp["cam_t"])[None])
    expected = model.joints[0] @ K.T
    expected = expected[:, :2] / expected[:, 2:]
    seen = project_points(scene, cam, rig_keypoints(right))
    from maskhand.handmodel.joints import MANO_TO_OPENPOSE

    joints_seen = seen[np.argsort(MANO_TO_OPENPOSE)[:16]]  # back to MANO's 16 joints
    assert np.abs(joints_seen - expected).max() < 0.5, np.abs(joints_seen - expected).max()
    # And so the rig lies on the detected hand as well as the estimate fits it (a loose bound here).
    err = np.linalg.norm(seen - np.asarray(chosen.hand()["keypoints_2d"]), axis=1)
    assert err.mean() < 0.12 * picture["width"], err
    assert bpy.ops.view3d.maskhand_reference_camera() == {'FINISHED'}  # again: the same camera, updated
    assert [o.name for o in bpy.data.objects if o.type == 'CAMERA'] == ["MaskHand Reference"]


def test_reference_camera_plays_the_movie_in_sync(rigs):
    right, _ = rigs
    s = settings()
    s.image_path, s.source_start = str(CLIP), 5  # the clip's first frame shows at scene frame 5
    bpy.context.scene.frame_set(9)
    assert bpy.ops.view3d.maskhand_estimate() == {'FINISHED'}
    assert bpy.ops.view3d.maskhand_reference_camera() == {'FINISHED'}
    (bg,) = bpy.context.scene.camera.data.background_images
    assert bg.source == 'MOVIE_CLIP' and bg.clip.frame_start == 5
    assert Path(bpy.path.abspath(bg.clip.filepath)).resolve() == CLIP.resolve()


def test_keypoint_overlay_maps_picture_pixels_into_the_camera_frame(addon):
    from maskhand.blender import keypoint_overlay

    assert keypoint_overlay.is_shown(), "the draw handler is added with the add-on"
    corners = np.array([[10.0, 300.0], [410.0, 300.0], [410.0, 0.0], [10.0, 0.0]])  # a 400 x 300 frame
    px = np.array([[0.0, 0.0], [200.0, 150.0], [400.0, 300.0], [100.0, 0.0]])  # picture 400 x 300
    np.testing.assert_allclose(keypoint_overlay.image_to_frame(px, (400, 300), corners),
                               [[10, 300], [210, 150], [410, 0], [110, 300]])
    assert len(keypoint_overlay.SEGMENTS) == 20 and {a for a, _ in keypoint_overlay.SEGMENTS} >= {0}


def test_returning_to_a_frame_shows_its_hypotheses(rigs):
    s = settings()
    scene = bpy.context.scene
    s.hypotheses_count = 2
    lists = {}
    for frame, image in ((1, "00000004.jpg"), (5, "00000005.jpg")):
        scene.frame_set(frame)
        s.image_path = str(RGB / image)
        assert bpy.ops.view3d.maskhand_estimate() == {'FINISHED'}
        lists[frame] = [h.payload for h in s.hypotheses]
    assert lists[1] != lists[5]
    scene.frame_set(1)
    assert [h.payload for h in s.hypotheses] == lists[1] and json.loads(s.last_image)["frame"] == 1
    scene.frame_set(3)  # no estimate here: the list stays
    assert [h.payload for h in s.hypotheses] == lists[1]
    scene.frame_set(5)
    assert [h.payload for h in s.hypotheses] == lists[5]
    assert abs(sum(h.confidence for h in s.hypotheses if h.hand_index == 0) - 1.0) < 1e-6  # shares of one hand


def test_one_job_at_a_time_and_a_killed_backend_keeps_the_completed_frames(rigs, addon):
    """Issue 16: while a track runs, Estimate and a second Track are refused with a sentence; a
    backend killed mid-track keys the frames that came back, whole, and says what happened."""
    from maskhand.blender.workflow import start_track
    from maskhand.operators import polls
    from maskhand.operators.track import MASKHAND_OT_track_range

    right, _ = rigs
    s = settings()
    s.image_path, s.source_start, s.frame_start, s.frame_end, s.keep_completed = str(CLIP), 1, 1, 12, True
    run = ModalRun(MASKHAND_OT_track_range, start_track(bpy.context))
    polls.RUNNING["operator"] = MASKHAND_OT_track_range.bl_idname  # what invoke sets for the running job
    try:
        for op in (bpy.ops.view3d.maskhand_estimate, bpy.ops.anim.maskhand_track_range):
            assert not op.poll()
            with pytest.raises(RuntimeError, match="already running"):
                op()
        result = {'RUNNING_MODAL'}
        while len(run._job.frames) < 3 and result == {'RUNNING_MODAL'}:
            result = run.step()
            time.sleep(0.02)
        addon.kill("the test killed the backend")
        while result == {'RUNNING_MODAL'}:
            result = run.step()
            time.sleep(0.02)
    finally:
        polls.RUNNING["operator"] = None
    assert result == {'FINISHED'}, run.reports
    level, message = run.reports[0]
    assert level == 'WARNING' and "backend stopped after" in message and "killed the backend" in message, run.reports
    with_hand = sorted(f + 1 for f, hands in run._job.frames.items() if any(h["side"] == "right" for h in hands))
    assert 3 <= len(run._job.frames) < 12 and keys_per_bone(right)["wrist.R"] == [float(f) for f in with_hand]


# -- clean takes in Blender (issue 14) ---------------------------------------------------------------------
def _key_values(rig, frames):
    from maskhand.blender.keyframes import read_pose_action

    return read_pose_action(rig, joint_bone_names("right"), np.asarray(frames, float))


def test_a_take_keeps_its_raw_frames_confidence_and_can_be_re_smoothed_without_tracking(rigs, addon):
    from maskhand.blender import take_store
    from maskhand.blender.take_marks import curve_names

    right, _ = rigs
    s = settings()
    s.image_path, s.source_start, s.frame_start, s.frame_end, s.smoothing = str(CLIP), 1, 1, 12, 0.0
    assert bpy.ops.anim.maskhand_track_range() == {'FINISHED'}
    raw = take_store.load(right)
    assert raw is not None and sorted(raw.frames) == list(range(12)) and raw.source == "hand_clip.mp4"
    curves = object_fcurves(right)
    for name in curve_names():  # per frame and per part, in the Graph Editor beside the bones
        assert (f'["{name}"]', 0) in curves, name
    conf = curves[('["maskhand_conf_thumb"]', 0)]
    assert len(conf.keyframe_points) == 12 and all(0.0 <= k.co[1] <= 1.0 for k in conf.keyframe_points)
    before = _key_values(right, range(1, 13))

    addon.shutdown()  # no backend from here on: re-smoothing reads the take kept in the file
    starts = addon.starts
    s.smoothing = 1.0
    assert bpy.ops.anim.maskhand_resmooth() == {'FINISHED'}
    after = _key_values(right, range(1, 13))
    assert addon.starts == starts and not addon.alive, "Re-smooth started the backend"
    assert keys_per_bone(right)["wrist.R"] == [float(f) for f in range(1, 13)]
    assert np.abs(after - before).max() > 1e-3, "the strength changed nothing"
    s.smoothing = 0.0
    assert bpy.ops.anim.maskhand_resmooth() == {'FINISHED'}
    np.testing.assert_allclose(_key_values(right, range(1, 13)), before, atol=1e-5)  # back to the first keys


def test_re_solving_a_range_keeps_the_rest_and_the_locked_fingers(rigs):
    from maskhand.handmodel.parts import PART_JOINTS

    right, _ = rigs
    s = settings()
    s.image_path, s.source_start, s.frame_start, s.frame_end, s.smoothing = str(CLIP), 1, 1, 12, 0.5
    assert bpy.ops.anim.maskhand_track_range() == {'FINISHED'}
    action = right.animation_data.action
    before = _key_values(right, range(1, 13))

    # The span to re-solve: the panel's range, the selected keys, or the flag markers inside the range.
    from maskhand.blender.workflow import resolve_span
    from maskhand.errors import MaskHandError

    for (path, _), fc in object_fcurves(right).items():
        for k in fc.keyframe_points:
            k.select_control_point = path.startswith("pose.bones") and k.co[0] in (6.0, 7.0)
    assert resolve_span(bpy.context, 'SELECTED') == (6, 7)
    for m in [m for m in bpy.context.scene.timeline_markers if m.name.startswith("MH ")]:
        bpy.context.scene.timeline_markers.remove(m)
    with pytest.raises(MaskHandError, match="no flag markers"):
        resolve_span(bpy.context, 'FLAGGED')
    for frame in (3, 9, 40):
        bpy.context.scene.timeline_markers.new("MH R spike", frame=frame)
    bpy.context.scene.timeline_markers.new("my marker", frame=2)
    assert resolve_span(bpy.context, 'FLAGGED') == (3, 9)  # MaskHand's markers inside 1..12 only

    s.frame_start, s.frame_end, s.lock_thumb, s.lock_index = 5, 8, True, True
    try:
        assert bpy.ops.anim.maskhand_resolve_range() == {'FINISHED'}
    finally:
        s.lock_thumb = s.lock_index = False
    after = _key_values(right, range(1, 13))
    assert right.animation_data.action == action and keys_per_bone(right)["wrist.R"] == [float(f) for f in range(1, 13)]
    outside = [i for i in range(12) if not 4 <= i <= 7]  # scene frames 1-4 and 9-12
    np.testing.assert_array_equal(after[outside], before[outside])  # keys outside the range untouched
    locked = sorted(PART_JOINTS["thumb"] + PART_JOINTS["index"])
    np.testing.assert_allclose(after[4:8][:, locked], before[4:8][:, locked], atol=1e-6)
    free = [j for j in range(16) if j not in locked]
    assert np.abs(after[4:8][:, free] - before[4:8][:, free]).max() > 1e-4, "re-solving changed nothing"
