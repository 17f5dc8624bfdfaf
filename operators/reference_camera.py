"""Set Up Reference Camera: look through the picture's camera and see each rig on its hand (blender/workflow.py)."""
import bpy

from ..blender import workflow
from .polls import has_hypotheses
from .reporting import ReportingOperator


class MASKHAND_OT_reference_camera(ReportingOperator, bpy.types.Operator):
    """Add (or update) a camera with the estimated picture's intrinsics and the picture as its background, and place the rigs in its view"""
    bl_idname = "view3d.maskhand_reference_camera"
    bl_label = "Set Up Reference Camera"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        return has_hypotheses(cls, context, "there is no estimated picture to line up with")

    def work(self, context):
        return workflow.set_up_reference_camera(context)


classes = (MASKHAND_OT_reference_camera,)
