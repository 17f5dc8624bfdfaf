"""`python -m maskhand animate` end to end (issue 5): the real CLI in a subprocess on the rendered
clip and images, then the .blend it wrote opened with real bpy."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
CLIP = FIXTURES / "hand_clip.mp4"
SUMMARY = re.compile(r"read (\d+) frame\(s\) \((\d+)\.\.(\d+)\); right hand in (\d+), left hand in (\d+);")


def _animate(tmp_path, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "maskhand", "animate", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=tmp_path)


def _summary(stdout):
    m = SUMMARY.search(stdout)
    assert m, stdout
    read, first, last, right, left = map(int, m.groups())
    return dict(read=read, first=first, last=last, right=right, left=left)


def _open_blend(path):
    """{side: {"frames": keyed scene frames, "quats": (N, 16, 4), "wrist_px": (N, 2)}} and the scene's
    range, rate and size, from the saved file; Blender is reset to its factory scene afterwards."""
    import bpy
    from bpy_extras.object_utils import world_to_camera_view

    from maskhand.blender.keyframes import object_fcurves, read_pose_action
    from maskhand.rigmath.rig_layout import joint_bone_names

    bpy.ops.wm.open_mainfile(filepath=str(path))
    try:
        scene = bpy.context.scene
        width, height = scene.render.resolution_x, scene.render.resolution_y
        rigs = {}
        for obj in bpy.data.objects:
            if obj.type != 'ARMATURE':
                continue
            side = obj["maskhand_side"]
            assert side not in rigs, f"two rigs for the {side} hand"
            action = obj.animation_data.action
            curves = object_fcurves(obj)
            bones = [fc for (path, _), fc in curves.items() if path.startswith("pose.")]  # the hand's keys
            frames = sorted({int(round(k.co[0])) for fc in bones for k in fc.keyframe_points})
            names = joint_bone_names(side)
            wrist = []
            for f in frames:
                scene.frame_set(f)
                p = world_to_camera_view(scene, scene.camera, obj.matrix_world @ obj.pose.bones[names[0]].head)
                wrist.append((p.x * width, (1.0 - p.y) * height))
            rigs[side] = dict(frames=frames, keys_per_curve={len(fc.keyframe_points) for fc in bones},
                              take=obj.get("maskhand_take"), score_curve=('["maskhand_score"]', 0) in curves,
                              action=action.name,
                              quats=read_pose_action(obj, names, np.array(frames, float)), wrist_px=np.array(wrist))
        backgrounds = [(bg.source, str(Path(bpy.path.abspath(bg.clip.filepath if bg.clip else bg.image.filepath)).resolve()),
                        bg.clip.frame_start if bg.clip else None)
                       for bg in (scene.camera.data.background_images if scene.camera else ())]
        info = dict(range=(scene.frame_start, scene.frame_end), fps=scene.render.fps / scene.render.fps_base,
                    size=(width, height), camera=scene.camera is not None, backgrounds=backgrounds,
                    show_backgrounds=bool(scene.camera and scene.camera.data.show_background_images),
                    texts={t.name: len(t.as_string()) for t in bpy.data.texts})
    finally:
        bpy.ops.wm.read_factory_settings(use_empty=True)
    return rigs, info


@pytest.mark.slow
def test_clip_range_keys_one_rig_per_side(tmp_path):
    out = tmp_path / "take.blend"
    proc = _animate(tmp_path, CLIP, "--frames", "3:8", "--smoothing", "0.5", "--out", out)
    assert proc.returncode == 0, proc.stderr
    s = _summary(proc.stdout)
    assert (s["read"], s["first"], s["last"]) == (6, 3, 8)
    assert s["right"] >= 4, proc.stdout  # a right hand fills the rendered clip; MediaPipe finds most frames
    assert out.is_file()

    rigs, info = _open_blend(out)
    assert info["range"] == (4, 9)  # source frames 3..8 are scene frames 4..9
    assert info["fps"] == pytest.approx(12.0) and info["size"] == (192, 192) and info["camera"]
    # The clip plays behind the rigs through the camera, its first frame on scene frame 1 like the keys.
    assert info["show_backgrounds"] and info["backgrounds"] == [('MOVIE_CLIP', str(CLIP.resolve()), 1)], info
    # The raw take is kept in the file (Blender can re-smooth it), and confidence curves sit on the rig.
    assert all(r["take"] in info["texts"] and info["texts"][r["take"]] > 100 for r in rigs.values()), info["texts"]
    assert all(r["score_curve"] for r in rigs.values())
    expected_sides = {side for side in ("right", "left") if s[side] > 0}
    assert set(rigs) == expected_sides
    right = rigs["right"]
    assert right["keys_per_curve"] == {s["right"]}  # one key per frame with a right hand, on every channel
    assert len(right["frames"]) == s["right"]
    assert set(right["frames"]) <= set(range(4, 10))
    if s["right"] == 6:
        assert right["frames"] == list(range(4, 10))
    q = right["quats"]
    assert q.shape == (s["right"], 16, 4) and np.all(np.isfinite(q))
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-4)

    # The keyed wrist, seen through the scene camera, lies on the rendered wrist of the source frame.
    xyz = np.array(json.loads((FIXTURES / "hand_clip_xyz.json").read_text()))
    K = np.array(json.loads((FIXTURES / "hand_clip_K.json").read_text()))
    K = K if K.ndim == 2 else K[0]
    wrist = xyz[np.array(right["frames"]) - 1, 0]  # (N, 3) source frame = scene frame - 1
    truth = wrist[:, :2] / wrist[:, 2:] * np.diag(K)[:2] + K[:2, 2]
    err = np.linalg.norm(right["wrist_px"] - truth, axis=1)
    assert err.max() < 0.1 * 192, err


@pytest.mark.slow
def test_single_image_is_a_one_frame_take(tmp_path):
    image = FIXTURES / "hands" / "evaluation" / "rgb" / "00000000.jpg"
    side = json.loads((FIXTURES / "hands" / "evaluation_meta.json").read_text())["images"][0]["side"]
    out = tmp_path / "still.blend"
    proc = _animate(tmp_path, image, "--out", out)
    assert proc.returncode == 0, proc.stderr
    s = _summary(proc.stdout)
    assert (s["read"], s["first"], s["last"], s[side]) == (1, 0, 0, 1), proc.stdout
    rigs, info = _open_blend(out)
    assert info["range"] == (1, 1)
    assert rigs[side]["frames"] == [1] and np.all(np.isfinite(rigs[side]["quats"]))


@pytest.mark.slow
def test_no_hand_writes_nothing(tmp_path):
    out = tmp_path / "none.blend"
    proc = _animate(tmp_path, FIXTURES / "hands_none" / "evaluation" / "rgb" / "00000000.jpg", "--out", out)
    assert proc.returncode != 0
    assert "no hand found" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not out.exists()


def test_unreadable_video_is_one_plain_sentence(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a movie" * 20)
    out = tmp_path / "broken.blend"
    proc = _animate(tmp_path, broken, "--out", out, timeout=120)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("maskhand:")]
    assert len(lines) == 1 and "cannot read video" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--frames", "8:3"], "empty"),
    (["--frames", "three"], "--frames takes"),
    (["--smoothing", "1.5"], "between 0 and 1"),
    (["--onto", "rigs.blend:Armature"], "--onto"),
])
def test_bad_options_fail_before_work(tmp_path, args, message):
    out = tmp_path / "x.blend"
    proc = _animate(tmp_path, CLIP, *args, "--out", out, timeout=120)
    assert proc.returncode != 0 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not out.exists()


@pytest.mark.slow
def test_track_reports_progress_and_cancel_keeps_done_frames():
    from maskhand.inference.tracking import track

    seen = []
    take = track(CLIP, (2, 11), estimator="fitted", on_frame=lambda done, total, index, hands: seen.append((done, total)),
                 should_stop=lambda: len(seen) >= 1)
    assert take.cancelled and seen == [(1, 10)]
    assert take.frames.tolist() == [2] and take.fps == pytest.approx(12.0)
    for side, hands in take.hands.items():
        assert hands.frames.tolist() == [2] and hands.hand_pose.shape == (hands.num_frames, 45)
        assert np.all(np.isfinite(hands.global_orient)) and hands.betas.shape == (hands.num_frames, 10)
    assert sum(take.frames_with(s) for s in ("right", "left")) >= 1
