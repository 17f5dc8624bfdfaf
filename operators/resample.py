"""Resample: new hypotheses for the chosen hand with the next seed, keeping the locked fingers.

The generative model keeps the locked parts' tokens; whatever the estimator, the locked joints are
copied from the chosen hypothesis (apply_result.merge_locked), so locked bones never move.
"""
import bpy

from ..blender import workflow
from .modal_job import BackendJobOperator
from .polls import free_to_start, has_hypotheses


class MASKHAND_OT_resample(BackendJobOperator, bpy.types.Operator):
    """Draw new hypotheses for the selected hand with a new seed; locked fingers keep their pose"""
    bl_idname = "view3d.maskhand_resample"
    bl_label = "Resample Hand"
    bl_options = {'REGISTER', 'UNDO'}

    busy_text = "Resampling... (Esc cancels)"

    @classmethod
    def poll(cls, context):
        return free_to_start(cls, context) and has_hypotheses(cls, context, "there is no hand to resample")

    def start(self, context):
        return workflow.start_resample(context)


classes = (MASKHAND_OT_resample,)
