"""Every MaskHand operator is reachable from a menu, so F3 finds it (issue 15, "Findable").

Menus are drawn with tools/layout_recorder.py on real bpy (bpy as a module has no window), which
resolves every operator id and menu name the way Blender does.
"""
import pytest

bpy = pytest.importorskip("bpy")
from maskhand.tools.layout_recorder import record_draw  # noqa: E402

# A name in F3 starts with what the operator does.
VERBS = {"Estimate", "Resample", "Keyframe", "Track", "Re-smooth", "Re-solve", "Set", "Add", "Import", "Detect",
         "Save", "Load", "Retarget", "Key", "Test", "Install"}


class _Drawn:
    """A stand-in Menu class for one function appended to a Blender menu."""

    def __init__(self, draw):
        self.draw = draw
        self.bl_label = draw.__name__


def _operators_in(tree):
    return {w.value for w in tree.walk() if w.kind == "operator"}


def test_blender_menus_carry_maskhand_entries(enabled_addon):
    from maskhand.panels import menus

    for menu, draw in menus.ENTRIES:
        assert draw in getattr(bpy.types, menu).draw._draw_funcs, menu
    assert {w.value for w in record_draw(_Drawn(menus.draw_tools_entry), bpy.context).walk()
            if w.kind == "menu"} == {"MASKHAND_MT_tools"}
    assert _operators_in(record_draw(_Drawn(menus.draw_import_entry), bpy.context)) == {"anim.maskhand_import_mano"}
    added = record_draw(_Drawn(menus.draw_add_entry), bpy.context)
    assert [w.text for w in added.walk() if w.kind == "operator"] == ["MaskHand Hand (Right)", "MaskHand Hand (Left)"]


def test_every_operator_is_in_a_menu_with_a_verb_first(enabled_addon):
    from maskhand.operators import classes
    from maskhand.panels import menus

    reachable = _operators_in(record_draw(bpy.types.MASKHAND_MT_tools, bpy.context))
    for _, draw in menus.ENTRIES:
        reachable |= _operators_in(record_draw(_Drawn(draw), bpy.context))
    ours = {cls.bl_idname for cls in classes}
    assert ours - reachable == set(), "not in any menu: " + ", ".join(sorted(ours - reachable))
    for cls in classes:
        assert cls.bl_label.split()[0] in VERBS, f"{cls.bl_idname}: '{cls.bl_label}' does not start with a verb"
        assert cls.bl_idname.split(".")[1].startswith("maskhand_"), cls.bl_idname


def test_menu_entries_go_away_with_the_addon(enabled_addon):
    from maskhand.panels import menus

    enabled_addon.unregister()
    try:
        for menu, draw in menus.ENTRIES:
            assert draw not in getattr(bpy.types, menu).draw._draw_funcs, menu
        assert not hasattr(bpy.types, "MASKHAND_MT_tools")
    finally:
        enabled_addon.register()  # the fixture unregisters at the end
