"""A tracked take into Blender: one rig per hand side, one action per rig, a key per frame with that hand.

Why keys only where a hand was found: an invented pose in a gap would look like a measurement;
Blender interpolates between the keys on either side instead, and the gap stays visible in the
Dope Sheet. Frames: source frame index i is scene frame i + FRAME_OFFSET (Blender counts from 1,
as its movie clips do), so frame 0 of a video lands on scene frame 1 and `--frames 10:20` on 11..21.

Space: a rig's armature space is the camera frame of the take (OpenCV: x right, y down, z forward),
and the rig object turns it into Blender's world with CAMERA_TO_WORLD: the camera sits at the world
origin looking along +Y with +Z up. A camera object with the take's intrinsics is added there, so
rendering from it lines the hands up with the source frames. Both hands share this space, so they
keep their real relative placement.

The take is read as data (side tracks with frames/global_orient/hand_pose/betas/cam_t, as
rigmath.take_smoothing.SmoothedTrack holds them), so nothing here needs the inference backend.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from ..errors import InputFileError, MaskHandError
from ..handmodel.parts import SIDES, check_side
from ..handmodel.registry import load_hand_model
from .build_rig import add_hand_rig
from . import take_marks, take_store
from .pose_keys import key_poses
from .reference_camera import OPENCV_TO_CAMERA, camera_data, set_background, set_resolution

FRAME_OFFSET = 1
# OpenCV camera axes -> Blender world: x -> +X, y (down) -> -Z, z (forward) -> +Y.
CAMERA_TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


@dataclass
class KeyedHand:
    """What was keyed for one side: the rig object, its action, and the scene frames keyed (N,)."""
    side: str
    rig: bpy.types.Object
    action: bpy.types.Action
    scene_frames: np.ndarray


@dataclass
class AnimatedScene:
    """Everything animate_take made; key_seconds: time spent building rigs and writing keys."""
    hands: dict[str, KeyedHand] = field(default_factory=dict)
    camera: bpy.types.Object | None = None
    key_seconds: float = 0.0


def animate_take(scene: bpy.types.Scene, tracks: dict, fps: float, K: np.ndarray, image_size: tuple[int, int],
                 frame_range: tuple[int, int], name: str = "take", mano_dir=None, source=None,
                 raw_frames=()) -> AnimatedScene:
    """Add rigs, keys and a matching camera for `tracks` ({side: SmoothedTrack}) to `scene`; with
    `source` (the take's movie, folder or pattern) the camera shows it behind the rigs, in sync.
    Each rig also gets the take's confidence curves and flag markers (blender/take_marks.py), and
    `raw_frames` (Take.raw_frames) are kept in the file so Blender can re-smooth the take.

    fps: the source's rate; K (3, 3) and image_size (width, height) of its frames; frame_range:
    (first, last) source frame indices read, inclusive (the scene's range becomes these + FRAME_OFFSET).
    Everything is checked before the scene changes; raises MaskHandError on bad input.
    """
    if not tracks:
        raise MaskHandError("the take holds no hand, so there is nothing to key")
    if not (np.isfinite(fps) and fps > 0):
        raise MaskHandError(f"fps must be a positive number; got {fps!r}")
    first, last = (int(v) for v in frame_range)
    for side, trk in tracks.items():
        if check_side(side) != trk.side:
            raise MaskHandError(f"tracks are keyed by their side; the {side!r} entry holds a {trk.side} hand")
        if len(trk.frames) and (trk.frames[0] < first or trk.frames[-1] > last):
            raise MaskHandError(f"{side} hand frames {trk.frames[0]}..{trk.frames[-1]} lie outside the "
                                f"take's range {first}..{last}")
    models = {side: load_hand_model(side, mano_dir) for side in tracks}

    t0 = time.perf_counter()
    result = AnimatedScene()
    world = Matrix(CAMERA_TO_WORLD.tolist()).to_4x4()
    for side in (s for s in SIDES if s in tracks):
        trk = tracks[side]
        rig, _ = add_hand_rig(scene.collection, models[side], trk.betas)
        rig.matrix_world = world
        frames = np.asarray(trk.frames, np.float64) + FRAME_OFFSET
        action = key_poses(rig, f"{name}.{'R' if side == 'right' else 'L'}", frames, trk.global_orient,
                           trk.hand_pose, trk.cam_t)
        take_marks.key_confidence(rig, frames, trk)
        take_marks.mark_flags(scene, side, trk.flags, lambda f: f + FRAME_OFFSET, frames[0], frames[-1])
        result.hands[side] = KeyedHand(side, rig, action, frames.astype(np.int64))
    if raw_frames:
        label = Path(str(source)).name if source is not None else name
        text = take_store.save(take_store.RawTake(label, float(fps), -FRAME_OFFSET, dict(raw_frames)))
        for keyed in result.hands.values():
            take_store.attach(keyed.rig, text)
            keyed.action[take_store.PROP_TAKE] = text.name
    result.key_seconds = time.perf_counter() - t0

    set_frame_rate(scene, fps)
    scene.frame_start, scene.frame_end = first + FRAME_OFFSET, last + FRAME_OFFSET
    result.camera = _add_camera(scene, np.asarray(K, np.float64), image_size, source)
    scene.frame_set(first + FRAME_OFFSET + (last - first) // 2)
    return result


def write_take_blend(take, out: Path, smoothing: float = 0.5, preview: Path | None = None, mano_dir=None,
                     onto: str | None = None) -> tuple[AnimatedScene, list[str]]:
    """Headless: smooth `take` (inference.tracking.Take), build a fresh scene from it, save `out`;
    `preview` also renders up to four keyed frames side by side into a PNG.

    onto: "SCENE.blend:ARMATURE", keying that existing rig's hand(s) instead of new rigs (mapping
    detected from its bone names, keys merged into its action; see headless.key_onto_blend); no preview.
    Returns (the scene's contents, summary lines).
    """
    out = Path(out).resolve()
    check_blend_path(out)
    tracks = take.smoothed(smoothing)
    if not tracks:
        raise MaskHandError(f"no hand found in the {len(take.frames)} frame(s) read from {take.source}; "
                            "nothing to animate")
    if onto is not None:  # retarget onto the character's hand(s): blender.retarget via headless
        from .headless import key_onto_blend

        stem = Path(str(take.source)).stem or "take"
        items = [(trk.pose_sequence(take.fps, stem), np.asarray(trk.frames, np.float64) + FRAME_OFFSET)
                 for trk in tracks.values()]
        return AnimatedScene(), key_onto_blend(items, onto, out, mano_dir=mano_dir)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    made = animate_take(scene, tracks, take.fps, take.K, take.image_size, take.frame_range,
                        name=Path(str(take.source)).stem or "take", mano_dir=mano_dir, source=take.source,
                        raw_frames=take.raw_frames)
    lines = [f"{side} hand: {len(h.scene_frames)} key(s) on '{h.rig.name}' in action '{h.action.name}', "
             f"frames {h.scene_frames[0]}..{h.scene_frames[-1]}" for side, h in made.hands.items()]
    out.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(out))
    lines.append(f"wrote {out}")
    if preview is not None:
        from .preview import render_preview

        keyed = np.unique(np.concatenate([h.scene_frames for h in made.hands.values()]))
        picks = sorted({int(keyed[round(t * (len(keyed) - 1))]) for t in (0.0, 0.33, 0.66, 1.0)})
        render_preview(scene, [h.rig for h in made.hands.values()], Path(preview), frames=picks,
                       resolution=(320, 360))
        lines.append(f"wrote {Path(preview).resolve()}")
    return made, lines


def check_blend_path(out: Path) -> None:
    """Fail before any work when `out` cannot be a .blend file."""
    out = Path(out)
    if out.suffix != ".blend":
        raise InputFileError(f"--out must name a .blend file; got {out.name}")
    if out.is_dir():
        raise InputFileError(f"--out {out} is a folder; name a .blend file")


def set_frame_rate(scene, fps: float) -> None:
    """Blender's rate is fps / fps_base with an integer fps: 29.97 becomes 30 / 1.001."""
    whole = max(1, round(fps))
    scene.render.fps = whole
    scene.render.fps_base = whole / fps


def _add_camera(scene, K: np.ndarray, image_size: tuple[int, int], source=None) -> bpy.types.Object | None:
    """The take's camera at the world origin (the rigs' armature space is its frame), with the
    take's intrinsics and its source behind it, in sync with the keys (source frame i on scene
    frame i + FRAME_OFFSET)."""
    width, height = (int(v) for v in image_size)
    if width <= 0 or height <= 0:
        return None
    cam = bpy.data.objects.new("MaskHand Camera", camera_data("MaskHand Camera", K, image_size))
    scene.collection.objects.link(cam)
    cam.matrix_world = Matrix(CAMERA_TO_WORLD.tolist()).to_4x4() @ OPENCV_TO_CAMERA
    scene.camera = cam
    set_resolution(scene, image_size)
    picture = first_picture(source) if source is not None else None
    if picture is not None:
        path, index = picture
        set_background(cam, str(path), index + FRAME_OFFSET)
    return cam


def first_picture(source) -> tuple[Path, int] | None:
    """What Blender can show for a take's source, with its frame index: a movie or still itself (0),
    or the first image of a folder or numbered pattern (Blender plays the numbered files after it);
    None when the source cannot be read."""
    from ..inference.frames import open_frames

    path = Path(str(source))
    if path.is_file():
        return path, 0
    try:
        frames = open_frames(source)
    except MaskHandError:
        return None
    try:
        first = getattr(frames, "frames", None)
        return (Path(first[0][1]), int(first[0][0])) if first else None
    finally:
        frames.close()
