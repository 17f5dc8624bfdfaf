"""The "MaskHand" tab in the 3D Viewport sidebar: the rig the poses go to and the camera they are
seen through; the Source, Hypotheses, Track, Import and Retarget panels sit inside it."""
import bpy

from ..blender.pose_keys import rig_side
from ..errors import RigError
from .sidebar import SidebarPanel


def active_rig(context):
    """(rig, side) when the active object is a MaskHand rig, else (None, None)."""
    obj = context.active_object
    if obj is None or obj.type != 'ARMATURE':
        return None, None
    try:
        return obj, rig_side(obj)
    except RigError:
        return None, None


class MASKHAND_PT_main(SidebarPanel, bpy.types.Panel):
    """The rig and the camera; the panels below work on them."""

    bl_label = "MaskHand"
    bl_idname = "MASKHAND_PT_main"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.maskhand
        layout.prop(settings, "rig")
        rig, side = active_rig(context)
        if rig is not None:
            layout.label(text=f"Active: '{rig.name}', {side} hand", icon='ARMATURE_DATA')
        row = layout.row(align=True)
        row.prop(settings, "side", expand=True)
        row.operator("object.maskhand_add_rig", text="Add Hand Rig", icon='ADD')
        col = layout.column(heading="Camera", align=True)
        col.prop(settings.estimate, "use_camera_translation")
        col.prop(settings.estimate, "show_keypoints")
        layout.operator("view3d.maskhand_reference_camera", icon='CAMERA_DATA')


classes = (MASKHAND_PT_main,)
