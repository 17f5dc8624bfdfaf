"""Importing MANO pose files onto the rig: operator, CLI, bad input leaving the scene as it was."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from maskhand.handmodel.open_hand import load_open_hand
from maskhand.rigmath.rig_layout import joint_bone_names

bpy = pytest.importorskip("bpy")
from maskhand.blender.build_rig import add_hand_rig, bone_rest_rotations  # noqa: E402
from maskhand.blender.keyframes import read_pose_action  # noqa: E402
from maskhand.rigmath.pose_to_bones import bone_quaternions  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "count_to_five.json"


@pytest.fixture(scope="module")
def addon():
    """The add-on registered in this bpy process (operators, panel, Scene.maskhand)."""
    import maskhand

    maskhand.register()
    yield maskhand
    maskhand.unregister()


def write_json(path, frames, side="right", fps=25):
    doc = {"format": "maskhand.mano", "version": 1, "side": side, "fps": fps, "hand_mean": "flat",
           "frames": frames}
    path.write_text(json.dumps(doc))
    return path


def random_frames(n, seed):
    rng = np.random.default_rng(seed)
    return [{"global_orient": rng.normal(size=3).tolist(), "hand_pose": (rng.normal(size=45) * 0.4).tolist(),
             "betas": [0.0] * 10} for _ in range(n)]


def scene_state():
    """What a failed import must not change."""
    return (sorted(a.name for a in bpy.data.actions), sorted(o.name for o in bpy.data.objects),
            bpy.context.scene.render.fps, bpy.context.scene.frame_end)


def new_rig(side="right"):
    arm, _ = add_hand_rig(bpy.context.scene.collection, load_open_hand(side))
    bpy.context.view_layer.objects.active = arm
    return arm


def test_operator_keys_the_file(fresh_scene, addon, tmp_path):
    frames = random_frames(12, seed=3)
    path = write_json(tmp_path / "take_07.json", frames)
    arm = new_rig()
    assert bpy.ops.anim.maskhand_import_mano(filepath=str(path), frame_start=1) == {'FINISHED'}
    action = arm.animation_data.action
    assert action is not None and action.name == "take_07"
    names = joint_bone_names("right")
    got = read_pose_action(arm, names, np.arange(1, 13, dtype=float))
    want = bone_quaternions(np.array([f["global_orient"] for f in frames]),
                            np.array([f["hand_pose"] for f in frames]), bone_rest_rotations(arm, names))
    dots = np.abs(np.sum(got * want, axis=-1))
    np.testing.assert_allclose(dots, 1.0, atol=1e-6)
    assert bpy.context.scene.render.fps == 25 and bpy.context.scene.frame_end >= 12


def test_undo_is_one_step(fresh_scene, addon, tmp_path):
    """The operator is registered for undo as a single step (bl_options)."""
    assert {'REGISTER', 'UNDO'} <= set(bpy.types.ANIM_OT_maskhand_import_mano.bl_options)


@pytest.mark.parametrize("make_bad, message", [
    (lambda d: write_json(d / "nan.json", [{"global_orient": [float("nan"), 0, 0], "hand_pose": [0.0] * 45}]),
     "nan"),
    (lambda d: write_json(d / "short.json", [{"global_orient": [0, 0, 0], "hand_pose": [0.0] * 44}]), "45"),
    (lambda d: (d / "notmano.json").write_text('{"hello": 1}') and d / "notmano.json", "mano"),
    (lambda d: d / "missing.npz", "missing.npz"),
    (lambda d: write_json(d / "left.json", random_frames(2, 1), side="left"), "left"),
])
def test_bad_input_reports_and_changes_nothing(fresh_scene, addon, tmp_path, make_bad, message):
    path = make_bad(tmp_path)
    new_rig("right")
    before = scene_state()
    with pytest.raises(RuntimeError) as err:  # bpy.ops turns an ERROR report into RuntimeError
        bpy.ops.anim.maskhand_import_mano(filepath=str(path))
    assert message in str(err.value).lower(), err.value
    assert scene_state() == before


def test_no_rig_selected_is_refused(fresh_scene, addon):
    with pytest.raises(RuntimeError, match="Select a hand rig"):
        bpy.ops.anim.maskhand_import_mano(filepath=str(SAMPLE))


def test_wrong_armature_is_named(fresh_scene, addon):
    arm = bpy.data.objects.new("Body", bpy.data.armatures.new("Body"))
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    before = scene_state()
    with pytest.raises(RuntimeError, match="not a MaskHand rig.*wrist.R"):
        bpy.ops.anim.maskhand_import_mano(filepath=str(SAMPLE))
    assert scene_state() == before


def test_add_rig_operator(fresh_scene, addon):
    bpy.context.scene.cursor.location = (1.0, 2.0, 3.0)
    assert bpy.ops.object.maskhand_add_rig(side='LEFT') == {'FINISHED'}
    arm = bpy.context.view_layer.objects.active
    assert arm.type == 'ARMATURE' and arm["maskhand_side"] == "left"
    assert "index.01.L" in arm.data.bones and arm.children[0].type == 'MESH'
    assert tuple(round(c, 6) for c in arm.location) == (1.0, 2.0, 3.0)
    assert bpy.context.scene.maskhand.rig == arm


@pytest.mark.slow
def test_cli_writes_a_blend_with_keys(tmp_path):
    """The CLI in its own process: sample in, .blend out, then the .blend read back by bpy."""
    out = tmp_path / "count.blend"
    run = subprocess.run([sys.executable, "-m", "maskhand", "import-mano", str(SAMPLE), "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "108 frame(s) keyed" in run.stdout
    check = ("import bpy, sys, os\n"
             f"bpy.ops.wm.open_mainfile(filepath={str(out)!r})\n"
             "arm = bpy.data.objects['MaskHand.R']\n"
             "print(arm.animation_data.action.name, len(arm.data.bones), bpy.context.scene.frame_end)\n"
             "sys.stdout.flush(); os._exit(0)\n")
    res = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=300)
    assert res.stdout.split()[-3:] == ["count_to_five", "21", "108"], res.stdout + res.stderr


@pytest.mark.parametrize("args, message", [
    (["import-mano", "nope.npz", "--out", "x.blend"], "nope.npz"),
    (["import-mano", str(SAMPLE), "--side", "left", "--out", "x.blend"], "no left-hand frames"),
])
def test_cli_bad_input_is_one_sentence(tmp_path, args, message):
    run = subprocess.run([sys.executable, "-m", "maskhand", *args], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert run.returncode == 1 and message in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert not (tmp_path / "x.blend").exists()


def test_operator_sets_a_fractional_frame_rate_exactly(fresh_scene, addon, tmp_path):
    path = write_json(tmp_path / "ntsc.json", random_frames(3, seed=4), fps=29.97)
    new_rig()
    assert bpy.context.scene.maskhand.import_use_file_fps  # the panel's default: the file's own rate
    assert bpy.ops.anim.maskhand_import_mano(filepath=str(path), fps=0, frame_start=1) == {'FINISHED'}
    r = bpy.context.scene.render
    assert r.fps == 30 and abs(r.fps / r.fps_base - 29.97) < 1e-4


# -- issue 16: --side goes to the reader, which labels files that record no side ----------------------------
def _hamer_npz(path, n, is_right=None, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {"global_orient": rng.normal(size=(n, 3)) * 0.5, "hand_pose": rng.normal(size=(n, 45)) * 0.3,
              "betas": rng.normal(size=(n, 10)) * 0.1}
    if is_right is not None:
        arrays["is_right"] = np.asarray(is_right, np.float64)
    np.savez(path, **arrays)
    return arrays


MIRROR = np.array([1.0, -1.0, -1.0])


@pytest.mark.parametrize("is_right, expect_left, mirrored", [
    (None, [0, 1, 2], False),        # a left-only file that records no side: labelled left, as it is
    ([0, 0, 0], [0, 1, 2], True),    # HaMeR's left hands: predicted as mirrored right hands
    ([1, 0, 1, 0], [1, 3], True),    # a mixed file: only its left hands
])
def test_side_left_reads_left_hands_of_every_layout(tmp_path, is_right, expect_left, mirrored):
    from maskhand.posefiles import read_pose_file

    n = 3 if is_right is None else len(is_right)
    arrays = _hamer_npz(tmp_path / "hands.npz", n, is_right)
    (seq,) = read_pose_file(tmp_path / "hands.npz", side="left")
    assert seq.side == "left" and seq.global_orient.shape == (len(expect_left), 3)
    go, hp = arrays["global_orient"][expect_left], arrays["hand_pose"][expect_left]
    if mirrored:
        go, hp = go * MIRROR, (hp.reshape(-1, 15, 3) * MIRROR).reshape(-1, 45)
    np.testing.assert_allclose(seq.global_orient, go)
    np.testing.assert_allclose(seq.hand_pose, hp)


@pytest.mark.parametrize("is_right, frames", [(None, 3), ([0, 0, 0], 3), ([1, 0, 1, 0], 2)])
def test_cli_side_left_keys_a_left_rig(tmp_path, is_right, frames):
    """Issue 16: `import-mano --side left` on a file without is_right failed with 'holds no left hand poses'."""
    n = 3 if is_right is None else len(is_right)
    _hamer_npz(tmp_path / "left.npz", n, is_right)
    out = tmp_path / "x.blend"
    run = subprocess.run([sys.executable, "-m", "maskhand", "import-mano", str(tmp_path / "left.npz"), "--side", "left",
                          "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"left hand: {frames} frame(s) keyed on 'MaskHand.L'" in run.stdout, run.stdout
    assert "right hand" not in run.stdout and out.is_file()


def test_cli_side_right_of_a_left_only_file_is_one_sentence(tmp_path):
    _hamer_npz(tmp_path / "left.npz", 2, [0, 0])
    run = subprocess.run([sys.executable, "-m", "maskhand", "import-mano", str(tmp_path / "left.npz"), "--side", "right",
                          "--out", str(tmp_path / "x.blend")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "no right-hand frames; the file holds left hands" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "x.blend").exists()
