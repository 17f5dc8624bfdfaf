"""Shared fixtures: where Blender's own tools are, and a clean scene for in-process bpy tests.

Nothing here imports bpy at collection time, so pure tests stay fast and bpy-free.
"""
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def bpy_scripts_dir() -> Path:
    """``.../bpy/<version>/scripts`` of the installed bpy wheel, found without importing bpy."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or spec.origin is None:
        pytest.skip("bpy (Blender as a Python module) is not installed")
    found = sorted(Path(spec.origin).parent.glob("*/scripts"))
    if not found:
        pytest.fail(f"no <version>/scripts folder next to {spec.origin}")
    return found[-1]


def pytest_collection_modifyitems(config, items):
    """The minutes-long tests first, so the two workers start on them and the short tests fill in
    around them, instead of one of them starting last and running alone."""
    items.sort(key=lambda item: item.get_closest_marker("minutes") is None)


@pytest.fixture(scope="session")
def blender_ext() -> Path:
    """Blender's extension command line (validate, build), as shipped in the bpy wheel."""
    path = bpy_scripts_dir() / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    assert path.is_file(), path
    return path


@pytest.fixture(scope="session")
def blender_tags() -> Path:
    """The tag list extensions.blender.org accepts, so validation is as strict as the platform's."""
    path = bpy_scripts_dir() / "modules" / "_bpy_internal" / "extensions" / "tags.py"
    assert path.is_file(), path
    return path


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory, blender_ext, blender_tags) -> Path:
    """The extension zip that `blender_ext.py build` makes from the repository folder, built once."""
    import subprocess
    import sys

    out_dir = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, str(blender_ext), "build", "--source-dir", str(REPO), "--output-dir",
                           str(out_dir), "--valid-tags", str(blender_tags)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    zips = list(out_dir.glob("*.zip"))
    assert [z.name for z in zips] == ["maskhand-0.1.0.zip"], proc.stdout
    return zips[0]


@pytest.fixture
def fresh_scene():
    """Reset Blender to its empty factory scene, so no test sees another's data."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.context.scene


@pytest.fixture(scope="module")
def enabled_addon():
    """The add-on registered as if enabled in Blender (so its preferences exist), on the factory
    scene; unregistered after the module's tests."""
    import bpy

    import maskhand

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.preferences.addons.new().module = "maskhand"
    maskhand.register()
    yield maskhand
    maskhand.unregister()
    bpy.context.preferences.addons.remove(bpy.context.preferences.addons["maskhand"])
