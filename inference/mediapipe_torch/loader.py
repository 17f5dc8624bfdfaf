"""Where MediaPipe's .tflite files are, and their torch conversion, made once and cached.

The converted graph is saved as {"format", "config": the graph spec, "model": state_dict, "source":
{"file", "sha256"}} in the user's cache folder: $MASKHAND_CACHE_DIR, else $XDG_CACHE_HOME/maskhand,
else ~/.cache/maskhand (never inside the package, which may be read-only or an extension folder).
The file name carries the source file's SHA-256, so a different mediapipe wheel converts afresh; a
cache folder that cannot be written only costs a conversion (about a second) per process.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ...errors import ModelFileError
from .tflite_reader import file_sha256, read_tflite

FORMAT = 1
CACHE_ENV = "MASKHAND_CACHE_DIR"
MODEL_FILES = {"hand_landmark": "modules/hand_landmark/hand_landmark_full.tflite",
               "palm_detection": "modules/palm_detection/palm_detection_full.tflite"}


def cache_dir() -> Path:
    """The folder the conversions are cached in (see the module docstring); not created here."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "maskhand"


def model_file(name: str) -> Path:
    """The .tflite file of `name` ("hand_landmark" | "palm_detection") inside the installed mediapipe wheel."""
    if name not in MODEL_FILES:
        raise ModelFileError(f"unknown MediaPipe model {name!r}; expected one of {', '.join(MODEL_FILES)}")
    try:
        import mediapipe
    except ImportError as err:
        raise ModelFileError("MediaPipe's hand models come from the mediapipe 0.10.21 wheel, which is not "
                             "installed (the backend extra: pip install 'maskhand[backend]')") from err
    path = Path(mediapipe.__file__).parent / MODEL_FILES[name]
    if not path.is_file():
        raise ModelFileError(f"{path} is missing; expected mediapipe 0.10.21, whose wheel ships "
                             f"{MODEL_FILES[name]}")
    return path


def load_checkpoint(name: str, source: Path | None = None, cache: Path | None = None) -> dict:
    """{"format", "config", "model", "source"} for MediaPipe model `name`, from the cache or converted now.

    source: the .tflite file (default: the wheel's, model_file(name)); cache: the cache folder
    (default: cache_dir()).
    """
    import torch

    source = Path(source) if source is not None else model_file(name)
    if not source.is_file():
        raise ModelFileError(f"MediaPipe model {source} is missing")
    sha = file_sha256(source)
    cache = Path(cache) if cache is not None else cache_dir()
    path = cache / "mediapipe_torch" / f"{source.stem}-{sha[:16]}.pt"
    if path.is_file():
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a truncated or foreign cache file: convert again and overwrite it
            ckpt = None
        if isinstance(ckpt, dict) and ckpt.get("format") == FORMAT and ckpt.get("source", {}).get("sha256") == sha:
            return ckpt
    spec, arrays = read_tflite(source)
    ckpt = {"format": FORMAT, "config": spec, "source": {"file": source.name, "sha256": sha},
            "model": {key: torch.from_numpy(value) for key, value in arrays.items()}}
    _save_atomic(ckpt, path)
    return ckpt


def _save_atomic(ckpt: dict, path: Path) -> bool:
    """Write `ckpt` to `path` via a temporary file and a rename; False when the folder is not writable."""
    import torch

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(ckpt, handle)
        os.replace(tmp, path)
        return True
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return False
