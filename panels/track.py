"""The "Track Video" panel: the frame range, smoothing, cancel behaviour, and the running track's progress."""
import bpy

from .sidebar import SidebarPanel


class MASKHAND_PT_track(SidebarPanel, bpy.types.Panel):
    """Track Range keys one action per hand; progress shows here and in the status bar."""

    bl_label = "Track Video"
    bl_idname = "MASKHAND_PT_track"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.maskhand.estimate
        row = layout.row(align=True)
        row.prop(settings, "frame_start")
        row.prop(settings, "frame_end")
        layout.prop(settings, "smoothing", slider=True)
        layout.prop(settings, "keep_completed")
        if settings.running and settings.progress > 0.0:
            layout.progress(factor=settings.progress / 100.0, type='BAR',
                            text=f"Tracking {settings.progress:.0f}% (Esc cancels)")
        layout.operator("anim.maskhand_track_range", text="Track Range", icon='TRACKING')


classes = (MASKHAND_PT_track,)
