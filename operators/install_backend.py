"""Install Backend and Test Backend: the preferences' buttons that make and check the inference backend.

Install creates a venv in the user data folder (prefs.backend_env_dir, outside Blender's versioned
folders) from a Python 3.11 found on the machine (the preference's choice, else Blender's own, the py
launcher, PATH, python.org, Homebrew, pyenv, conda: blender/backend_install.python_candidates),
checks that platform against the pinned wheels before anything downloads, installs torch in the
chosen build (CPU or CUDA) and then backend_requirements.txt, and stamps the environment so the next
press reuses it. Both are modal: pip's output lines go to the status bar and the preferences while
Blender stays responsive; Esc cancels.
"""
import time

import bpy

from .. import prefs
from ..blender import backend_client, backend_install
from ..errors import MaskHandError
from .polls import RUNNING

POLL_SECONDS = 0.2


def _show(context, text: str | None) -> None:
    """Put `text` in the status bar (None clears it) and redraw every area so the preferences update."""
    if context.workspace is not None:
        context.workspace.status_text_set(text)
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            area.tag_redraw()


class MASKHAND_OT_install_backend(bpy.types.Operator):
    """Create the backend's Python environment in MaskHand's user folder and install torch, MediaPipe and the rest into it with pip (a large download)"""
    bl_idname = "preferences.maskhand_install_backend"
    bl_label = "Install Backend"

    installing = False  # one pip at a time into one environment

    @classmethod
    def poll(cls, context):
        if cls.installing:
            cls.poll_message_set("The backend is being installed already")
            return False
        return True

    def _prepare(self, context) -> bool:
        """Online check, a base Python, the steps; False (reported) when installing cannot start."""
        if not bpy.app.online_access:
            self.report({'ERROR'}, "Installing the backend downloads packages with pip; "
                                   "allow online access in Preferences > System > Network first")
            return False
        p = prefs.get(context)
        chosen = bpy.path.abspath(p.base_python) if p is not None and p.base_python else None
        build = p.torch_build.lower() if p is not None else "cpu"
        try:
            base = backend_install.find_python(chosen)  # platform checked here, before any download
            self.env_dir = prefs.backend_env_dir()
            self.plan = backend_install.plan_install(self.env_dir, base, torch_build=build)
            self.env_dir.mkdir(parents=True, exist_ok=True)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return False
        except OSError as err:
            self.report({'ERROR'}, f"cannot make the backend environment folder {self.env_dir}: "
                                   f"{err.strerror or err}")
            return False
        self.steps = list(self.plan.steps)
        print(f"MaskHand: Python {base.version[0]}.{base.version[1]} at {base.executable} ({base.how})"
              + (f"; {self.plan.reused}" if self.plan.reused else ""))
        backend_client.shutdown_all()  # a running backend would hold files pip may replace
        return True

    def invoke(self, context, event):
        if not self._prepare(context):
            return {'CANCELLED'}
        try:
            self._next_step(context)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        wm = context.window_manager
        self.timer = wm.event_timer_add(POLL_SECONDS, window=context.window)
        wm.modal_handler_add(self)
        type(self).installing = True
        return {'RUNNING_MODAL'}

    def cancel(self, context):
        """Blender dropped the handler (Preferences closed, a file opened): stop pip, say so."""
        self.proc.stop()
        self._finish(context)
        self._status_end(context, "Installation interrupted; run Install Backend again to finish it")

    def execute(self, context):
        """Blocking variant for scripts and background Blender: the same steps, output to the console."""
        if not self._prepare(context):
            return {'CANCELLED'}
        for label, argv in self.steps:
            print(f"MaskHand: {label}: {' '.join(argv)}")
            try:
                proc = backend_install.StreamedProcess(argv)
            except MaskHandError as err:
                self.report({'ERROR'}, str(err))
                return {'CANCELLED'}
            while proc.returncode is None:
                for line in proc.new_lines():
                    print(f"  {line}")
                time.sleep(POLL_SECONDS)
            time.sleep(POLL_SECONDS)  # let the reader thread hand over the last lines
            for line in proc.new_lines():
                print(f"  {line}")
            if proc.returncode != 0:
                last = next((line for line in reversed(proc.lines) if line.strip()), "no output")
                self.report({'ERROR'}, f"{label} failed (exit code {proc.returncode}): {last}")
                return {'CANCELLED'}
        if not self._stamp():
            return {'CANCELLED'}
        self.report({'INFO'}, f"Backend installed in {self.env_dir}")
        return {'FINISHED'}

    def _stamp(self) -> bool:
        """Record what went in, so the next press reuses the environment; False (reported) if the disk refuses."""
        try:
            self.plan.finish()
        except OSError as err:
            self.report({'ERROR'}, f"the backend is installed but its record could not be written in "
                                   f"{self.env_dir}: {err.strerror or err}")
            return False
        return True

    def _next_step(self, context):
        self.label, argv = self.steps.pop(0)
        print(f"MaskHand: {self.label}: {' '.join(argv)}")
        self.proc = backend_install.StreamedProcess(argv)
        self._status(context, f"{self.label}...")

    def _status(self, context, text: str) -> None:
        p = prefs.get(context)
        if p is not None:
            p.install_status = text[:200]
        _show(context, f"MaskHand: {text[:200]} (Esc cancels)")

    def _finish(self, context) -> None:
        type(self).installing = False
        context.window_manager.event_timer_remove(self.timer)
        _show(context, None)

    def modal(self, context, event):
        if event.type == 'ESC':
            self.proc.stop()
            self._finish(context)
            self._status_end(context, "Installation cancelled")
            self.report({'WARNING'}, "Backend installation cancelled; run Install Backend again to finish it")
            return {'CANCELLED'}
        if event.type != 'TIMER':
            return {'PASS_THROUGH'}
        lines = self.proc.new_lines()
        for line in lines:
            print(f"  {line}")
        if lines:
            self._status(context, f"{self.label}: {lines[-1]}")
        code = self.proc.returncode
        if code is None:
            return {'RUNNING_MODAL'}
        time.sleep(POLL_SECONDS)  # let the reader thread hand over the last lines (pip's error)
        for line in self.proc.new_lines():  # what arrived between the last poll and the exit
            print(f"  {line}")
        if code != 0:
            self._finish(context)
            last = next((line for line in reversed(self.proc.lines) if line.strip()), "no output")
            self._status_end(context, f"Failed: {last}")
            self.report({'ERROR'}, f"{self.label} failed (exit code {code}): {last}; "
                                   f"the full output is in Blender's system console")
            return {'CANCELLED'}
        if self.steps:
            try:
                self._next_step(context)
            except MaskHandError as err:
                self._finish(context)
                self.report({'ERROR'}, str(err))
                return {'CANCELLED'}
            return {'RUNNING_MODAL'}
        self._finish(context)
        if not self._stamp():
            return {'CANCELLED'}
        self._status_end(context, f"Installed in {self.env_dir}")
        self.report({'INFO'}, f"Backend installed in {self.env_dir}; press Test Backend to check it")
        return {'FINISHED'}

    def _status_end(self, context, text: str) -> None:
        p = prefs.get(context)
        if p is not None:
            p.install_status = text[:200]


class MASKHAND_OT_check_backend(bpy.types.Operator):
    """Start the backend with the interpreter and device in the preferences and report what it found (device, versions)"""
    bl_idname = "preferences.maskhand_check_backend"
    bl_label = "Test Backend"

    timeout: bpy.props.FloatProperty(name="Timeout", default=180.0, min=1.0,
                                     description="Seconds to wait for the backend's first answer")

    @classmethod
    def poll(cls, context):
        if RUNNING["operator"] is not None:  # a hello queued behind a long track would time out and kill it
            cls.poll_message_set("The backend is busy with an estimate or track; test it afterwards")
            return False
        return True

    def invoke(self, context, event):
        try:
            self.handle = prefs.backend(context).request("hello", timeout=self.timeout)
        except MaskHandError as err:
            return self._failed(context, err)
        wm = context.window_manager
        self.timer = wm.event_timer_add(POLL_SECONDS, window=context.window)
        wm.modal_handler_add(self)
        _show(context, "MaskHand: starting the backend... (Esc cancels)")
        return {'RUNNING_MODAL'}

    def execute(self, context):
        """Blocking variant for scripts (bpy.ops.preferences.maskhand_check_backend())."""
        try:
            hello = prefs.backend(context).call("hello", timeout=self.timeout)
        except MaskHandError as err:
            return self._failed(context, err)
        return self._succeeded(context, hello)

    def modal(self, context, event):
        if event.type == 'ESC':
            self._finish(context)
            self.report({'WARNING'}, "Stopped waiting for the backend")
            return {'CANCELLED'}
        if event.type != 'TIMER':
            return {'PASS_THROUGH'}
        self.handle.poll()
        if not self.handle.done:
            return {'RUNNING_MODAL'}
        self._finish(context)
        try:
            return self._succeeded(context, self.handle.value())
        except MaskHandError as err:
            return self._failed(context, err)

    def _finish(self, context):
        context.window_manager.event_timer_remove(self.timer)
        _show(context, None)

    def _succeeded(self, context, hello: dict):
        versions = hello["versions"]
        text = (f"Backend {hello['maskhand']} (Python {hello['python']}): {hello['device_text']}; "
                f"MediaPipe {versions.get('mediapipe') or 'missing'}; "
                f"estimators: {', '.join(hello['estimators']['names'])}")
        p = prefs.get(context)
        if p is not None:
            p.backend_report = text[:300]
        self.report({'INFO'}, text)
        return {'FINISHED'}

    def _failed(self, context, err):
        p = prefs.get(context)
        if p is not None:
            p.backend_report = f"Failed: {str(err).splitlines()[0]}"[:300]
        self.report({'ERROR'}, str(err))
        return {'CANCELLED'}


classes = (MASKHAND_OT_install_backend, MASKHAND_OT_check_backend)
