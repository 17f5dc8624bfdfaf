"""MaskHand's plain MANO JSON: one hand's pose sequence, readable by any tool. Spec: docs/POSE_FILES.md.

    {"format": "maskhand.mano", "version": 1, "side": "right", "fps": 30, "hand_mean": "flat",
     "frames": [{"global_orient": [3], "hand_pose": [45], "betas": [10], "transl": [3]}, ...]}

betas and transl are optional per frame; transl must be in every frame or in none. Unknown keys are
refused (a typo would otherwise drop data silently); new keys come with a new version.
"""
import json
from pathlib import Path

import numpy as np

from ..errors import InputFileError, PoseDataError
from .sequence import DEFAULT_FPS, NUM_BETAS, PoseSequence

FORMAT = "maskhand.mano"
VERSION = 1
TOP_KEYS = {"format", "version", "side", "fps", "hand_mean", "frames"}
FRAME_SIZES = {"global_orient": 3, "hand_pose": 45, "betas": NUM_BETAS, "transl": 3}


def is_plain_json(data) -> bool:
    return isinstance(data, dict) and data.get("format") == FORMAT


def sequence_from_plain_json(data: dict, source: str, side: str | None = None,
                             fps: float | None = None) -> PoseSequence:
    """Parsed plain JSON -> PoseSequence. `fps` overrides the file's; `side` must match the file's."""
    if data.get("version") != VERSION:
        raise PoseDataError(f"{source}: {FORMAT} version {data.get('version')!r} is not supported; expected {VERSION}")
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise PoseDataError(f"{source}: unknown key(s) {unknown}; expected only {sorted(TOP_KEYS)}")
    file_side = data.get("side", "right")
    if side is not None and side != file_side:
        raise PoseDataError(f"{source}: no {side}-hand frames; the file holds a {file_side} hand")
    frames = data.get("frames")
    if not isinstance(frames, list) or not frames:
        raise PoseDataError(f"{source}: 'frames' must be a non-empty list; got {type(frames).__name__}")
    n = len(frames)
    go, hp = np.zeros((n, 3)), np.zeros((n, 45))
    betas = np.zeros((n, NUM_BETAS))
    has_transl = isinstance(frames[0], dict) and "transl" in frames[0]
    transl = np.zeros((n, 3)) if has_transl else None
    for i, frame in enumerate(frames):
        if not isinstance(frame, dict):
            raise PoseDataError(f"{source}: frame {i} must be an object; got {type(frame).__name__}")
        extra = sorted(set(frame) - set(FRAME_SIZES))
        if extra:
            raise PoseDataError(f"{source}: frame {i} has unknown key(s) {extra}; expected {sorted(FRAME_SIZES)}")
        if ("transl" in frame) != has_transl:
            raise PoseDataError(f"{source}: transl must be in every frame or in none; frame {i} differs from frame 0")
        for key, out in (("global_orient", go), ("hand_pose", hp), ("betas", betas), ("transl", transl)):
            if key not in frame:
                if key in ("global_orient", "hand_pose"):
                    raise PoseDataError(f"{source}: frame {i} has no {key}")
                continue
            values = frame[key]
            size = FRAME_SIZES[key]
            ok_len = isinstance(values, list) and (len(values) <= size if key == "betas" else len(values) == size)
            if not ok_len:
                got = len(values) if isinstance(values, list) else type(values).__name__
                want = f"at most {size}" if key == "betas" else str(size)
                raise PoseDataError(f"{source}: {key} must have {want} values per frame; got {got} in frame {i}")
            try:
                out[i, :len(values)] = np.asarray(values, dtype=np.float64)
            except (TypeError, ValueError):
                raise PoseDataError(f"{source}: {key} in frame {i} must hold only numbers") from None
    file_fps = data.get("fps", DEFAULT_FPS)
    if not isinstance(file_fps, (int, float)) or isinstance(file_fps, bool):
        raise PoseDataError(f"{source}: fps must be a number; got {file_fps!r}")
    return PoseSequence(global_orient=go, hand_pose=hp, betas=betas, transl=transl, side=file_side,
                        fps=float(fps if fps is not None else file_fps), source=source,
                        hand_mean=data.get("hand_mean", "flat"))


def plain_json_dict(seq: PoseSequence) -> dict:
    """PoseSequence -> the plain JSON structure (floats written exactly: JSON keeps repr's digits)."""
    frames = []
    for f in range(seq.num_frames):
        frame = {"global_orient": seq.global_orient[f].tolist(), "hand_pose": seq.hand_pose[f].tolist(),
                 "betas": seq.betas[f].tolist()}
        if seq.transl is not None:
            frame["transl"] = seq.transl[f].tolist()
        frames.append(frame)
    fps = int(seq.fps) if float(seq.fps).is_integer() else seq.fps
    return {"format": FORMAT, "version": VERSION, "side": seq.side, "fps": fps,
            "hand_mean": seq.hand_mean, "frames": frames}


def write_plain_json(path: str | Path, seq: PoseSequence) -> Path:
    """Write `seq` as plain MaskHand JSON (one frame per line); returns the path written."""
    path = Path(path)
    seq.validate()
    data = plain_json_dict(seq)
    frames = data.pop("frames")
    head = json.dumps(data)[:-1]  # without the closing brace
    body = ",\n  ".join(json.dumps(fr, allow_nan=False) for fr in frames)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'{head}, "frames": [\n  {body}\n]}}\n', encoding="utf-8")
    except OSError as err:
        raise InputFileError(f"cannot write {path}: {err.strerror or err}") from None
    return path
