"""Re-smooth Take and Re-solve Range: clean up a tracked take without throwing any of it away.

Re-smooth re-keys every take the scene's rigs play from the raw take kept in the .blend, at the
Track panel's Smoothing (no tracking). Re-solve tracks the panel's range again with a new seed,
keeps the locked parts as keyed, and replaces keys inside the range only (blender/workflow.py).
"""
import bpy

from ..blender import workflow
from .modal_job import BackendJobOperator
from .polls import addon_ready
from .reporting import ReportingOperator


class MASKHAND_OT_resmooth(ReportingOperator, bpy.types.Operator):
    """Smooth the tracked takes again at the Track panel's Smoothing, from the raw take kept in the file (no tracking)"""
    bl_idname = "anim.maskhand_resmooth"
    bl_label = "Re-smooth Take"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        return addon_ready(cls, context)

    def work(self, context):
        return workflow.resmooth(context)


class MASKHAND_OT_resolve_range(BackendJobOperator, bpy.types.Operator):
    """Track the Track panel's range again with a new seed, keep the locked fingers as keyed, and replace the take's keys in that range only (Esc cancels)"""
    bl_idname = "anim.maskhand_resolve_range"
    bl_label = "Re-solve Range"
    bl_options = {'REGISTER', 'UNDO'}

    busy_text = "Re-solving the range... (Esc cancels)"

    span: bpy.props.EnumProperty(
        name="Frames", default='RANGE',
        items=(('RANGE', "Track Range", "The Track panel's Start to End"),
               ('SELECTED', "Selected Keys", "From the first to the last selected key of the take"),
               ('FLAGGED', "Flagged Frames", "From the first to the last flag marker between Start and End")))

    def start(self, context):
        return workflow.start_resolve(context, self.span)


classes = (MASKHAND_OT_resmooth, MASKHAND_OT_resolve_range)
