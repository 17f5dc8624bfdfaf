"""The "Track" panel: the frame range, smoothing, cancel behaviour, which rig gets which hand,
and the running track's progress."""
import bpy

from ..blender.apply_result import find_rig
from ..handmodel.parts import SIDES
from .sidebar import SidebarPanel


class MASKHAND_PT_track(SidebarPanel, bpy.types.Panel):
    """Track Range keys one action per hand; progress shows here and in the status bar."""

    bl_label = "Track"
    bl_idname = "MASKHAND_PT_track"
    bl_parent_id = "MASKHAND_PT_main"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.maskhand.estimate
        row = layout.row(align=True)
        row.prop(settings, "frame_start")
        row.prop(settings, "frame_end")
        row = layout.row(align=True)
        row.prop(settings, "smoothing", slider=True)
        row.operator("anim.maskhand_resmooth", text="", icon='SMOOTHCURVE')
        layout.prop(settings, "keep_completed")
        if settings.running and settings.progress > 0.0:
            layout.progress(factor=settings.progress / 100.0, type='BAR',
                            text=f"Tracking {settings.progress:.0f}% (Esc cancels)")
        scene = context.scene
        for side in SIDES:
            rig = find_rig(scene, side, scene.maskhand.rig, context.active_object)
            layout.label(text=f"{side.title()} hand -> {f'{rig.name!r}' if rig else 'no rig (Add Hand Rig)'}",
                         icon='ARMATURE_DATA' if rig else 'ERROR')
        row = layout.row(align=True)
        row.operator("anim.maskhand_track_range", text="Track Range", icon='TRACKING')
        row.operator("anim.maskhand_resolve_range", text="Re-solve", icon='FILE_REFRESH').span = 'RANGE'
        row = layout.row(align=True)
        row.operator("anim.maskhand_resolve_range", text="Selected", icon='KEYFRAME').span = 'SELECTED'
        row.operator("anim.maskhand_resolve_range", text="Flagged", icon='MARKER').span = 'FLAGGED'
        layout.label(text="Re-solve keeps the locked fingers (Hypotheses)", icon='LOCKED')


classes = (MASKHAND_PT_track,)
