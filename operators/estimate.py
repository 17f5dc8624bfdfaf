"""Estimate: the current frame's picture -> hands and their ranked hypotheses -> the matching rigs.

The work is three functions the operator calls, so scripts (maskhand.api) and tests run exactly
what the button runs: start_estimate (resolve the source, send the request), the handle's poll()
(from a timer; never blocks), finish_estimate (fill the hypotheses list, pose the rigs). Resample
(operators/resample.py) is an estimate of one hand with a new seed and locked parts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import bpy
import numpy as np

from .. import prefs
from ..blender import backend_client
from ..blender.apply_result import find_rig, merge_locked, pose_rig, rig_quaternions
from ..blender.source_image import Source, resolve_source
from ..errors import MaskHandError
from ..hypotheses_properties import _posing
from .modal_job import EstimateJobOperator

_override: dict = {"client": None}  # set by maskhand.api.use_interpreter (scripts without add-on preferences)


def backend(context) -> backend_client.BackendClient:
    """The backend client: the one a script chose (maskhand.api.use_interpreter), else the preferences'."""
    return _override["client"] or prefs.backend(context)


@dataclass
class EstimateJob:
    """One estimate (or resample) in flight.

    side/base/parts: set for a resample: only hands of `side` count, the new hypotheses keep the
    joints of `parts` from `base` (a hypothesis dict), and `base_hand` picks the same hand again.
    """
    source: Source
    handle: backend_client.RequestHandle
    scene_frame: int
    seed: int
    side: str | None = None
    base: dict | None = None
    base_hand: dict | None = None
    parts: list = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.handle.done

    def hands(self) -> tuple[list[dict], str]:
        """(hands, estimator) of the finished request, or its BackendError raised."""
        value = self.handle.value()
        if self.source.is_still:
            return value["hands"], value.get("estimator", "")
        frames = [p for p in self.handle.progress if p.get("stage") == "frame"]
        return (frames[0]["hands"] if frames else []), value.get("estimator", "")

    def camera(self) -> dict:
        """The picture's size and the intrinsics K the backend used: {"width", "height", "K"}."""
        value = self.handle.value()
        return {k: value.get(k) for k in ("width", "height", "K")}


def request_payload(settings, seed: int) -> dict:
    return {"hypotheses": settings.hypotheses_count, "seed": seed, "temperature": settings.temperature,
            "max_hands": settings.max_hands}


def start_estimate(context, seed: int | None = None, side: str | None = None, base: dict | None = None,
                   base_hand: dict | None = None, parts=()) -> EstimateJob:
    """Resolve the source at the current frame and send the request; returns at once.

    A still image goes as an "estimate" request (with locks for a resample); a frame of a movie or
    sequence as a one-frame "track" request (the backend reads the frame itself).
    """
    settings = context.scene.maskhand.estimate
    seed = settings.seed if seed is None else seed
    source = resolve_source(settings, context.scene)
    frame = context.scene.frame_current
    payload = request_payload(settings, seed)
    try:
        client = backend(context)
        if base is not None and parts and base.get("tokens"):
            payload["locked"] = {side: {"tokens": base["tokens"], "parts": list(parts)}}
        if source.is_still:
            payload["image"] = source.path
            handle = client.request("estimate", payload)
        else:
            n = source.source_frame(frame)
            if n < 0:
                raise MaskHandError(f"scene frame {frame} is before the first frame of {source.label}")
            handle = client.request("track", dict(payload, source=source.path, frame_range=[n, n]))
    except BaseException:
        source.discard()
        raise
    return EstimateJob(source, handle, frame, seed, side, base, base_hand, list(parts))


def finish_estimate(context, job: EstimateJob) -> list[tuple[str, str]]:
    """Put a finished request's hands into the hypotheses list and pose the matching rigs.

    Returns (level, message) reports. Raises the request's BackendError (nothing changed then).
    A picture with no hand (of the resampled side) raises MaskHandError and changes nothing.
    """
    try:
        hands, estimator = job.hands()
    finally:
        job.source.discard()
    settings = context.scene.maskhand.estimate
    reports = []
    if job.side is not None:
        hands = [h for h in hands if h["side"] == job.side]
    hands = [h for h in hands if h.get("hypotheses")]
    if not hands:
        what = f"{job.side} hand" if job.side else "hand"
        raise MaskHandError(f"no {what} was found in {job.source.label}; nothing changed")
    if job.side is not None:  # resample: the hand nearest the one resampled, its new hypotheses locked
        hand = min(hands, key=lambda h: _distance(h, job.base_hand))
        hand_index = _replace_hand(settings, hand, job)
        settings.seed = job.seed  # the next Resample moves on from here
        if estimator != "model":
            reports.append(('WARNING', f"the {estimator} estimator gives one answer per hand, so resampling "
                                       "cannot find others; the generative model's weights are needed"))
        first = next(i for i, item in enumerate(settings.hypotheses)
                     if item.side == job.side and item.hand_index == hand_index)
        _select(context, first)
        reports.append(('INFO', f"Resampled the {job.side} hand (seed {job.seed}"
                                + (f", kept {', '.join(job.parts)}" if job.parts else "") + ")"))
        return reports

    rigs = {}  # side -> rig, checked against each side's best hypothesis before anything changes
    for hand in hands:
        if hand["side"] not in rigs:
            rig = find_rig(context.scene, hand["side"], context.scene.maskhand.rig, context.active_object)
            if rig is not None:
                rig_quaternions(rig, hand["hypotheses"][0])
            rigs[hand["side"]] = rig
    settings.hypotheses.clear()
    first_of_side = {}
    for h_i, hand in enumerate(hands):
        _add_hypotheses(settings, hand, h_i, hand["hypotheses"])
        first_of_side.setdefault(hand["side"], len(settings.hypotheses) - len(hand["hypotheses"]))
    settings.last_image = json.dumps({"path": job.source.path, "frame": job.scene_frame, **job.camera()})
    posed, missing = [], []
    for side, index in first_of_side.items():
        item = settings.hypotheses[index]
        item.chosen = True
        if rigs[side] is None:
            missing.append(side)
            continue
        pose_rig(rigs[side], item.hypothesis(), settings.use_camera_translation)
        posed.append(f"{side} -> '{rigs[side].name}'")
    _select(context, next(iter(first_of_side.values())), pose=False)
    found = ", ".join(f"{h['side']} ({h['score']:.2f})" for h in hands)
    settings.status = f"Found {len(hands)} hand(s): {found}"
    reports.append(('INFO', f"{settings.status}; posed {', '.join(posed) or 'no rig'}"))
    for side in missing:
        reports.append(('WARNING', f"no {side} hand rig in the scene to pose; Add Hand Rig ({side.title()}) makes one"))
    return reports


def _add_hypotheses(settings, hand: dict, hand_index: int, hypotheses: list[dict], at: int | None = None) -> None:
    info = {k: hand.get(k) for k in ("side", "score", "keypoints_2d")}
    for rank, hyp in enumerate(hypotheses, 1):
        item = settings.hypotheses.add()
        item.side, item.hand_index, item.hand_score = hand["side"], hand_index, float(hand["score"])
        item.rank, item.score = rank, float(hyp["score"])
        item.payload = json.dumps({"hand": info, "hypothesis": hyp})
        if at is not None:
            settings.hypotheses.move(len(settings.hypotheses) - 1, at + rank - 1)


def _replace_hand(settings, hand: dict, job: EstimateJob) -> int:
    """Swap the resampled hand's hypotheses for the new ones (locked joints from the base); returns its index."""
    old = [i for i, item in enumerate(settings.hypotheses)
           if item.side == job.side and item.hand().get("keypoints_2d") == job.base_hand.get("keypoints_2d")]
    hand_index = settings.hypotheses[old[0]].hand_index if old else 0
    new = [merge_locked(job.base, hyp, job.parts) for hyp in hand["hypotheses"]]
    hand = dict(hand, keypoints_2d=job.base_hand.get("keypoints_2d"))  # the list's key for this hand
    _posing["busy"] = True
    try:
        for i in reversed(old):
            settings.hypotheses.remove(i)
        _add_hypotheses(settings, hand, hand_index, new, at=old[0] if old else None)
    finally:
        _posing["busy"] = False
    return hand_index


def _select(context, index: int, pose: bool = True) -> None:
    """Make hypothesis `index` active; pose its rig unless `pose` is False."""
    settings = context.scene.maskhand.estimate
    if pose:
        settings.active_index = index  # the update callback poses the rig
        if settings.active_index == index:  # unchanged index: Blender skips the update, so pose here
            from ..hypotheses_properties import _pose_active

            _pose_active(settings, context)
        return
    _posing["busy"] = True
    try:
        settings.active_index = index
    finally:
        _posing["busy"] = False


def _distance(hand: dict, base_hand: dict | None) -> float:
    if not base_hand or not base_hand.get("keypoints_2d") or not hand.get("keypoints_2d"):
        return 0.0
    a, b = np.asarray(hand["keypoints_2d"]), np.asarray(base_hand["keypoints_2d"])
    return float(np.linalg.norm(a.mean(0) - b.mean(0)))


class MASKHAND_OT_estimate(EstimateJobOperator, bpy.types.Operator):
    """Find the hands in the current frame's picture and pose the matching rigs with their best hypotheses"""
    bl_idname = "view3d.maskhand_estimate"
    bl_label = "Estimate Hands"
    bl_options = {'REGISTER', 'UNDO'}

    noun = "Estimate"
    busy_text = "Estimating hands... (Esc cancels)"

    def start(self, context):
        return start_estimate(context)


classes = (MASKHAND_OT_estimate,)
