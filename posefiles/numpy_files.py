""".npz / .npy files read without running pickled code.

Plain numeric arrays load as usual. Object arrays (np.save of a dict, np.savez(out, params=dict))
hold a pickle after the .npy header; that pickle goes through handmodel.safe_pickle's allow-list
instead of numpy's allow_pickle=True, and a 0-d object array is unwrapped to the object it holds.
"""
import io
import zipfile
from pathlib import Path

import numpy as np

from ..errors import InputFileError, ModelFileError, UnsafePickleError
from ..handmodel.safe_pickle import load_pickle_from


def load_npy_bytes(data: bytes, name: str):
    """The bytes of one .npy file -> ndarray, or the object a 0-d object array holds."""
    fp = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise InputFileError(f"{name} is not a readable .npy array: unsupported .npy format version {version}")
        if not dtype.hasobject:
            return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    except (ValueError, EOFError, OSError) as err:
        raise InputFileError(f"{name} is not a readable .npy array: {err}") from None
    try:
        arr = load_pickle_from(fp, name)
    except UnsafePickleError:
        raise
    except ModelFileError as err:
        raise InputFileError(str(err)) from None
    if isinstance(arr, np.ndarray) and arr.dtype.hasobject and arr.shape == ():
        return arr.item()
    return arr


def load_npz(path: Path) -> dict:
    """An .npz archive -> {key: ndarray or unwrapped object}."""
    out = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for member in zf.namelist():
                key = member[:-4] if member.endswith(".npy") else member
                out[key] = load_npy_bytes(zf.read(member), f"{path.name}:{key}")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as err:
        raise InputFileError(f"{path.name} is not a readable .npz archive: {err}") from None
    return out


def load_npy(path: Path):
    """An .npy file -> ndarray, or the object a 0-d object array holds (np.save of a dict)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputFileError(f"cannot read {path}: {err.strerror or err}") from None
    return load_npy_bytes(data, path.name)
