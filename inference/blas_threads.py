"""numpy's BLAS thread count, changed at run time for the duration of a Pipeline.

numpy's wheels bundle OpenBLAS, which starts one thread per core for its linear algebra. The
model's refinement does only small matrix products; OpenBLAS's extra thread then spins in the kernel
(sched_yield) while it waits, and, with the next photo detected on a worker thread (lookahead.py),
takes a core from MediaPipe. Measured on the 2-core test machine (docs/BENCHMARKS.md, "numpy's
BLAS on one thread"): system time per photo 50-110 ms -> 0-5 ms; predict with lookahead 6-17 ms faster
per render and 17-23 ms per real photo, track 12-13 ms per frame; one photo at a time mixed (the
spinning thread then burns the idle core, which on a user's machine is Blender's).

No dependency: OpenBLAS exports openblas_set_num_threads (numpy's ILP64 build adds a `64_` suffix,
scipy's a `scipy_` prefix). Found through the libraries this process has loaded (Linux: /proc/self/maps) or numpy's
bundled-library folders elsewhere; where none is found (numpy on Accelerate or MKL) nothing changes.
"""
from __future__ import annotations

import ctypes
import glob
import os
from pathlib import Path

# numpy's OpenBLAS: openblas_*64_ (ILP64); scipy's: scipy_openblas_*; a system OpenBLAS: openblas_*.
_NAMES = ("openblas_{}_num_threads64_", "scipy_openblas_{}_num_threads", "openblas_{}_num_threads")


def _library_paths() -> list[str]:
    maps = Path("/proc/self/maps")
    if maps.exists():
        fields = (line.split(None, 5) for line in maps.read_text().splitlines())
        return sorted({f[5].strip() for f in fields if len(f) == 6 and "openblas" in os.path.basename(f[5]).lower()})
    import numpy

    root = os.path.dirname(numpy.__file__)
    patterns = ("../numpy.libs/*openblas*", ".libs/*openblas*", ".dylibs/*openblas*")
    return sorted({p for pattern in patterns for p in glob.glob(os.path.join(root, pattern))})


def _controls() -> list:
    """(set, get) function pairs, one per OpenBLAS loaded into this process (looked up on each call:
    scipy's may load later)."""
    import numpy  # noqa: F401  (loads numpy's OpenBLAS)

    controls = []
    for path in _library_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _NAMES:
            setter = getattr(lib, name.format("set"), None)
            getter = getattr(lib, name.format("get"), None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype, getter.restype = [ctypes.c_int], None, ctypes.c_int
                controls.append((setter, getter))
                break
    return controls


def blas_threads() -> int | None:
    """numpy's OpenBLAS thread count, or None where numpy does not use OpenBLAS."""
    controls = _controls()
    return controls[0][1]() if controls else None


def set_blas_threads(count: int) -> int | None:
    """Sets every loaded OpenBLAS to `count` threads; returns the count before (None: no OpenBLAS),
    for giving it back."""
    before = blas_threads()
    for setter, _ in _controls():
        setter(int(count))
    return before
