"""The repository folder is a valid Blender extension that installs, enables and disables cleanly.

Everything runs through Blender's own tools (blender_ext.py, extension repos, addon_utils), and the
bpy part runs in a fresh subprocess so its state, and a possible hang at exit, never reach pytest.
"""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from extension_install import INSTALL_PROLOGUE, RESULT_EPILOGUE

REPO = Path(__file__).resolve().parents[1]

# What must never ship in the extension zip: developer files of the pip package and of git.
DEV_ONLY = ("tests/", "tools/", "docs/", ".venv/", ".git/", ".ci/", "benchmarks/", "pyproject.toml")

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
out["defaults"] = {"side": scene.maskhand.side, "import_fps": scene.maskhand.import_fps}
prefs = sys.modules[mod + ".prefs"].get(bpy.context)
out["prefs"] = {"type": type(prefs).__name__, "mano_dir": prefs.mano_dir}
rig_poll = sys.modules[mod + ".properties"]._is_armature
out["rig_poll"] = {
    kind: rig_poll(None, bpy.data.objects.new(kind, data))
    for kind, data in (("ARMATURE", bpy.data.armatures.new("a")), ("MESH", bpy.data.meshes.new("m")))
}
addon_utils.disable(mod, default_set=True)
out["disabled"] = state(mod)
''' + RESULT_EPILOGUE


def _run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)


def test_manifest_validates(blender_ext, blender_tags):
    proc = _run([sys.executable, str(blender_ext), "validate", "--valid-tags", str(blender_tags), str(REPO)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout, proc.stdout


def test_zip_holds_the_addon_and_no_dev_files(extension_zip):
    names = zipfile.ZipFile(extension_zip).namelist()
    for needed in ("blender_manifest.toml", "LICENSE", "__init__.py", "prefs.py", "properties.py",
                   "operators/__init__.py", "panels/main.py"):
        assert needed in names, (needed, names)
    leaked = [n for n in names if n.startswith(DEV_ONLY) or "__pycache__" in n or ".egg-info" in n
              or any(part.startswith(".") for part in n.split("/"))]
    assert leaked == [], leaked


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
    assert res["defaults"] == {"side": "RIGHT", "import_fps": 0}, res["defaults"]  # 0: the file's own rate
    assert res["prefs"] == {"type": "MaskHandPreferences", "mano_dir": ""}, res["prefs"]
    assert res["rig_poll"] == {"ARMATURE": True, "MESH": False}, res["rig_poll"]

    assert not off["loaded"] and not off["in_prefs"], off
    assert not any(off["ops"].values()), off["ops"]
    assert not off["panel"] and not off["scene_prop"], off
