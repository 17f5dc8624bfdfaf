"""Keyframe: write the chosen hypothesis of each hand onto its rig at the current frame."""
import bpy

from ..blender import workflow
from .polls import has_hypotheses
from .reporting import ReportingOperator


class MASKHAND_OT_keyframe_hypothesis(ReportingOperator, bpy.types.Operator):
    """Key the chosen hypothesis of each hand on its rig at the current frame"""
    bl_idname = "anim.maskhand_keyframe_hypothesis"
    bl_label = "Keyframe Pose"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        return has_hypotheses(cls, context, "there is no pose to key")

    def work(self, context):
        done = workflow.keyframe_chosen(context)
        return [('INFO', f"Keyed frame {context.scene.frame_current}: {'; '.join(done)}")]


classes = (MASKHAND_OT_keyframe_hypothesis,)
