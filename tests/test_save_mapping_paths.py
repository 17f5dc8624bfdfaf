"""The retarget panel's Save Mapping refuses a target it cannot write, in one sentence, writing nothing
(issue 16: the operators that save use the same check as the command line, output_paths)."""
import pytest

bpy = pytest.importorskip("bpy")
from maskhand.blender.build_rig import add_hand_rig  # noqa: E402
from maskhand.handmodel.open_hand import load_open_hand  # noqa: E402


@pytest.fixture(scope="module")
def addon():
    import maskhand

    maskhand.register()
    yield maskhand
    maskhand.unregister()


@pytest.mark.parametrize("target, message", [
    ("adir", "the mapping file {tmp}/adir is a folder; expected a .json file to write"),
    ("map.txt", "the mapping file must name a .json file; got map.txt"),
    ("afile/map.json", "{tmp}/afile is a file, not a folder"),
])
def test_save_mapping_refuses_what_it_cannot_write(fresh_scene, addon, tmp_path, target, message):
    arm, _ = add_hand_rig(bpy.context.scene.collection, load_open_hand("right"))
    bpy.context.view_layer.objects.active = arm
    bpy.context.scene.maskhand.retarget.target = arm
    assert bpy.ops.pose.maskhand_retarget_detect() == {'FINISHED'}
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("")
    with pytest.raises(RuntimeError, match="Error: ") as err:  # an ERROR report reaches a script so
        bpy.ops.pose.maskhand_retarget_save(filepath=str(tmp_path / target))
    assert message.format(tmp=tmp_path) in str(err.value)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["adir", "afile"]
    assert bpy.ops.pose.maskhand_retarget_save(filepath=str(tmp_path / "ok" / "map.json")) == {'FINISHED'}
    assert (tmp_path / "ok" / "map.json").is_file()
