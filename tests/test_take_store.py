"""The raw take kept in the .blend, its confidence curves and flag markers (issue 14, Blender side), in real bpy."""
import numpy as np
import pytest

bpy = pytest.importorskip("bpy")
from maskhand.blender import take_marks, take_store  # noqa: E402
from maskhand.blender.build_rig import add_hand_rig  # noqa: E402
from maskhand.blender.keyframes import object_fcurves  # noqa: E402
from maskhand.errors import MaskHandError  # noqa: E402
from maskhand.handmodel.open_hand import load_open_hand  # noqa: E402


def raw(frames, source="clip.mp4", offset=-1):
    return take_store.RawTake(source, 24.0, offset, {i: [{"side": "right", "score": 0.9, "n": i, "tag": tag}]
                                                     for i, tag in frames})


def test_merged_replaces_only_inside_the_newer_range():
    old = raw([(i, "old") for i in range(10)])
    new = raw([(4, "new"), (6, "new")])
    merged = old.merged(new)
    # Inside 4..6 the newer frames are all there is (a re-track records every frame it read, with or
    # without a hand); outside, the old frames stay.
    assert sorted(merged.frames) == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    assert [merged.frames[i][0]["tag"] for i in sorted(merged.frames)] == ["old"] * 4 + ["new", "new"] + ["old"] * 3
    with pytest.raises(MaskHandError, match="placed in the scene differently"):
        old.merged(raw([(2, "x")], offset=-5))


def test_save_load_round_trip_and_an_unreadable_take(fresh_scene):
    rig, _ = add_hand_rig(fresh_scene.collection, load_open_hand("right"))
    assert take_store.load(rig) is None
    text = take_store.save(raw([(0, "a"), (3, "b")]))
    take_store.attach(rig, text)
    back = take_store.load(rig)
    assert (back.source, back.fps, back.offset, sorted(back.frames)) == ("clip.mp4", 24.0, -1, [0, 3])
    assert back.frames[3][0]["tag"] == "b" and back.scene_frame(3) == 4
    text.clear()
    text.write("{not json")
    with pytest.raises(MaskHandError, match="cannot be read"):
        take_store.load(rig)


def test_confidence_curves_and_flag_markers(fresh_scene):
    rig, _ = add_hand_rig(fresh_scene.collection, load_open_hand("right"))
    n = 5

    class Track:  # the SmoothedTrack fields key_confidence reads
        frames = np.arange(n)
        score = np.array([0.9, 0.8, np.nan, 0.7, 0.95])
        filled = np.array([False, False, True, False, False])
        part_confidence = np.full((n, 6), 0.5)
        part_spread = np.full((n, 6), 2.0)

    names = take_marks.key_confidence(rig, np.arange(1, n + 1, dtype=float), Track)
    curves = object_fcurves(rig)
    assert names == take_marks.curve_names() and all((f'["{name}"]', 0) in curves for name in names)
    score = [k.co[1] for k in curves[('["maskhand_score"]', 0)].keyframe_points]
    assert score == pytest.approx([0.9, 0.8, 0.0, 0.7, 0.95])  # no measurement on the filled frame
    assert [k.co[1] for k in curves[('["maskhand_filled"]', 0)].keyframe_points] == [0, 0, 1, 0, 0]
    fresh_scene.frame_set(3)
    assert rig["maskhand_filled"] == pytest.approx(1.0)  # the curve drives the property

    flags = ((1, "spike", "x"), (2, "gap", "y"), (2, "gap", "y again"), (4, "wrist_spin", "z"))
    assert take_marks.mark_flags(fresh_scene, "right", flags, lambda f: f + 1, 1, 5) == 3
    assert sorted((m.frame, m.name) for m in fresh_scene.timeline_markers) == [
        (2, "MH R spike"), (3, "MH R gap"), (5, "MH R wrist spin")]
    fresh_scene.timeline_markers.new("mine", frame=3)
    assert take_marks.mark_flags(fresh_scene, "right", ((3, "finger_in_palm", ""),), lambda f: f + 1, 2, 4) == 1
    assert sorted((m.frame, m.name) for m in fresh_scene.timeline_markers) == [
        (3, "mine"), (4, "MH R finger in palm"), (5, "MH R wrist spin")]  # only MaskHand's, only in range
