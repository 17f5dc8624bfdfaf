"""Add a MaskHand rig to a scene: an armature (16 joint bones + 5 tip bones) and the skinned mesh.

Armature space is the hand model's frame (see rigmath.rig_layout); the armature object sits at
the given location with rig_layout.DISPLAY_ROTATION so the hand lies palm down, fingers along +Y.
The rig remembers what built it in custom properties, so importers can check side and shape.
"""
from __future__ import annotations

import bpy
import numpy as np
from mathutils import Matrix, Vector

from ..handmodel.model import HandModel
from ..rigmath.rig_layout import DISPLAY_ROTATION, rig_layout

PROP_SIDE = "maskhand_side"
PROP_BETAS = "maskhand_betas"
PROP_MODEL = "maskhand_model"


def add_hand_rig(collection: bpy.types.Collection, model: HandModel, betas=None,
                 location=(0.0, 0.0, 0.0), name: str | None = None) -> tuple[bpy.types.Object, bpy.types.Object]:
    """Create armature + mesh objects in `collection`; returns (armature_object, mesh_object)."""
    layout = rig_layout(model, betas)
    side_tag = "R" if model.side == "right" else "L"
    name = name or f"MaskHand.{side_tag}"

    arm = bpy.data.armatures.new(name)
    arm_obj = bpy.data.objects.new(name, arm)
    collection.objects.link(arm_obj)
    arm_obj.matrix_world = Matrix.Translation(Vector(location)) @ Matrix(DISPLAY_ROTATION.tolist()).to_4x4()
    arm.display_type = 'OCTAHEDRAL'
    _build_bones(arm_obj, layout)
    for pb in arm_obj.pose.bones:
        pb.rotation_mode = 'QUATERNION'
    arm_obj[PROP_SIDE] = model.side
    arm_obj[PROP_MODEL] = model.name
    arm_obj[PROP_BETAS] = [float(b) for b in (np.zeros(10) if betas is None else np.asarray(betas).ravel())]

    mesh_obj = _build_mesh(f"{name}.mesh", model, betas, layout, arm_obj)
    collection.objects.link(mesh_obj)
    return arm_obj, mesh_obj


def _build_bones(arm_obj, layout) -> None:
    """Edit bones need edit mode on an object in the view layer; enter and leave it safely."""
    view_layer = bpy.context.view_layer
    prev_active = view_layer.objects.active
    prev_mode = bpy.context.mode
    if prev_mode != 'OBJECT':
        bpy.ops.object.mode_set(mode='OBJECT')
    view_layer.objects.active = arm_obj
    bpy.ops.object.mode_set(mode='EDIT')
    try:
        ebs = arm_obj.data.edit_bones
        created = []
        for i, bone_name in enumerate(layout.names):
            eb = ebs.new(bone_name)
            eb.head = Vector(layout.heads[i])
            eb.tail = Vector(layout.tails[i])
            eb.align_roll(Vector(layout.z_axes[i]))
            eb.use_deform = bool(layout.deform[i])
            created.append(eb)
        for i, p in enumerate(layout.parents):
            if p >= 0:
                created[i].parent = created[p]
                created[i].use_connect = bool(p > 0 and i < 16 and
                                              np.allclose(layout.tails[p], layout.heads[i], atol=1e-9))
    finally:
        bpy.ops.object.mode_set(mode='OBJECT')
        view_layer.objects.active = prev_active


def _build_mesh(name, model: HandModel, betas, layout, arm_obj) -> bpy.types.Object:
    verts, _ = model.shaped(None if betas is None else np.asarray(betas)[None])
    me = bpy.data.meshes.new(name)
    me.from_pydata(verts[0].tolist(), [], model.faces.tolist())
    me.validate(clean_customdata=False)
    me.update()
    me.shade_smooth()
    obj = bpy.data.objects.new(name, me)
    obj.parent = arm_obj  # vertices are in armature space; identity parent inverse
    for j, bone_name in enumerate(layout.names[:16]):
        vg = obj.vertex_groups.new(name=bone_name)
        w = model.weights[:, j]
        for value in np.unique(w[w > 0]):
            vg.add(np.nonzero(w == value)[0].tolist(), float(value), 'REPLACE')
    mod = obj.modifiers.new("Armature", 'ARMATURE')
    mod.object = arm_obj
    mod.use_deform_preserve_volume = False  # plain LBS, like MANO
    return obj


def bone_rest_rotations(arm_obj, bone_names) -> np.ndarray:
    """(B, 3, 3) rest rotations of the named bones in armature space (bone.matrix_local)."""
    return np.array([np.array(arm_obj.data.bones[n].matrix_local.to_3x3()) for n in bone_names])
