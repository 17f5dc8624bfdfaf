"""Sidebar panels of MaskHand, one per file; this module only wires them, in the order listed
(which is the order they appear in the sidebar)."""
import importlib

import bpy

_modules = ("main", "estimate", "hypotheses", "track", "retarget")


def _load():
    return [importlib.import_module(f".{name}", __package__) for name in _modules]


def panel_classes() -> list:
    """The panels, top to bottom as the sidebar shows them (their UI lists left out)."""
    return [cls for module in _load() for cls in module.classes if issubclass(cls, bpy.types.Panel)]


def register():
    for module in _load():
        for cls in module.classes:
            bpy.utils.register_class(cls)


def unregister():
    for module in reversed(_load()):
        for cls in reversed(module.classes):
            bpy.utils.unregister_class(cls)
