"""Resample: new hypotheses for the chosen hand with the next seed, keeping the locked fingers.

The generative model keeps the locked parts' tokens; whatever the estimator, the locked joints are
copied from the chosen hypothesis (apply_result.merge_locked), so locked bones never move.
"""
import bpy

from ..errors import MaskHandError
from .estimate import RUNNING, _begin_modal, _end_modal, finish_estimate, report_all, start_estimate


def start_resample(context):
    """Send the resample of the active hypothesis's hand (seed + 1); returns its EstimateJob."""
    settings = context.scene.maskhand.estimate
    if not (0 <= settings.active_index < len(settings.hypotheses)):
        raise MaskHandError("there is no hypothesis to resample; run Estimate first")
    item = settings.hypotheses[settings.active_index]
    return start_estimate(context, seed=settings.seed + 1, side=item.side, base=item.hypothesis(),
                          base_hand=item.hand(), parts=settings.locked_parts())


class MASKHAND_OT_resample(bpy.types.Operator):
    """Draw new hypotheses for the selected hand with a new seed; locked fingers keep their pose"""
    bl_idname = "view3d.maskhand_resample"
    bl_label = "Resample"
    bl_options = {'REGISTER', 'UNDO'}

    _job = None
    _timer = None

    @classmethod
    def poll(cls, context):
        if context.scene is None or not hasattr(context.scene, "maskhand"):
            return False
        if RUNNING["operator"] is not None:
            cls.poll_message_set("An estimate or track is already running")
            return False
        if not len(context.scene.maskhand.estimate.hypotheses):
            cls.poll_message_set("Run Estimate first: there is no hand to resample")
            return False
        return True

    def execute(self, context):
        """Blocking: for scripts and the Python console."""
        try:
            job = start_resample(context)
            try:
                job.handle.wait()
            except MaskHandError:
                pass  # finish_estimate raises it again, after removing a temporary picture
            reports = finish_estimate(context, job)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        report_all(self, reports)
        return {'FINISHED'}

    def invoke(self, context, event):
        if context.window is None:  # background mode (no event loop): run to the end instead
            return self.execute(context)
        try:
            self._job = start_resample(context)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        return _begin_modal(self, context, "Resampling... (Esc cancels)")

    def modal(self, context, event):
        if event.type == 'ESC' and event.value == 'PRESS':
            self._job.handle.cancel()
        if event.type != 'TIMER':
            return {'PASS_THROUGH'}
        try:
            self._job.handle.poll()
            if not self._job.done:
                return {'RUNNING_MODAL'}
            _end_modal(self, context)
            if self._job.handle.cancelled:
                self._job.source.discard()
                self.report({'INFO'}, "Resample cancelled; nothing changed")
                return {'CANCELLED'}
            reports = finish_estimate(context, self._job)
        except MaskHandError as err:
            _end_modal(self, context)
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        report_all(self, reports)
        return {'FINISHED'}


classes = (MASKHAND_OT_resample,)
