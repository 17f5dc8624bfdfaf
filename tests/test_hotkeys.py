"""Optional hotkeys for Estimate and Keyframe (issue 15, "Findable"): off by default, the preference
adds and removes them, unregistering removes them, and the combinations are free in Blender's own
default keymap wherever the 3D Viewport looks in Object and Pose modes.

bpy as a module has an add-on keyconfig (``keyconfigs.addon`` is not None there), so these tests
check the real keymap items; the path for a keyconfig of None (some background setups) is tested
as well: the register path then adds nothing and does not fail.
"""
import sys

import pytest

bpy = pytest.importorskip("bpy")
from maskhand.tools.layout_recorder import record_draw  # noqa: E402

OURS = {"view3d.maskhand_estimate", "anim.maskhand_keyframe_hypothesis"}


@pytest.fixture
def prefs(enabled_addon):
    from maskhand import prefs

    yield prefs.get(bpy.context)
    prefs.get(bpy.context).use_hotkeys = False  # fetched again: re-registering makes a new instance


def our_items() -> list[tuple[str, str, str, bool, bool, bool]]:
    """(keymap, operator, key, ctrl, shift, alt) of every MaskHand item in the add-on keyconfig."""
    kc = bpy.context.window_manager.keyconfigs.addon
    return sorted((km.name, kmi.idname, kmi.type, kmi.ctrl, kmi.shift, kmi.alt)
                  for km in kc.keymaps for kmi in km.keymap_items if kmi.idname in OURS)


EXPECTED = sorted((km, idname, key, True, True, False) for km in ("Object Mode", "Pose")
                  for idname, key in (("view3d.maskhand_estimate", 'E'), ("anim.maskhand_keyframe_hypothesis", 'K')))


def test_hotkeys_are_off_by_default(prefs):
    assert bpy.context.window_manager.keyconfigs.addon is not None, "bpy as a module has an add-on keyconfig"
    assert prefs.use_hotkeys is False
    assert our_items() == []


def test_the_preference_adds_and_removes_them(prefs):
    prefs.use_hotkeys = True
    assert our_items() == EXPECTED
    prefs.use_hotkeys = True  # again: no duplicates
    assert our_items() == EXPECTED
    prefs.use_hotkeys = False
    assert our_items() == []


def test_unregister_removes_them_and_register_restores_them(enabled_addon, prefs):
    prefs.use_hotkeys = True
    enabled_addon.unregister()
    try:
        assert our_items() == []
    finally:
        enabled_addon.register()
    from maskhand import prefs as prefs_module

    assert prefs_module.get(bpy.context).use_hotkeys is True and our_items() == EXPECTED


def test_no_keyconfig_adds_nothing(enabled_addon, monkeypatch):
    """Background Blender may have no add-on keyconfig: the register path skips, nothing raises."""
    from maskhand.panels import hotkeys

    monkeypatch.setattr(hotkeys, "addon_keyconfig", lambda context=None: None)
    assert hotkeys.add(bpy.context) == 0 and not hotkeys.is_on()
    hotkeys.set_enabled(bpy.context, True)
    assert not hotkeys.is_on() and hotkeys.remove() == 0


def test_the_item_list_is_one_per_action_and_mode():
    from maskhand.panels import hotkeys

    items = hotkeys.hotkeys()
    assert sorted((h.keymap, h.idname, h.key, h.ctrl, h.shift, False) for h in items) == EXPECTED
    assert {h.text for h in items} == {"Ctrl Shift E", "Ctrl Shift K"}


# Blender's default keymaps that handle keys in the 3D Viewport in Object Mode and Pose Mode.
VIEWPORT_KEYMAPS = ("Window", "Screen", "Screen Editing", "User Interface", "Frames", "Animation", "3D View Generic",
                    "3D View", "Object Non-modal", "Object Mode", "Pose")


def test_the_combinations_are_free_in_blenders_default_keymap():
    scripts = bpy.utils.system_resource('SCRIPTS')
    sys.path.insert(0, f"{scripts}/presets/keyconfig")
    try:
        from keymap_data import blender_default
    finally:
        sys.path.remove(f"{scripts}/presets/keyconfig")
    from maskhand.panels import hotkeys

    keymaps = {name: data["items"] for name, _, data in blender_default.generate_keymaps(blender_default.Params())}
    assert set(VIEWPORT_KEYMAPS) <= set(keymaps), set(VIEWPORT_KEYMAPS) - set(keymaps)
    for hk in hotkeys.hotkeys():
        for name in VIEWPORT_KEYMAPS:
            for idname, event, _ in keymaps[name]:
                if event.get("type") != hk.key or event.get("value") not in ("PRESS", "CLICK", "ANY", None):
                    continue
                same = event.get("any") or (bool(event.get("ctrl")) == hk.ctrl and bool(event.get("shift")) == hk.shift
                                            and not event.get("alt") and not event.get("oskey"))
                assert not same, f"{hk.text} is {idname} in Blender's '{name}' keymap"


def test_the_preferences_list_the_hotkeys(prefs):
    tree = record_draw(type(prefs), bpy.context, owner=prefs)
    labels = [w.text for w in tree.walk() if w.kind == "label"]
    assert "Ctrl Shift E" in labels and "Estimate Hands (Object and Pose modes)" in labels, labels
    assert "Ctrl Shift K" in labels and "Keyframe Pose (Object and Pose modes)" in labels, labels
    assert any(w.kind == "prop" and w.text == "Hotkeys" for w in tree.walk())
