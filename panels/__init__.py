"""Sidebar panels of MaskHand, one per file; this module only wires them, in the order listed."""
import importlib

_modules = ("main", "estimate", "hypotheses", "track", "retarget")


def _load():
    return [importlib.import_module(f".{name}", __package__) for name in _modules]


def register():
    for module in _load():
        module.register()


def unregister():
    for module in reversed(_load()):
        module.unregister()
