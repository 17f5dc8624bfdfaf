"""The "Import MANO Pose" panel: pose files from other tools onto the rig (operators/import_mano.py)."""
import bpy

from .sidebar import SidebarPanel


class MASKHAND_PT_import(SidebarPanel, bpy.types.Panel):
    """MANO pose files from other tools (HaMeR/WiLoR, FreiHAND, JSON) onto the rig."""

    bl_label = "Import MANO Pose"
    bl_idname = "MASKHAND_PT_import"
    bl_parent_id = "MASKHAND_PT_main"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        layout = self.layout
        settings = context.scene.maskhand
        layout.prop(settings, "import_use_file_fps")
        if not settings.import_use_file_fps:
            layout.prop(settings, "import_fps")
        layout.operator("anim.maskhand_import_mano", text="Import MANO Pose", icon='IMPORT')


classes = (MASKHAND_PT_import,)
