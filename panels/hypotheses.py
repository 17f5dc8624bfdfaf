"""The "Hypotheses" panel: the ranked poses of each hand found, Resample with locks, Keyframe.

Each row shows its relative confidence (the hypotheses of one hand add up to 100 %, best on top);
the lock toggles run from the thumb to the little finger, each with how sure the model was of
that part in the selected hypothesis. The list is the current frame's: going to another frame
where Estimate ran shows that frame's list again.
"""
import json

import bpy

from .main import active_rig
from .sidebar import SidebarPanel

# The lock toggles, in the order a hand is read: wrist, then thumb to little finger.
LOCK_ORDER = ("wrist", "thumb", "index", "middle", "ring", "pinky")


class MASKHAND_UL_hypotheses(bpy.types.UIList):
    """One row per hypothesis: hand, rank, and its confidence as a bar; the chosen one of each hand is marked."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_property, index=0, flt_flag=0):
        side = "R" if item.side == 'right' else "L"
        row = layout.row(align=True)
        row.label(text=f"{side}{item.hand_index + 1}  #{item.rank}", icon='CHECKMARK' if item.chosen else 'BLANK1')
        row.progress(factor=item.confidence, type='BAR', text=f"{item.confidence:.0%}")


def part_confidence(settings) -> dict:
    """{part: 0..1} of the selected hypothesis (the model's per-part confidence), {} when it has none."""
    if not (0 <= settings.active_index < len(settings.hypotheses)):
        return {}
    from ..handmodel.parts import PARTS

    values = settings.hypotheses[settings.active_index].hypothesis().get("part_confidence") or []
    return dict(zip(PARTS, values)) if len(values) == len(PARTS) else {}


class MASKHAND_PT_hypotheses(SidebarPanel, bpy.types.Panel):
    """Selecting a row poses the rig live; nothing is keyed until Keyframe."""

    bl_label = "Hypotheses"
    bl_idname = "MASKHAND_PT_hypotheses"
    bl_parent_id = "MASKHAND_PT_main"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.maskhand.estimate
        if not len(settings.hypotheses):
            layout.label(text="Estimate a picture to see its hands here", icon='INFO')
            return
        frame = json.loads(settings.last_image).get("frame") if settings.last_image else None
        rig, side = active_rig(context)
        where = f"Frame {frame}" if frame is not None else "The picture"
        layout.label(text=f"{where}: {len({(h.side, h.hand_index) for h in settings.hypotheses})} hand(s)"
                          + (f"; active rig: {side} hand" if rig is not None else ""), icon='VIEW_PAN')
        layout.template_list("MASKHAND_UL_hypotheses", "", settings, "hypotheses", settings, "active_index", rows=4)
        box = layout.box()
        box.label(text="Keep when resampling", icon='LOCKED')
        confidence = part_confidence(settings)
        col = box.column(align=True)
        for part in LOCK_ORDER:
            row = col.row(align=True)
            row.prop(settings, f"lock_{part}", toggle=True)
            if part in confidence:
                row.label(text=f"{confidence[part]:.0%} sure")
        row = layout.row(align=True)
        row.prop(settings, "temperature")
        row.prop(settings, "seed")
        row = layout.row(align=True)
        row.operator("view3d.maskhand_resample", text="Resample", icon='FILE_REFRESH')
        row.operator("anim.maskhand_keyframe_hypothesis", text="Keyframe", icon='KEY_HLT')


classes = (MASKHAND_UL_hypotheses, MASKHAND_PT_hypotheses)
