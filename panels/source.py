"""The "Source" panel: where the picture comes from, and Estimate, which finds the hands in it."""
import bpy

from ..blender.source_image import uses_source_start
from .sidebar import SidebarPanel


class MASKHAND_PT_source(SidebarPanel, bpy.types.Panel):
    """Source picker and Estimate; the hands found are summarised under the button."""

    bl_label = "Source"
    bl_idname = "MASKHAND_PT_source"
    bl_parent_id = "MASKHAND_PT_main"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.maskhand.estimate
        layout.prop(settings, "source_kind")
        kind = settings.source_kind
        if kind == 'FILE':
            layout.prop(settings, "image_path", text="")
        elif kind == 'IMAGE':
            layout.template_ID(settings, "image", open="image.open")
        elif kind == 'CLIP':
            layout.template_ID(settings, "clip", open="clip.open")
        else:
            cam = context.scene.camera
            layout.label(text=f"Camera: {cam.name if cam else '(none)'}", icon='CAMERA_DATA')
        if uses_source_start(settings, context.scene):
            layout.prop(settings, "source_start", text="Movie Starts At")
        col = layout.column(align=True)
        col.prop(settings, "max_hands")
        col.prop(settings, "hypotheses_count")
        layout.operator("view3d.maskhand_estimate", text="Estimate", icon='VIEWZOOM')
        if settings.status:
            layout.label(text=settings.status, icon='INFO')


classes = (MASKHAND_PT_source,)
