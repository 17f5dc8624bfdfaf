"""The backend process: `python -m maskhand.inference.server [--device auto] [--mano-dir DIR] [--checkpoint PATH]`.

Blender starts it (blender/backend_client.py) with an interpreter that has torch and mediapipe and
talks to it over inference/protocol.py: requests on stdin, replies on stdout, one JSON object a
line (docs/BACKEND.md). Why a separate process: Blender's Python must never import torch or
mediapipe, and a crash or a hang in them must not take Blender down.

Shape of the loop:
- a reader thread parses stdin; "cancel" and "shutdown" act at once (a cancel reaches a running
  request, which checks between frames), everything else queues for the main thread, in order;
- the main thread runs one request at a time; each ends in exactly one "result" or "error"; an
  exception in a request is reported and the loop goes on;
- pipelines (detector + estimator) are built once per (estimator, max_hands, tracking) and stay warm;
- stdout carries only protocol lines: file descriptor 1 is pointed at stderr at start-up, so stray
  prints and native library logs (MediaPipe, TensorFlow Lite, glog) land on stderr;
- it exits on "shutdown" or when stdin closes (Blender quit or died).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import math
import os
import platform
import queue
import sys
import threading
import time
import tomllib
import traceback
from pathlib import Path

from ..errors import CANCELLED, BackendError, MaskHandError, ProtocolError
from . import protocol

ESTIMATE_OPTIONS = {  # name: (default, check) for "estimate"; "track" adds source/frame_range
    "image": (None, "path"),
    "K": (None, "K"),
    "hypotheses": (1, "positive int"),
    "seed": (0, "int"),
    "temperature": (1.0, "positive number"),
    "locked": (None, "dict"),
    "max_hands": (2, "positive int"),
    "estimator": ("auto", "estimator"),
}
TRACK_OPTIONS = {**{k: v for k, v in ESTIMATE_OPTIONS.items() if k != "image"},
                 "source": (None, "source"), "frame_range": (None, "frame range")}
LOAD_OPTIONS = {"estimator": ("auto", "estimator"), "max_hands": (2, "positive int"), "tracking": (False, "bool")}
PACKAGES = ("numpy", "torch", "mediapipe", "opencv-contrib-python", "smplx", "scipy")


class Request:
    """One request while it runs: its progress channel and its cancel flag."""

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
        self._queue: queue.Queue[Request | None] = queue.Queue()
        self._active: dict = {}  # id -> Request, queued or running (so a cancel finds queued ones too)
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
                req = Request(self, id_, kind, payload)
                with self._active_lock:
                    duplicate = id_ in self._active
                    if not duplicate:
                        self._active[id_] = req
                if duplicate:
                    self.send("error", id_, {"error": "ProtocolError",
                                             "message": f"request id {id_!r} is already in use by a running request"})
                    continue
                if kind == "shutdown":
                    self._cancel_all(but=id_)
                self._queue.put(req)
        finally:  # stdin closed: finish what is queued (a vanished client shows up as a closed stdout)
            self._queue.put(None)

    def _cancel(self, id_) -> bool:
        with self._active_lock:
            req = self._active.get(id_)
        if req is not None:
            req.cancel_event.set()
        return req is not None

    def _cancel_all(self, but=None) -> None:
        with self._active_lock:
            for id_, req in self._active.items():
                if id_ != but:
                    req.cancel_event.set()

    # -- the loop ------------------------------------------------------------------------------------
    def serve(self, stream) -> int:
        threading.Thread(target=self._read, args=(stream,), name="maskhand-stdin", daemon=True).start()
        self.send("ready", None, {"protocol": protocol.PROTOCOL_VERSION, "pid": os.getpid(),
                                  "maskhand": package_version()})
        print(f"maskhand backend {package_version()} started: pid {os.getpid()}, Python {platform.python_version()} "
              f"({sys.executable})", file=sys.stderr, flush=True)
        while True:
            req = self._queue.get()
            if req is None:
                break
            self._run(req)
            if req.kind == "shutdown":
                break
        for pipe in self.pipelines.values():
            pipe.close()
        return 0

    def _run(self, req: Request) -> None:
        try:
            req.check_cancelled(" before it started")
            result = HANDLERS[req.kind](self, req)
            self.send("result", req.id, result)
        except MaskHandError as err:
            self.send("error", req.id, protocol.error_payload(err))
        except Exception as err:  # a bug in a request must not take the warm backend down
            traceback.print_exc(file=sys.stderr)
            self.send("error", req.id, protocol.error_payload(err))
        finally:
            with self._active_lock:
                self._active.pop(req.id, None)

    # -- shared state ------------------------------------------------------------------------------
    def pick_device(self, req: Request) -> str:
        if self.device is None:
            from .device import found_devices, pick_device

            req.progress(stage="loading", step="torch", fraction=0.05, message="Importing torch")
            _require("torch")
            self.found = found_devices()
            self.device = pick_device(self.device_choice, self.found)
        return self.device

    def pipeline(self, req: Request, estimator: str, max_hands: int, tracking: bool):
        """The warm pipeline for these options, built (with loading progress on `req`) the first time."""
        key = (estimator, max_hands, tracking)
        if key in self.pipelines:
            return self.pipelines[key]
        t0 = time.perf_counter()
        device = self.pick_device(req)
        req.check_cancelled(" while loading")
        req.progress(stage="loading", step="mediapipe", fraction=0.3, message="Importing MediaPipe and OpenCV")
        _require("mediapipe")  # imported here so its seconds show up as their own step
        _require("cv2")

        from .pipeline import Pipeline

        req.check_cancelled(" while loading")
        req.progress(stage="loading", step="pipeline", fraction=0.6,
                     message=f"Loading the hand model and the {estimator} estimator")
        options = {"estimator": estimator, "max_hands": max_hands, "mano_dir": self.mano_dir,
                   "tracking": tracking, "device": device}
        if self.checkpoint:
            options["checkpoint"] = self.checkpoint
        pipe = Pipeline(**options)
        self.pipelines[key] = pipe
        req.progress(stage="loading", step="ready", fraction=1.0, seconds=round(time.perf_counter() - t0, 2),
                     message=f"Ready ({pipe.estimator} on {device})")
        return pipe


# -- request handlers: (server, request) -> result payload ------------------------------------------
def handle_hello(server: Server, req: Request) -> dict:
    """Versions, the device and what can be estimated; cheap except for torch's first import."""
    from .device import describe

    _options(req, {})
    device = server.pick_device(req)
    return {
        "protocol": protocol.PROTOCOL_VERSION,
        "maskhand": package_version(),
        "pid": os.getpid(),
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "versions": {name: _installed(name) for name in PACKAGES},
        "device": device,
        "device_choice": server.device_choice,
        "devices": server.found,
        "device_text": describe(server.found, device),
        "estimators": available_estimators(),
        "mano_dir": server.mano_dir,
        "checkpoint": server.checkpoint,
        "loaded": [{"estimator": e, "max_hands": m, "tracking": t} for e, m, t in server.pipelines],
    }


def handle_load(server: Server, req: Request) -> dict:
    """Build (warm) a pipeline now, so the first estimate does not pay for it."""
    opts = _options(req, LOAD_OPTIONS)
    t0 = time.perf_counter()
    pipe = server.pipeline(req, opts["estimator"], opts["max_hands"], opts["tracking"])
    return {"estimator": pipe.estimator, "device": server.device, "seconds": round(time.perf_counter() - t0, 3)}


def handle_estimate(server: Server, req: Request) -> dict:
    """One image -> its hands ({width, height, K, estimator, hands: [HandResult.to_json()]})."""
    from .camera import default_intrinsics
    from .images import load_image

    opts = _options(req, ESTIMATE_OPTIONS)
    if opts["image"] is None:
        raise MaskHandError("estimate needs an 'image' path; got none")
    image = load_image(opts["image"])
    height, width = image.shape[:2]
    K = default_intrinsics(width, height) if opts["K"] is None else opts["K"]
    pipe = server.pipeline(req, opts["estimator"], opts["max_hands"], tracking=False)
    req.check_cancelled()
    t0 = time.perf_counter()
    hands = pipe(image, _array(K), hypotheses=opts["hypotheses"], seed=opts["seed"],
                 temperature=opts["temperature"], locked=opts["locked"])
    req.check_cancelled(" (its result is dropped)")  # Esc during inference still means: change nothing
    return {"image": opts["image"], "width": width, "height": height, "K": _listed(K),
            "estimator": pipe.estimator, "hands": [hand.to_json() for hand in hands],
            "seconds": round(time.perf_counter() - t0, 3)}


def handle_track(server: Server, req: Request) -> dict:
    """A clip, frame by frame with MediaPipe's tracking; each frame's hands go out in its own
    "progress" event (stage "frame"), so a client that cancels keeps every finished frame."""
    from .camera import default_intrinsics
    from .frames import open_frames

    opts = _options(req, TRACK_OPTIONS)
    if opts["source"] is None:
        raise MaskHandError("track needs a 'source' (a video, an image folder, a pattern or a list of images)")
    frames = open_frames(opts["source"], opts["frame_range"])
    pipe = server.pipeline(req, opts["estimator"], opts["max_hands"], tracking=True)
    pipe.detector.reset()  # a new clip: forget the last one's hands
    K = opts["K"]
    size = None
    done = 0
    with frames:
        total = len(frames)
        for index, image in frames:
            req.check_cancelled(f" after {done} of {total} frames")
            if K is None:
                K = default_intrinsics(image.shape[1], image.shape[0])
            size = (image.shape[1], image.shape[0])
            hands = pipe(image, _array(K), hypotheses=opts["hypotheses"], seed=opts["seed"],
                         temperature=opts["temperature"], locked=opts["locked"])
            done += 1
            req.progress(stage="frame", frame=index, done=done, total=total,
                         hands=[hand.to_json() for hand in hands])
    return {"frames": done, "total": total, "fps": frames.fps, "width": size and size[0],
            "height": size and size[1], "K": _listed(K), "estimator": pipe.estimator}


def handle_shutdown(server: Server, req: Request) -> dict:
    return {"bye": True, "pid": os.getpid()}


# The dispatch table: a new request kind is a handler here plus its name in protocol.REQUEST_KINDS.
HANDLERS = {
    "hello": handle_hello,
    "load": handle_load,
    "estimate": handle_estimate,
    "track": handle_track,
    "shutdown": handle_shutdown,
}


# -- helpers -----------------------------------------------------------------------------------------
def available_estimators() -> dict:
    """{"names": [...], "auto": what "auto" runs now}; "model" only when its weights are there."""
    names = ["fitted", "mediapipe"]
    try:
        from .model.estimator import weights_available

        has_model = weights_available()
    except Exception as err:  # the model package failing to import must not break "hello"
        print(f"maskhand backend: the generative model is unavailable ({type(err).__name__}: {err})", file=sys.stderr)
        has_model = False
    if has_model:
        names.insert(0, "model")
    return {"names": names, "auto": "model" if has_model else "fitted"}


def package_version() -> str:
    """The version in blender_manifest.toml beside this package (right whatever name it is imported by)."""
    manifest = Path(__file__).resolve().parents[1] / "blender_manifest.toml"
    try:
        return tomllib.loads(manifest.read_text(encoding="utf-8"))["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _require(module: str) -> None:
    """Import `module`, or say plainly that this interpreter lacks the backend's packages."""
    try:
        importlib.import_module(module)
    except ImportError as err:
        raise MaskHandError(f"the backend interpreter {sys.executable} cannot import {module} ({err}); run "
                            f"Install Backend in MaskHand's preferences, or pip install -r "
                            f"backend_requirements.txt into that environment") from err


def _options(req: Request, spec: dict) -> dict:
    """The request's payload checked against `spec` {name: (default, check)}; unknown names raise."""
    unknown = sorted(set(req.payload) - set(spec))
    if unknown:
        expected = ", ".join(spec) or "no options"
        raise MaskHandError(f"unknown option {unknown[0]!r} for {req.kind}; expected {expected}")
    out = {}
    for name, (default, check) in spec.items():
        value = req.payload.get(name, default)
        out[name] = value if value is None and check in ("K", "dict", "frame range", "path", "source") \
            else _check(req.kind, name, value, check)
    return out


def _check(kind: str, name: str, value, check: str):
    bad = f"{kind} option {name!r} must be"
    if check == "positive int":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise MaskHandError(f"{bad} a positive integer; got {value!r}")
    elif check == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise MaskHandError(f"{bad} an integer; got {value!r}")
    elif check == "bool":
        if not isinstance(value, bool):
            raise MaskHandError(f"{bad} true or false; got {value!r}")
    elif check == "positive number":
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not (math.isfinite(value) and value > 0):
            raise MaskHandError(f"{bad} a positive number; got {value!r}")
    elif check == "estimator":
        from .pipeline import ESTIMATORS

        if value not in ESTIMATORS:
            raise MaskHandError(f"{bad} one of {', '.join(ESTIMATORS)}; got {value!r}")
    elif check == "path":
        if not isinstance(value, str) or not value:
            raise MaskHandError(f"{bad} a file path; got {value!r}")
    elif check == "source":
        paths = isinstance(value, list) and all(isinstance(p, str) for p in value)
        if not (isinstance(value, str) and value) and not paths:
            raise MaskHandError(f"{bad} a path or a list of image paths; got {value!r}")
    elif check == "dict":
        if not isinstance(value, dict):
            raise MaskHandError(f"{bad} an object; got {value!r}")
    elif check == "frame range":
        if not (isinstance(value, list) and len(value) == 2
                and all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in value)):
            raise MaskHandError(f"{bad} [first, last] (integers or null, both inclusive); got {value!r}")
        value = tuple(value)
    elif check == "K":
        ok = (isinstance(value, list) and len(value) == 3
              and all(isinstance(row, list) and len(row) == 3 for row in value)
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                      for row in value for v in row))
        if not ok or value[0][0] <= 0 or value[1][1] <= 0:
            raise MaskHandError(f"{bad} a 3x3 camera matrix with positive focal lengths; got {value!r}")
    return value


def _array(K):
    import numpy as np

    return np.asarray(K, dtype=np.float64)


def _listed(K):
    return K.tolist() if hasattr(K, "tolist") else K


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
