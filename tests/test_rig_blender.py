"""The rig in real Blender deforms exactly like the core hand model."""
import numpy as np
import pytest

from maskhand.handmodel.open_hand import load_open_hand
from maskhand.rigmath.pose_to_bones import bone_quaternions, root_locations
from maskhand.rigmath.rig_layout import joint_bone_names, tip_bone_names

bpy = pytest.importorskip("bpy")
from maskhand.blender.build_rig import PROP_SIDE, add_hand_rig, bone_rest_rotations  # noqa: E402


def evaluated_vertices(mesh_obj):
    depsgraph = bpy.context.evaluated_depsgraph_get()
    me = mesh_obj.evaluated_get(depsgraph).data
    co = np.empty(len(me.vertices) * 3)
    me.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


@pytest.mark.parametrize("side", ["right", "left"])
def test_rig_matches_core_model(fresh_scene, side):
    model = load_open_hand(side)
    rng = np.random.default_rng(11 if side == "right" else 12)
    betas = rng.normal(size=10)
    arm_obj, mesh_obj = add_hand_rig(bpy.context.scene.collection, model, betas)
    names = joint_bone_names(side)
    assert sorted(b.name for b in arm_obj.data.bones) == sorted(names + tip_bone_names(side))
    assert arm_obj[PROP_SIDE] == side and len(mesh_obj.vertex_groups) == 16
    B = bone_rest_rotations(arm_obj, names)

    n = 50
    go, hp, tr = rng.normal(size=(n, 3)), rng.normal(size=(n, 45)) * 0.5, rng.normal(size=(n, 3)) * 0.05
    Q = bone_quaternions(go, hp, B)
    loc = root_locations(tr, B[0])
    ref = model.forward(go, hp, betas, tr)
    worst_j = worst_v = 0.0
    for f in range(n):
        for j, name in enumerate(names):
            arm_obj.pose.bones[name].rotation_quaternion = Q[f, j]
        arm_obj.pose.bones[names[0]].location = loc[f]
        bpy.context.view_layer.update()
        heads = np.array([arm_obj.pose.bones[nm].head for nm in names])
        tips = np.array([arm_obj.pose.bones[nm].head for nm in tip_bone_names(side)])
        worst_j = max(worst_j, np.abs(heads - ref.joints[f]).max(),
                      np.abs(tips - ref.keypoints[f, [4, 8, 12, 16, 20]]).max())
        worst_v = max(worst_v, np.linalg.norm(evaluated_vertices(mesh_obj) - ref.vertices[f], axis=1).max())
    assert worst_j < 1e-3, f"joints off by {worst_j * 1000:.3f} mm"
    assert worst_v < 1e-3, f"vertices off by {worst_v * 1000:.3f} mm"
