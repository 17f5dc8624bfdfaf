"""The estimate, resample and track workflow on Blender's side: one home, read top-down.

The sidebar's buttons (operators/) and ``maskhand.api`` are thin calls into this module, so a
button and a script run the same code and give the same pose. One request's life:

1. ``backend(context)``: the backend client (the one a script chose, else the preferences').
2. ``start_estimate`` / ``start_resample`` / ``start_track``: resolve the picture at the current
   frame (blender/source_image.py), send one request, return a job at once; nothing blocks.
3. ``job.take(payloads)``: the request's progress, fed from a timer (operators/modal_job.py) or
   from a blocking loop (scripts); ``job.done`` says when its final reply is in.
4. ``job.finish(context, cancelled)``: an estimate fills the hypotheses list and poses the rig of
   each side; a resample swaps one hand's hypotheses (its locked joints kept from the base); a
   track keeps the backend's frames as a raw take (blender/take_store.py), builds the backend's own
   Take from them (inference/take.py), smooths it and keys each rig (``key_raw_take``: a new
   action, or merged into the take the rig already plays), with confidence curves and markers.

Sections, in that order: 1 the backend client, 2 estimate and resample, 3 the hypotheses list
(kept per frame), 4 track, Re-solve Range and Re-smooth, 5 the reference camera.

Everything is checked before the scene changes: a failure raises MaskHandError and leaves the scene
as it was. Hands and hypotheses are the backend's JSON (inference/results.py, docs/PREDICT.md).
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..errors import BackendError, MaskHandError
from ..handmodel.parts import SIDES
from ..inference.take import VIDEO_HYPOTHESES
from . import backend_client, take_marks, take_store
from .apply_result import find_rig, hypothesis_rig_pose, key_rig, merge_locked, pose_rig
from .keyframes import object_fcurves
from .pose_keys import key_rig_pose, rig_pose, rig_side
from .source_image import Source, resolve_source
from .take_store import RawTake

# -- 1. the backend client ---------------------------------------------------------------------------
_script_client: list = [None]  # set by use_client (maskhand.api.use_interpreter): scripts without preferences


def use_client(client: backend_client.BackendClient | None) -> None:
    """Make `client` the one every button and API call uses (None: back to the preferences')."""
    _script_client[0] = client


def backend(context) -> backend_client.BackendClient:
    """The backend client: the one a script chose (use_client), else the add-on preferences'."""
    if _script_client[0] is not None:
        return _script_client[0]
    from .. import prefs

    return prefs.backend(context)


# -- 2. estimate and resample ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Resample:
    """What a resample keeps: the hand of `side` nearest `base_hand`, the joints of `parts` from `base`."""
    side: str
    base: dict
    base_hand: dict
    parts: tuple = ()


@dataclass
class EstimateJob:
    """One estimate (or resample) in flight; `resample` is None for a plain estimate."""
    source: Source
    handle: backend_client.RequestHandle
    scene_frame: int
    seed: int
    resample: Resample | None = None
    noun: str = "Estimate"
    fraction = None  # an estimate has no frame count to show

    @property
    def done(self) -> bool:
        return self.handle.done

    def take(self, payloads) -> str | None:
        """The status text of the newest progress message, if any."""
        texts = [p["message"] for p in payloads if p.get("message")]
        return texts[-1] if texts else None

    def discard(self) -> None:
        self.source.discard()

    def finish(self, context, cancelled: bool = False) -> list[tuple[str, str]]:
        if cancelled:  # a result racing the Esc is dropped too
            self.discard()
            return [('INFO', f"{self.noun} cancelled; nothing changed")]
        return finish_estimate(context, self)


def estimate_payload(settings, seed: int) -> dict:
    """The sampling options of the Estimate panel, as the backend's estimate request takes them."""
    return {"hypotheses": settings.hypotheses_count, "seed": seed, "temperature": settings.temperature,
            "max_hands": settings.max_hands}


def start_estimate(context, seed: int | None = None, resample: Resample | None = None) -> EstimateJob:
    """Resolve the source at the current frame and send its estimate request; returns at once.

    A still image is sent as its path; a frame of a movie or sequence as the source and the frame
    number (the backend reads the frame itself).
    """
    settings = context.scene.maskhand.estimate
    seed = settings.seed if seed is None else seed
    source = resolve_source(settings, context.scene)
    frame = context.scene.frame_current
    payload = estimate_payload(settings, seed)
    try:
        if resample is not None:  # draws only: the greedy answer would come back the same every time
            payload["greedy_first"] = False
        if resample is not None and resample.parts and resample.base.get("tokens"):
            payload["locked"] = {resample.side: {"tokens": resample.base["tokens"], "parts": list(resample.parts)}}
        if source.is_still:
            payload["image"] = source.path
        else:
            n = source.source_frame(frame)
            if n < 0:
                raise MaskHandError(f"scene frame {frame} is before the first frame of {source.label}")
            payload.update(source=source.path, frame=n)
        handle = backend(context).request("estimate", payload)
    except BaseException:
        source.discard()
        raise
    return EstimateJob(source, handle, frame, seed, resample, "Estimate" if resample is None else "Resample")


def start_resample(context) -> EstimateJob:
    """Resample the active hypothesis's hand with the next seed, keeping the locked parts."""
    settings = context.scene.maskhand.estimate
    if not (0 <= settings.active_index < len(settings.hypotheses)):
        raise MaskHandError("there is no hypothesis to resample; run Estimate first")
    item = settings.hypotheses[settings.active_index]
    spec = Resample(item.side, item.hypothesis(), item.hand(), tuple(settings.locked_parts()))
    return start_estimate(context, seed=settings.seed + 1, resample=spec)


def finish_estimate(context, job: EstimateJob) -> list[tuple[str, str]]:
    """Put a finished request's hands into the hypotheses list and pose the matching rigs.

    Returns (level, message) reports. Raises the request's BackendError (nothing changed then).
    A picture with no hand (of the resampled side) raises MaskHandError and changes nothing.
    """
    try:
        value = job.handle.value()
    finally:
        job.discard()
    hands = with_sides(value["hands"])
    settings = context.scene.maskhand.estimate
    spec = job.resample
    if spec is not None:
        hands = [h for h in hands if h["side"] == spec.side]
    hands = [h for h in hands if h.get("hypotheses")]
    if not hands:
        what = f"{spec.side} hand" if spec else "hand"
        raise MaskHandError(f"no {what} was found in {job.source.label}; nothing changed")
    if spec is not None:
        return _finish_resample(context, job, nearest_hand(hands, spec.base_hand), value.get("estimator", ""))

    rigs = {}  # side -> rig, checked against each side's best hypothesis before anything changes
    for hand in hands:
        if hand["side"] not in rigs:
            rig = find_rig(context.scene, hand["side"], context.scene.maskhand.rig, context.active_object)
            if rig is not None:
                hypothesis_rig_pose(rig, hand["hypotheses"][0])
            rigs[hand["side"]] = rig
    settings.hypotheses.clear()
    first_of_side = {}
    for h_i, hand in enumerate(hands):
        _add_hypotheses(settings, hand, h_i, hand["hypotheses"])
        first_of_side.setdefault(hand["side"], len(settings.hypotheses) - len(hand["hypotheses"]))
    camera = {k: value.get(k) for k in ("width", "height", "K")}
    settings.last_image = json.dumps({"path": job.source.path, "frame": job.scene_frame, "offset": job.source.offset,
                                      "temporary": job.source.temporary, **camera})
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
    remember_frame(settings)
    found = ", ".join(f"{h['side']} ({h['score']:.2f}" + ("" if h.get("found_by", "mediapipe") == "mediapipe"
                                                      else f", on a second look: {h['found_by']}") + ")"
                      for h in hands)
    settings.status = f"Found {len(hands)} hand(s): {found}"
    reports = [('INFO', f"{settings.status}; posed {', '.join(posed) or 'no rig'}")]
    for side in missing:
        reports.append(('WARNING', f"no {side} hand rig in the scene to pose; Add Hand Rig ({side.title()}) makes one"))
    return reports


def _finish_resample(context, job: EstimateJob, hand: dict, estimator: str) -> list[tuple[str, str]]:
    """Swap the resampled hand's hypotheses for the new ones (locked joints from the base), select the best."""
    settings = context.scene.maskhand.estimate
    spec = job.resample
    new = [merge_locked(spec.base, hyp, spec.parts) for hyp in hand["hypotheses"]]
    old = [i for i, item in enumerate(settings.hypotheses)
           if item.side == spec.side and item.hand().get("keypoints_2d") == spec.base_hand.get("keypoints_2d")]
    hand_index = settings.hypotheses[old[0]].hand_index if old else 0
    hand = dict(hand, keypoints_2d=spec.base_hand.get("keypoints_2d"))  # the list's key for this hand
    with posing_paused():
        for i in reversed(old):
            settings.hypotheses.remove(i)
        _add_hypotheses(settings, hand, hand_index, new, at=old[0] if old else None)
    settings.seed = job.seed  # the next Resample moves on from here
    reports = []
    if estimator != "model":
        reports.append(('WARNING', f"the {estimator} estimator gives one answer per hand, so resampling "
                                   "cannot find others; the generative model's weights are needed"))
    first = next(i for i, item in enumerate(settings.hypotheses)
                 if item.side == spec.side and item.hand_index == hand_index)
    _select(context, first)
    remember_frame(settings)
    reports.append(('INFO', f"Resampled the {spec.side} hand (seed {job.seed}"
                            + (f", kept {', '.join(spec.parts)}" if spec.parts else "") + ")"))
    return reports


def with_sides(hands: list[dict]) -> list[dict]:
    """The backend's hands with each hypothesis naming its hand's side, so it cannot be put on the
    rig of the other side (apply_result.hypothesis_rig_pose refuses that)."""
    return [dict(h, hypotheses=[dict(hyp, side=h["side"]) for hyp in h.get("hypotheses") or []]) for h in hands]


def nearest_hand(hands: list[dict], base_hand: dict | None) -> dict:
    """The hand among `hands` whose keypoints' centre is nearest `base_hand`'s (the first without keypoints)."""
    def distance(hand):
        if not base_hand or not base_hand.get("keypoints_2d") or not hand.get("keypoints_2d"):
            return 0.0
        a, b = np.asarray(hand["keypoints_2d"]), np.asarray(base_hand["keypoints_2d"])
        return float(np.linalg.norm(a.mean(0) - b.mean(0)))

    return min(hands, key=distance)


# -- 3. the hypotheses list -------------------------------------------------------------------------------
_posing = [False]  # re-entrancy guard: posing from the list's update callback must not recurse


@contextmanager
def posing_paused():
    """Changes to the hypotheses list inside this block do not pose rigs."""
    before, _posing[0] = _posing[0], True
    try:
        yield
    finally:
        _posing[0] = before


def pose_active(settings, context) -> None:
    """The list's active-index update: mark the selection chosen for its hand and pose its rig live.
    Errors go to the console only: an update callback cannot report to the info area."""
    if _posing[0] or not (0 <= settings.active_index < len(settings.hypotheses)):
        return
    item = settings.hypotheses[settings.active_index]
    for other in settings.hypotheses:
        if other.side == item.side and other.hand_index == item.hand_index:
            other.chosen = other == item
    remember_frame(settings)
    with posing_paused():
        try:
            rig = find_rig(context.scene, item.side, context.scene.maskhand.rig, context.active_object)
            if rig is not None:
                pose_rig(rig, item.hypothesis(), settings.use_camera_translation)
        except Exception as err:  # noqa: BLE001 - a broken payload must not break the UI list
            print(f"MaskHand: cannot pose the rig with hypothesis {item.rank}: {err}")


def relative_confidence(scores) -> np.ndarray:
    """(N,) hypothesis scores (log-likelihoods, higher is better) -> (N,) shares that add up to 1:
    how likely each is against the others of its hand (a softmax), what the list shows as a percentage."""
    s = np.asarray(scores, np.float64)
    if not len(s):
        return s
    w = np.exp(s - s.max())
    return w / w.sum()


def _add_hypotheses(settings, hand: dict, hand_index: int, hypotheses: list[dict], at: int | None = None) -> None:
    info = {k: hand.get(k) for k in ("side", "score", "keypoints_2d")}
    shares = relative_confidence([h["score"] for h in hypotheses])
    for rank, (hyp, share) in enumerate(zip(hypotheses, shares), 1):
        item = settings.hypotheses.add()
        item.side, item.hand_index, item.hand_score = hand["side"], hand_index, float(hand["score"])
        item.rank, item.score, item.confidence = rank, float(hyp["score"]), float(share)
        item.payload = json.dumps({"hand": info, "hypothesis": hyp})
        if at is not None:
            settings.hypotheses.move(len(settings.hypotheses) - 1, at + rank - 1)


def _select(context, index: int, pose: bool = True) -> None:
    """Make hypothesis `index` active; pose its rig unless `pose` is False."""
    settings = context.scene.maskhand.estimate
    if not pose:
        with posing_paused():
            settings.active_index = index
        return
    settings.active_index = index  # the update callback poses the rig
    if settings.active_index == index:  # an unchanged index: Blender skips the update, so pose here
        pose_active(settings, context)


# The fields of a hypotheses-list row, as remember_frame keeps them.
_ROW_FIELDS = ("side", "hand_index", "hand_score", "rank", "score", "confidence", "chosen", "payload")


def _list_frame(settings) -> int | None:
    return json.loads(settings.last_image).get("frame") if settings.last_image else None


def remember_frame(settings) -> None:
    """Keep the current list (and its picture) under its scene frame, replacing what that frame had,
    so that returning to the frame shows it again (show_frame)."""
    frame = _list_frame(settings)
    if frame is None:
        return
    entry = next((e for e in settings.frame_hypotheses if e.frame == frame), None) or settings.frame_hypotheses.add()
    entry.frame, entry.picture = frame, settings.last_image
    entry.items = json.dumps([{f: getattr(item, f) for f in _ROW_FIELDS} for item in settings.hypotheses])


def show_frame(settings, frame: int) -> bool:
    """Bring back the list kept for scene `frame`, if there is one and another frame's list shows.
    Rigs are not posed (the frame's keys, if any, show); returns whether the list changed."""
    entry = next((e for e in settings.frame_hypotheses if e.frame == frame), None)
    if entry is None or _list_frame(settings) == frame:
        return False
    rows = json.loads(entry.items)
    with posing_paused():
        settings.hypotheses.clear()
        for row in rows:
            item = settings.hypotheses.add()
            for name, value in row.items():
                setattr(item, name, value)
        settings.last_image = entry.picture
        settings.active_index = next((i for i, row in enumerate(rows) if row["chosen"]), 0)
    return True


def on_frame_change(scene, _depsgraph=None) -> None:
    """frame_change_post: show the list of the frame the user went to (not while a job runs)."""
    settings = getattr(getattr(scene, "maskhand", None), "estimate", None)
    if settings is not None and not settings.running:
        show_frame(settings, scene.frame_current)


def chosen_hypotheses(settings) -> list:
    """The chosen list item per side: what the user last selected for each detected hand; the
    active item wins for its side when two hands of one side were found."""
    chosen = {}
    for item in settings.hypotheses:
        if item.chosen:
            chosen.setdefault(item.side, item)
    if 0 <= settings.active_index < len(settings.hypotheses):
        active = settings.hypotheses[settings.active_index]
        chosen[active.side] = active
    return list(chosen.values())


def keyframe_chosen(context, frame: int | None = None) -> list[str]:
    """Key every side's chosen hypothesis on its rig at `frame` (default: the current frame).

    Everything is checked first (payloads parse, rigs have their bones), so a failure keys nothing;
    a hand whose side has no rig is skipped (said in the returned lines). Returns one line per rig.
    Raises MaskHandError, also when no hand has a rig.
    """
    scene = context.scene
    settings = scene.maskhand.estimate
    frame = scene.frame_current if frame is None else frame
    items = chosen_hypotheses(settings)
    if not items:
        raise MaskHandError("there is no hypothesis to key; run Estimate first")
    plan, skipped = [], []
    for item in items:
        rig = find_rig(scene, item.side, scene.maskhand.rig, context.active_object)
        if rig is None:
            skipped.append(item.side)
            continue
        plan.append((rig, item.hypothesis(), item))
    if not plan:
        side = skipped[0]
        raise MaskHandError(f"no {side} hand rig in the scene to key; Add Hand Rig ({side.title()}) makes one")
    for rig, hypothesis, _ in plan:  # validate every pose before the first key is written
        hypothesis_rig_pose(rig, hypothesis)
    done = []
    for rig, hypothesis, item in plan:
        n = len(key_rig(rig, hypothesis, frame, settings.use_camera_translation))
        done.append(f"{item.side} hypothesis {item.rank} on '{rig.name}' ({n} bones)")
    done += [f"no {side} hand rig, so that hand was not keyed" for side in skipped]
    return done


# -- 4. track, re-solve, re-smooth ---------------------------------------------------------------------
@dataclass
class TrackJob:
    """One track in flight: the source, the scene range, and per source frame the kept hands so far
    (at most one per side, as the backend's take keeps them)."""
    source: Source
    handle: backend_client.RequestHandle
    first: int  # scene frames, inclusive
    last: int
    frames: dict = field(default_factory=dict)  # source frame -> list of hand dicts
    noun: str = "Track"
    locks: tuple = ()  # Re-solve Range: hand parts whose keyed pose stays

    @property
    def done(self) -> bool:
        return self.handle.done

    @property
    def total(self) -> int:
        return self.last - self.first + 1

    @property
    def fraction(self) -> float:
        return len(self.frames) / max(self.total, 1)

    def take(self, payloads) -> str | None:
        """Record each finished frame; the status text when frames arrived."""
        new = [p for p in payloads if p.get("stage") == "frame"]
        for p in new:
            self.frames[int(p["frame"])] = p.get("hands", [])
        return f"tracked {len(self.frames)} of {self.total} frames (Esc cancels)" if new else None

    def discard(self) -> None:
        self.source.discard()

    def to_raw(self, fps: float) -> RawTake:
        """The frames received so far, as the .blend keeps them (their Take: RawTake.to_take())."""
        return RawTake(self.source.label, fps, self.source.offset, dict(self.frames))

    def finish(self, context, cancelled: bool = False) -> list[tuple[str, str]]:
        return finish_track(context, self, cancelled)


def track_payload(source: Source, first: int, last: int, hypotheses: int = VIDEO_HYPOTHESES, seed: int = 0,
                  temperature: float = 1.0, max_hands: int = 2) -> dict:
    """The backend's track request for scene frames first..last of `source` (a movie or sequence)."""
    if last < first:
        raise MaskHandError(f"the track range ends (frame {last}) before it starts (frame {first})")
    if source.is_still:
        raise MaskHandError(f"{source.label} is a still image; tracking needs a movie, an image sequence or a clip")
    lo, hi = source.source_frame(first), source.source_frame(last)
    if hi < 0:
        raise MaskHandError(f"scene frames {first}-{last} all lie before the first frame of {source.label}")
    return {"source": source.path, "frame_range": [max(lo, 0), hi], "hypotheses": int(hypotheses),
            "seed": int(seed), "temperature": float(temperature), "max_hands": int(max_hands)}


def start_track(context, seed: int | None = None, locks=(), noun: str = "Track", span=None) -> TrackJob:
    """Check the panel's range (or `span`, (first, last) scene frames) and source, send the track
    request; returns at once."""
    settings = context.scene.maskhand.estimate
    first, last = span or (settings.frame_start, settings.frame_end)
    source = resolve_source(settings, context.scene)
    try:
        payload = track_payload(source, first, last, VIDEO_HYPOTHESES,
                                settings.seed if seed is None else seed, settings.temperature, settings.max_hands)
        handle = backend(context).request("track", payload)
    except BaseException:
        source.discard()
        raise
    settings.progress = 0.0
    return TrackJob(source, handle, first, last, noun=noun, locks=tuple(locks))


# What Re-solve Range re-tracks: the Track panel's Start..End, the span of the selected keys of the
# rigs' takes, or the span of the take's flag markers inside Start..End.
RESOLVE_SPANS = ('RANGE', 'SELECTED', 'FLAGGED')


def resolve_span(context, mode: str = 'RANGE') -> tuple[int, int]:
    """(first, last) scene frames Re-solve Range works on (see RESOLVE_SPANS); MaskHandError when
    nothing is selected or flagged."""
    scene = context.scene
    settings = scene.maskhand.estimate
    if mode == 'RANGE':
        return settings.frame_start, settings.frame_end
    if mode == 'SELECTED':
        frames = []
        for rig in _take_rigs(context):
            for (path, _), fc in object_fcurves(rig).items():
                if path.startswith("pose.bones"):
                    frames += [k.co[0] for k in fc.keyframe_points if k.select_control_point]
        if not frames:
            raise MaskHandError("no keys of a take are selected; select the frames to re-solve in the Dope Sheet")
        return int(round(min(frames))), int(round(max(frames)))
    if mode == 'FLAGGED':
        frames = [m.frame for m in scene.timeline_markers if m.name.startswith(take_marks.PREFIX + " ")
                  and settings.frame_start <= m.frame <= settings.frame_end]
        if not frames:
            raise MaskHandError(f"no flag markers lie in frames {settings.frame_start}-{settings.frame_end}")
        return min(frames), max(frames)
    raise MaskHandError(f"unknown span {mode!r}; expected one of {', '.join(RESOLVE_SPANS)}")


def _take_rigs(context) -> list:
    """The rigs of both sides (as Track Range picks them) that play a kept take."""
    scene = context.scene
    rigs = [find_rig(scene, side, scene.maskhand.rig, context.active_object) for side in SIDES]
    return [rig for rig in rigs if rig is not None and _playing_take(rig) is not None]


def start_resolve(context, mode: str = 'RANGE') -> TrackJob:
    """Re-solve Range: track a span again (resolve_span) with the next seed, keeping the locked parts
    (the Hypotheses panel's toggles) as keyed; the result replaces keys inside the span only.
    MaskHandError unless a rig plays a take of the panel's source."""
    scene = context.scene
    settings = scene.maskhand.estimate
    source = resolve_source(settings, scene)
    source.discard()  # only its label is needed here; start_track resolves it again
    if not any(_playing_take(rig).source == source.label for rig in _take_rigs(context)):
        raise MaskHandError(f"no rig plays a take of {source.label} to re-solve; Track Range first")
    span = resolve_span(context, mode)
    settings.seed += 1  # a new draw, as Resample does
    return start_track(context, seed=settings.seed, locks=tuple(settings.locked_parts()), noun="Re-solve", span=span)


def finish_track(context, job: TrackJob, cancelled: bool = False) -> list[tuple[str, str]]:
    """Key the completed frames of the panel's track: one new action per hand's rig.

    cancelled: the track stopped early; its completed frames are keyed only with Keep Completed
    Frames on, as are those of a track whose backend died (a WARNING says so). Returns (level,
    message) reports; raises MaskHandError (the backend's error) with nothing keyed otherwise.
    """
    scene = context.scene
    settings = scene.maskhand.estimate
    job.discard()
    died = None
    if not cancelled:
        try:
            job.handle.value()  # the backend's error, if the track failed
        except BackendError as err:
            if err.name != "BackendDied" or not job.frames or not settings.keep_completed:
                raise
            died = err  # the frames that came back are whole: key them, and say what happened
    if cancelled and not settings.keep_completed:
        return [('INFO', f"Track cancelled after {len(job.frames)} of {job.total} frames; nothing keyed")]
    raw = job.to_raw(scene.render.fps / scene.render.fps_base)
    sides = raw.to_take().hands
    if not sides:
        raise MaskHandError(f"no hand was found in the {len(job.frames)} frame(s) tracked from {job.source.label}")
    rigs = {side: find_rig(scene, side, scene.maskhand.rig, context.active_object) for side in sides}
    _, reports = key_raw_take(scene, raw, rigs, settings.smoothing, settings.use_camera_translation, job.locks)
    if cancelled:
        reports.insert(0, ('INFO', f"Track cancelled after {len(job.frames)} of {job.total} frames; "
                                   "keyed the completed ones"))
    if died is not None:
        reports.insert(0, ('WARNING', f"The backend stopped after {len(job.frames)} of {job.total} frames ({died}); "
                                      "keyed the completed ones, Track Range again for the rest"))
    settings.status = reports[0][1]
    return reports


def key_raw_take(scene, raw: RawTake, rigs: dict, smoothing: float = 0.5, use_location: bool = False,
                 locks=()) -> tuple[dict, list[tuple[str, str]]]:
    """Key a tracked take onto rigs[side] for each hand side it holds, with its confidence curves and
    flag markers (blender/take_marks.py), and keep it in the .blend (blender/take_store.py).

    A rig already playing a take of the same source gets these frames merged into it: the kept raw
    frames inside this take's range are replaced, the whole take is smoothed again (so the range
    joins its neighbours), and keys are replaced only inside the range; the rest of the take stays.
    Otherwise the rig gets a new action (its previous one kept with a fake user). `locks`: hand
    parts whose keyed pose stays as it is inside the range (Re-solve Range). Every rig is checked
    before the first key is written. Returns ({side: action}, reports); MaskHandError when no side
    has a rig.
    """
    fresh = raw.to_take()
    targets, reports = {}, []  # side -> (rig, the take it plays when these frames merge into it)
    for side in sorted(fresh.hands):
        rig = rigs.get(side)
        if rig is None:
            reports.append(('WARNING', f"{fresh.frames_with(side)} frame(s) of a {side} hand found, but there is "
                                       f"no {side} hand rig; Add Hand Rig ({side.title()}) makes one"))
            continue
        if rig_side(rig) != side:
            raise MaskHandError(f"'{rig.name}' is a {rig_side(rig)} hand rig; it cannot take the {side} hand")
        existing = _playing_take(rig)
        same = existing is not None and existing.source == raw.source and existing.offset == raw.offset
        targets[side] = (rig, existing if same else None)
    new = raw
    for side, (rig, existing) in targets.items():  # locks of every merging side, into one set of new frames
        if locks and existing is not None:
            new = _locked(new, side, rig, locks)
    plan = []
    for side, (rig, existing) in targets.items():
        merge = existing is not None
        whole = existing.merged(new) if merge else new
        track = whole.to_take().smoothed(smoothing).get(side)
        if track is None:
            continue
        frames = np.array([whole.scene_frame(int(f)) for f in track.frames], np.float64)
        lo, hi = raw.scene_frame(min(raw.frames)), raw.scene_frame(max(raw.frames))
        inside = (frames >= lo) & (frames <= hi) if merge else np.ones(len(frames), bool)
        if not inside.any():
            continue
        pose = rig_pose(rig, track.global_orient[inside], track.hand_pose[inside],
                        track.cam_t[inside] if use_location else None)
        if locks and merge:  # the locked bones keep their keys exactly
            pose = _keep_keyed(rig, pose, frames[inside], locks)
        plan.append((side, rig, merge, whole, track, frames, inside, pose, (lo, hi) if merge else
                     (frames[0], frames[-1])))
    if not plan:
        raise MaskHandError("; ".join(msg for _, msg in reports) or "the take holds no hand to key")
    actions, texts = {}, {}
    for side, rig, merge, whole, track, frames, inside, pose, (lo, hi) in plan:
        if merge:
            actions[side] = key_rig_pose(rig, rig.animation_data.action.name, frames[inside], pose, merge=True)
            what = f"Replaced frames {lo:g}-{hi:g} of the {side} hand's take on '{rig.name}'"
        else:
            previous = rig.animation_data.action if rig.animation_data else None
            if previous is not None and not previous.use_fake_user:
                previous.use_fake_user = True  # the rig's earlier keys stay in the file, not dropped on save
                reports.append(('INFO', f"'{rig.name}' had the action '{previous.name}'; it is kept (fake user)"))
            actions[side] = key_rig_pose(rig, f"MaskHand {raw.source} {side}", frames, pose)
            what = f"Keyed {len(frames)} frame(s) of the {side} hand on '{rig.name}'"
        take_marks.key_confidence(rig, frames[inside], _rows(track, inside))
        n_marks = take_marks.mark_flags(scene, side, track.flags, whole.scene_frame, lo, hi)
        key = take_store.text_of(rig).name if merge else None
        texts[key] = take_store.save(whole, texts.get(key) or (take_store.text_of(rig) if merge else None))
        take_store.attach(rig, texts[key])
        actions[side][take_store.PROP_TAKE] = texts[key].name
        filled = int(np.count_nonzero(track.filled[inside])) if track.filled is not None else 0
        reports.insert(0, ('INFO', f"{what} in action '{actions[side].name}'"
                                   + (f"; {filled} filled across gaps" if filled else "")
                                   + (f"; {n_marks} marker(s) flag frames to check" if n_marks else "")))
    return actions, reports


def _playing_take(rig) -> RawTake | None:
    """The raw take of the action the rig plays, when that action is a MaskHand take."""
    action = rig.animation_data.action if rig.animation_data else None
    text = take_store.text_of(rig)
    if action is None or text is None or action.get(take_store.PROP_TAKE) != text.name:
        return None
    return take_store.load(rig)


def _locked(raw: RawTake, side: str, rig, parts) -> RawTake:
    """`raw` with the locked parts of every `side` hand (all its hypotheses) set to the rig's keyed
    pose at that frame: what the animator said is right stays right, in the kept take too."""
    from .pose_keys import read_keyed_take

    seq, keyed = read_keyed_take(rig)
    old = {int(round(f)): i for i, f in enumerate(keyed)}
    frames = {}
    for index, hands in raw.frames.items():
        at = old.get(raw.scene_frame(index))
        if at is None:
            frames[index] = hands
            continue
        base = {"mano": {"global_orient": seq.global_orient[at].tolist(), "hand_pose": seq.hand_pose[at].tolist()}}
        frames[index] = [dict(h, mano=merge_locked(base, h, parts)["mano"],
                              hypotheses=[merge_locked(base, hyp, parts) for hyp in h.get("hypotheses") or []])
                         if h.get("side") == side and h.get("mano") else h for h in hands]
    return RawTake(raw.source, raw.fps, raw.offset, frames)


def _keep_keyed(rig, pose, frames, parts):
    """`pose` with the locked parts' bones set to what the rig's action keys at `frames`."""
    from ..handmodel.parts import PART_JOINTS
    from .keyframes import read_pose_action
    from .pose_keys import RigPose

    joints = sorted(j for part in parts for j in PART_JOINTS[part])
    q = pose.quaternions.copy()
    q[:, joints] = read_pose_action(rig, pose.names, frames)[:, joints]
    return RigPose(pose.names, q, pose.wrist)


def _rows(track, mask):
    """The SmoothedTrack's per-frame confidence fields at `mask`, for take_marks.key_confidence."""
    pick = (lambda v: None if v is None else np.asarray(v)[mask])
    return type("Rows", (), {"frames": track.frames[mask], "score": pick(track.score), "filled": pick(track.filled),
                             "part_confidence": pick(track.part_confidence), "part_spread": pick(track.part_spread)})


def resmooth(context) -> list[tuple[str, str]]:
    """Re-smooth every take the scene's MaskHand rigs play, from their kept raw takes, at the Track
    panel's Smoothing: no tracking, the keys of the whole take replaced. MaskHandError when no rig
    plays a kept take."""
    scene = context.scene
    settings = scene.maskhand.estimate
    groups: dict = {}
    for obj in scene.objects:
        if obj.type != 'ARMATURE':
            continue
        raw = _playing_take(obj)
        if raw is not None:
            groups.setdefault((raw.source, raw.offset), (raw, {}))[1][rig_side(obj)] = obj
    if not groups:
        raise MaskHandError("no rig plays a tracked take to re-smooth; Track Range first")
    reports = []
    for raw, rigs in groups.values():
        reports += key_raw_take(scene, raw, rigs, settings.smoothing, settings.use_camera_translation)[1]
    settings.status = f"Re-smoothed at {settings.smoothing:.2f}: " + reports[0][1]
    return reports


# -- 5. the reference camera ----------------------------------------------------------------------------
def set_up_reference_camera(context) -> list[tuple[str, str]]:
    """A camera with the last estimate's picture behind it and its intrinsics, the rig of each chosen
    hypothesis posed in camera space in front of it, so looking through it shows each rig on its
    hand (blender/reference_camera.py). Hand rigs share the first one's placement (one camera frame).
    Checks everything first; raises MaskHandError with the scene unchanged."""
    from . import reference_camera as rc

    scene = context.scene
    settings = scene.maskhand.estimate
    if not settings.last_image:
        raise MaskHandError("there is no estimated picture to line up with; run Estimate first")
    picture = json.loads(settings.last_image)
    if not picture.get("K") or not picture.get("width"):
        raise MaskHandError("the last estimate recorded no camera; run Estimate again")
    plan = []
    for item in chosen_hypotheses(settings):
        rig = find_rig(scene, item.side, scene.maskhand.rig, context.active_object)
        if rig is not None:
            hypothesis_rig_pose(rig, item.hypothesis())  # every pose checked before anything changes
            plan.append((rig, item))
    if not plan:
        raise MaskHandError("no hand rig of the estimated hands' sides to line up; Add Hand Rig makes one")
    background = _picture_background(scene, settings, picture)
    anchor = plan[0][0]
    cam = rc.reference_camera(scene, anchor, picture["K"], (picture["width"], picture["height"]))
    rc.set_background(cam, **background)
    settings.use_camera_translation = True
    for rig, item in plan:
        if rig is not anchor:
            rig.matrix_world = anchor.matrix_world
        pose_rig(rig, item.hypothesis(), use_location=True)
    views = rc.look_through(context, cam)
    rigs = ", ".join(f"'{rig.name}'" for rig, _ in plan)
    return [('INFO', f"Camera '{cam.name}' shows the picture behind {rigs}"
                     + ("" if views else "; look through it with Numpad 0"))]


def _picture_background(scene, settings, picture: dict) -> dict:
    """set_background's arguments for the picture the last estimate used (a Blender image or clip as
    itself; a file by its path, a movie starting at the scene frame of its first frame)."""
    kind = settings.source_kind
    if kind == 'IMAGE' and settings.image is not None:
        return {"image": settings.image, "first_frame": settings.source_start}
    if kind == 'CLIP' and settings.clip is not None:
        return {"clip": settings.clip}
    if kind == 'CAMERA_BG' and scene.camera is not None:
        for bg in scene.camera.data.background_images:
            clip = scene.active_clip if bg.use_camera_clip else bg.clip
            if bg.show_background_image and bg.source == 'IMAGE' and bg.image is not None:
                return {"image": bg.image, "first_frame": bg.image_user.frame_start}
            if bg.show_background_image and bg.source == 'MOVIE_CLIP' and clip is not None:
                return {"clip": clip}
    if picture.get("temporary"):
        raise MaskHandError("the picture was a temporary copy of an unsaved image; pick the image again and Estimate")
    offset = picture.get("offset")
    return {"path": picture["path"], "first_frame": 1 if offset is None else -int(offset)}
