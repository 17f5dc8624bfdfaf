"""Blender's side of the backend: start the inference process, send requests, poll replies without blocking.

No bpy in here (operators and preferences pass their settings in), so it runs and is tested in any
Python. The backend is a child process (inference/server.py) started with an interpreter that has
torch and mediapipe; Blender's own Python never imports them. Messages: inference/protocol.py and
docs/BACKEND.md.

Threads: one reads the child's stdout and routes each reply to its request's queue, one keeps the
last lines of its stderr for error messages. Callers never block unless they ask to: Blender's
modal operators call `RequestHandle.poll()` from a timer; scripts and tests may call `wait()`.

Failure handling: a child that dies fails every pending request with its exit code and stderr tail;
a request that hears nothing for `timeout` seconds kills the child (a hang) and fails the same way;
either way the next request starts a fresh child. Children are shut down on add-on unregister
(prefs.unregister) and at interpreter exit (atexit, which Blender runs when it quits); a child whose
parent vanished sees stdin close and exits by itself.
"""
from __future__ import annotations

import atexit
import collections
import itertools
import os
import queue
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

from ..errors import BackendError, ProtocolError
from ..inference import protocol

# The folder holding this package's __init__.py: the child imports it from here, under the name
# "maskhand", whatever Blender calls it (bl_ext.<repo>.maskhand) and whatever the folder is named.
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TIMEOUT = 300.0  # seconds without any message before a request counts as hung (a cold first load is slow)
SHUTDOWN_GRACE = 3.0  # seconds a child gets to exit after "shutdown" before it is killed
STDERR_LINES = 200

# Run with `python -c BOOTSTRAP <package root> [server args]`: checks the Python version (the pins in
# backend_requirements.txt are for 3.11), imports the package root under the name "maskhand" (so an
# installed extension and a checkout work alike) and runs the server.
BOOTSTRAP = (
    "import importlib.util, sys\n"
    "if sys.version_info[:2] != (3, 11):\n"
    "    sys.exit(f'MaskHand backend: needs Python 3.11; {sys.executable} is Python {sys.version.split()[0]}')\n"
    "sys.path[:] = [p for p in sys.path if p not in ('', '.')]\n"  # the working folder must shadow nothing
    "root = sys.argv[1]\n"
    "spec = importlib.util.spec_from_file_location('maskhand', root + '/__init__.py',"
    " submodule_search_locations=[root])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "sys.modules['maskhand'] = module\n"
    "spec.loader.exec_module(module)\n"
    "from maskhand.inference.server import run\n"
    "run(sys.argv[2:])\n"
)

_clients: weakref.WeakSet = weakref.WeakSet()
_shared: "BackendClient | None" = None


class RequestHandle:
    """One request in flight. Poll it from a timer; it is `done` after its one final reply.

    progress: every progress payload so far (for "track": one per frame, each with its hands), so a
    cancelled track still has its finished frames. result: the final payload; error: a BackendError
    (error.name: the backend's error class, "Cancelled", "BackendDied" or "BackendTimeout").
    """

    def __init__(self, client: "BackendClient", id_: str, kind: str, on_progress, timeout: float):
        self.client, self.id, self.kind = client, id_, kind
        self.on_progress, self.timeout = on_progress, timeout
        self.progress: list[dict] = []
        self.result: dict | None = None
        self.error: BackendError | None = None
        self.done = False
        self._inbox: queue.Queue = queue.Queue()
        self._last_heard = time.monotonic()

    def poll(self) -> list[dict]:
        """Take in what has arrived (never blocks); returns the new progress payloads. Calls
        on_progress for each, in the caller's thread. Past the timeout, kills the hung backend."""
        new = []
        while not self.done:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            self._take(item, new)
        if not self.done and time.monotonic() - self._last_heard > self.timeout:
            self.client._hung(self)
        return new

    def wait(self, timeout: float | None = None) -> dict:
        """Block until the final reply; returns the result payload or raises its BackendError.
        timeout: overall seconds to wait (the request's own inactivity timeout still applies)."""
        end = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            self.poll()
            if self.done:
                break
            if end is not None and time.monotonic() > end:
                raise BackendError(f"request {self.id} ({self.kind}) is still running after {timeout:g} s",
                                   "BackendTimeout")
            try:
                item = self._inbox.get(timeout=0.05)
            except queue.Empty:
                continue
            self._take(item, [])
        return self.value()

    def value(self) -> dict:
        """The result payload of a finished request, or its error raised."""
        if not self.done:
            raise BackendError(f"request {self.id} ({self.kind}) has not finished", "BackendBusy")
        if self.error is not None:
            raise self.error
        return self.result

    def cancel(self) -> None:
        if not self.done:
            self.client.cancel(self.id)

    @property
    def cancelled(self) -> bool:
        return self.error is not None and self.error.cancelled

    def _take(self, item, new: list) -> None:
        self._last_heard = time.monotonic()
        if isinstance(item, BackendError):  # the process died or was stopped
            self._finish(error=item)
            return
        kind, payload = item["type"], item["payload"]
        if kind == "progress":
            self.progress.append(payload)
            new.append(payload)
            if self.on_progress is not None:
                self.on_progress(payload)
        elif kind == "result":
            self._finish(result=payload)
        elif kind == "error":
            name = payload.get("error", "BackendError")
            self._finish(error=BackendError(payload.get("message", f"request {self.id} failed"), name))

    def _finish(self, result=None, error=None) -> None:
        if not self.done:
            self.result, self.error, self.done = result, error, True
            self.client._forget(self)


class BackendClient:
    """One backend child process (started on the first request, restarted after it dies).

    interpreter: a Python 3.11 with the backend's packages (backend_requirements.txt).
    device / mano_dir / checkpoint: passed to the server's command line; a change needs a new client
    (shared_client does that).
    """

    def __init__(self, interpreter, device: str = "auto", mano_dir: str | None = None,
                 checkpoint: str | None = None, package_root=PACKAGE_ROOT, echo_stderr: bool = False):
        self.interpreter = str(interpreter) if interpreter else ""
        self.device, self.mano_dir, self.checkpoint = device or "auto", mano_dir or None, checkpoint or None
        self.package_root = Path(package_root)
        self.echo_stderr = echo_stderr
        self.ready: dict | None = None  # the child's "ready" payload (protocol version, pid)
        self.starts = 0  # how many children this client has started
        self._proc: subprocess.Popen | None = None
        self._pending: dict[str, RequestHandle] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stderr: collections.deque = collections.deque(maxlen=STDERR_LINES)
        self._stderr_thread: threading.Thread | None = None
        _clients.add(self)

    @property
    def config(self) -> tuple:
        return (self.interpreter, self.device, self.mano_dir, self.checkpoint, str(self.package_root))

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def command(self) -> list[str]:
        cmd = [self.interpreter, "-c", BOOTSTRAP, str(self.package_root), "--device", self.device]
        if self.mano_dir:
            cmd += ["--mano-dir", str(self.mano_dir)]
        if self.checkpoint:
            cmd += ["--checkpoint", str(self.checkpoint)]
        return cmd

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start a child unless one is running. Does not wait for it: requests queue in its stdin."""
        if self.alive:
            return
        if not self.interpreter:
            raise BackendError("no backend interpreter is set; install the backend in MaskHand's preferences "
                               "or point them to a Python 3.11 that has its packages", "BackendStartError")
        if not Path(self.interpreter).is_file():
            raise BackendError(f"the backend interpreter {self.interpreter} does not exist; install the backend "
                               f"in MaskHand's preferences or choose another interpreter", "BackendStartError")
        env = dict(os.environ)
        env.pop("PYTHONHOME", None)  # Blender's own Python home would break another interpreter
        env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # no console window pops up on Windows
        try:
            proc = subprocess.Popen(self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env, creationflags=flags)
        except OSError as err:
            raise BackendError(f"cannot start the backend interpreter {self.interpreter}: {err.strerror or err}",
                               "BackendStartError") from err
        proc.stop_reason = None  # why we stopped it, when we did (else its death is unexpected)
        self._stderr = collections.deque(maxlen=STDERR_LINES)
        self.ready = None
        pending: dict[str, RequestHandle] = {}
        with self._lock:
            self._proc, self._pending = proc, pending
        self.starts += 1
        self._stderr_thread = threading.Thread(target=self._read_stderr, args=(proc, self._stderr),
                                               name="maskhand-backend-stderr", daemon=True)
        self._stderr_thread.start()
        threading.Thread(target=self._read_stdout, args=(proc, pending, self._stderr_thread),
                         name="maskhand-backend-stdout", daemon=True).start()

    def request(self, kind: str, payload: dict | None = None, on_progress=None,
                timeout: float = DEFAULT_TIMEOUT) -> RequestHandle:
        """Send a request (starting the child if needed); returns at once with its handle.

        kind: "hello", "load", "estimate", "track" (see docs/BACKEND.md for payloads).
        on_progress(payload): called from handle.poll()/wait(), in the caller's thread.
        timeout: seconds without any reply for this request before the backend counts as hung.
        """
        if kind not in protocol.REQUEST_KINDS or kind in ("cancel", "shutdown"):
            kinds = ", ".join(k for k in protocol.REQUEST_KINDS if k not in ("cancel", "shutdown"))
            raise BackendError(f"unknown request kind {kind!r}; expected one of {kinds}", "ProtocolError")
        self.start()
        id_ = str(next(self._ids))
        handle = RequestHandle(self, id_, kind, on_progress, timeout)
        with self._lock:
            self._pending[id_] = handle
        self._send(protocol.message(kind, id_, payload or {}))
        return handle

    def call(self, kind: str, payload: dict | None = None, timeout: float = DEFAULT_TIMEOUT) -> dict:
        """request() + wait(): the result payload, or the BackendError raised."""
        return self.request(kind, payload, timeout=timeout).wait()

    def cancel(self, id_: str) -> None:
        """Ask the backend to stop request `id_` (it stops between frames and answers "Cancelled")."""
        if self.alive:
            self._send(protocol.message("cancel", f"cancel-{next(self._ids)}", {"id": id_}))

    def shutdown(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Stop the child: "shutdown", close its stdin, wait `grace` s, then kill it. Pending
        requests fail with "the backend was shut down"."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.stop_reason = "the backend was shut down"
            try:
                self._send(protocol.message("shutdown", f"shutdown-{next(self._ids)}"), quiet=True)
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=grace)
        self._close_pipes(proc)

    def kill(self, reason: str = "the backend was killed") -> None:
        """Kill the child at once (a hang, or a test); pending requests fail with `reason`."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.stop_reason = reason
            proc.kill()
            proc.wait(timeout=10)

    def stderr_tail(self, lines: int = 15) -> str:
        """The child's last stderr lines (its tracebacks and library warnings)."""
        return "\n".join(list(self._stderr)[-lines:])

    # -- internals -----------------------------------------------------------------------------------
    def _send(self, msg: dict, quiet: bool = False) -> None:
        line = protocol.encode(msg)
        proc = self._proc
        try:
            with self._write_lock:
                proc.stdin.write(line)
                proc.stdin.flush()
        except (OSError, ValueError):  # the child is gone; its stdout reader fails the pending requests
            if quiet:
                return
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()

    def _read_stdout(self, proc, pending: dict, stderr_thread) -> None:
        for line in iter(proc.stdout.readline, b""):
            try:
                msg = protocol.decode(line, protocol.REPLY_KINDS)
            except ProtocolError as err:
                self._stderr.append(f"[maskhand client] ignored a stdout line: {err}")
                continue
            if msg["type"] == "ready":
                self.ready = msg["payload"]
                continue
            with self._lock:
                handle = pending.get(msg["id"])
            if handle is not None:
                handle._inbox.put(msg)
        # The child's stdout closed: it exited (or is exiting). Fail whatever still waits on it.
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        stderr_thread.join(timeout=2.0)
        with self._lock:
            orphans = list(pending.values())
        if not orphans:
            return
        if proc.stop_reason:
            err = BackendError(f"{proc.stop_reason} (exit code {code})", "BackendDied")
        else:
            tail = self.stderr_tail()
            err = BackendError(f"the backend stopped unexpectedly (exit code {code})"
                               + (f"; its last output:\n{tail}" if tail else "; it printed nothing"), "BackendDied")
        for handle in orphans:
            handle._inbox.put(err)

    def _read_stderr(self, proc, lines: collections.deque) -> None:
        for raw in iter(proc.stderr.readline, b""):
            text = raw.decode("utf-8", errors="replace").rstrip()
            lines.append(text)
            if self.echo_stderr:
                print(f"[maskhand backend] {text}", file=sys.stderr)

    def _hung(self, handle: RequestHandle) -> None:
        reason = (f"the backend did not answer request {handle.id} ({handle.kind}) for {handle.timeout:g} s "
                  f"and was stopped")
        tail = self.stderr_tail()
        self.kill(reason)
        handle._finish(error=BackendError(reason + (f"; its last output:\n{tail}" if tail else ""), "BackendTimeout"))

    def _forget(self, handle: RequestHandle) -> None:
        with self._lock:
            if self._pending.get(handle.id) is handle:
                del self._pending[handle.id]

    @staticmethod
    def _close_pipes(proc) -> None:
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            try:
                pipe.close()
            except (OSError, ValueError):
                pass


# -- the add-on's one client ---------------------------------------------------------------------------
def shared_client(interpreter, device="auto", mano_dir=None, checkpoint=None) -> BackendClient:
    """The add-on's client for these settings; a change of settings shuts the old child down."""
    global _shared
    wanted = BackendClient(interpreter, device, mano_dir, checkpoint)
    if _shared is not None and _shared.config == wanted.config:
        _clients.discard(wanted)
        return _shared
    if _shared is not None:
        _shared.shutdown()
    _shared = wanted
    return _shared


def current_client() -> BackendClient | None:
    """The add-on's client if one was made (it may or may not be running)."""
    return _shared


def shutdown_all(grace: float = SHUTDOWN_GRACE) -> None:
    """Stop every child this process started (add-on unregister, interpreter exit)."""
    global _shared
    for client in list(_clients):
        try:
            client.shutdown(grace)
        except Exception as err:  # exit paths must go on to the next child whatever happens
            print(f"maskhand: stopping the backend failed: {err}", file=sys.stderr)
    _shared = None


atexit.register(shutdown_all, 1.0)
