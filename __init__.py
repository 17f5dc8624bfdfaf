"""MaskHand: hand poses from reference photos and video onto Blender hand rigs.

This file is both the Blender extension's entry point and the root of the pip package
``maskhand``. It must import nothing from Blender at module level, so that the backend
(``python -m maskhand ...``) can import the package without bpy; Blender calls register().
"""

_modules = ("prefs", "properties", "operators", "panels")


def _load():
    import importlib

    return [importlib.import_module(f".{name}", __package__) for name in _modules]


def register():
    from . import scripting_name

    for module in _load():
        module.register()
    scripting_name.install(__package__)


def unregister():
    from . import scripting_name

    scripting_name.uninstall()
    for module in reversed(_load()):
        module.unregister()
