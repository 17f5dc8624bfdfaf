"""Images in, RGB uint8 out: the one format every detector and estimator takes.

Files are read with `np.fromfile` + `cv2.imdecode`, so non-ASCII paths work on every platform and
a bad file raises InputFileError instead of OpenCV's silent None. Decoding keeps the bit depth and
applies a JPEG's EXIF orientation (the picture as a photo viewer shows it, which is the frame the
user's coordinates live in). Conversions to (H, W, 3) uint8:
- 16-bit: scaled, 65535 -> 255;
- grayscale: repeated into three channels; an alpha channel is dropped;
- float (EXR, float TIFF): taken as linear light, clipped to [0, 1] and put through the sRGB curve
  (sRGB-ish: no tone mapping, highlights above 1 clip).
"""
from __future__ import annotations

import os

# OpenCV reads EXR only when this is set before its EXR codec is first used (OpenCV 4.x, CVE-2018-5268).
os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")

from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from ..errors import ImageSizeError, InputFileError, MaskHandError  # noqa: E402

# The shorter side below which an image cannot hold a hand the detector can use. MediaPipe scales
# every image to its palm detector's 192x192 input, so small images do run, but on the bundled
# renders and fixture photos scaled down (the hand ~80% of the frame) it found the hand in 3 of 5 at
# 16 px (plus a phantom second hand), 4 of 5 at 24 px and reliably from 32 px up; and below that a
# hand spans under ~25 px, about a pixel per finger bone, so the 21 keypoints are guesses.
MIN_DETECT_SIDE = 32

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".exr", ".webp", ".jp2", ".pgm", ".ppm"}

# Decode keeping 16-bit/float samples and colour/gray as stored; without IMREAD_UNCHANGED OpenCV
# applies the EXIF orientation and drops alpha, both of which we want.
_DECODE_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR


def load_image(path) -> np.ndarray:
    """The image file at `path` as RGB uint8 (H, W, 3), C-contiguous.

    Raises InputFileError("cannot read image <path>: <why>") for a missing, empty, truncated,
    corrupt or undecodable file, and for pixel data that is not an image (zero size, odd dtype).
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"cannot read image {path}: no such file")
    if not path.is_file():
        raise InputFileError(f"cannot read image {path}: it is a folder, not a file")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise InputFileError(f"cannot read image {path}: {err.strerror or err}") from err
    if data.size == 0:
        raise InputFileError(f"cannot read image {path}: the file is empty (0 bytes)")
    if _is_truncated_jpeg(data):
        raise InputFileError(f"cannot read image {path}: the JPEG data is truncated (no end-of-image marker)")
    try:
        decoded = cv2.imdecode(data, _DECODE_FLAGS)
    except cv2.error as err:  # OpenCV raises for some malformed headers instead of returning None
        raise InputFileError(f"cannot read image {path}: OpenCV failed to decode it ({_first_line(err)})") from err
    if decoded is None:
        why = "OpenCV cannot decode it (corrupt, truncated, or not an image format it reads)"
        if path.suffix.lower() == ".exr":
            why = "OpenCV cannot decode it (corrupt, or this OpenCV build lacks OpenEXR support)"
        raise InputFileError(f"cannot read image {path}: {why}")
    if decoded.ndim == 3 and decoded.shape[2] == 3:
        decoded = decoded[..., ::-1]  # BGR -> RGB
    elif decoded.ndim == 3 and decoded.shape[2] == 4:
        decoded = decoded[..., [2, 1, 0]]  # BGRA -> RGB
    try:
        return as_rgb_uint8(decoded, linear=np.issubdtype(decoded.dtype, np.floating))
    except MaskHandError as err:
        raise InputFileError(f"cannot read image {path}: {err}") from err


def check_detectable(image: np.ndarray) -> None:
    """Raise ImageSizeError when `image` ((H, W, ...) pixels) is smaller than MIN_DETECT_SIDE on
    its shorter side; the message names the size, so `predict` lists it per image and the backend
    answers with it as one sentence."""
    height, width = image.shape[:2]
    if min(height, width) < MIN_DETECT_SIDE:
        raise ImageSizeError(f"the image is {width}x{height} pixels, too small to find a hand in; hand detection "
                             f"needs at least {MIN_DETECT_SIDE} pixels on the shorter side")


def as_rgb_uint8(image, linear: bool = False) -> np.ndarray:
    """Pixels in any common layout -> RGB uint8 (H, W, 3), C-contiguous (a copy only when needed).

    image: (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA; uint8, uint16 (0..65535), or float.
    linear: floats are linear light (EXR) and get the sRGB curve; otherwise floats are display
    values in [0, 1]. Raises MaskHandError for other shapes, dtypes and empty images.
    """
    if not isinstance(image, np.ndarray):
        raise MaskHandError(f"an image must be a numpy array; got {type(image).__name__}")
    shape = image.shape
    if image.ndim == 3 and shape[2] in (1, 3, 4):
        channels = shape[2]
    elif image.ndim == 2:
        channels = 1
    else:
        raise MaskHandError(f"an image must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {shape}")
    if shape[0] == 0 or shape[1] == 0:
        raise MaskHandError(f"the image is empty: shape {shape}")

    if image.dtype == np.uint8:
        pixels = image
    elif image.dtype == np.uint16:
        pixels = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif np.issubdtype(image.dtype, np.floating):
        values = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0).clip(0.0, 1.0)
        if linear:
            values = _linear_to_srgb(values)
        pixels = (values * 255.0 + 0.5).astype(np.uint8)
    else:
        raise MaskHandError(f"image pixels must be uint8, uint16 or float; got {image.dtype}")

    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if channels == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    elif channels == 4:
        pixels = pixels[..., :3]
    return np.ascontiguousarray(pixels)


def _linear_to_srgb(values: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve (IEC 61966-2-1) on values in [0, 1]."""
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * np.power(values, 1 / 2.4) - 0.055)


def _is_truncated_jpeg(data: np.ndarray) -> bool:
    """A JPEG whose end-of-image marker is missing: libjpeg would pad it with grey and only warn.

    The marker is looked for in the last 64 KiB, since some writers append padding after it.
    """
    if data.size < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return False
    tail = data[-65536:].tobytes()
    return b"\xff\xd9" not in tail


def _first_line(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__
