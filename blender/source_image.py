"""Resolve the panel's source (a file, a Blender image, a movie clip, the camera background) into what
the backend reads: an image file, or a movie/sequence plus frame numbers.

The backend is another process, so it needs files: a Blender image that lives only in memory (packed
or generated) is written to a temporary PNG here, with plain zlib, so no Blender data is created.
Scene frames map to the source's own frame numbers by a fixed offset (``Source.offset``): a movie's
0-based frame index, or the number in an image sequence's file names, as inference/frames.py counts.
"""
from __future__ import annotations

import os
import re
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from ..errors import InputFileError

MOVIE_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".ogv", ".gif"}
_DIGITS = re.compile(r"(\d+)(?=\.[^./\\]+$)")  # the frame number right before the extension


@dataclass
class Source:
    """path: an image file (still) or a movie / numbered pattern (frames); offset: source frame =
    scene frame + offset (None for a still); temporary: path is a PNG this module wrote (delete it
    after use); label: how messages name the source."""
    path: str
    offset: int | None = None
    temporary: bool = False
    label: str = ""

    @property
    def is_still(self) -> bool:
        return self.offset is None

    def source_frame(self, scene_frame: int) -> int:
        return scene_frame + self.offset

    def scene_frame(self, source_frame: int) -> int:
        return source_frame - self.offset

    def discard(self) -> None:
        """Remove the temporary PNG, if this source made one."""
        if self.temporary:
            try:
                os.remove(self.path)
            except OSError:
                pass


def resolve_source(settings, scene) -> Source:
    """The panel's source (settings: Scene.maskhand.estimate) -> a Source, or InputFileError in plain words."""
    kind = settings.source_kind
    if kind == 'FILE':
        return file_source(settings.image_path, settings.source_start)
    if kind == 'IMAGE':
        if settings.image is None:
            raise InputFileError("no Blender image is chosen as the source; pick one in the Estimate panel")
        return image_source(settings.image, settings.source_start)
    if kind == 'CLIP':
        if settings.clip is None:
            raise InputFileError("no movie clip is chosen as the source; pick one in the Estimate panel")
        return clip_source(settings.clip)
    if kind == 'CAMERA_BG':
        return camera_background_source(scene, settings.source_start)
    raise InputFileError(f"unknown source kind {kind!r}; expected FILE, IMAGE, CLIP or CAMERA_BG")


def uses_source_start(settings, scene) -> bool:
    """Whether the panel's source is a movie or image sequence that Source Starts At places in the
    scene (a movie file, a Blender movie/sequence image, or such an image as the camera background);
    clips use their own Start Frame and stills have no frames. Never touches the disk."""
    kind = settings.source_kind
    if kind == 'FILE':
        return Path(settings.image_path).suffix.lower() in MOVIE_EXTENSIONS
    if kind == 'IMAGE':
        return settings.image is not None and settings.image.source in {'MOVIE', 'SEQUENCE'}
    if kind == 'CAMERA_BG' and scene.camera is not None and scene.camera.type == 'CAMERA':
        return any(bg.show_background_image and bg.source == 'IMAGE' and bg.image is not None
                   and bg.image.source in {'MOVIE', 'SEQUENCE'} for bg in scene.camera.data.background_images)
    return False


def file_source(path: str, source_start: int = 1) -> Source:
    """A file path as it is: a movie by extension (frames from scene frame `source_start`), else a still."""
    if not path:
        raise InputFileError("no image file is chosen as the source; pick one in the Estimate panel")
    full = bpy.path.abspath(path)
    if not os.path.isfile(full):
        raise InputFileError(f"cannot read image {full}: the file does not exist")
    if Path(full).suffix.lower() in MOVIE_EXTENSIONS:
        return Source(full, offset=-source_start, label=Path(full).name)
    return Source(full, label=Path(full).name)


def image_source(image, source_start: int = 1) -> Source:
    """A Blender image: its file when it has one on disk, else its pixels saved to a temporary PNG.
    Movies and sequences become frame sources starting at scene frame `source_start`."""
    if image.source == 'MOVIE':
        return _on_disk(image.filepath, image.name, offset=-source_start, library=image.library)
    if image.source == 'SEQUENCE':
        pattern, first = _sequence_pattern(_on_disk(image.filepath, image.name, library=image.library).path)
        return Source(pattern, offset=first - source_start, label=image.name)
    if image.source == 'FILE' and not image.packed_file and not image.is_dirty:
        path = bpy.path.abspath(image.filepath, library=image.library) if image.filepath else ""
        if path and os.path.isfile(path):
            return Source(path, label=image.name)
    return Source(save_pixels_png(image), temporary=True, label=image.name)


def clip_source(clip) -> Source:
    """A movie clip: its file and the offset from its Start Frame (and Frame Offset)."""
    src = _on_disk(clip.filepath, clip.name, library=clip.library)
    offset = clip.frame_offset - clip.frame_start
    if clip.source == 'SEQUENCE':
        pattern, first = _sequence_pattern(src.path)
        return Source(pattern, offset=first + offset, label=clip.name)
    return Source(src.path, offset=offset, label=clip.name)


def camera_background_source(scene, source_start: int = 1) -> Source:
    """The active camera's first shown background image or clip."""
    cam = scene.camera
    if cam is None or cam.type != 'CAMERA':
        raise InputFileError("the scene has no active camera, so there is no camera background to use")
    for bg in cam.data.background_images:
        if not bg.show_background_image:
            continue
        if bg.source == 'IMAGE' and bg.image is not None:
            return image_source(bg.image, source_start)
        if bg.source == 'MOVIE_CLIP':
            clip = scene.active_clip if bg.use_camera_clip else bg.clip
            if clip is not None:
                return clip_source(clip)
    raise InputFileError(f"camera '{cam.name}' shows no background image or clip; add one in its "
                         "Background Images panel")


def save_pixels_png(image) -> str:
    """Write `image`'s pixels (as Blender holds them) to a temporary 8-bit RGB PNG; returns its path.

    Byte images hold display (sRGB) values, float images linear light, which is put through the sRGB
    curve; Blender's rows run bottom-up, PNG's top-down.
    """
    width, height = image.size
    channels = image.channels
    if width == 0 or height == 0 or channels == 0:
        raise InputFileError(f"cannot read image {image.name}: Blender has no pixels for it "
                             f"(missing file or an empty image)")
    buf = np.empty(width * height * channels, np.float32)
    image.pixels.foreach_get(buf)
    px = buf.reshape(height, width, channels)[::-1]  # (H, W, C) top row first
    rgb = px[..., :3] if channels >= 3 else np.repeat(px[..., :1], 3, axis=2)
    if image.is_float:
        rgb = np.clip(rgb, 0.0, 1.0)
        rgb = np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * np.power(rgb, 1 / 2.4) - 0.055)
    rgb8 = np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)
    fd, path = tempfile.mkstemp(prefix="maskhand_", suffix=".png")
    with os.fdopen(fd, "wb") as f:
        f.write(png_bytes(rgb8))
    return path


def png_bytes(rgb8: np.ndarray) -> bytes:
    """(H, W, 3) uint8 -> a PNG file's bytes (colour type 2, no filter)."""
    height, width, _ = rgb8.shape
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rgb8.reshape(height, width * 3)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
            + chunk(b"IEND", b""))


def _on_disk(filepath: str, name: str, offset: int | None = None, library=None) -> Source:
    path = bpy.path.abspath(filepath, library=library) if filepath else ""
    if not path or not os.path.isfile(path):
        raise InputFileError(f"cannot read {name}: its file {path or '(none)'} does not exist")
    return Source(path, offset=offset, label=name)


def _sequence_pattern(path: str) -> tuple[str, int]:
    """'shot_0007.png' -> ('shot_####.png', 7): the pattern inference/frames.py reads, and the number."""
    match = _DIGITS.search(os.path.basename(path))
    if match is None:
        raise InputFileError(f"cannot read image sequence {path}: its file name has no frame number")
    digits = match.group(1)
    base = os.path.basename(path)
    pattern = base[:match.start()] + "#" * len(digits) + base[match.end():]
    return os.path.join(os.path.dirname(path), pattern), int(digits)
