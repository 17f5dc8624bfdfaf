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


def to_image_axes(vectors: np.ndarray, rect: Rect) -> np.ndarray:
    """(..., 3) vectors in a crop's axes (the landmark network's world landmarks) -> the image's axes
    (camera-aligned, x right, y down): turned about z by the rect's rotation, as MediaPipe turns them."""
    c, s = np.cos(rect.rotation), np.sin(rect.rotation)
    return np.asarray(vectors, np.float64) @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T


def letterbox_rect(width: int, height: int) -> tuple[Rect, tuple[float, float]]:
    """MediaPipe's keep-aspect-ratio ROI of a whole (W, H) image for a square tensor: the image centred in
    a square of its longer side. Returns (rect, (pad_x, pad_y)) with the padding as fractions of that
    square on each side (MediaPipe's LetterboxPadding left = right, top = bottom)."""
    side = float(max(width, height))
    return (Rect(width / 2.0, height / 2.0, side, side),
            ((1.0 - width / side) / 2.0, (1.0 - height / side) / 2.0))


# HandLandmarksToRectCalculator + RectTransformation of MediaPipe's hand_landmark_landmarks_to_roi.pbtxt:
# the landmark crop it tracks a hand with, made from that hand's own landmarks.
ROI_LANDMARKS = (0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18)  # wrist, the palm and the first finger joints
ROI_SCALE = 2.0
ROI_SHIFT_Y = -0.1


def landmarks_rect(uv: np.ndarray) -> Rect:
    """MediaPipe's hand rectangle from 21 landmarks (pixels): turned so that the wrist -> (index, middle,
    ring MCP) direction points up, around the box of the wrist, palm and first finger joints (not the
    fingertips, so curling the fingers does not move it), shifted a tenth towards the fingers,
    squared on its longer side and enlarged 2x."""
    uv = np.asarray(uv, np.float64)
    x0, y0 = uv[0]
    x1, y1 = ((uv[5] + uv[13]) / 2.0 + uv[9]) / 2.0
    rotation = np.pi / 2 - np.arctan2(-(y1 - y0), x1 - x0)
    rotation = rotation - 2 * np.pi * np.floor((rotation + np.pi) / (2 * np.pi))
    c, s = np.cos(rotation), np.sin(rotation)
    pts = uv[list(ROI_LANDMARKS)]
    # into the rectangle's axes (un-rotate), take the box there, and its centre back
    local = pts @ np.array([[c, -s], [s, c]])
    lo, hi = local.min(0), local.max(0)
    centre_local = (lo + hi) / 2.0
    width, height = hi - lo
    centre = np.array([[c, -s], [s, c]]) @ centre_local
    centre = centre + np.array([-s, c]) * height * ROI_SHIFT_Y
    side = max(width, height) * ROI_SCALE
    return Rect(float(centre[0]), float(centre[1]), float(side), float(side), float(rotation))
