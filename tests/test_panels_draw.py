"""Every panel's draw() runs on real bpy data, and every name it uses resolves (issue 5, panels).

bpy as a module never draws a panel, so a misspelt property or operator id would only appear as a
red error in a user's sidebar. tools/layout_recorder.py runs draw() the way Blender would and
raises on names Blender cannot resolve; these tests drive each panel through its branches (every
source kind, a populated hypotheses list, a running track, a retarget mapping), the preferences,
and the panel picture's renderer (tools/render_panels.py).
"""
import importlib.util
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")
from maskhand.tools.layout_recorder import LayoutError, record_draw  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _panels():
    from maskhand.panels import panel_classes

    return {cls.bl_idname: cls for cls in panel_classes()}


def _texts(tree, kind):
    return [w.text for w in tree.walk() if w.kind == kind]


def test_every_panel_draws_in_the_sidebar_tab_with_its_buttons(enabled_addon):
    panels = _panels()
    assert list(panels) == ["MASKHAND_PT_main", "MASKHAND_PT_source", "MASKHAND_PT_hypotheses",
                            "MASKHAND_PT_track", "MASKHAND_PT_import", "MASKHAND_PT_retarget"]
    assert {cls.bl_idname: getattr(cls, "bl_parent_id", "") for cls in panels.values()} == {
        "MASKHAND_PT_main": "", **{name: "MASKHAND_PT_main" for name in list(panels)[1:]}}  # sub-panels
    buttons = {}
    for idname, cls in panels.items():
        assert (cls.bl_space_type, cls.bl_region_type, cls.bl_category) == ('VIEW_3D', 'UI', "MaskHand")
        tree = record_draw(cls, bpy.context)
        buttons[idname] = _texts(tree, "operator")
        for widget in tree.walk():  # every button names an operator Blender has registered
            if widget.kind == "operator":
                assert widget.value.split(".")[0] in {"object", "view3d", "anim", "pose", "preferences"}
    assert buttons["MASKHAND_PT_main"] == ["Add Hand Rig", "Set Up Reference Camera"]
    assert buttons["MASKHAND_PT_source"] == ["Estimate"]
    assert buttons["MASKHAND_PT_hypotheses"] == []  # nothing to resample before an estimate
    assert buttons["MASKHAND_PT_track"] == ["", "Track Range", "Re-solve", "Selected", "Flagged"]  # "": Re-smooth
    assert buttons["MASKHAND_PT_import"] == ["Import MANO Pose"]
    everywhere = [b for found in buttons.values() for b in found]
    assert everywhere.count("Add Hand Rig") == 1, everywhere


@pytest.mark.parametrize("kind", ['FILE', 'IMAGE', 'CLIP', 'CAMERA_BG'])
def test_source_panel_shows_the_picker_of_each_source_kind(enabled_addon, kind):
    settings = bpy.context.scene.maskhand.estimate
    settings.source_kind = kind
    tree = record_draw(_panels()["MASKHAND_PT_source"], bpy.context)
    kinds = [w.kind for w in tree.walk()]
    if kind == 'FILE':
        assert any(w.kind == "prop" and w.style == "text" for w in tree.walk())
    elif kind in ('IMAGE', 'CLIP'):
        assert "template_ID" in kinds
    else:
        assert any(t.startswith("Camera: ") for t in _texts(tree, "label"))
    settings.source_kind = 'FILE'


@pytest.mark.parametrize("path, shown", [("/photos/hand.jpg", False), ("/clips/take.mp4", True), ("", False)])
def test_movie_starts_at_shows_only_for_movies(enabled_addon, path, shown):
    settings = bpy.context.scene.maskhand.estimate
    settings.source_kind, settings.image_path = 'FILE', path
    tree = record_draw(_panels()["MASKHAND_PT_source"], bpy.context)
    assert ("Movie Starts At" in [w.text for w in tree.walk() if w.kind == "prop"]) == shown
    settings.image_path = ""


def test_import_panel_shows_a_frame_rate_only_when_not_the_files(enabled_addon):
    settings = bpy.context.scene.maskhand
    cls = _panels()["MASKHAND_PT_import"]
    props = lambda: [w.text for w in record_draw(cls, bpy.context).walk() if w.kind == "prop"]  # noqa: E731
    assert props() == ["File's Frame Rate"]
    settings.import_use_file_fps = False
    try:
        assert props() == ["File's Frame Rate", "FPS"]
    finally:
        settings.import_use_file_fps = True


def test_hypotheses_show_relative_confidence_best_first_and_locks_thumb_to_little(enabled_addon):
    import json

    from maskhand.blender.workflow import relative_confidence

    settings = bpy.context.scene.maskhand.estimate
    settings.hypotheses.clear()
    scores = {'right': [-3.5, -3.9], 'left': [-4.2]}
    for side, values in scores.items():
        for rank, (score, share) in enumerate(zip(values, relative_confidence(values)), start=1):
            item = settings.hypotheses.add()
            item.side, item.rank, item.score, item.confidence = side, rank, score, share
            item.hand_index = 0 if side == 'right' else 1
            item.payload = json.dumps({"hand": {"side": side}, "hypothesis": {
                "score": score, "part_confidence": [0.9, 0.8, 0.7, 0.6, 0.5, 0.95]}})
    settings.last_image = json.dumps({"frame": 7})
    settings.active_index = 1
    settings.lock_thumb = True
    try:
        tree = record_draw(_panels()["MASKHAND_PT_hypotheses"], bpy.context)
        (listing,) = [w for w in tree.walk() if w.kind == "list"]
        rows = [([w.text for w in row.walk() if w.kind == "label"], [w.text for w in row.walk() if w.kind == "progress"])
                for row in listing.children]
        assert rows == [(["R1  #1"], ["60%"]), (["R1  #2"], ["40%"]), (["L2  #1"], ["100%"])], rows
        assert [row.active for row in listing.children] == [False, True, False]
        locks = [(w.text, w.value) for w in tree.walk() if w.kind == "prop" and w.style == "toggle"]
        assert locks == [("Wrist", False), ("Thumb", True), ("Index", False), ("Middle", False), ("Ring", False),
                         ("Little", False)]
        sure = [t for t in _texts(tree, "label") if t.endswith("sure")]
        assert sure == ["90% sure", "95% sure", "80% sure", "70% sure", "50% sure", "60% sure"]  # PARTS -> thumb..little
        assert "Frame 7: 2 hand(s)" in _texts(tree, "label")[0]
        assert _texts(tree, "operator") == ["Resample", "Keyframe"]
    finally:
        settings.hypotheses.clear()
        settings.lock_thumb = False
        settings.last_image = ""


def test_track_panel_shows_progress_only_while_running_and_which_rig_gets_which_hand(enabled_addon):
    settings = bpy.context.scene.maskhand.estimate
    cls = _panels()["MASKHAND_PT_track"]
    tree = record_draw(cls, bpy.context)
    assert not [w for w in tree.walk() if w.kind == "progress"]
    assert "Right hand -> no rig (Add Hand Rig)" in _texts(tree, "label")
    settings.running, settings.progress = True, 40.0
    try:
        (bar,) = [w for w in record_draw(cls, bpy.context).walk() if w.kind == "progress"]
    finally:
        settings.running, settings.progress = False, 0.0
    assert bar.factor == pytest.approx(0.4) and "Esc cancels" in bar.text


def test_retarget_panel_lists_the_mapping_once_detected(enabled_addon):
    from maskhand.blender.build_rig import add_hand_rig
    from maskhand.handmodel.open_hand import load_open_hand

    cls = _panels()["MASKHAND_PT_retarget"]
    assert "Detect the mapping or pick a preset" in _texts(record_draw(cls, bpy.context), "label")
    s = bpy.context.scene.maskhand.retarget
    s.target = add_hand_rig(bpy.context.scene.collection, load_open_hand("right"), name="Character")[0]
    bpy.ops.pose.maskhand_retarget_detect()
    tree = record_draw(cls, bpy.context)
    (listing,) = [w for w in tree.walk() if w.kind == "list"]
    assert len(listing.children) == len(s.slots) > 0
    assert any(w.style == "search" for w in tree.walk() if w.kind == "prop")  # bones picked from the target


def test_preferences_draw_the_backend_box(enabled_addon):
    p = bpy.context.preferences.addons["maskhand"].preferences
    tree = record_draw(type(p), bpy.context, owner=p)
    assert _texts(tree, "operator") == ["Install Backend", "Test Backend"]
    assert any(t.startswith("Status: ") for t in _texts(tree, "label"))
    assert {w.text for w in tree.walk() if w.kind == "prop"} >= {"Backend Python", "Device", "Model Checkpoint"}


class _BrokenPanel:
    """What a typo in a panel looks like."""
    bl_label = "Broken"

    def draw(self, context):
        self.layout.prop(context.scene.maskhand.estimate, "hypothesis_count")  # the property is hypotheses_count


class _UnknownOperatorPanel:
    bl_label = "Unknown operator"

    def draw(self, context):
        self.layout.operator("view3d.maskhand_estimat")


class _UnknownLayoutCall:
    bl_label = "Unknown call"

    def draw(self, context):
        self.layout.template_curve_mapping(context.scene, "frame_current")


def test_the_recorder_refuses_what_blender_could_not_draw(enabled_addon):
    with pytest.raises(LayoutError, match="hypothesis_count"):
        record_draw(_BrokenPanel, bpy.context)
    with pytest.raises(LayoutError, match="view3d.maskhand_estimat"):
        record_draw(_UnknownOperatorPanel, bpy.context)
    with pytest.raises(AttributeError, match="template_curve_mapping"):
        record_draw(_UnknownLayoutCall, bpy.context)
    button = None

    class _OperatorArgument:
        bl_label = "Operator argument"

        def draw(self, context):
            nonlocal button
            button = self.layout.operator("object.maskhand_add_rig")
            button.side = 'LEFT'
            button.sidee = 'LEFT'

    with pytest.raises(LayoutError, match="sidee"):
        record_draw(_OperatorArgument, bpy.context)
    assert button.values == {"side": 'LEFT'}


def test_the_panel_picture_draws_every_recorded_widget(enabled_addon, tmp_path):
    pytest.importorskip("PIL")
    spec = importlib.util.spec_from_file_location("render_panels", REPO / "tools" / "render_panels.py")
    render_panels = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render_panels)
    panels = [(cls.bl_label, record_draw(cls, bpy.context)) for cls in _panels().values()]
    image = render_panels.with_tab(render_panels.draw_panels(panels, render_panels.SIDEBAR_WIDTH), "MaskHand")
    assert image.width > render_panels.SIDEBAR_WIDTH and image.height > 20 * render_panels.U
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 20)}
    assert render_panels.THEME["button"] in colours and render_panels.THEME["text"] in colours
