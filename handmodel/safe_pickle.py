"""Read pickles without running code from them: MANO_*.pkl files and pose dumps.

A pickle names the callables that rebuild its objects; `pickle.load` imports and calls whatever it
names (os.system included). Here `find_class` answers only from an allow-list:

- numpy arrays, dtypes and scalars (numpy 1.x and 2.x module paths);
- builtin containers and plain values (dict, list, tuple, set, str, int, float, ...);
- scipy.sparse csc/csr matrices, rebuilt as dense numpy arrays from their pickled
  data/indices/indptr/shape once loading is done (scipy is never imported: Blender's Python lacks it);
- chumpy objects (the official MANO files hold `chumpy.ch.Ch`), mapped to `ChumpyStub`, which only
  keeps its pickled state; `to_array` reads the ndarray out of it (chumpy is never imported);
- `copyreg._reconstructor` / `copyreg.__newobj__` (and Python 2's `copy_reg`), only when the class
  they build is one of the above.

Anything else raises UnsafePickleError naming the refused `module.name`. The official MANO files are
Python 2 pickles, so every load uses encoding="latin1" (as numpy documents for Python 2 arrays).

Shapes legend for `load_mano_dict`: V=778 vertices, F=1538 faces, S shape components (10).
"""
import io
import pickle
import re
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import InputFileError, MaskHandError, ModelFileError, UnsafePickleError

try:  # numpy >= 2 keeps the array machinery in numpy._core
    from numpy._core.multiarray import _reconstruct, scalar as _np_scalar
    from numpy._core.numeric import _frombuffer
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct, scalar as _np_scalar
    from numpy.core.numeric import _frombuffer


# ---------------------------------------------------------------------------------------------
# Stand-ins for classes we refuse to import: they only hold the state the pickle gives them.
# ---------------------------------------------------------------------------------------------

class ChumpyStub:
    """A chumpy object (chumpy.ch.Ch, a chumpy op) as pickled: its state, never its code.

    `pickled_class` is the "module.Name" the pickle asked for; `state` what BUILD handed over
    (for Ch a dict with the ndarray under 'x'); `args` what its constructor was called with.
    """

    pickled_class = "chumpy.?"
    args: tuple = ()
    state = None  # stays None when the pickle never BUILDs the object

    def __init__(self, *args, **kwargs):
        self.__dict__["args"] = args
        self.__dict__["state"] = None

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2 and all(isinstance(s, (dict, type(None))) for s in state):
            state = {**(state[0] or {}), **(state[1] or {})}  # (__dict__, __slots__) state
        self.__dict__["state"] = state

    def __repr__(self):
        return f"<{self.pickled_class} stub>"


class SparseStub:
    """A scipy.sparse matrix as pickled; replaced by a dense ndarray when loading finishes."""

    sparse_format = "csc"
    pickled_class = "scipy.sparse.?"
    args: tuple = ()
    state = None

    def __init__(self, *args, **kwargs):
        self.__dict__["args"] = args
        self.__dict__["state"] = None

    def __setstate__(self, state):
        self.__dict__["state"] = state


# Any name in a chumpy module maps to the stub (ch_ops classes are lower case: add, sum, ...);
# the stub runs nothing, so the name only labels it.
_CHUMPY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_chumpy_classes: dict[str, type] = {}
_sparse_classes: dict[str, type] = {}


def _chumpy_class(qualname: str) -> type:
    if qualname not in _chumpy_classes:
        _chumpy_classes[qualname] = type(qualname.rpartition(".")[2], (ChumpyStub,),
                                         {"pickled_class": qualname})
    return _chumpy_classes[qualname]


def _sparse_class(qualname: str, fmt: str) -> type:
    if qualname not in _sparse_classes:
        _sparse_classes[qualname] = type(qualname.rpartition(".")[2], (SparseStub,),
                                         {"pickled_class": qualname, "sparse_format": fmt})
    return _sparse_classes[qualname]


# ---------------------------------------------------------------------------------------------
# The allow-list
# ---------------------------------------------------------------------------------------------

_BUILTINS = {
    "dict": dict, "list": list, "tuple": tuple, "set": set, "frozenset": frozenset,
    "bytearray": bytearray, "bytes": bytes, "str": str, "int": int, "float": float,
    "complex": complex, "bool": bool, "object": object,
}
_SPARSE_MODULES = ("scipy.sparse", "scipy.sparse.csc", "scipy.sparse._csc",
                   "scipy.sparse.csr", "scipy.sparse._csr", "scipy.sparse._arrays")
_SPARSE_NAMES = {"csc_matrix": "csc", "csr_matrix": "csr", "csc_array": "csc", "csr_array": "csr"}


def _safe_ndarray_reconstruct(subtype, shape, dtype):
    if subtype is not np.ndarray:
        raise UnsafePickleError(f"numpy _reconstruct may build only numpy.ndarray; got {subtype!r}")
    return _reconstruct(subtype, shape, dtype)


def _safe_codecs_encode(text, encoding="utf-8", errors="strict"):
    """Python 3 pickles bytes as _codecs.encode(str, 'latin1') under protocols 0-2."""
    if encoding not in ("latin1", "latin-1", "iso-8859-1") or errors != "strict":
        raise UnsafePickleError(f"_codecs.encode is allowed only with 'latin1'; got {encoding!r}")
    return text.encode("latin1")


def _allowed_to_build(cls) -> bool:
    return isinstance(cls, type) and (issubclass(cls, (ChumpyStub, SparseStub))
                                      or cls in _BUILTINS.values() or cls is np.ndarray)


def _safe_reconstructor(cls, base, state):
    """copyreg._reconstructor, limited to classes of the allow-list built on `object`."""
    if not _allowed_to_build(cls):
        raise UnsafePickleError(f"copyreg._reconstructor may build only allowed classes; got {cls!r}")
    if base is object:
        return object.__new__(cls) if issubclass(cls, (ChumpyStub, SparseStub)) else cls()
    if base in _BUILTINS.values() and issubclass(cls, base):
        obj = base.__new__(cls, state)
        if base.__init__ is not object.__init__:
            base.__init__(obj, state)
        return obj
    raise UnsafePickleError(f"copyreg._reconstructor with base {base!r} is not allowed")


def _safe_newobj(cls, *args):
    """copyreg.__newobj__, limited to classes of the allow-list."""
    if not _allowed_to_build(cls):
        raise UnsafePickleError(f"copyreg.__newobj__ may build only allowed classes; got {cls!r}")
    return cls.__new__(cls, *args)


_ALLOWED = {
    **{(m, "_reconstruct"): _safe_ndarray_reconstruct
       for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(m, "scalar"): _np_scalar for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(m, "_frombuffer"): _frombuffer for m in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _safe_codecs_encode,
    ("collections", "OrderedDict"): dict,
    **{(m, "_reconstructor"): _safe_reconstructor for m in ("copyreg", "copy_reg")},
    **{(m, "__newobj__"): _safe_newobj for m in ("copyreg", "copy_reg")},
    **{(m, name): cls for m in ("builtins", "__builtin__") for name, cls in _BUILTINS.items()},
}


class _SafeUnpickler(pickle.Unpickler):
    """An Unpickler whose find_class answers only from _ALLOWED (and the stub families)."""

    def __init__(self, fh: BinaryIO, name: str):
        super().__init__(fh, encoding="latin1")
        self.name = name

    def find_class(self, module: str, name: str):
        found = _ALLOWED.get((module, name))
        if found is not None:
            return found
        if module in _SPARSE_MODULES and name in _SPARSE_NAMES:
            return _sparse_class(f"{module}.{name}", _SPARSE_NAMES[name])
        if (module == "chumpy" or module.startswith("chumpy.")) and _CHUMPY_NAME.match(name):
            return _chumpy_class(f"{module}.{name}")
        raise UnsafePickleError(
            f"{self.name}: refused to load {module}.{name} from the pickle; only numpy arrays, "
            "scipy sparse matrices, chumpy arrays and builtin containers are allowed")

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self.name}: refused a persistent id in the pickle; none is allowed")


# ---------------------------------------------------------------------------------------------
# After loading: stubs -> real objects
# ---------------------------------------------------------------------------------------------

def _sparse_from_stub(stub: SparseStub, name: str) -> np.ndarray:
    """SparseStub -> dense ndarray, built from data/indices/indptr with numpy alone.

    Dense on purpose: MANO's regressor is 16 x 778, and Blender's own Python has no scipy.
    """
    state = stub.state
    if not isinstance(state, dict):
        raise ModelFileError(f"{name}: {stub.pickled_class} has no state dict; got {type(state).__name__}")
    shape = state.get("_shape", state.get("shape"))
    parts = [state.get(k) for k in ("data", "indices", "indptr")]
    if shape is None or any(not isinstance(p, np.ndarray) for p in parts):
        raise ModelFileError(f"{name}: {stub.pickled_class} needs data, indices, indptr and shape; "
                             f"found keys {sorted(state)}")
    data, indices, indptr = parts
    try:
        rows, cols = (int(s) for s in shape)
    except (ValueError, TypeError):
        raise ModelFileError(f"{name}: {stub.pickled_class} has a malformed shape {shape!r}") from None
    major, minor = (cols, rows) if stub.sparse_format == "csc" else (rows, cols)
    ok = (indptr.ndim == 1 and len(indptr) == major + 1 and len(data) == len(indices) == indptr[-1]
          and indptr[0] == 0 and np.all(np.diff(indptr) >= 0)
          and (len(indices) == 0 or (indices.min() >= 0 and indices.max() < minor)))
    if not ok:
        raise ModelFileError(f"{name}: {stub.pickled_class} is malformed: data/indices/indptr do not "
                             f"describe a {rows}x{cols} {stub.sparse_format} matrix")
    dense = np.zeros((major, minor), dtype=np.result_type(data.dtype, np.float64))
    major_idx = np.repeat(np.arange(major), np.diff(indptr))
    np.add.at(dense, (major_idx, indices), data)
    return dense.T.copy() if stub.sparse_format == "csc" else dense


def _replace_stubs(obj, name: str, seen: dict):
    """Walk dicts/lists/tuples/sets, swapping every SparseStub for a dense ndarray."""
    if isinstance(obj, SparseStub):
        return _sparse_from_stub(obj, name)
    if id(obj) in seen:
        return seen[id(obj)]
    if isinstance(obj, dict):
        seen[id(obj)] = obj
        for k, v in obj.items():
            obj[k] = _replace_stubs(v, name, seen)
    elif isinstance(obj, list):
        seen[id(obj)] = obj
        obj[:] = [_replace_stubs(v, name, seen) for v in obj]
    elif isinstance(obj, tuple):
        seen[id(obj)] = obj
        new = tuple(_replace_stubs(v, name, seen) for v in obj)
        if any(a is not b for a, b in zip(new, obj)):
            seen[id(obj)] = obj = new
    elif isinstance(obj, ChumpyStub) and isinstance(obj.state, dict):
        seen[id(obj)] = obj
        _replace_stubs(obj.state, name, seen)
    return obj


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------

# What a truncated or garbled pickle raises from inside the Unpickler.
_CORRUPT = (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, UnicodeDecodeError, struct.error, OverflowError, RecursionError, MemoryError)


def load_pickle_from(fh: BinaryIO, name: str) -> object:
    """Unpickle from an open binary file with the allow-list; `name` appears in error messages."""
    try:
        obj = _SafeUnpickler(fh, name).load()
    except UnsafePickleError as err:
        if str(err).startswith(name):
            raise
        raise UnsafePickleError(f"{name}: {err}") from None
    except MaskHandError:
        raise
    except _CORRUPT as err:
        raise ModelFileError(f"{name} is not a readable pickle (truncated or corrupt?): "
                             f"{type(err).__name__}: {err}") from None
    return _replace_stubs(obj, name, {})


def load_pickle(path: str | Path) -> object:
    """Load a pickle without executing code from it.

    Returns the unpickled object; scipy sparse matrices come back as dense ndarrays, chumpy
    objects as ChumpyStub (see to_array).
    Raises InputFileError when the file is missing, UnsafePickleError when the pickle names
    anything outside the allow-list, ModelFileError when it is truncated or corrupt.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"pickle file not found: {path}") from None
    except OSError as err:
        raise InputFileError(f"cannot read {path}: {err.strerror or err}") from None
    return load_pickle_from(io.BytesIO(data), str(path))


def to_array(obj) -> np.ndarray:
    """A chumpy stub (or anything array-like) -> np.ndarray.

    Ch keeps its value under 'x'; other chumpy objects may cache it under 'r'; failing both, the
    one ndarray-valued entry of the state is taken.
    """
    if isinstance(obj, ChumpyStub):
        state = obj.state
        if isinstance(state, dict):
            for key in ("x", "r"):
                value = state.get(key)
                if isinstance(value, ChumpyStub):
                    return to_array(value)
                if isinstance(value, np.ndarray):
                    return value
            arrays = [v for v in state.values() if isinstance(v, np.ndarray)]
            if len(arrays) == 1:
                return arrays[0]
            keys = sorted(state)
        else:
            keys = type(state).__name__
        raise ModelFileError(f"cannot read an array out of {obj.pickled_class}: expected its state "
                             f"to hold an ndarray under 'x' or 'r'; found {keys}")
    return np.asarray(obj)


# Required MANO keys and their shapes: ints are exact, letters must agree across keys.
MANO_KEYS = {
    "v_template": ("V", 3),
    "f": ("F", 3),
    "weights": ("V", 16),
    "J_regressor": (16, "V"),
    "kintree_table": (2, 16),
    "shapedirs": ("V", 3, "S"),
    "posedirs": ("V", 3, 135),
}


def load_mano_dict(path: str | Path) -> dict:
    """A MANO model pickle (MANO_RIGHT.pkl, MANO_LEFT.pkl, our export) -> dict of arrays.

    Every chumpy object becomes an np.ndarray; J_regressor (stored sparse) comes back dense; other keys (hands_mean (45,), hands_components (45, 45), bs_style, ...) are kept.
    Checked: v_template (V, 3), f (F, 3), weights (V, 16), J_regressor (16, V),
    kintree_table (2, 16), shapedirs (V, 3, S), posedirs (V, 3, 135).
    Raises ModelFileError naming the key that is missing or has the wrong shape.
    """
    path = Path(path)
    data = load_pickle(path)
    if not isinstance(data, dict):
        raise ModelFileError(f"{path.name}: a MANO model pickle holds a dict; got {type(data).__name__}")
    out = {}
    for key, value in data.items():
        if isinstance(value, ChumpyStub):
            value = to_array(value)
        out[str(key)] = value
    missing = [k for k in MANO_KEYS if k not in out]
    if missing:
        raise ModelFileError(f"{path.name}: not a MANO model; missing key(s) {', '.join(map(repr, missing))} "
                             f"(expected {', '.join(MANO_KEYS)})")
    sizes: dict[str, int] = {}
    for key, expected in MANO_KEYS.items():
        value = out[key]
        shape = np.shape(value)
        ok = len(shape) == len(expected)
        for want, got in zip(expected, shape if ok else ()):
            if isinstance(want, int):
                ok = ok and got == want
            else:
                ok = ok and sizes.setdefault(want, got) == got
        if not ok:
            pretty = "(" + ", ".join(str(w) for w in expected) + ")"
            raise ModelFileError(f"{path.name}: '{key}' must have shape {pretty} "
                                 f"(V={sizes.get('V', '?')}); got {tuple(shape)}")
        out[key] = np.asarray(value)
    return out
