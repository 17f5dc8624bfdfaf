"""The "Hypotheses" panel: the ranked poses of each hand found, Resample with locks, Keyframe."""
import bpy

from ..handmodel.parts import PARTS
from .sidebar import SidebarPanel


class MASKHAND_UL_hypotheses(bpy.types.UIList):
    """One row per hypothesis: hand, rank, score; the chosen one of each hand is marked."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_property, index=0, flt_flag=0):
        side = "R" if item.side == 'right' else "L"
        row = layout.row(align=True)
        row.label(text=f"{side}{item.hand_index + 1}  #{item.rank}", icon='CHECKMARK' if item.chosen else 'BLANK1')
        row.label(text=f"{item.score:.2f}")


class MASKHAND_PT_hypotheses(SidebarPanel, bpy.types.Panel):
    """Selecting a row poses the rig live; nothing is keyed until Keyframe."""

    bl_label = "Hypotheses"
    bl_idname = "MASKHAND_PT_hypotheses"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.maskhand.estimate
        layout.template_list("MASKHAND_UL_hypotheses", "", settings, "hypotheses", settings, "active_index", rows=4)
        box = layout.box()
        box.label(text="Keep when resampling", icon='LOCKED')
        grid = box.grid_flow(columns=3, align=True)
        for part in PARTS:
            grid.prop(settings, f"lock_{part}", toggle=True)
        row = layout.row(align=True)
        row.prop(settings, "temperature")
        row.prop(settings, "seed")
        layout.operator("view3d.maskhand_resample", text="Resample", icon='FILE_REFRESH')
        layout.operator("anim.maskhand_keyframe_hypothesis", text="Keyframe", icon='KEY_HLT')


classes = (MASKHAND_UL_hypotheses, MASKHAND_PT_hypotheses)
