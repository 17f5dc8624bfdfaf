"""Retargeting settings at ``Scene.maskhand.retarget``: the target armature and its editable mapping.

The mapping lists every slot (16 MANO joints, 4 metacarpals, 5 fingertips) with the bone that plays
it; the panel edits it, Detect and the preset dropdown fill it, Save/Load write it as JSON
(rigmath.retarget_map's layout). Registered by properties/__init__.py before MaskHandSettings.
"""
import bpy

from ..rigmath.retarget_map import PRESET_LABELS, PRESETS, SLOTS, RetargetMap, match_preset, preset_map

PRESET_ITEMS = tuple((p.upper(), PRESET_LABELS[p], f"Bone names of a {PRESET_LABELS[p]} rig") for p in PRESETS) + (
    ('CUSTOM', "Custom", "A mapping edited by hand or loaded from a JSON file"),)


def _is_armature(_self, obj) -> bool:
    return obj.type == 'ARMATURE'


def _fill_from_preset(self, _context):
    """Preset or side changed: map the preset's names, resolved on the target when there is one."""
    if self.preset == 'CUSTOM':
        return
    preset, side = self.preset.lower(), self.side.lower()
    if self.target is not None and self.target.type == 'ARMATURE':
        mapping = match_preset(preset, side, [b.name for b in self.target.data.bones])
    else:
        mapping = preset_map(preset, side)
    self.set_map(mapping, keep_preset=True)


class MaskHandRetargetSlot(bpy.types.PropertyGroup):
    """One row of the mapping: a MANO slot (name) and the target bone that plays it (empty: none)."""

    slot: bpy.props.StringProperty(name="Slot", description="MANO joint, metacarpal or fingertip")
    bone: bpy.props.StringProperty(name="Bone", description="The target armature's bone for this slot "
                                   "(empty: not mapped; metacarpals and fingertips are optional)")


class MaskHandRetargetSettings(bpy.types.PropertyGroup):
    """What the Retarget panel edits; the retarget operators read it."""

    target: bpy.props.PointerProperty(name="Character", type=bpy.types.Object, poll=_is_armature,
                                      description="The armature whose hand receives the poses "
                                                  "(Rigify, MPFB, Mixamo, SMPL-X or any mapped rig)")
    side: bpy.props.EnumProperty(name="Side", items=(('RIGHT', "Right", "Map the right hand"),
                                                     ('LEFT', "Left", "Map the left hand")),
                                 default='RIGHT', update=_fill_from_preset)
    preset: bpy.props.EnumProperty(name="Preset", items=PRESET_ITEMS, default='RIGIFY', update=_fill_from_preset,
                                   description="Rig family whose bone names fill the mapping")
    pose_wrist: bpy.props.BoolProperty(name="Rotate Hand", default=True,
                                       description="Also rotate the hand bone to the estimated wrist "
                                                   "orientation; off poses the fingers only")
    slots: bpy.props.CollectionProperty(type=MaskHandRetargetSlot)
    active_slot: bpy.props.IntProperty(name="Slot", default=0)

    def to_map(self) -> RetargetMap:
        return RetargetMap(self.side.lower(), {s.slot: s.bone for s in self.slots if s.bone},
                           self.preset.lower())

    def set_map(self, mapping: RetargetMap, keep_preset: bool = False) -> None:
        """Show `mapping`: every slot listed, unmapped ones empty."""
        self.slots.clear()
        for slot in SLOTS:
            item = self.slots.add()
            item.slot, item.bone = slot, mapping.bones.get(slot, "")
        if self.side.lower() != mapping.side:
            self["side"] = 0 if mapping.side == "right" else 1  # no update: the mapping is already set
        if not keep_preset:
            self["preset"] = [i[0] for i in PRESET_ITEMS].index(mapping.preset.upper()
                                                                 if mapping.preset in PRESETS else 'CUSTOM')


classes = (MaskHandRetargetSlot, MaskHandRetargetSettings)

