"""The detected 2D keypoints drawn over the picture in camera view: does the rig land on the hand?

A POST_PIXEL draw handler of the 3D Viewport, added while the add-on is enabled; it draws while the
panel's Show Keypoints toggle is on, and only when the viewport looks through the scene camera: the keypoints are picture
pixels, mapped into the viewport through the camera's frame (its four corners projected into the
region), the way Blender lays the background picture into that frame. Drawing needs a window and a
GPU context; the mapping (image_to_frame) is plain numpy and tested without one.

Keypoint order: OpenPose/FreiHAND 21 (wrist; thumb CMC, MCP, IP, tip; index ...; little).
"""
from __future__ import annotations

import json

import bpy
import numpy as np

# The 20 segments of a hand in OpenPose order: wrist to each finger's base, then along each finger.
SEGMENTS = tuple((0 if k % 4 == 1 else k - 1, k) for k in range(1, 21))
COLOURS = {"right": (1.0, 0.55, 0.1, 1.0), "left": (0.2, 0.7, 1.0, 1.0)}
_handle: list = [None]


def image_to_frame(points: np.ndarray, size, corners: np.ndarray) -> np.ndarray:
    """(N, 2) picture pixels (u right, v down; continuous, the picture spans [0, W] x [0, H]) ->
    (N, 2) positions inside the frame whose corners (4, 2) are top-left, top-right, bottom-right,
    bottom-left (any 2D space: viewport pixels here). Bilinear, so a perspective-free frame maps exactly."""
    width, height = (float(v) for v in size)
    s = np.asarray(points, np.float64)[:, :1] / width  # (N, 1) across
    t = np.asarray(points, np.float64)[:, 1:2] / height  # (N, 1) down
    tl, tr, br, bl = np.asarray(corners, np.float64)
    return (1 - s) * (1 - t) * tl + s * (1 - t) * tr + s * t * br + (1 - s) * t * bl


def camera_frame_in_region(scene, camera_obj, region, rv3d) -> np.ndarray | None:
    """(4, 2) region pixels of the camera frame's corners (top-left, top-right, bottom-right,
    bottom-left), or None when a corner is behind the view."""
    from bpy_extras.view3d_utils import location_3d_to_region_2d

    frame = camera_obj.data.view_frame(scene=scene)  # top-right, bottom-right, bottom-left, top-left
    order = (frame[3], frame[0], frame[1], frame[2])
    out = []
    for corner in order:
        p = location_3d_to_region_2d(region, rv3d, camera_obj.matrix_world @ corner)
        if p is None:
            return None
        out.append((p.x, p.y))
    return np.array(out)


def shown_hands(settings) -> list[dict]:
    """The hands of the last estimate (side, keypoints_2d) that the hypotheses list holds, one per hand."""
    seen, hands = set(), []
    for item in settings.hypotheses:
        key = (item.side, item.hand_index)
        if key in seen:
            continue
        seen.add(key)
        hand = item.hand()
        if hand.get("keypoints_2d"):
            hands.append({"side": item.side, "keypoints_2d": hand["keypoints_2d"]})
    return hands


def draw() -> None:
    """The draw handler: the last estimate's keypoints over the picture, in camera view only."""
    context = bpy.context
    scene, region, rv3d = context.scene, context.region, context.region_data
    settings = getattr(getattr(scene, "maskhand", None), "estimate", None)
    if settings is None or not settings.show_keypoints or rv3d is None or rv3d.view_perspective != 'CAMERA':
        return
    if scene.camera is None or not settings.last_image:
        return
    picture = json.loads(settings.last_image)
    corners = camera_frame_in_region(scene, scene.camera, region, rv3d)
    if corners is None or not picture.get("width"):
        return
    import gpu
    from gpu_extras.batch import batch_for_shader

    shader = gpu.shader.from_builtin('UNIFORM_COLOR')
    gpu.state.blend_set('ALPHA')
    gpu.state.line_width_set(2.0)
    gpu.state.point_size_set(6.0)
    for hand in shown_hands(settings):
        pts = image_to_frame(np.asarray(hand["keypoints_2d"]), (picture["width"], picture["height"]), corners)
        # Viewport pixels run up from the bottom; corners were projected there already.
        coords = [tuple(p) for p in pts]
        shader.uniform_float("color", COLOURS.get(hand["side"], (1, 1, 1, 1)))
        batch_for_shader(shader, 'LINES', {"pos": coords}, indices=SEGMENTS).draw(shader)
        batch_for_shader(shader, 'POINTS', {"pos": coords}).draw(shader)
    gpu.state.blend_set('NONE')


def show(on: bool) -> None:
    """Add or remove the draw handler (idempotent); the add-on's register/unregister call it."""
    if on and _handle[0] is None:
        _handle[0] = bpy.types.SpaceView3D.draw_handler_add(draw, (), 'WINDOW', 'POST_PIXEL')
    elif not on and _handle[0] is not None:
        bpy.types.SpaceView3D.draw_handler_remove(_handle[0], 'WINDOW')
        _handle[0] = None
    redraw()


def is_shown() -> bool:
    return _handle[0] is not None


def redraw(_self=None, context=None) -> None:
    """The toggle's update: redraw the 3D Viewports so the keypoints appear or go at once."""
    for window in getattr(bpy.context.window_manager, "windows", ()):
        for area in window.screen.areas:
            if area.type == 'VIEW_3D':
                area.tag_redraw()
