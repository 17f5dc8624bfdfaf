"""The "MaskHand" tab in the 3D Viewport sidebar: draws settings and buttons, holds no logic."""
import bpy

from .sidebar import SidebarPanel


class MASKHAND_PT_main(SidebarPanel, bpy.types.Panel):
    """Rig set-up and pose import, top to bottom in the order a user needs them."""

    bl_label = "MaskHand"
    bl_idname = "MASKHAND_PT_main"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.maskhand

        box = layout.box()
        box.label(text="Rig", icon='ARMATURE_DATA')
        box.row().prop(settings, "side", expand=True)
        box.operator("object.maskhand_add_rig", text="Add Hand Rig", icon='ADD')
        box.prop(settings, "rig")

        box = layout.box()
        box.label(text="Import", icon='IMPORT')
        box.prop(settings, "import_fps")
        box.operator("anim.maskhand_import_mano", text="Import MANO File", icon='FILE_FOLDER')


classes = (MASKHAND_PT_main,)
