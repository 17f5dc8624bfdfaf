"""A small scripting API for Blender's Python console and scripts (docs/SCRIPTING.md).

Blocking calls on the add-on's backend process, returning plain dicts (the JSON of
inference.results.HandResult and Hypothesis, docs/PREDICT.md), plus `apply` to pose or key a rig.
The panels run the same code (operators/estimate.py, blender/apply_result.py), so a script and a
button give the same poses.

    import maskhand.api as mh        # inside Blender: from bl_ext.user_default.maskhand import api as mh
    hands = mh.estimate("/path/photo.jpg", hypotheses=5, seed=0)
    best = hands[0]["hypotheses"][0]
    mh.apply(best, bpy.data.objects["MaskHand.R"], frame=1, keyframe=True)
    more = mh.resample(hands[0], best, "/path/photo.jpg", lock=["thumb", "index"], seed=1)

Every error is a MaskHandError subclass with a one-sentence message (a BackendError for the backend).
"""
from __future__ import annotations

import os

from .blender import backend_client
from .blender.apply_result import PARTS, key_rig, merge_locked, pose_rig
from .errors import InputFileError, MaskHandError

DEFAULT_TIMEOUT = 300.0  # seconds: the first call loads the models


def use_interpreter(interpreter: str, device: str = "auto", mano_dir: str | None = None,
                    checkpoint: str | None = None) -> backend_client.BackendClient:
    """Run the backend with `interpreter` (a Python 3.11 with the backend's packages) instead of the
    one in MaskHand's preferences; for scripts that register the package without the add-on
    preferences (Blender as a Python module). Affects the panels' operators too."""
    from .operators import estimate as estimate_op

    client = backend_client.shared_client(interpreter, device, mano_dir, checkpoint)
    estimate_op._override["client"] = client
    return client


def client(context=None) -> backend_client.BackendClient:
    """The backend client the operators use (see use_interpreter)."""
    import bpy

    from .operators.estimate import backend

    return backend(context or bpy.context)


def estimate(image_path, hypotheses: int = 5, seed: int = 0, temperature: float = 1.0, locked: dict | None = None,
             max_hands: int = 2, K=None, estimator: str = "auto", timeout: float = DEFAULT_TIMEOUT) -> list[dict]:
    """Hands in one image, each with its ranked hypotheses (best first).

    Args:
        image_path: an image file the backend can read (JPEG, PNG, TIFF, EXR ...).
        hypotheses/seed/temperature: the generative model's sampling (the fitted baseline gives one).
        locked: per side, parts to keep from an earlier hypothesis:
            {"right": {"tokens": hypothesis["tokens"], "parts": ["thumb", "index"]}}.
        K: 3x3 camera intrinsics (pixels), or None for MaskHand's default camera.
    Returns:
        [{"side", "score", "keypoints_2d", "keypoints_3d", "mano", "cam_t", "hypotheses": [...]}, ...],
        hands sorted left to right; each hypothesis {"score", "mano", "cam_t", "seed", "temperature", "tokens"}.
    Raises:
        InputFileError: the file is missing; BackendError: the backend could not read it, or failed.
    """
    path = os.path.abspath(os.fspath(image_path))
    if not os.path.isfile(path):
        raise InputFileError(f"cannot read image {path}: the file does not exist")
    payload = {"image": path, "hypotheses": int(hypotheses), "seed": int(seed), "temperature": float(temperature),
               "max_hands": int(max_hands), "estimator": estimator}
    if locked:
        payload["locked"] = locked
    if K is not None:
        payload["K"] = [[float(v) for v in row] for row in K]
    return client().request("estimate", payload, timeout=timeout).wait()["hands"]


def resample(hand: dict, hypothesis: dict, image_path, lock=(), seed: int = 1, temperature: float = 1.0,
             hypotheses: int = 5, timeout: float = DEFAULT_TIMEOUT) -> list[dict]:
    """New hypotheses for `hand` (from estimate) that keep the `lock`ed parts of `hypothesis`.

    lock: some of "wrist", "index", "middle", "pinky", "ring", "thumb". The locked joints of every
    returned hypothesis equal `hypothesis`'s exactly. Returns the new hypotheses, best first, of the
    detected hand of the same side nearest to `hand`.
    """
    lock = list(lock)
    unknown = [p for p in lock if p not in PARTS]
    if unknown:
        raise MaskHandError(f"unknown hand part(s) {', '.join(map(repr, unknown))} to lock; "
                            f"expected some of {', '.join(PARTS)}")
    side = hand["side"]
    locked = {side: {"tokens": hypothesis["tokens"], "parts": lock}} if lock and hypothesis.get("tokens") else None
    hands = [h for h in estimate(image_path, hypotheses, seed, temperature, locked, timeout=timeout)
             if h["side"] == side and h.get("hypotheses")]
    if not hands:
        raise MaskHandError(f"no {side} hand was found in {image_path} this time")
    from .operators.estimate import _distance

    found = min(hands, key=lambda h: _distance(h, hand))
    return [merge_locked(hypothesis, h, lock) for h in found["hypotheses"]]


def apply(hypothesis: dict, armature, frame: int | None = None, keyframe: bool = False,
          use_location: bool = False) -> list[str]:
    """Pose `armature` (a MaskHand rig of the hypothesis's hand side) as `hypothesis`.

    frame: the scene frame to go to first (None: stay); keyframe: also key the hand's joint bones
    there; use_location: move the wrist by the camera translation too. Returns the bones posed.
    """
    import bpy

    scene = bpy.context.scene
    if frame is not None:
        scene.frame_set(int(frame))
    if keyframe:
        return key_rig(armature, hypothesis, scene.frame_current, use_location)
    return pose_rig(armature, hypothesis, use_location)
