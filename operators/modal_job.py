"""The one modal-job base of the backend operators (Estimate, Resample, Track Range).

A job comes from blender/workflow.py (start_estimate, start_resample, start_track); this base only
runs it the way Blender wants: one job at a time, a timer that feeds the job its progress, the
status bar and progress bar, Esc, Blender dropping the handler, and a blocking path for scripts.
Subclasses give `start(context) -> job` and `busy_text`. Not an operator module (no `classes`).
"""
from __future__ import annotations

from ..errors import MaskHandError
from .polls import RUNNING, free_to_start
from .reporting import report_all

POLL_SECONDS = 0.1  # timer period of the modal operators: fast enough to feel live, cheap when idle


def set_status(context, text) -> None:
    """Status-bar text (None clears it); a no-op without a window (background mode)."""
    workspace = getattr(context, "workspace", None)
    if workspace is not None:
        workspace.status_text_set(text)
    for area in getattr(context.screen, "areas", ()) if getattr(context, "screen", None) else ():
        if area.type == 'VIEW_3D':
            area.tag_redraw()


class BackendJobOperator:
    """Mixin for operators whose work is one backend job (see the module docstring)."""

    busy_text = "Working... (Esc cancels)"
    _job = None
    _timer = None
    _esc = False

    def start(self, context):
        raise NotImplementedError

    @classmethod
    def poll(cls, context):
        return free_to_start(cls, context)

    def execute(self, context):
        """Blocking: for scripts and the Python console."""
        try:
            job = self.start(context)
            try:
                job.handle.wait()
            except MaskHandError:
                pass  # finish raises it again, after cleaning up the source
            job.take(job.handle.progress)
            reports = job.finish(context)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        finally:
            context.scene.maskhand.estimate.progress = 0.0
        report_all(self, reports)
        return {'FINISHED'}

    def invoke(self, context, event):
        if context.window is None:  # background mode (no event loop): run to the end instead
            return self.execute(context)
        try:
            self._job = self.start(context)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        RUNNING["operator"] = self.bl_idname
        context.scene.maskhand.estimate.running = True
        self._timer = context.window_manager.event_timer_add(POLL_SECONDS, window=context.window)
        context.window_manager.modal_handler_add(self)
        if self._job.fraction is not None:
            context.window_manager.progress_begin(0, 100)
        set_status(context, f"MaskHand: {self.busy_text}")
        return {'RUNNING_MODAL'}

    def modal(self, context, event):
        job = self._job
        if event.type == 'ESC' and event.value == 'PRESS':
            self._esc = True
            job.handle.cancel()
            set_status(context, "MaskHand: cancelling...")
        if event.type != 'TIMER':
            return {'PASS_THROUGH'}
        try:
            text = job.take(job.handle.poll())
            if text:
                set_status(context, f"MaskHand: {text}")
            if job.fraction is not None and text:
                context.scene.maskhand.estimate.progress = 100.0 * job.fraction
                context.window_manager.progress_update(int(100.0 * job.fraction))
            if not job.done:
                return {'RUNNING_MODAL'}
            self._end(context)
            reports = job.finish(context, cancelled=job.handle.cancelled or self._esc)
        except MaskHandError as err:
            self._end(context)
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        report_all(self, reports)
        return {'FINISHED'}

    def cancel(self, context):
        """Blender dropped the handler (a file was opened, the window closed): stop, change nothing."""
        if self._job is not None:
            self._job.handle.cancel()
            self._job.discard()
        self._end(context)

    def _end(self, context) -> None:
        RUNNING["operator"] = None
        settings = context.scene.maskhand.estimate
        settings.running, settings.progress = False, 0.0
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
            if self._job is not None and self._job.fraction is not None:
                context.window_manager.progress_end()
        set_status(context, None)
