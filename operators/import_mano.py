"""Import MANO File: key MANO poses from HaMeR/WiLoR/FreiHAND/MaskHand files onto the hand rig."""
import bpy
from bpy_extras.io_utils import ImportHelper

from .. import prefs
from ..blender.animate import set_frame_rate
from ..blender.apply_poses import apply_sequence, rig_side
from ..errors import MaskHandError
from ..handmodel.registry import load_hand_model
from ..posefiles import read_pose_file


def target_rig(context):
    """The active object when it is an armature, else the rig picked in the panel."""
    obj = context.active_object
    if obj is not None and obj.type == 'ARMATURE':
        return obj
    return context.scene.maskhand.rig


class MASKHAND_OT_import_mano(bpy.types.Operator, ImportHelper):
    """Import MANO pose parameters (.npz, .pkl, .json) as keyframes on the selected hand rig"""
    bl_idname = "anim.maskhand_import_mano"
    bl_label = "Import MANO Pose"
    bl_options = {'REGISTER', 'UNDO'}

    filter_glob: bpy.props.StringProperty(default="*.npz;*.pkl;*.json", options={'HIDDEN'})
    fps: bpy.props.IntProperty(name="FPS", description="Frame rate of the poses in the file "
                               "(0 = the file's own, else 30); sets the scene's frame rate",
                               default=0, min=0)
    frame_start: bpy.props.IntProperty(name="Start Frame", description="Frame of the first pose "
                                       "(-1 = the current frame)", default=-1, min=-1)

    @classmethod
    def poll(cls, context):
        if target_rig(context) is None:
            cls.poll_message_set("Select a hand rig first (Add Hand Rig makes one)")
            return False
        return True

    def invoke(self, context, event):
        settings = context.scene.maskhand
        self.fps = 0 if settings.import_use_file_fps else settings.import_fps
        if context.scene.maskhand.import_path:
            self.filepath = context.scene.maskhand.import_path
        return ImportHelper.invoke(self, context, event)

    def execute(self, context):
        arm_obj = target_rig(context)
        try:
            side = rig_side(arm_obj)
            # The rig's side, so a file that records none (a left-only .npz) is read as that hand.
            matching = read_pose_file(self.filepath, side=side, fps=self.fps or None)
            model = load_hand_model(side, prefs.mano_dir(context))
            seq = matching[0]
            start = context.scene.frame_current if self.frame_start < 0 else self.frame_start
            action, warnings = apply_sequence(arm_obj, seq, model, frame_start=start)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        for level, msg in warnings:
            self.report({level}, msg)
        scene = context.scene
        set_frame_rate(scene, seq.fps)
        scene.frame_start = min(scene.frame_start, start)
        scene.frame_end = max(scene.frame_end, start + seq.global_orient.shape[0] - 1)
        self.report({'INFO'}, f"Keyed {seq.global_orient.shape[0]} frames on '{arm_obj.name}' "
                              f"in action '{action.name}'")
        return {'FINISHED'}


classes = (MASKHAND_OT_import_mano,)
