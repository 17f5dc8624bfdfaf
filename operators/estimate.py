"""Estimate: find the hands in the current frame's picture and pose the matching rigs (blender/workflow.py)."""
import bpy

from ..blender import workflow
from .modal_job import BackendJobOperator


class MASKHAND_OT_estimate(BackendJobOperator, bpy.types.Operator):
    """Find the hands in the current frame's picture and pose the matching rigs with their best hypotheses"""
    bl_idname = "view3d.maskhand_estimate"
    bl_label = "Estimate Hands"
    bl_options = {'REGISTER', 'UNDO'}

    busy_text = "Estimating hands... (Esc cancels)"

    def start(self, context):
        return workflow.start_estimate(context)


classes = (MASKHAND_OT_estimate,)
