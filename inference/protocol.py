"""The backend protocol: one JSON object per line on the backend's stdin (requests) and stdout (replies).

Pure stdlib, because both sides import it: the backend (inference/server.py) and Blender's process
(blender/backend_client.py), which must never import torch, cv2 or mediapipe. docs/BACKEND.md
describes every message with an example.

Every message is {"id": ..., "type": ..., "payload": {...}}:
- client -> backend: a request; "type" is the request kind (REQUEST_KINDS), "id" a string the
  client picks, unique per connection.
- backend -> client: "progress" (any number, while the request runs), then exactly one final
  "result" or "error" per request; plus one "ready" (id null) when the backend has started.
Errors carry {"error": <MaskHandError subclass name, "Cancelled" or "InternalError">, "message": <one
plain sentence>}.
"""
from __future__ import annotations

import json

from ..errors import BackendError, MaskHandError, ProtocolError

PROTOCOL_VERSION = 1

# Requests the backend answers; "cancel" and "shutdown" are handled by its reader thread, at once.
REQUEST_KINDS = ("hello", "load", "estimate", "track", "cancel", "shutdown")
# Replies: "ready" once at start, "progress" while a request runs, then one "result" or "error".
REPLY_KINDS = ("ready", "progress", "result", "error")
FINAL_KINDS = ("result", "error")

INTERNAL_ERROR = "InternalError"  # an unexpected exception in the backend (a bug); the backend lives on

# A line longer than this is refused: a safety net against a runaway or corrupt stream.
MAX_LINE_BYTES = 256 * 1024 * 1024


def message(kind: str, id_, payload: dict | None = None) -> dict:
    """A message dict; payload defaults to {}."""
    return {"id": id_, "type": kind, "payload": {} if payload is None else payload}


def encode(msg: dict) -> bytes:
    """One message -> one UTF-8 line ending in '\\n' (JSON never contains a raw newline).

    Numbers must be finite (NaN/inf are not JSON); objects with .tolist() (numpy) are converted.
    """
    try:
        text = json.dumps(msg, separators=(",", ":"), allow_nan=False, default=_plain)
    except (TypeError, ValueError) as err:
        raise ProtocolError(f"cannot encode a {msg.get('type')!r} message as JSON: {err}") from err
    return (text + "\n").encode("utf-8")


def decode(line: bytes | str, kinds=REQUEST_KINDS + REPLY_KINDS) -> dict:
    """One line -> a message dict with "id", "type" (one of `kinds`) and a dict "payload"."""
    if isinstance(line, bytes):
        if len(line) > MAX_LINE_BYTES:
            raise ProtocolError(f"a protocol line is {len(line)} bytes; the limit is {MAX_LINE_BYTES}")
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ProtocolError(f"a protocol line is not UTF-8: {err}") from err
    try:
        msg = json.loads(line)
    except json.JSONDecodeError as err:
        raise ProtocolError(f"a protocol line is not JSON ({err.msg}): {_clip(line)}") from err
    if not isinstance(msg, dict):
        raise ProtocolError(f"a protocol message must be a JSON object; got {type(msg).__name__}: {_clip(line)}")
    kind = msg.get("type")
    if kind not in kinds:
        raise ProtocolError(f"unknown message type {kind!r}; expected one of {', '.join(kinds)}")
    id_ = msg.get("id")
    if id_ is not None and not isinstance(id_, (str, int)):
        raise ProtocolError(f"a message id must be a string, an integer or null; got {type(id_).__name__}")
    payload = msg.get("payload", {})
    if not isinstance(payload, dict):
        raise ProtocolError(f"a message payload must be a JSON object; got {type(payload).__name__}")
    return {"id": id_, "type": kind, "payload": payload}


def error_payload(err: BaseException) -> dict:
    """The payload of an "error" reply for `err`: its class name (MaskHandError kinds) and message."""
    if isinstance(err, MaskHandError):
        name = err.name if isinstance(err, BackendError) else type(err).__name__
        return {"error": name, "message": str(err)}
    return {"error": INTERNAL_ERROR, "message": f"{type(err).__name__}: {err}"}


def _plain(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _clip(text: str, limit: int = 120) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "..."
