"""The repository folder is a valid Blender extension that installs, enables and disables cleanly.

Everything runs through Blender's own tools (blender_ext.py, extension repos, addon_utils), and the
bpy part runs in a fresh subprocess so its state, and a possible hang at exit, never reach pytest.
"""
import ast
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from extension_install import INSTALL_PROLOGUE, RESULT_EPILOGUE

REPO = Path(__file__).resolve().parents[1]

# What must never ship in the extension zip: developer files of the pip package and of git.
DEV_ONLY = ("tests/", "tools/", "docs/", ".venv/", ".git/", ".ci/", "benchmarks/", "pyproject.toml",
            "training/", "evaluation/", "cli.py", "__main__.py")

# Run by a fresh `python` with bpy; prints one JSON line with everything the tests assert.
INSTALL_SCRIPT = INSTALL_PROLOGUE + r'''
def state(mod):
    ops = {}
    for sub, name in (("object", "maskhand_add_rig"), ("anim", "maskhand_import_mano")):
        try:
            getattr(getattr(bpy.ops, sub), name).get_rna_type()
            ops[f"{sub}.{name}"] = True
        except KeyError:
            ops[f"{sub}.{name}"] = False
    return {
        "loaded": addon_utils.check(mod)[1],
        "in_prefs": mod in bpy.context.preferences.addons,
        "ops": ops,
        "panel": hasattr(bpy.types, "MASKHAND_PT_main"),
        "scene_prop": hasattr(bpy.types.Scene, "maskhand"),
        "heavy_modules": sorted(m for m in ("torch", "mediapipe", "cv2", "smplx") if m in sys.modules),
    }


out["enabled"] = state(mod)
scene = bpy.context.scene
out["defaults"] = {"side": scene.maskhand.side, "import_use_file_fps": scene.maskhand.import_use_file_fps}
prefs = sys.modules[mod + ".prefs"].get(bpy.context)
out["prefs"] = {"type": type(prefs).__name__, "mano_dir": prefs.mano_dir}
rig_poll = sys.modules[mod + ".properties"]._is_armature
out["rig_poll"] = {
    kind: rig_poll(None, bpy.data.objects.new(kind, data))
    for kind, data in (("ARMATURE", bpy.data.armatures.new("a")), ("MESH", bpy.data.meshes.new("m")))
}
import maskhand as by_name  # docs/SCRIPTING.md: scripts import the extension as plain maskhand
from maskhand import api as api_by_name
out["scripting_name"] = {"package": by_name.__name__, "api": api_by_name.__name__,
                         "one_workflow": api_by_name.workflow is sys.modules[mod + ".blender.workflow"]}
addon_utils.disable(mod, default_set=True)
out["disabled"] = state(mod)
try:
    import maskhand as after
    out["name_after_disable"] = after.__name__
except ImportError:
    out["name_after_disable"] = None
''' + RESULT_EPILOGUE


def _run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)


def test_manifest_validates(blender_ext, blender_tags):
    proc = _run([sys.executable, str(blender_ext), "validate", "--valid-tags", str(blender_tags), str(REPO)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout, proc.stdout


def test_zip_holds_the_addon_and_no_dev_files(extension_zip):
    names = zipfile.ZipFile(extension_zip).namelist()
    for needed in ("blender_manifest.toml", "LICENSE", "__init__.py", "prefs.py", "properties/__init__.py",
                   "operators/__init__.py", "panels/main.py"):
        assert needed in names, (needed, names)
    leaked = [n for n in names if n.startswith(DEV_ONLY) or "__pycache__" in n or ".egg-info" in n
              or any(part.startswith(".") for part in n.split("/"))]
    assert leaked == [], leaked


def test_shipped_code_imports_only_shipped_code(extension_zip):
    """Every import of a MaskHand module in the zip resolves inside the zip (nothing shipped leans on
    training/, tools/, evaluation/ or the command line, which stay out of it)."""
    zf = zipfile.ZipFile(extension_zip)
    names = set(zf.namelist())
    modules = {n[:-3].replace("/", ".").removesuffix(".__init__") for n in names if n.endswith(".py")}
    modules.add("")  # the package root
    unresolved = {}
    for name in sorted(n for n in names if n.endswith(".py")):
        package = name[:-3].replace("/", ".").rsplit(".", 1)[0] if "/" in name else ""
        if name.endswith("__init__.py"):
            package = name[: -len("__init__.py")].rstrip("/").replace("/", ".")
        for node in ast.walk(ast.parse(zf.read(name).decode("utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.level > 0):
                continue
            base = package.split(".") if package else []
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            target = ".".join(base + ([node.module] if node.module else []))
            candidates = [target] + [f"{target}.{a.name}".lstrip(".") for a in node.names]
            if not any(c in modules for c in candidates):
                unresolved.setdefault(name, []).append("." * node.level + (node.module or ""))
    assert unresolved == {}, unresolved


def test_install_enable_disable(extension_zip, tmp_path):
    repo_dir = tmp_path / "repo"
    repo_dir.mkdir()
    # Blender's user folders go to tmp, so the test never reads or writes the real ~/.config/blender.
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    proc = _run([sys.executable, "-c", INSTALL_SCRIPT, str(extension_zip), str(repo_dir)], env=env, cwd=tmp_path)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-4000:] + proc.stderr[-4000:]
    res = json.loads(lines[-1][len("RESULT "):])

    assert res["install"] == ["FINISHED"], res
    assert res["module"].startswith("bl_ext.") and res["module"].endswith(".maskhand"), res
    on, off = res["enabled"], res["disabled"]
    assert on["loaded"] and on["in_prefs"] and on["panel"] and on["scene_prop"], on
    assert all(on["ops"].values()), on["ops"]
    assert on["heavy_modules"] == [], "enabling the add-on imported " + ", ".join(on["heavy_modules"])
    assert res["defaults"] == {"side": "RIGHT", "import_use_file_fps": True}, res["defaults"]  # the file's own rate
    assert res["prefs"] == {"type": "MaskHandPreferences", "mano_dir": ""}, res["prefs"]
    assert res["rig_poll"] == {"ARMATURE": True, "MESH": False}, res["rig_poll"]
    assert res["scripting_name"] == {"package": res["module"], "api": res["module"] + ".api",
                                     "one_workflow": True}, res["scripting_name"]
    assert res["name_after_disable"] != res["module"], "maskhand still names the disabled extension"

    assert not off["loaded"] and not off["in_prefs"], off
    assert not any(off["ops"].values()), off["ops"]
    assert not off["panel"] and not off["scene_prop"], off
