"""Scene settings of MaskHand: one PropertyGroup at ``Scene.maskhand``, saved with the .blend.

Its groups, one file each: ``.estimate`` (photo/video estimation and the hypotheses found,
properties/estimate.py) and ``.retarget`` (the character and its bone mapping, properties/retarget.py).
"""
import bpy

from ..blender import workflow
from . import estimate, retarget
from .estimate import MaskHandEstimateSettings
from .retarget import MaskHandRetargetSettings


def _is_armature(_self, obj) -> bool:
    """Rig picker filter: only armatures can carry hand poses."""
    return obj.type == 'ARMATURE'


class MaskHandSettings(bpy.types.PropertyGroup):
    """Everything the panel edits; operators read it, nothing else is stored on the scene."""

    side: bpy.props.EnumProperty(
        name="Side",
        description="Which hand the rig and the poses are for",
        items=(
            ('RIGHT', "Right", "Right hand"),
            ('LEFT', "Left", "Left hand"),
        ),
        default='RIGHT',
    )
    rig: bpy.props.PointerProperty(
        name="Rig",
        description="Hand armature that receives the poses",
        type=bpy.types.Object,
        poll=_is_armature,
    )
    import_path: bpy.props.StringProperty(
        name="File",
        description="MANO pose file to import",
        subtype='FILE_PATH',
        default="",
    )
    import_use_file_fps: bpy.props.BoolProperty(
        name="File's Frame Rate", default=True,
        description="Key imported poses at the frame rate the file records (30 when it records none)")
    import_fps: bpy.props.IntProperty(
        name="FPS",
        description="Frame rate the imported poses were captured at, when not the file's own",
        default=30,
        min=1,
    )
    estimate: bpy.props.PointerProperty(
        name="Estimate",
        description="Photo and video estimation: source, sampling, locks, tracking and the hypotheses found",
        type=MaskHandEstimateSettings,
    )
    retarget: bpy.props.PointerProperty(
        name="Retarget",
        description="Retargeting onto a character's hand: the target armature and its bone mapping",
        type=MaskHandRetargetSettings,
    )


@bpy.app.handlers.persistent
def _frame_changed(scene, depsgraph=None):
    """Returning to a frame shows the hypotheses found there (blender/workflow.on_frame_change)."""
    workflow.on_frame_change(scene, depsgraph)


classes = estimate.classes + retarget.classes + (MaskHandSettings,)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.maskhand = bpy.props.PointerProperty(type=MaskHandSettings)
    bpy.app.handlers.frame_change_post.append(_frame_changed)


def unregister():
    if _frame_changed in bpy.app.handlers.frame_change_post:
        bpy.app.handlers.frame_change_post.remove(_frame_changed)
    del bpy.types.Scene.maskhand
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
