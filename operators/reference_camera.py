"""Set Up Reference Camera: look through the picture's camera and see each rig on its hand (blender/workflow.py)."""
import bpy

from ..blender import workflow
from ..errors import MaskHandError
from .modal_job import report_all
from .polls import has_hypotheses


class MASKHAND_OT_reference_camera(bpy.types.Operator):
    """Add (or update) a camera with the estimated picture's intrinsics and the picture as its background, and place the rigs in its view"""
    bl_idname = "view3d.maskhand_reference_camera"
    bl_label = "Set Up Reference Camera"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        return has_hypotheses(cls, context, "there is no estimated picture to line up with")

    def execute(self, context):
        try:
            reports = workflow.set_up_reference_camera(context)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        report_all(self, reports)
        return {'FINISHED'}


classes = (MASKHAND_OT_reference_camera,)
