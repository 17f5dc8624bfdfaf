"""The backend's requests: one small frozen class per kind, built from its payload and run.

`Kind.from_payload(payload)` checks every field explicitly (unknown fields refused, types and ranges
checked) and raises RequestError with one sentence ("estimate option 'seed' must be an integer; got
'a'"); `req.run(server, job)` does the work and returns the result payload. `job` is the running
request on the transport side (inference/server.Job: `progress(...)`, `check_cancelled()`,
`cancel_event`); `server` holds the warm pipelines. A new kind is a class here, its name in
REQUESTS and in protocol.REQUEST_KINDS, and its section in docs/BACKEND.md.
"""
from __future__ import annotations

import importlib.metadata
import math
import os
import platform
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ..errors import CANCELLED, BackendError, MaskHandError, RequestError
from . import protocol

if TYPE_CHECKING:
    from .server import Job, Server

PACKAGES = ("numpy", "torch", "mediapipe", "opencv-contrib-python", "smplx", "scipy")


# -- field checks: each returns the value (as stored) or raises RequestError --------------------------------
class _Fields:
    """One payload being read: `get(name, default, check)` per field, then `done()` refuses the rest."""

    def __init__(self, kind: str, payload: dict):
        self.kind, self.payload, self.names = kind, payload, []

    def get(self, name: str, default, check, *args):
        self.names.append(name)
        value = self.payload.get(name, default)
        return check(self, name, value, *args)

    def bad(self, name: str, expected: str, value) -> RequestError:
        return RequestError(f"{self.kind} option {name!r} must be {expected}; got {value!r}")

    def done(self) -> None:
        unknown = sorted(set(self.payload) - set(self.names))
        if unknown:
            expected = ", ".join(self.names) or "no options"
            raise RequestError(f"unknown option {unknown[0]!r} for {self.kind}; expected {expected}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int(f: _Fields, name, value):
    if not _is_int(value):
        raise f.bad(name, "an integer", value)
    return value


def _positive_int(f: _Fields, name, value):
    if not _is_int(value) or value < 1:
        raise f.bad(name, "a positive integer", value)
    return value


def _frame_index(f: _Fields, name, value):
    if value is not None and (not _is_int(value) or value < 0):
        raise f.bad(name, "a frame index (an integer >= 0)", value)
    return value


def _bool(f: _Fields, name, value):
    if not isinstance(value, bool):
        raise f.bad(name, "true or false", value)
    return value


def _positive_number(f: _Fields, name, value):
    if not _is_number(value) or value <= 0:
        raise f.bad(name, "a positive number", value)
    return float(value)


def _estimator(f: _Fields, name, value, tracking: bool = False):
    # Imported here: the server must start (and say what is missing) in an interpreter without numpy.
    from .pipeline import ESTIMATORS
    from .tracking import TRACK_ESTIMATORS

    choices = TRACK_ESTIMATORS if tracking else ESTIMATORS
    if value not in choices:
        raise f.bad(name, f"one of {', '.join(choices)}", value)
    return value


def _path(f: _Fields, name, value):
    if value is not None and (not isinstance(value, str) or not value):
        raise f.bad(name, "a file path", value)
    return value


def _source(f: _Fields, name, value):
    paths = isinstance(value, list) and bool(value) and all(isinstance(p, str) and p for p in value)
    if value is not None and not (isinstance(value, str) and value) and not paths:
        raise f.bad(name, "a path or a list of image paths", value)
    return tuple(value) if isinstance(value, list) else value


def _object(f: _Fields, name, value):
    if value is not None and not isinstance(value, dict):
        raise f.bad(name, "an object", value)
    return value


def _frame_range(f: _Fields, name, value):
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(v is None or _is_int(v) for v in value)):
        raise f.bad(name, "[first, last] (integers or null, both inclusive)", value)
    return tuple(value)


def _camera(f: _Fields, name, value):
    if value is None:
        return None
    ok = (isinstance(value, list) and len(value) == 3 and all(isinstance(row, list) and len(row) == 3 for row in value)
          and all(_is_number(v) for row in value for v in row))
    if not ok or value[0][0] <= 0 or value[1][1] <= 0:
        raise f.bad(name, "a 3x3 camera matrix with positive focal lengths", value)
    return tuple(tuple(float(v) for v in row) for row in value)


@dataclass(frozen=True, kw_only=True)
class _Estimating:
    """The fields estimate and track share: camera, sampling (as Pipeline takes it), detection, estimator."""
    K: tuple | None = None
    hypotheses: int = 1
    seed: int = 0
    temperature: float = 1.0
    greedy_first: bool = True
    locked: dict | None = None
    max_hands: int = 2
    estimator: str = "auto"

    @staticmethod
    def read_shared(f: _Fields, tracking: bool = False) -> dict:
        return {"K": f.get("K", None, _camera),
                "hypotheses": f.get("hypotheses", 1, _positive_int),
                "seed": f.get("seed", 0, _int),
                "temperature": f.get("temperature", 1.0, _positive_number),
                "greedy_first": f.get("greedy_first", not tracking, _bool),  # as track's own default
                "locked": f.get("locked", None, _object),
                "max_hands": f.get("max_hands", 2, _positive_int),
                "estimator": f.get("estimator", "auto", _estimator, tracking)}

    @property
    def sampling(self) -> dict:
        """The keyword arguments of Pipeline.__call__ (and tracking.track) that steer the model."""
        return {"hypotheses": self.hypotheses, "seed": self.seed, "temperature": self.temperature,
                "greedy_first": self.greedy_first, "locked": self.locked}


# -- the requests -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HelloRequest:
    """Versions, the device and what can be estimated; cheap except for torch's first import."""
    KIND: ClassVar[str] = "hello"

    @classmethod
    def from_payload(cls, payload: dict) -> HelloRequest:
        _Fields(cls.KIND, payload).done()
        return cls()

    def run(self, server: Server, job: Job) -> dict:
        from .device import describe

        device = server.pick_device(job)
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


@dataclass(frozen=True)
class LoadRequest:
    """Build (warm) a pipeline now, so the first estimate does not pay for it."""
    KIND: ClassVar[str] = "load"
    estimator: str = "auto"
    max_hands: int = 2
    tracking: bool = False

    @classmethod
    def from_payload(cls, payload: dict) -> LoadRequest:
        f = _Fields(cls.KIND, payload)
        req = cls(estimator=f.get("estimator", "auto", _estimator),
                  max_hands=f.get("max_hands", 2, _positive_int), tracking=f.get("tracking", False, _bool))
        f.done()
        return req

    def run(self, server: Server, job: Job) -> dict:
        t0 = time.perf_counter()
        pipe = server.pipeline(job, self.estimator, self.max_hands, self.tracking)
        return {"estimator": pipe.estimator, "device": server.device, "seconds": round(time.perf_counter() - t0, 3)}


@dataclass(frozen=True, kw_only=True)
class EstimateRequest(_Estimating):
    """One image, or one frame of a movie or sequence -> its hands.

    image: an image file; or source (a movie, an image folder or a numbered pattern; inference/frames.py)
    plus frame, that source's frame index. Exactly one of image and source.
    """
    KIND: ClassVar[str] = "estimate"
    image: str | None = None
    source: str | None = None
    frame: int | None = None

    @classmethod
    def from_payload(cls, payload: dict) -> EstimateRequest:
        f = _Fields(cls.KIND, payload)
        req = cls(image=f.get("image", None, _path), source=f.get("source", None, _path),
                  frame=f.get("frame", None, _frame_index), **cls.read_shared(f))
        f.done()
        if (req.image is None) == (req.source is None):
            raise RequestError("estimate needs either an 'image' path or a 'source' with a 'frame'; got "
                               + ("both" if req.image is not None else "neither"))
        if (req.source is None) != (req.frame is None):
            raise RequestError("estimate option 'frame' goes with 'source' (the source's frame index); got "
                               + (f"source {req.source!r} without a frame" if req.frame is None else
                                  f"frame {req.frame} without a source"))
        return req

    def run(self, server: Server, job: Job) -> dict:
        from .camera import default_intrinsics

        image = self._read()
        height, width = image.shape[:2]
        K = default_intrinsics(width, height) if self.K is None else _array(self.K)
        pipe = server.pipeline(job, self.estimator, self.max_hands, tracking=False)
        job.check_cancelled()
        t0 = time.perf_counter()
        hands = pipe(image, K, **self.sampling)
        job.check_cancelled(" (its result is dropped)")  # Esc during inference still means: change nothing
        return {"image": self.image if self.source is None else self.source, "frame": self.frame,
                "width": width, "height": height, "K": K.tolist(), "estimator": pipe.estimator,
                "hands": [hand.to_json() for hand in hands], "seconds": round(time.perf_counter() - t0, 3)}

    def _read(self):
        if self.source is None:
            from .images import load_image

            return load_image(self.image)
        from .frames import open_frames

        with open_frames(self.source, (self.frame, self.frame)) as frames:
            for _, image in frames:
                return image
        raise MaskHandError(f"{self.source} has no frame {self.frame}")


@dataclass(frozen=True, kw_only=True)
class TrackRequest(_Estimating):
    """A clip, frame by frame with MediaPipe's tracking (inference.tracking.track); each frame's kept
    hands (at most one per side) go out in its own "progress" event (stage "frame"), so a client
    that cancels keeps every finished frame."""
    KIND: ClassVar[str] = "track"
    source: str | tuple[str, ...]
    frame_range: tuple | None = None
    greedy_first: bool = False  # draws only, as tracking.track

    @classmethod
    def from_payload(cls, payload: dict) -> TrackRequest:
        f = _Fields(cls.KIND, payload)
        source = f.get("source", None, _source)
        frame_range = f.get("frame_range", None, _frame_range)
        shared = cls.read_shared(f, tracking=True)
        f.done()
        if source is None:
            raise RequestError("track needs a 'source' (a video, an image folder, a pattern or a list of images)")
        return cls(source=source, frame_range=frame_range, **shared)

    def run(self, server: Server, job: Job) -> dict:
        from .tracking import track

        pipe = server.pipeline(job, self.estimator, self.max_hands, tracking=True)
        seen = {"total": None}

        def on_frame(done: int, total: int | None, index: int, hands: list[dict]) -> None:
            seen["total"] = total
            job.progress(stage="frame", frame=index, done=done, total=total, hands=hands)

        take = track(_paths(self.source), self.frame_range, estimator=self.estimator, max_hands=self.max_hands,
                     K=None if self.K is None else _array(self.K), on_frame=on_frame,
                     should_stop=job.cancel_event.is_set, pipeline=pipe, **self.sampling)
        done, total = len(take.frames), seen["total"]
        if take.cancelled:
            of = f" of {total}" if total else ""
            raise BackendError(f"request {job.id} ({job.kind}) was cancelled after {done}{of} frames", CANCELLED)
        width, height = take.image_size
        return {"frames": done, "total": total, "fps": take.fps, "width": width, "height": height,
                "K": take.K.tolist(), "estimator": take.estimator}


@dataclass(frozen=True)
class ShutdownRequest:
    """The reader thread has cancelled everything else; answer, then the serve loop ends."""
    KIND: ClassVar[str] = "shutdown"

    @classmethod
    def from_payload(cls, payload: dict) -> ShutdownRequest:
        _Fields(cls.KIND, payload).done()
        return cls()

    def run(self, server: Server, job: Job) -> dict:
        return {"bye": True, "pid": os.getpid()}


# The dispatch table: request kind -> its class ("cancel" is answered by the reader thread itself).
REQUESTS = {cls.KIND: cls for cls in (HelloRequest, LoadRequest, EstimateRequest, TrackRequest, ShutdownRequest)}


# -- helpers -------------------------------------------------------------------------------------------------
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


def _array(K):
    import numpy as np

    return np.asarray(K, dtype=np.float64)


def _paths(source):
    """A source as inference.frames takes it: a path, or a list of image paths."""
    return list(source) if isinstance(source, tuple) else source
