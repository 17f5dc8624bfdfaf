"""Frames of a clip, one at a time: movie files, image folders, numbered image patterns, path lists.

Every source iterates as (frame_index, RGB uint8 (H, W, 3)), so tracking code does not care where
the pixels come from. Frame indices:
- movie: the 0-based frame number in the file;
- pattern ("shot_####.png", "shot_%04d.png"): the number in each file name;
- folder: 0-based position in natural name order (frame2 before frame10);
- list of paths: 0-based position in the list.
`frame_range=(first, last)` keeps indices first..last, both INCLUSIVE (Blender's frame ranges);
None on either side means open-ended.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import InputFileError, MaskHandError
from .images import IMAGE_SUFFIXES, load_image

FrameRange = tuple[int | None, int | None] | None

_HASHES = re.compile(r"#+")
_PRINTF = re.compile(r"%(0?)(\d*)d")


class FrameSource:
    """Frames of a clip. Iterate, then close (or use `with`); iterating again starts over.

    count: how many frames iteration yields (a movie whose container states no length, read with
        an open-ended range, reports 0 until it has been iterated once).
    fps: frames per second of a movie; None for stills.
    """

    count: int
    fps: float | None = None

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        raise NotImplementedError

    def __len__(self) -> int:
        return self.count

    def close(self) -> None:
        """Release file handles; iterating again afterwards reopens them."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ImageSequence(FrameSource):
    """Still images read one by one as they are iterated."""

    def __init__(self, frames: list[tuple[int, Path]], label: str):
        self.frames = frames
        self.label = label
        self.count = len(frames)
        self.fps = None

    @property
    def paths(self) -> list[Path]:
        return [p for _, p in self.frames]

    def __iter__(self):
        for index, path in self.frames:
            try:
                image = load_image(path)
            except InputFileError as err:
                raise InputFileError(f"cannot read frame {index} of {self.label}: {err}") from err
            yield index, image


class VideoFrames(FrameSource):
    """A movie file decoded by OpenCV (FFmpeg), frame by frame, in order."""

    def __init__(self, path: Path, frame_range: FrameRange):
        import cv2

        self.path = path
        cap = cv2.VideoCapture(str(path))
        try:
            if not cap.isOpened():
                raise InputFileError(f"cannot read video {path}: OpenCV cannot open it "
                                     "(corrupt, or not a movie format it reads)")
            reported = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            fps = float(cap.get(cv2.CAP_PROP_FPS))
            ok, _ = cap.read()
            if not ok:
                raise InputFileError(f"cannot read video {path}: it has no frame OpenCV can decode")
        finally:
            cap.release()
        # Container frame counts can be estimates; None means "until the stream ends".
        self.reported_count = reported if reported > 0 else None
        self.fps = fps if np.isfinite(fps) and fps > 0 else None
        first, last = _clip_range(frame_range, 0, None if self.reported_count is None else self.reported_count - 1)
        self.first, self.last = first, last
        if last is not None:
            self.count = max(0, last - first + 1)
        else:
            self.count = 0  # unknown length and open range: counted as frames are read
        self._cap = None

    def __iter__(self):
        import cv2

        self.close()
        cap = self._cap = cv2.VideoCapture(str(self.path))
        index = 0
        # Skip by decoding rather than seeking: OpenCV's seek lands on keyframes in some codecs.
        while index < self.first:
            if not cap.grab():
                raise InputFileError(f"cannot read video {self.path}: it ends before frame {self.first} "
                                     f"(at frame {index})")
            index += 1
        seen = 0
        while self.last is None or index <= self.last:
            ok, bgr = cap.read()
            if not ok:
                if self._ended_normally(index):
                    break
                raise InputFileError(f"cannot read video {self.path}: frame {index} failed to decode "
                                     f"(the file reports {self.reported_count} frames)")
            seen += 1
            yield index, np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            index += 1
        if self.reported_count is None:
            self.count = seen
        self.close()

    def _ended_normally(self, index: int) -> bool:
        """A read that fails at (or within 2 frames of) the reported end is the end, not an error:
        containers often overstate their frame count by a frame or two."""
        return self.reported_count is None or index >= self.reported_count - 2

    def close(self):
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def open_frames(source, frame_range: FrameRange = None) -> FrameSource:
    """A FrameSource for a movie file, a folder of images, a numbered pattern, or a list of paths.

    Raises InputFileError for a missing or unreadable source, or when no frame is left in range.
    """
    _check_range(frame_range)
    if isinstance(source, (list, tuple)):
        if not source:
            raise InputFileError("no images given: the list of frames is empty")
        frames = [(i, Path(p)) for i, p in enumerate(source)]
        return _sequence(_keep_range(frames, frame_range), f"the list of {len(frames)} images", frame_range)
    if not isinstance(source, (str, Path)):
        raise MaskHandError(f"frames come from a path, a pattern or a list of paths; got {type(source).__name__}")
    path = Path(source)
    if path.is_dir():
        images = sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                        key=_natural_key)
        if not images:
            raise InputFileError(f"no images in folder {path} (expected {', '.join(sorted(IMAGE_SUFFIXES))})")
        frames = list(enumerate(images))
        return _sequence(_keep_range(frames, frame_range), f"folder {path}", frame_range)
    if not path.exists():
        if _HASHES.search(path.name) or _PRINTF.search(path.name):
            frames = _pattern_frames(path)
            return _sequence(_keep_range(frames, frame_range), f"pattern {path}", frame_range)
        raise InputFileError(f"cannot read {path}: no such file or folder")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return _sequence(_keep_range([(0, path)], frame_range), f"image {path}", frame_range)
    source = VideoFrames(path, frame_range)
    if source.last is not None and source.count == 0:
        raise InputFileError(f"video {path} has no frames in range {_range_text(frame_range)} "
                             f"(it has {source.reported_count})")
    return source


def _pattern_frames(pattern: Path) -> list[tuple[int, Path]]:
    """Files matching a '#'/printf pattern in its folder, with the number each name holds, in order."""
    name = pattern.name
    parts, pos = [], 0
    for m in sorted([*_HASHES.finditer(name), *_PRINTF.finditer(name)], key=lambda m: m.start()):
        parts.append(re.escape(name[pos:m.start()]))
        if m.group(0).startswith("#"):
            width = len(m.group(0))
            parts.append(r"(\d+)" if width == 1 else rf"(\d{{{width},}})")
        else:
            padded, width = m.group(1), m.group(2)
            parts.append(rf"(\d{{{width},}})" if padded and width else r"(\d+)")
        pos = m.end()
    parts.append(re.escape(name[pos:]))
    regex = re.compile("".join(parts) + r"\Z")
    folder = pattern.parent
    if not folder.is_dir():
        raise InputFileError(f"no images match pattern {pattern}: folder {folder} does not exist")
    frames = {}
    for p in folder.iterdir():
        m = regex.match(p.name)
        if m and p.is_file():
            frames.setdefault(int(m.group(1)), p)  # "shot_01" and "shot_001" -> the first found
    if not frames:
        raise InputFileError(f"no images match pattern {pattern}")
    return sorted(frames.items())


def _sequence(frames, label, frame_range) -> ImageSequence:
    if not frames:
        raise InputFileError(f"{label} has no frames in range {_range_text(frame_range)}")
    return ImageSequence(frames, label)


def _keep_range(frames, frame_range):
    first, last = frame_range or (None, None)
    return [(i, p) for i, p in frames if (first is None or i >= first) and (last is None or i <= last)]


def _clip_range(frame_range, lowest: int, highest: int | None):
    first, last = frame_range or (None, None)
    first = lowest if first is None else max(first, lowest)
    if highest is not None:
        last = highest if last is None else min(last, highest)
    return first, last


def _check_range(frame_range) -> None:
    if frame_range is None:
        return
    ok = (isinstance(frame_range, (tuple, list)) and len(frame_range) == 2
          and all(v is None or (isinstance(v, (int, np.integer)) and not isinstance(v, bool)) for v in frame_range))
    if not ok:
        raise MaskHandError(f"a frame range is (first, last) with integers or None; got {frame_range!r}")
    first, last = frame_range
    if first is not None and last is not None and last < first:
        raise MaskHandError(f"frame range {first}..{last} is empty: the last frame comes before the first")


def _range_text(frame_range) -> str:
    first, last = frame_range or (None, None)
    return f"{'start' if first is None else first}..{'end' if last is None else last}"


def _natural_key(path: Path):
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", path.name)]
