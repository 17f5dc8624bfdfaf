"""Sidebar panels and menus of MaskHand, one per file; this module only wires them, in the order
listed (which is the order the panels appear in the sidebar)."""
import importlib

import bpy

from ..blender import keypoint_overlay
from . import hotkeys, menus

_modules = ("main", "source", "hypotheses", "track", "import_pose", "retarget", "menus")

classes = tuple(cls for name in _modules for cls in importlib.import_module(f".{name}", __package__).classes)

_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register():
    _register_classes()
    menus.append()
    hotkeys.register()  # only when the preference asks for them
    keypoint_overlay.show(True)


def unregister():
    keypoint_overlay.show(False)
    hotkeys.unregister()
    menus.remove()
    _unregister_classes()


def panel_classes() -> list:
    """The panels, top to bottom as the sidebar shows them (their UI lists left out)."""
    return [cls for cls in classes if issubclass(cls, bpy.types.Panel)]
