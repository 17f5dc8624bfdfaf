"""The backend process: `python -m maskhand.inference.server [--device auto] [--mano-dir DIR] [--checkpoint PATH]`.

Blender starts it (blender/backend_client.py) with an interpreter that has torch and mediapipe and
talks to it over inference/protocol.py: requests on stdin, replies on stdout, one JSON object a
line (docs/BACKEND.md). Why a separate process: Blender's Python must never import torch or
mediapipe, and a crash or a hang in them must not take Blender down.

Shape of the loop:
- a reader thread parses stdin; "cancel" and "shutdown" act at once (a cancel reaches a running
  request, which checks between frames), everything else queues for the main thread, in order;
- the main thread runs one request at a time; each ends in exactly one "result" or "error"; an
  exception in a request is reported and the loop goes on; what each kind checks and does is in
  inference/requests.py (one class per kind), this module is only the transport;
- pipelines (detector + estimator) are built once per (estimator, max_hands, tracking) and stay warm;
- stdout carries only protocol lines: file descriptor 1 is pointed at stderr at start-up, so stray
  prints and native library logs (MediaPipe, TensorFlow Lite, glog) land on stderr;
- it exits on "shutdown" or when stdin closes (Blender quit or died).
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import platform
import queue
import sys
import threading
import time
import traceback

from ..errors import CANCELLED, BackendError, MaskHandError, ProtocolError
from . import protocol
from .requests import REQUESTS, package_version


class Job:
    """One request while it runs: its progress channel and its cancel flag (the payload is read by
    the request's class in inference/requests.py)."""

    def __init__(self, server: "Server", id_, kind: str, payload: dict):
        self.server, self.id, self.kind, self.payload = server, id_, kind, payload
        self.cancel_event = threading.Event()

    def progress(self, **fields) -> None:
        self.server.send("progress", self.id, fields)

    def check_cancelled(self, where: str = "") -> None:
        """Raise the "Cancelled" error when a cancel for this request has arrived."""
        if self.cancel_event.is_set():
            raise BackendError(f"request {self.id} ({self.kind}) was cancelled{where}", CANCELLED)


class Server:
    """The request loop (see the module docstring); `serve` returns the exit code."""

    def __init__(self, out, device: str = "auto", mano_dir: str | None = None, checkpoint: str | None = None):
        self._out = out
        self._out_lock = threading.Lock()
        self._closed = False
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._active: dict = {}  # id -> Job, queued or running (so a cancel finds queued ones too)
        self._active_lock = threading.Lock()
        self.device_choice, self.mano_dir, self.checkpoint = device, mano_dir, checkpoint
        self.device: str | None = None
        self.found: dict | None = None
        self.pipelines: dict = {}

    # -- transport ---------------------------------------------------------------------------------
    def send(self, kind: str, id_, payload: dict) -> None:
        """Write one reply line; a closed stdout (the client is gone) cancels everything instead."""
        line = protocol.encode(protocol.message(kind, id_, payload))
        with self._out_lock:
            if self._closed:
                return
            try:
                self._out.write(line)
                self._out.flush()
            except (OSError, ValueError):
                self._closed = True
                self._cancel_all()

    def _read(self, stream) -> None:
        """Reader thread: parse requests; act on cancel/shutdown at once; queue the rest."""
        try:
            for line in iter(stream.readline, b""):
                if not line.strip():
                    continue
                try:
                    msg = protocol.decode(line, protocol.REQUEST_KINDS)
                except ProtocolError as err:
                    self.send("error", None, protocol.error_payload(err))
                    continue
                id_, kind, payload = msg["id"], msg["type"], msg["payload"]
                if kind == "cancel":
                    self.send("result", id_, {"cancelled": payload.get("id"), "found": self._cancel(payload.get("id"))})
                    continue
                job = Job(self, id_, kind, payload)
                with self._active_lock:
                    duplicate = id_ in self._active
                    if not duplicate:
                        self._active[id_] = job
                if duplicate:
                    self.send("error", id_, {"error": "ProtocolError",
                                             "message": f"request id {id_!r} is already in use by a running request"})
                    continue
                if kind == "shutdown":
                    self._cancel_all(but=id_)
                self._queue.put(job)
        finally:  # stdin closed: finish what is queued (a vanished client shows up as a closed stdout)
            self._queue.put(None)

    def _cancel(self, id_) -> bool:
        with self._active_lock:
            job = self._active.get(id_)
        if job is not None:
            job.cancel_event.set()
        return job is not None

    def _cancel_all(self, but=None) -> None:
        with self._active_lock:
            for id_, job in self._active.items():
                if id_ != but:
                    job.cancel_event.set()

    # -- the loop ------------------------------------------------------------------------------------
    def serve(self, stream) -> int:
        threading.Thread(target=self._read, args=(stream,), name="maskhand-stdin", daemon=True).start()
        self.send("ready", None, {"protocol": protocol.PROTOCOL_VERSION, "pid": os.getpid(),
                                  "maskhand": package_version()})
        print(f"maskhand backend {package_version()} started: pid {os.getpid()}, Python {platform.python_version()} "
              f"({sys.executable})", file=sys.stderr, flush=True)
        while True:
            job = self._queue.get()
            if job is None:
                break
            self._run(job)
            if job.kind == "shutdown":
                break
        for pipe in self.pipelines.values():
            pipe.close()
        return 0

    def _run(self, job: Job) -> None:
        try:
            job.check_cancelled(" before it started")
            request = REQUESTS[job.kind].from_payload(job.payload)  # RequestError for a bad payload
            self.send("result", job.id, request.run(self, job))
        except MaskHandError as err:
            self.send("error", job.id, protocol.error_payload(err))
        except Exception as err:  # a bug in a request must not take the warm backend down
            traceback.print_exc(file=sys.stderr)
            self.send("error", job.id, protocol.error_payload(err))
        finally:
            with self._active_lock:
                self._active.pop(job.id, None)

    # -- shared state ------------------------------------------------------------------------------
    def pick_device(self, job: Job) -> str:
        if self.device is None:
            from .device import found_devices, pick_device

            job.progress(stage="loading", step="torch", fraction=0.05, message="Importing torch")
            _require("torch")
            self.found = found_devices()
            self.device = pick_device(self.device_choice, self.found)
        return self.device

    def pipeline(self, job: Job, estimator: str, max_hands: int, tracking: bool):
        """The warm pipeline for these options, built (with loading progress on `job`) the first time."""
        key = (estimator, max_hands, tracking)
        if key in self.pipelines:
            return self.pipelines[key]
        t0 = time.perf_counter()
        device = self.pick_device(job)
        job.check_cancelled(" while loading")
        job.progress(stage="loading", step="mediapipe", fraction=0.3, message="Importing MediaPipe and OpenCV")
        _require("mediapipe")  # imported here so its seconds show up as their own step
        _require("cv2")

        from .pipeline import Pipeline

        job.check_cancelled(" while loading")
        job.progress(stage="loading", step="pipeline", fraction=0.6,
                     message=f"Loading the hand model and the {estimator} estimator")
        options = {"estimator": estimator, "max_hands": max_hands, "mano_dir": self.mano_dir,
                   "tracking": tracking, "device": device}
        if self.checkpoint:
            options["checkpoint"] = self.checkpoint
        pipe = Pipeline(**options)
        self.pipelines[key] = pipe
        job.progress(stage="loading", step="ready", fraction=1.0, seconds=round(time.perf_counter() - t0, 2),
                     message=f"Ready ({pipe.estimator} on {device})")
        return pipe


# -- helpers -----------------------------------------------------------------------------------------
def _require(module: str) -> None:
    """Import `module`, or say plainly that this interpreter lacks the backend's packages."""
    try:
        importlib.import_module(module)
    except ImportError as err:
        raise MaskHandError(f"the backend interpreter {sys.executable} cannot import {module} ({err}); run "
                            f"Install Backend in MaskHand's preferences, or pip install -r "
                            f"backend_requirements.txt into that environment") from err


def _protocol_stdout():
    """A private handle on the real stdout for protocol lines; fd 1 then points at stderr."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="maskhand.inference.server",
                                     description="MaskHand's inference backend: docs/BACKEND.md on stdin/stdout")
    parser.add_argument("--device", default="auto", help="auto, cuda, mps or cpu (default: auto)")
    parser.add_argument("--mano-dir", default=None, help="folder with MANO_RIGHT.pkl / MANO_LEFT.pkl")
    parser.add_argument("--checkpoint", default=None, help="the generative model's checkpoint")
    args = parser.parse_args(argv)
    out = _protocol_stdout()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    server = Server(out, device=args.device, mano_dir=args.mano_dir or None, checkpoint=args.checkpoint or None)
    return server.serve(sys.stdin.buffer)


def run(argv=None) -> None:
    """main(), then exit at once: native libraries' threads can stall an orderly interpreter exit."""
    code = main(argv)
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
