"""A camera that sees the picture the hands came from, with the picture behind the rigs and lined up.

Space: a MaskHand rig posed with its camera translation has the estimate's camera frame as its
armature space (OpenCV: x right, y down, z forward; blender/pose_keys.py). So the camera sits at
the rig's origin looking down the armature's +z with -y up: camera.matrix_world =
rig.matrix_world @ OPENCV_TO_CAMERA (a Blender camera looks down its local -z with +y up).

Intrinsics: the sensor spans the longer image side (sensor_fit 'AUTO'), so focal length and
principal point follow from K (pixels) as lens = fx * sensor / longer and shift = offset of the
principal point from the centre / longer; the render resolution is the picture's size.

Background: a still as an Image, a movie or image sequence as a MovieClip whose Start Frame is the
scene frame that shows the source's first frame (so it plays in sync with the keys), a Blender
clip or image as itself.
"""
from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from ..errors import InputFileError, MaskHandError
from .source_image import MOVIE_EXTENSIONS

OPENCV_TO_CAMERA = Matrix.Diagonal((1.0, -1.0, -1.0, 1.0))
SENSOR_MM = 36.0
CAMERA_NAME = "MaskHand Reference"


def camera_data(name: str, K, image_size) -> bpy.types.Camera:
    """New camera data with the picture's intrinsics: K (3, 3) pixels, image_size (width, height)."""
    K = np.asarray(K, np.float64)
    width, height = (int(v) for v in image_size)
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0:
        raise MaskHandError(f"camera intrinsics must be a 3x3 matrix with a positive focal length; got {K.tolist()}")
    if width <= 0 or height <= 0:
        raise MaskHandError(f"the picture's size must be positive; got {width} x {height}")
    data = bpy.data.cameras.new(name)
    set_intrinsics(data, K, (width, height))
    data.clip_start, data.clip_end = 0.01, 100.0
    return data


def set_intrinsics(data: bpy.types.Camera, K, image_size) -> None:
    """Focal length and principal point of K on `data` (see the module docstring)."""
    K = np.asarray(K, np.float64)
    width, height = (int(v) for v in image_size)
    longer = max(width, height)
    data.sensor_fit = 'AUTO'  # the sensor width spans the longer image side
    data.sensor_width = SENSOR_MM
    data.lens = float(K[0, 0]) * SENSOR_MM / longer
    data.shift_x = (width / 2.0 - float(K[0, 2])) / longer
    data.shift_y = (float(K[1, 2]) - height / 2.0) / longer


def set_resolution(scene, image_size) -> None:
    scene.render.resolution_x, scene.render.resolution_y = (int(v) for v in image_size)
    scene.render.resolution_percentage = 100


def set_background(camera_obj, path: str | None = None, first_frame: int = 1, image=None, clip=None) -> None:
    """Show the picture behind the camera's view: a Blender `image` or `clip` as given, else the file
    at `path` (a movie or numbered image sequence becomes a MovieClip starting at `first_frame`,
    the scene frame that shows its first frame; a still becomes an Image). Replaces earlier
    backgrounds of this camera."""
    data = camera_obj.data
    if image is None and clip is None:
        if not path or not Path(path).exists():
            raise InputFileError(f"cannot show the picture {path}: the file does not exist")
        path = str(Path(path).resolve())
        if Path(path).suffix.lower() in MOVIE_EXTENSIONS:
            clip = bpy.data.movieclips.load(path, check_existing=True)
            clip.frame_start = int(first_frame)
        else:
            image = bpy.data.images.load(path, check_existing=True)
    data.background_images.clear()
    bg = data.background_images.new()
    if clip is not None:
        bg.source, bg.clip = 'MOVIE_CLIP', clip
        bg.clip_user.use_render_undistorted = False
    else:
        bg.source, bg.image = 'IMAGE', image
        if image.source in {'MOVIE', 'SEQUENCE'}:
            bg.image_user.frame_start = int(first_frame)
            bg.image_user.frame_duration = max(image.frame_duration, 1)
            bg.image_user.use_auto_refresh = True
    bg.alpha, bg.display_depth, bg.frame_method = 1.0, 'BACK', 'FIT'
    bg.show_background_image = True
    data.show_background_images = True


def reference_camera(scene, anchor, K, image_size, name: str = CAMERA_NAME):
    """The scene's reference camera (reused by name, else new) at `anchor`'s (a rig's) armature
    origin with the picture's intrinsics; made the scene's camera, with the picture's resolution."""
    cam = bpy.data.objects.get(name)
    if cam is None or cam.type != 'CAMERA':
        cam = bpy.data.objects.new(name, camera_data(name, K, image_size))
    else:
        set_intrinsics(cam.data, K, image_size)
    if cam.name not in scene.collection.objects and not any(cam.name in c.objects for c in scene.collection.children_recursive):
        scene.collection.objects.link(cam)
    cam.matrix_world = anchor.matrix_world @ OPENCV_TO_CAMERA
    scene.camera = cam
    set_resolution(scene, image_size)
    return cam


def look_through(context, camera_obj) -> int:
    """Switch every 3D Viewport of the window to the camera's view; returns how many (0 without a window)."""
    screen = getattr(context, "screen", None)
    n = 0
    for area in (screen.areas if screen else ()):
        if area.type == 'VIEW_3D':
            area.spaces.active.region_3d.view_perspective = 'CAMERA'
            area.tag_redraw()
            n += 1
    return n


def project_points(scene, camera_obj, points_world) -> np.ndarray:
    """(N, 3) world points -> (N, 2) picture pixels (u right, v down) as the camera renders them."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    width = scene.render.resolution_x * scene.render.resolution_percentage / 100.0
    height = scene.render.resolution_y * scene.render.resolution_percentage / 100.0
    out = []
    for p in np.asarray(points_world, np.float64):
        ndc = world_to_camera_view(scene, camera_obj, Vector(p.tolist()))
        out.append((ndc.x * width, (1.0 - ndc.y) * height))
    return np.array(out, np.float64).reshape(-1, 2)


def rig_keypoints(rig) -> np.ndarray:
    """(21, 3) world positions of a posed MaskHand rig's joints and fingertips in OpenPose order
    (the detector's keypoint order): the heads of the 16 joint bones and of the 5 tip bones."""
    from ..handmodel.joints import MANO_TO_OPENPOSE
    from ..rigmath.rig_layout import joint_bone_names, tip_bone_names
    from .pose_keys import rig_side

    side = rig_side(rig)
    heads = [rig.matrix_world @ rig.pose.bones[n].head for n in joint_bone_names(side) + tip_bone_names(side)]
    return np.array([tuple(v) for v in heads], np.float64)[MANO_TO_OPENPOSE]
