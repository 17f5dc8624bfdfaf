"""Track Range: estimate every frame of the scene range from a movie or sequence, key one action per hand.

The backend streams each finished frame's hands; nothing is keyed until the end, when the frames
that completed are smoothed and written in bulk, one new action per rig (blender/workflow.py). So
Esc can never leave a half-written key: a cancelled track keys the completed frames (or nothing, by
the Keep Completed Frames option), and a failed one keys nothing.
"""
import bpy

from ..blender import workflow
from .modal_job import BackendJobOperator


class MASKHAND_OT_track_range(BackendJobOperator, bpy.types.Operator):
    """Estimate every frame of the track range from the movie or sequence and key one action per hand (Esc cancels)"""
    bl_idname = "anim.maskhand_track_range"
    bl_label = "Track Video Range"
    bl_options = {'REGISTER', 'UNDO'}

    busy_text = "Tracking... (Esc cancels)"

    def start(self, context):
        return workflow.start_track(context)


classes = (MASKHAND_OT_track_range,)
