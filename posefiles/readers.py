"""read_pose_file: any supported MANO pose file -> one PoseSequence per hand side.

Dispatch is by extension, then by content:
  .npz / .npy / .pkl / .pickle -> a dict (or list of dicts) of arrays, HaMeR / WiLoR style (mano_arrays)
  .json -> {"format": "maskhand.mano", ...} (plain_json), a list of 61-value rows (freihand),
           or a dict of lists with the HaMeR keys (mano_arrays)
Pickles (also inside .npz/.npy) are read through handmodel.safe_pickle: no code from the file runs.
"""
import json
from pathlib import Path

from ..errors import InputFileError, ModelFileError, PoseDataError, UnsafePickleError
from ..handmodel.parts import check_side
from ..handmodel.safe_pickle import load_pickle
from .freihand import is_freihand_rows, sequences_from_freihand
from .mano_arrays import describe_keys, is_mano_arrays, sequences_from_arrays
from .numpy_files import load_npy, load_npz
from .plain_json import is_plain_json, sequence_from_plain_json
from .sequence import DEFAULT_FPS, PoseSequence

SUPPORTED_EXTENSIONS = (".json", ".npy", ".npz", ".pickle", ".pkl")


def read_pose_file(path: str | Path, side: str | None = None, fps: float | None = None,
                   *, left_mirrored: bool = True) -> list[PoseSequence]:
    """Read MANO pose parameters from `path`.

    side: None keeps every hand side the file records; "right" / "left" keeps only that side
        (PoseDataError when the file has none of it), and labels files that record no side.
    fps: overrides the file's frame rate; None uses the file's, else DEFAULT_FPS.
    left_mirrored: HaMeR/WiLoR-style files only: their left hands are predicted as mirrored right
        hands, so mirror them back (see mano_arrays). Set False for files already in MANO_LEFT terms.
    Returns [PoseSequence], right before left, each (F, ...) with source = the file's stem.
    Raises InputFileError (missing, unreadable, unsupported extension), PoseDataError (not MANO
    data, wrong shapes, NaN/inf), UnsafePickleError (a pickle that asks to run code).
    """
    path = Path(path)
    if side is not None:
        check_side(side, " (or None for every side)")
    if fps is not None and not (isinstance(fps, (int, float)) and fps > 0):
        raise PoseDataError(f"fps must be a positive number or None; got {fps!r}")
    if not path.exists():
        raise InputFileError(f"pose file not found: {path}")
    if not path.is_file():
        raise InputFileError(f"{path} is not a file; expected a pose file ({', '.join(SUPPORTED_EXTENSIONS)})")
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise InputFileError(f"{path.name}: unsupported pose file type '{ext}'; "
                             f"expected one of {', '.join(SUPPORTED_EXTENSIONS)}")
    source = path.stem
    rate = float(fps) if fps is not None else DEFAULT_FPS

    if ext == ".json":
        data = _load_json(path)
        if is_plain_json(data):
            return [sequence_from_plain_json(data, source, side, fps)]
        if is_freihand_rows(data):
            return sequences_from_freihand(data, source, side, rate)
    elif ext == ".npz":
        data = load_npz(path)
    elif ext == ".npy":
        data = load_npy(path)
    else:
        data = _load_pickle(path)

    if is_mano_arrays(data):
        return sequences_from_arrays(data, source, side, rate, left_mirrored=left_mirrored)
    raise PoseDataError(f"{path.name} is not MANO pose data: expected keys global_orient and hand_pose "
                        f"(at the top level or under {' or '.join(repr(k) for k in ('pred_mano_params', 'mano'))}); "
                        f"found {describe_keys(data)}")


def _load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputFileError(f"{path.name} is not valid JSON: {err.msg} at line {err.lineno}, "
                             f"column {err.colno}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputFileError(f"cannot read {path}: {err}") from None


def _load_pickle(path: Path):
    try:
        return load_pickle(path)
    except UnsafePickleError:
        raise
    except ModelFileError as err:  # truncated or corrupt: for a pose file that is bad input
        raise InputFileError(str(err)) from None
