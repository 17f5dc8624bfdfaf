"""`maskhand predict`: images in, one JSON document out (layout in docs/PREDICT.md).

A failure on one image (unreadable file, ...) is recorded in that image's "error" and the run
goes on; the caller decides the exit code from `failed`.
"""
from __future__ import annotations

import threading
import time
from contextlib import closing
from pathlib import Path

import numpy as np

from ..errors import InputFileError, MaskHandError
from .images import IMAGE_SUFFIXES
from .lookahead import prepared_ahead


def expand_inputs(inputs) -> list[Path]:
    """Files as given; directories -> their images, sorted by name."""
    paths = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise InputFileError(f"no images in folder {p} (expected {', '.join(sorted(IMAGE_SUFFIXES))})")
            paths += found
        else:
            paths.append(p)
    return paths


def predict(inputs, intrinsics: Path | None = None, hypotheses: int = 1, seed: int = 0,
            max_hands: int = 2, estimator: str = "auto", mano_dir=None,
            temperature: float | None = None, flip_average: bool = False, greedy_first: bool = True) -> dict:
    """Run detection + estimator on every image; returns the JSON-ready document (flip_average: see Pipeline;
    greedy_first: the first hypothesis the greedy answer, as Pipeline.estimate takes it).

    The next images are read and detected (two at once on 2+ cores) while the model works on the
    current one (lookahead.py); timings_ms["detect"] and ["load"] therefore overlap ["model"] and
    add up the threads' time, and "total" is the wall time."""
    from .camera import load_intrinsics
    from .pipeline import Pipeline

    paths = expand_inputs(inputs)
    Ks = load_intrinsics(intrinsics, len(paths)) if intrinsics else None
    t_start = time.perf_counter()
    with Pipeline(estimator=estimator, max_hands=max_hands, mano_dir=mano_dir, flip_average=flip_average) as pipe:
        entries, load_ms = estimate_images(pipe, paths, Ks, hypotheses=hypotheses, seed=seed, temperature=temperature,
                                           greedy_first=greedy_first)
        doc = {"images": entries,
               "timings_ms": {"load": round(load_ms, 1), **{k: round(v, 1) for k, v in pipe.timings.items()},
                              "total": round((time.perf_counter() - t_start) * 1000, 1)},
               "estimator": pipe.estimator}
    doc["hypotheses_requested"] = hypotheses
    doc["seed"] = seed
    return doc


def estimate_images(pipe, paths: list[Path], Ks=None, workers: int | None = None,
                    **sampling) -> tuple[list[dict], float]:
    """predict's loop on an open Pipeline: (one document entry per image, milliseconds spent reading).

    Ks: a camera per image, None for default_intrinsics of each image's size; workers: photos read
    and detected at once ahead of the model (None: pipe.detect_workers); sampling: as
    Pipeline.estimate takes it. Kept apart from predict so benchmarks time it on a warm pipeline."""
    from .camera import default_intrinsics
    from .images import load_image

    load_ms = 0.0
    load_lock = threading.Lock()

    def read_and_detect(i: int):
        """On a worker thread (lookahead.py): image i read, its camera, the detector's hands (or
        the detector's error, raised once the image's size is recorded)."""
        nonlocal load_ms
        t0 = time.perf_counter()
        image = load_image(paths[i])
        with load_lock:
            load_ms += (time.perf_counter() - t0) * 1000
        K = np.asarray(Ks[i]) if Ks is not None else default_intrinsics(image.shape[1], image.shape[0])
        try:
            return image, K, pipe.detect_frames([image])[0]
        except MaskHandError as err:
            return image, K, err

    entries = []
    workers = pipe.detect_workers if workers is None else workers
    with closing(prepared_ahead(range(len(paths)), read_and_detect, pipe.on_worker_thread, workers)) as ahead:
        for i, prepared in ahead:
            entry = {"path": str(paths[i]), "width": None, "height": None, "hands": [], "error": None}
            try:
                image, K, found = prepared.result()
                h, w = image.shape[:2]
                entry["width"], entry["height"] = w, h
                entry["K"] = K.tolist()
                if isinstance(found, MaskHandError):
                    raise found
                entry["hands"] = [hand.to_json() for hand in pipe.estimate(image, K, found, **sampling)]
            except MaskHandError as err:
                entry["error"] = str(err)
            entries.append(entry)
    return entries, load_ms


def failed(doc: dict) -> int:
    """How many images could not be processed."""
    return sum(1 for e in doc["images"] if e["error"])
