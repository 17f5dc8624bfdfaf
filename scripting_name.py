"""`import maskhand` inside Blender: the name scripts use, whatever the extension repository is called.

Blender loads the extension as ``bl_ext.<repository>.maskhand`` (``bl_ext.user_default.maskhand``
for most users), so a script written as ``from maskhand import api`` would fail, or would load a
second copy of the package with its own backend client. While the add-on is enabled, a finder at
the front of ``sys.meta_path`` answers ``maskhand`` and every ``maskhand.<module>`` with the
extension's own module objects: one package, two names. Stdlib only (the root __init__ imports it).
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

NAME = "maskhand"


class ScriptingName(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves NAME and NAME.<module> to `package` and package.<module> (the same module objects)."""

    def __init__(self, package: str):
        self.package = package

    def find_spec(self, fullname, path=None, target=None):
        if fullname == NAME or fullname.startswith(NAME + "."):
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(self.package + spec.name[len(NAME):])

    def exec_module(self, module):
        """Nothing to run: create_module returned the extension's module, already executed."""


def install(package: str) -> None:
    """Let `import maskhand` reach `package` (a no-op when the package is imported as maskhand)."""
    if package == NAME:
        return
    uninstall()
    for name in [n for n in sys.modules if n == NAME or n.startswith(NAME + ".")]:
        del sys.modules[name]  # another copy (a pip-installed maskhand) must not answer for the extension
    sys.meta_path.insert(0, ScriptingName(package))


def uninstall() -> None:
    """Take the name back (the add-on is disabled): later imports of maskhand fail or find a pip copy."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, ScriptingName)]
    for name in [n for n in sys.modules if n == NAME or n.startswith(NAME + ".")]:
        if getattr(sys.modules[name], "__name__", name) != name:
            del sys.modules[name]
