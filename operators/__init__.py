"""Operators of MaskHand, one per file; this module only wires them, in the order listed."""
import importlib

import bpy

_modules = ("add_rig", "import_mano", "install_backend", "estimate", "resample", "keyframe", "track", "take_cleanup",
            "reference_camera", "retarget")

classes = tuple(cls for name in _modules for cls in importlib.import_module(f".{name}", __package__).classes)

register, unregister = bpy.utils.register_classes_factory(classes)
