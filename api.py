"""MaskHand's scripting API for Blender's Python console and scripts (docs/SCRIPTING.md).

Thin calls into the same workflow the sidebar's buttons run (blender/workflow.py), so a script and
a button give the same poses. Blocking; hands and hypotheses are plain dicts (the JSON of
inference.results.HandResult and Hypothesis, docs/PREDICT.md), each hypothesis naming its `side`.

    from maskhand import api                      # inside Blender: see docs/SCRIPTING.md
    rig = api.add_rig("right")
    hands = api.estimate("/path/photo.jpg", hypotheses=5, seed=0)
    best = hands[0]["hypotheses"][0]
    api.apply(best, rig, frame=1, keyframe=True)
    more = api.resample(hands[0], best, "/path/photo.jpg", lock=["thumb", "index"], seed=1)
    actions = api.track("/path/take.mp4", rigs={"right": rig})
    api.retarget(actions["right"], "Character", preset="auto")

Every error is a MaskHandError subclass with a one-sentence message (a BackendError for the backend).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from .blender import backend_client, workflow
from .blender.apply_result import key_rig, merge_locked, pose_rig
from .blender.source_image import Source
from .errors import BackendError, InputFileError, MaskHandError, RigError
from .handmodel.parts import PARTS, check_side

DEFAULT_TIMEOUT = 300.0  # seconds: the first call loads the models


def use_interpreter(interpreter: str, device: str = "auto", mano_dir: str | None = None,
                    checkpoint: str | None = None) -> backend_client.BackendClient:
    """Run the backend with `interpreter` (a Python 3.11 with the backend's packages) instead of the
    one in MaskHand's preferences; for scripts that register the package without the add-on
    preferences (Blender as a Python module). Affects the panels' operators too."""
    client_ = backend_client.shared_client(interpreter, device, mano_dir, checkpoint)
    workflow.use_client(client_)
    return client_


def client(context=None) -> backend_client.BackendClient:
    """The backend client the operators use (see use_interpreter)."""
    import bpy

    return workflow.backend(context or bpy.context)


def add_rig(side: str = "right", name: str | None = None):
    """Add a MaskHand rig of `side` (armature + skinned mesh from the active hand model) at the 3D
    cursor, as Add Hand Rig does; `name` renames the armature. Returns the armature object."""
    import bpy

    side = check_side(side)
    result = bpy.ops.object.maskhand_add_rig('EXEC_DEFAULT', side=side.upper())
    if result != {'FINISHED'}:
        raise RigError(f"the {side} hand rig could not be added")
    rig = bpy.context.scene.maskhand.rig
    if name:
        rig.name = name
    return rig


def estimate(image_path, hypotheses: int = 5, seed: int = 0, temperature: float = 1.0, locked: dict | None = None,
             max_hands: int = 2, K=None, estimator: str = "auto", timeout: float = DEFAULT_TIMEOUT,
             greedy_first: bool = True) -> list[dict]:
    """Hands in one image, each with its ranked hypotheses (best first).

    Args:
        image_path: an image file the backend can read (JPEG, PNG, TIFF, EXR ...).
        hypotheses/seed/temperature: the generative model's sampling (the fitted baseline gives one).
        greedy_first: the first hypothesis is the model's most likely pose (greedy decoding), the
            others drawn at `temperature`; False: every one drawn (as resample does).
        locked: per side, parts to keep from an earlier hypothesis:
            {"right": {"tokens": hypothesis["tokens"], "parts": ["thumb", "index"]}}.
        K: 3x3 camera intrinsics (pixels), or None for MaskHand's default camera.
    Returns:
        [{"side", "score", "keypoints_2d", "keypoints_3d", "mano", "cam_t", "hypotheses": [...]}, ...],
        hands sorted left to right; each hypothesis {"side", "score", "mano", "cam_t", "seed",
        "temperature", "tokens"}.
    Raises:
        InputFileError: the file is missing; BackendError: the backend could not read it, or failed.
    """
    path = os.path.abspath(os.fspath(image_path))
    if not os.path.isfile(path):
        raise InputFileError(f"cannot read image {path}: the file does not exist")
    payload = {"image": path, "hypotheses": int(hypotheses), "seed": int(seed), "temperature": float(temperature),
               "max_hands": int(max_hands), "estimator": estimator, "greedy_first": bool(greedy_first)}
    if locked:
        payload["locked"] = locked
    if K is not None:
        payload["K"] = [[float(v) for v in row] for row in K]
    return workflow.with_sides(client().request("estimate", payload, timeout=timeout).wait()["hands"])


def resample(hand: dict, hypothesis: dict, image_path, lock=(), seed: int = 1, temperature: float = 1.0,
             hypotheses: int = 5, timeout: float = DEFAULT_TIMEOUT) -> list[dict]:
    """New hypotheses for `hand` (from estimate) that keep the `lock`ed parts of `hypothesis`.

    lock: some of "wrist", "index", "middle", "pinky", "ring", "thumb". The locked joints of every
    returned hypothesis equal `hypothesis`'s exactly. Every one is drawn (none is the greedy pose,
    which estimate gave already and which would come back the same every time). Returns the new
    hypotheses, best first, of the detected hand of the same side nearest to `hand`.
    """
    lock = list(lock)
    unknown = [p for p in lock if p not in PARTS]
    if unknown:
        raise MaskHandError(f"unknown hand part(s) {', '.join(map(repr, unknown))} to lock; "
                            f"expected some of {', '.join(PARTS)}")
    side = hand["side"]
    locked = {side: {"tokens": hypothesis["tokens"], "parts": lock}} if lock and hypothesis.get("tokens") else None
    hands = [h for h in estimate(image_path, hypotheses, seed, temperature, locked, timeout=timeout,
                                 greedy_first=False)
             if h["side"] == side and h.get("hypotheses")]
    if not hands:
        raise MaskHandError(f"no {side} hand was found in {image_path} this time")
    return [merge_locked(hypothesis, h, lock) for h in workflow.nearest_hand(hands, hand)["hypotheses"]]


def apply(hypothesis: dict, armature, frame: int | None = None, keyframe: bool = False,
          use_location: bool = False, go_to_frame: bool = False) -> list[str]:
    """Pose `armature` (a MaskHand rig, or its name) as `hypothesis`; returns the bones posed.

    keyframe: also key the hand's joint bones at `frame` (None: the current frame). The scene's
    current frame stays where it is unless go_to_frame. use_location: move the wrist by the camera
    translation too. A hypothesis of the other side than the rig's is refused (RigError).
    """
    import bpy

    rig = _object(armature)
    scene = bpy.context.scene
    if go_to_frame and frame is not None:
        scene.frame_set(int(frame))
    if keyframe:
        return key_rig(rig, hypothesis, scene.frame_current if frame is None else frame, use_location)
    return pose_rig(rig, hypothesis, use_location)


def track(source, frames=None, rigs=None, hypotheses: int = 1, seed: int = 0, smoothing: float = 0.5,
          on_frame: Callable[[int, int], None] | None = None, use_location: bool = False,
          timeout: float = DEFAULT_TIMEOUT) -> dict:
    """Track every frame of `source` and key one new action per hand side found, as Track Range does.

    Args:
        source: a movie file, an image folder, a numbered pattern ("shot_####.png"), or a Blender
            MovieClip or Image (a movie or sequence). Frame i of a file source lands on scene frame
            i + 1 (Blender counts from 1); a Blender clip or image keeps its own start frame.
        frames: (first, last) scene frames to track, inclusive; None for the whole source.
        rigs: {side: rig object or name}; a side found without a rig gets a new one (add_rig).
        hypotheses, seed: the model's sampling per frame; smoothing: 0 (keys as estimated) .. 1.
        on_frame: called as on_frame(done, total) after each frame (total None when unknown).
    Returns:
        {side: bpy.types.Action} of the rigs keyed: a new action per rig, or, when the rig already
        plays a take of the same source, that action with the keys inside `frames` replaced.
    Raises:
        BackendError when the backend fails or dies: then no rig is keyed (each keeps its previous
        action) and the next call starts a fresh backend. MaskHandError for bad arguments.
    """
    import bpy

    scene = bpy.context.scene
    src = _track_source(source)
    first, last = (1, 10 ** 9) if frames is None else (int(frames[0]), int(frames[1]))
    given = {check_side(side): _object(rig) for side, rig in (rigs or {}).items()}
    payload = workflow.track_payload(src, first, last, hypotheses, seed)
    job = workflow.TrackJob(src, client().request("track", payload, timeout=timeout), first, last)
    while not job.done:
        for p in job.handle.poll():
            job.take([p])
            if on_frame is not None and p.get("stage") == "frame":
                on_frame(int(p["done"]), p.get("total"))
        time.sleep(0.02)
    try:
        job.handle.value()
    except BackendError as err:
        if err.name == "BackendDied":
            raise BackendError(f"the backend stopped during the track after {len(job.frames)} frame(s) "
                               f"({err}); no rig was keyed", err.name) from err
        raise
    raw = job.to_raw(scene.render.fps / scene.render.fps_base)
    sides = raw.to_take().hands
    if not sides:
        raise MaskHandError(f"no hand was found in the {len(job.frames)} frame(s) tracked from {src.label}")
    for side in sides:
        if side not in given:
            given[side] = add_rig(side)
    actions, _ = workflow.key_raw_take(scene, raw, given, smoothing, use_location)
    return actions


def retarget(action_or_take, armature, preset: str = "auto", pose_wrist: bool = True):
    """Key a MaskHand take onto a character's hand (Rigify, MPFB, Mixamo, SMPL-X, ... rigs).

    action_or_take: an Action keyed on a MaskHand rig (what track returns per side), or a
    posefiles.PoseSequence (its frames land from scene frame 1). armature: the character's armature
    (object or name). preset: "auto" detects the mapping from its bone names, or a preset name.
    The keys are merged into the character's own action (its other animation stays). Returns it.
    """
    import bpy

    from .blender.pose_keys import read_keyed_take
    from .blender.retarget import resolve_mapping, retarget_sequence
    from .handmodel.registry import load_hand_model
    from .posefiles.sequence import PoseSequence
    from .prefs import mano_dir

    target = _object(armature)
    if isinstance(action_or_take, PoseSequence):
        seq, frames = action_or_take, None
    elif isinstance(action_or_take, bpy.types.Action):
        rigs = [o for o in bpy.data.objects if o.type == 'ARMATURE' and o.animation_data
                and o.animation_data.action == action_or_take and o.get("maskhand_side")]
        if not rigs:
            raise RigError(f"action '{action_or_take.name}' is not on a MaskHand rig; retarget takes the "
                           "action a MaskHand rig plays (api.track's) or a PoseSequence")
        seq, frames = read_keyed_take(rigs[0])
    else:
        raise MaskHandError(f"retarget takes an Action or a PoseSequence; got {type(action_or_take).__name__}")
    mapping = resolve_mapping(target, seq.side, preset)
    model = load_hand_model(seq.side, mano_dir(bpy.context) or None)
    action, _ = retarget_sequence(target, seq, mapping, model, frames=frames, pose_wrist=pose_wrist)
    return action


def _object(obj_or_name):
    """An object given as itself or by name; RigError naming what is missing."""
    import bpy

    if isinstance(obj_or_name, str):
        obj = bpy.data.objects.get(obj_or_name)
        if obj is None:
            raise RigError(f"there is no object named '{obj_or_name}'")
        return obj
    if obj_or_name is None:
        raise RigError("no armature given")
    return obj_or_name


def _track_source(source) -> Source:
    """What track reads: a path as it is (frame i -> scene frame i + 1), or a Blender clip or image."""
    import bpy

    from .blender.source_image import clip_source, image_source

    if isinstance(source, bpy.types.MovieClip):
        return clip_source(source)
    if isinstance(source, bpy.types.Image):
        return image_source(source)
    if not isinstance(source, (str, os.PathLike)):
        raise MaskHandError(f"track reads a movie, a folder, a pattern, a MovieClip or an Image; "
                            f"got {type(source).__name__}")
    path = Path(bpy.path.abspath(os.fspath(source))).resolve()
    return Source(str(path), offset=-1, label=path.name)
