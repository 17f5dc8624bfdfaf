"""Rotated square crops as MediaPipe makes them (ImageToTensorCalculator's OpenCV path), and back.

A rect is (cx, cy, width, height, rotation) in image pixels and radians, MediaPipe's ROI: the crop's
pixel (u, v) of an S x S output (continuous coordinates, 0..S) samples the image at
    centre + R(rotation) @ ((u / S - 0.5) width, (v / S - 0.5) height),   R = [[cos, -sin], [sin, cos]]
(image axes: x right, y down), with bilinear interpolation and zeros outside the image, which is
what MediaPipe's warp of cv::boxPoints onto the output's corners does.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rect:
    """A rotated rectangle in image pixels; rotation in radians (clockwise on screen, y down)."""

    cx: float
    cy: float
    width: float
    height: float
    rotation: float = 0.0

    def crop_to_image(self, size: int) -> np.ndarray:
        """(2, 3) affine: crop pixel (u, v, 1) of an S x S crop -> image pixel (x, y)."""
        c, s = np.cos(self.rotation), np.sin(self.rotation)
        sx, sy = self.width / size, self.height / size
        lin = np.array([[c * sx, -s * sy], [s * sx, c * sy]])
        offset = np.array([self.cx, self.cy]) - lin @ np.array([size / 2.0, size / 2.0])
        return np.hstack([lin, offset[:, None]])


def crop(image: np.ndarray, rect: Rect, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8: the rect's pixels, bilinear, zero outside the image."""
    import cv2

    to_image = np.vstack([rect.crop_to_image(size), [0.0, 0.0, 1.0]])
    to_crop = np.linalg.inv(to_image)[:2]
    return cv2.warpAffine(np.ascontiguousarray(image), to_crop, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def to_image(points: np.ndarray, rect: Rect, size: int) -> np.ndarray:
    """Crop pixels (..., 2) of an S x S crop of `rect` -> image pixels (..., 2)."""
    m = rect.crop_to_image(size)
    return points @ m[:, :2].T + m[:, 2]


def letterbox_rect(width: int, height: int) -> tuple[Rect, tuple[float, float]]:
    """MediaPipe's keep-aspect-ratio ROI of a whole (W, H) image for a square tensor: the image centred in
    a square of its longer side. Returns (rect, (pad_x, pad_y)) with the padding as fractions of that
    square on each side (MediaPipe's LetterboxPadding left = right, top = bottom)."""
    side = float(max(width, height))
    return (Rect(width / 2.0, height / 2.0, side, side),
            ((1.0 - width / side) / 2.0, (1.0 - height / side) / 2.0))
