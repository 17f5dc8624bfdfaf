"""The two process boundaries of DESIGN.md hold in the source: no bpy in the core, no torch in Blender.

Checked with `ast` (every import statement at any depth, plus import_module("...") calls), not grep,
and once at run time, because a relative import can pull a forbidden module in transitively.
"""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Modules that exist only inside Blender; the pure core must run in the backend without them.
BLENDER_ONLY = {"bpy", "bpy_extras", "mathutils", "bmesh", "gpu", "addon_utils", "bl_math"}
# Backend-only modules: large, slow to import, and absent from (or clashing with) Blender's Python.
BACKEND_ONLY = {"torch", "torchvision", "mediapipe", "cv2", "smplx", "anny"}

CORE = ("handmodel", "rigmath", "posefiles", "inference", "training", "evaluation")
BLENDER_SIDE = ("__init__.py", "prefs.py", "properties",
                "api.py", "operators", "panels", "blender")


def imported_roots(source: str) -> set[str]:
    """Top-level names of every absolute import in `source`, including ones inside functions."""
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.partition(".")[0])
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id in {"import_module", "__import__"}))):
            if not node.args[0].value.startswith("."):
                roots.add(node.args[0].value.partition(".")[0])
    return roots


def python_files(entries) -> list[Path]:
    """The .py files of the given repository-root files and folders (missing folders give none)."""
    files = []
    for entry in entries:
        path = REPO / entry
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return [f for f in files if "__pycache__" not in f.parts]


def violations(entries, forbidden) -> dict[str, list[str]]:
    found = {}
    for path in python_files(entries):
        bad = imported_roots(path.read_text(encoding="utf-8")) & forbidden
        if bad:
            found[str(path.relative_to(REPO))] = sorted(bad)
    return found


@pytest.mark.parametrize("source, roots", [
    ("import bpy", {"bpy"}),
    ("import torch.nn as nn, numpy", {"torch", "numpy"}),
    ("from mathutils import Matrix", {"mathutils"}),
    ("def f():\n    import cv2\n", {"cv2"}),
    ("class A:\n    def f(self):\n        from smplx.lbs import lbs\n", {"smplx"}),
    ("from . import prefs\nfrom ..errors import MaskHandError", set()),
    ("import importlib\nimportlib.import_module('mediapipe')", {"importlib", "mediapipe"}),
    ("from importlib import import_module\nimport_module('.add_rig', __package__)", {"importlib"}),
    ("__import__('torch')", {"torch"}),
])
def test_imported_roots_finds_every_absolute_import(source, roots):
    assert imported_roots(source) == roots


def test_files_are_found():
    blender_side = {str(p.relative_to(REPO)) for p in python_files(BLENDER_SIDE)}
    for needed in ("__init__.py", "prefs.py", "properties/__init__.py", "operators/__init__.py", "panels/main.py"):
        assert needed in blender_side, sorted(blender_side)
    assert python_files(CORE), "no core files found; the folder names in CORE are stale"


def test_core_never_imports_blender():
    assert violations(CORE, BLENDER_ONLY) == {}


def test_blender_side_never_imports_backend():
    assert violations(BLENDER_SIDE, BACKEND_ONLY) == {}


def test_importing_the_package_loads_neither_bpy_nor_torch(tmp_path):
    """`import maskhand` is what both Blender and the backend do first; it must stay light."""
    script = ("import json, sys, maskhand; print(json.dumps({'file': maskhand.__file__, "
              f"'loaded': sorted(m for m in {sorted(BLENDER_ONLY | BACKEND_ONLY)!r} if m in sys.modules)}}))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(res["file"]).resolve() == REPO / "__init__.py", res["file"]
    assert res["loaded"] == [], res["loaded"]


def package_imports(path: Path) -> set[tuple[str, ...]]:
    """The repository-relative modules `path` imports from this package, at any depth (function-level
    imports too), relative imports resolved: `from ...training.config import X` in
    inference/model/a.py -> ("training", "config") and ("training", "config", "X")."""
    here = path.relative_to(REPO).parent.parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - (node.level - 1)]
            elif node.module and node.module.split(".")[0] == "maskhand":
                base = ()
            else:
                continue
            module = tuple(p for p in (node.module or "").split(".") if p and p != "maskhand")
            found.add(base + module)
            found.update(base + module + (alias.name,) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(tuple(a.name.split(".")[1:]) for a in node.names if a.name.split(".")[0] == "maskhand")
    return found


@pytest.mark.parametrize("source, file, expected", [
    ("from ...training.config import X", "inference/model/a.py", ("training", "config")),
    ("def f():\n    from .. import training\n", "inference/a.py", ("training",)),
    ("import maskhand.training.config", "inference/a.py", ("training", "config")),
    ("from maskhand.training import config", "inference/a.py", ("training",)),
])
def test_package_imports_resolves_relative_and_nested_imports(tmp_path, monkeypatch, source, file, expected):
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    path = tmp_path / file
    path.parent.mkdir(parents=True)
    path.write_text(source)
    assert expected in package_imports(path)


def test_inference_never_imports_training():
    """The backend's model loaders live in inference/model; training/ builds on inference/, never the
    other way round (issue 12), so the trainer need not ship for the estimator to run."""
    bad = {str(p.relative_to(REPO)): sorted(".".join(m) for m in package_imports(p) if m[:1] == ("training",))
           for p in python_files(("inference",))}
    assert {k: v for k, v in bad.items() if v} == {}
