"""`maskhand predict`: images in, one JSON document out (layout in docs/PREDICT.md).

A failure on one image (unreadable file, ...) is recorded in that image's "error" and the run
goes on; the caller decides the exit code from `failed`.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import InputFileError, MaskHandError
from .images import IMAGE_SUFFIXES



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
            temperature: float | None = None, flip_average: bool = False) -> dict:
    """Run detection + estimator on every image; returns the JSON-ready document (flip_average: see Pipeline)."""
    from .camera import default_intrinsics, load_intrinsics
    from .images import load_image
    from .pipeline import Pipeline

    paths = expand_inputs(inputs)
    Ks = load_intrinsics(intrinsics, len(paths)) if intrinsics else None
    doc = {"images": [], "timings_ms": {}}
    t_start = time.perf_counter()
    t_load = 0.0
    with Pipeline(estimator=estimator, max_hands=max_hands, mano_dir=mano_dir, flip_average=flip_average) as pipe:
        for i, path in enumerate(paths):
            entry = {"path": str(path), "width": None, "height": None, "hands": [], "error": None}
            try:
                t0 = time.perf_counter()
                image = load_image(path)
                t_load += (time.perf_counter() - t0) * 1000
                h, w = image.shape[:2]
                entry["width"], entry["height"] = w, h
                K = np.asarray(Ks[i]) if Ks is not None else default_intrinsics(w, h)
                entry["K"] = K.tolist()
                hands = pipe(image, K, hypotheses=hypotheses, seed=seed, temperature=temperature)
                entry["hands"] = [hand.to_json() for hand in hands]
            except MaskHandError as err:
                entry["error"] = str(err)
            doc["images"].append(entry)
        doc["timings_ms"] = {"load": round(t_load, 1), **{k: round(v, 1) for k, v in pipe.timings.items()},
                             "total": round((time.perf_counter() - t_start) * 1000, 1)}
        doc["estimator"] = pipe.estimator
    doc["hypotheses_requested"] = hypotheses
    doc["seed"] = seed
    return doc


def failed(doc: dict) -> int:
    """How many images could not be processed."""
    return sum(1 for e in doc["images"] if e["error"])
