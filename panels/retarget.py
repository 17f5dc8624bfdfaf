"""The Retarget panel: pick a character, map its hand bones (preset, detect, edit, save/load), key
poses onto it. Draws only; the operators in operators/retarget.py do the work."""
import bpy

from .sidebar import SidebarPanel


class MASKHAND_UL_retarget_slots(bpy.types.UIList):
    """One row per slot: the MANO joint and a bone picker searching the character's bones."""

    def draw_item(self, context, layout, _data, item, _icon, _active_data, _active_prop, _index=0):
        target = context.scene.maskhand.retarget.target
        row = layout.row(align=True)
        split = row.split(factor=0.35)
        split.label(text=item.slot)
        if target is not None and target.type == 'ARMATURE':
            split.prop_search(item, "bone", target.data, "bones", text="")
        else:
            split.prop(item, "bone", text="")


class MASKHAND_PT_retarget(SidebarPanel, bpy.types.Panel):
    """Retargeting onto the rigs animators use: Rigify, MPFB/MakeHuman, Mixamo, SMPL-X."""

    bl_label = "Retarget to Character"
    bl_idname = "MASKHAND_PT_retarget"
    bl_parent_id = "MASKHAND_PT_main"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        layout = self.layout
        s = context.scene.maskhand.retarget
        layout.prop(s, "target")
        layout.row().prop(s, "side", expand=True)
        row = layout.row(align=True)
        row.prop(s, "preset", text="")
        row.operator("pose.maskhand_retarget_detect", text="Detect", icon='VIEWZOOM')
        if s.slots:
            layout.template_list("MASKHAND_UL_retarget_slots", "", s, "slots", s, "active_slot", rows=6)
        else:
            layout.label(text="Detect the mapping or pick a preset", icon='INFO')
        row = layout.row(align=True)
        row.operator("pose.maskhand_retarget_load", text="Load", icon='FILE_FOLDER')
        row.operator("pose.maskhand_retarget_save", text="Save", icon='FILE_TICK')
        layout.prop(s, "pose_wrist")
        col = layout.column(align=True)
        col.operator("anim.maskhand_retarget_estimate", icon='KEYFRAME')
        col.operator("anim.maskhand_retarget", icon='IMPORT')


classes = (MASKHAND_UL_retarget_slots, MASKHAND_PT_retarget)
