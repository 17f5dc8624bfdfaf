"""The pictures the MediaPipe parity test and benchmark run on: the project's renders (fixtures,
the sample photo, frames of the rendered clip) and, where present, the research-only real photos
outside the repository (../shared/data or $MASKHAND_REAL_DATA; never copied in)."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
RENDERS = sorted((REPO / "tests/fixtures/hands/evaluation/rgb").glob("*.jpg"))
REAL = Path(os.environ.get("MASKHAND_REAL_DATA", REPO.parent / "shared" / "data"))
REAL_FOLDERS = ("handmesh_crops", "mmpose_samples/freihand", "mmpose_samples/interhand2.6m",
                "mmpose_samples/onehand10k", "mmpose_samples/panoptic", "photos/hamer_example_data",
                "photos/wilor_demo_img")


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file."""
    return np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1])


def clip_frames(indices=None) -> list[np.ndarray]:
    """Frames of the rendered clip (tests/fixtures/hand_clip.mp4): those at `indices`, or all."""
    capture = cv2.VideoCapture(str(REPO / "tests/fixtures/hand_clip.mp4"))
    frames, i = [], 0
    while indices is None or i <= max(indices):
        ok, frame = capture.read()
        if not ok:
            break
        if indices is None or i in indices:
            frames.append(np.ascontiguousarray(frame[:, :, ::-1]))
        i += 1
    capture.release()
    return frames


def render_images(clip_indices=None) -> list[np.ndarray]:
    """The fixture renders, the sample photo, and the clip's frames at `clip_indices` (None: all)."""
    return [read_rgb(p) for p in RENDERS] + [read_rgb(REPO / "samples/hand_photo.jpg")] + clip_frames(clip_indices)


def real_images() -> list[np.ndarray]:
    """The real photos under REAL's folders; [] where they are absent (a fresh clone)."""
    return [read_rgb(p) for folder in REAL_FOLDERS for p in sorted((REAL / folder).glob("*"))
            if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
