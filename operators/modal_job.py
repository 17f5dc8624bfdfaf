"""The modal plumbing the backend operators share: one job at a time, a timer that polls it, the
status bar, Esc, and a blocking path for scripts.

Not an operator module (no `classes`): estimate, resample and track import it.
"""
from __future__ import annotations

from ..errors import MaskHandError

POLL_SECONDS = 0.1  # timer period of the modal operators: fast enough to feel live, cheap when idle
RUNNING: dict = {"operator": None}  # the one modal estimate/resample/track running (they share the backend)


def report_all(operator, reports) -> None:
    for level, msg in reports:
        operator.report({level}, msg)


def begin_modal(op, context, text: str):
    RUNNING["operator"] = op.bl_idname
    context.scene.maskhand.estimate.running = True
    op._timer = context.window_manager.event_timer_add(POLL_SECONDS, window=context.window)
    context.window_manager.modal_handler_add(op)
    set_status(context, f"MaskHand: {text}")
    return {'RUNNING_MODAL'}


def end_modal(op, context):
    RUNNING["operator"] = None
    context.scene.maskhand.estimate.running = False
    if op._timer is not None:
        context.window_manager.event_timer_remove(op._timer)
        op._timer = None
    set_status(context, None)


def set_status(context, text) -> None:
    """Status-bar text (None clears it); a no-op without a window (background mode)."""
    workspace = getattr(context, "workspace", None)
    if workspace is not None:
        workspace.status_text_set(text)
    for area in getattr(context.screen, "areas", ()) if getattr(context, "screen", None) else ():
        if area.type == 'VIEW_3D':
            area.tag_redraw()


def free_to_start(cls, context) -> bool:
    """poll() of every backend operator: the add-on is registered and no other job runs."""
    if context.scene is None or not hasattr(context.scene, "maskhand"):
        return False
    if RUNNING["operator"] is not None:
        cls.poll_message_set("An estimate or track is already running")
        return False
    return True


class EstimateJobOperator:
    """Mixin for operators whose work is one estimate request: subclasses give `start(context)` ->
    job, `noun` ("Estimate") and `busy_text`; finishing is operators.estimate.finish_estimate."""

    noun = "Estimate"
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
        from .estimate import finish_estimate

        try:
            job = self.start(context)
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
            self._job = self.start(context)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        return begin_modal(self, context, self.busy_text)

    def modal(self, context, event):
        from .estimate import finish_estimate

        if event.type == 'ESC' and event.value == 'PRESS':
            self._esc = True
            self._job.handle.cancel()
        if event.type != 'TIMER':
            return {'PASS_THROUGH'}
        try:
            for p in self._job.handle.poll():
                if p.get("message"):
                    set_status(context, f"MaskHand: {p['message']}")
            if not self._job.done:
                return {'RUNNING_MODAL'}
            end_modal(self, context)
            if self._job.handle.cancelled or self._esc:  # a result racing the Esc: dropped
                self._job.source.discard()
                self.report({'INFO'}, f"{self.noun} cancelled; nothing changed")
                return {'CANCELLED'}
            reports = finish_estimate(context, self._job)
        except MaskHandError as err:
            end_modal(self, context)
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        report_all(self, reports)
        return {'FINISHED'}

    def cancel(self, context):
        """Blender dropped the handler (a file was opened, the window closed): stop and clean up."""
        if self._job is not None:
            self._job.handle.cancel()
            self._job.source.discard()
        end_modal(self, context)
