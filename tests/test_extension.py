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

import pytest

REPO = Path(__file__).resolve().parents[1]

# What must never ship in the extension zip: developer files of the pip package and of git.
DEV_ONLY = ("tests/", "tools/", "docs/", ".venv/", ".git/", ".ci/", "benchmarks/", "pyproject.toml")

# Run by a fresh `python` with bpy; prints one JSON line with everything the tests assert.
INSTALL_SCRIPT = r'''
import json, os, sys
import bpy
import addon_utils  # on sys.path only once bpy is imported

zip_path, repo_dir = sys.argv[1], sys.argv[2]


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


out = {}
bpy.ops.preferences.extension_repo_add(
    name="maskhand_test", type="LOCAL", use_custom_directory=True, custom_directory=repo_dir)
repo = next(r for r in bpy.context.preferences.extensions.repos if r.directory == repo_dir)
out["install"] = sorted(bpy.ops.extensions.package_install_files(
    filepath=zip_path, repo=repo.module, enable_on_install=True))
mod = f"bl_ext.{repo.module}.maskhand"
out["module"] = mod
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
print("RESULT " + json.dumps(out))
sys.stdout.flush()
os._exit(0)  # bpy can hang while the interpreter shuts down
'''


def _run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory, blender_ext, blender_tags):
    """The extension zip that `blender_ext.py build` makes from the repository folder."""
    out_dir = tmp_path_factory.mktemp("dist")
    proc = _run([sys.executable, str(blender_ext), "build", "--source-dir", str(REPO),
                 "--output-dir", str(out_dir), "--valid-tags", str(blender_tags)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    zips = list(out_dir.glob("*.zip"))
    assert [z.name for z in zips] == ["maskhand-0.1.0.zip"], proc.stdout
    return zips[0]


def test_manifest_validates(blender_ext, blender_tags):
    proc = _run([sys.executable, str(blender_ext), "validate", "--valid-tags", str(blender_tags), str(REPO)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout, proc.stdout


def test_zip_holds_the_addon_and_no_dev_files(built_zip):
    names = zipfile.ZipFile(built_zip).namelist()
    for needed in ("blender_manifest.toml", "LICENSE", "__init__.py", "prefs.py", "properties.py",
                   "operators/__init__.py", "panels/main.py"):
        assert needed in names, (needed, names)
    leaked = [n for n in names if n.startswith(DEV_ONLY) or "__pycache__" in n or ".egg-info" in n
              or any(part.startswith(".") for part in n.split("/"))]
    assert leaked == [], leaked


def test_install_enable_disable(built_zip, tmp_path):
    repo_dir = tmp_path / "repo"
    repo_dir.mkdir()
    # Blender's user folders go to tmp, so the test never reads or writes the real ~/.config/blender.
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    proc = _run([sys.executable, "-c", INSTALL_SCRIPT, str(built_zip), str(repo_dir)], env=env, cwd=tmp_path)
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
