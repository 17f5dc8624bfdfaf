"""Sidebar panels of MaskHand, one per file; this module only wires them, in the order listed
(which is the order they appear in the sidebar)."""
import importlib

import bpy

_modules = ("main", "estimate", "hypotheses", "track", "retarget")

classes = tuple(cls for name in _modules for cls in importlib.import_module(f".{name}", __package__).classes)

register, unregister = bpy.utils.register_classes_factory(classes)


def panel_classes() -> list:
    """The panels, top to bottom as the sidebar shows them (their UI lists left out)."""
    return [cls for cls in classes if issubclass(cls, bpy.types.Panel)]
