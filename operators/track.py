"""Track Range: estimate every frame of the scene range from a movie or sequence, key one action per hand.

The backend streams each finished frame's hands (a "progress" event per frame); nothing is keyed
until the end, when the frames that completed are smoothed (rigmath.take_smoothing: One Euro
filter, one hand shape per take) and written in bulk by blender/keyframes.py, one new action per
rig. So Esc can never leave a half-written key: a cancelled track keys the completed frames (or
nothing, by the Keep Completed Frames option), and a failed one keys nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np

from ..blender import backend_client
from ..blender.apply_result import find_rig
from ..blender.apply_poses import rig_side
from ..blender.build_rig import bone_rest_rotations
from ..blender.keyframes import check_armature, write_pose_action
from ..blender.source_image import Source, resolve_source
from ..errors import MaskHandError
from ..rigmath.pose_to_bones import bone_quaternions, root_locations
from ..rigmath.rig_layout import joint_bone_names
from ..rigmath.take_smoothing import smooth_track
from .estimate import backend
from .modal_job import begin_modal, end_modal, free_to_start, report_all, set_status


@dataclass
class TrackJob:
    """One track in flight: the source, the scene range, and per source frame the hands seen so far."""
    source: Source
    handle: backend_client.RequestHandle
    first: int  # scene frames, inclusive
    last: int
    frames: dict = field(default_factory=dict)  # source frame -> list of hand dicts

    @property
    def done(self) -> bool:
        return self.handle.done

    @property
    def total(self) -> int:
        return self.last - self.first + 1

    def take(self, payloads) -> None:
        for p in payloads:
            if p.get("stage") == "frame":
                self.frames[int(p["frame"])] = p.get("hands", [])

    @property
    def fraction(self) -> float:
        return len(self.frames) / max(self.total, 1)


def start_track(context) -> TrackJob:
    """Check the range and the source, send the "track" request; returns at once."""
    settings = context.scene.maskhand.estimate
    first, last = settings.frame_start, settings.frame_end
    if last < first:
        raise MaskHandError(f"the track range ends (frame {last}) before it starts (frame {first})")
    source = resolve_source(settings, context.scene)
    if source.is_still:
        source.discard()
        raise MaskHandError(f"{source.label} is a still image; Track Range needs a movie, an image sequence or a clip")
    lo, hi = source.source_frame(first), source.source_frame(last)
    if hi < 0:
        raise MaskHandError(f"scene frames {first}-{last} all lie before the first frame of {source.label}")
    payload = {"source": source.path, "frame_range": [max(lo, 0), hi], "hypotheses": 1,
               "seed": settings.seed, "temperature": settings.temperature, "max_hands": settings.max_hands}
    handle = backend(context).request("track", payload)
    settings.progress = 0.0
    return TrackJob(source, handle, first, last)


def hand_tracks(job: TrackJob) -> dict[str, dict]:
    """Per side, the best-scoring hand of that side in every completed frame, as arrays:
    {side: {"frames": (N,) source frames, "global_orient" (N, 3), "hand_pose" (N, 45), "betas" (N, S),
    "cam_t" (N, 3)}}. Frames whose hand has no MANO pose are left out."""
    per_side: dict[str, dict] = {}
    for frame in sorted(job.frames):
        best = {}
        for hand in job.frames[frame]:
            if hand.get("mano") and (hand["side"] not in best or hand["score"] > best[hand["side"]]["score"]):
                best[hand["side"]] = hand
        for side, hand in best.items():
            t = per_side.setdefault(side, {"frames": [], "global_orient": [], "hand_pose": [], "betas": [], "cam_t": []})
            t["frames"].append(frame)
            t["global_orient"].append(hand["mano"]["global_orient"])
            t["hand_pose"].append(hand["mano"]["hand_pose"])
            t["betas"].append(hand["mano"]["betas"])
            t["cam_t"].append(hand.get("cam_t") or [0.0, 0.0, 0.0])
    return {side: {k: np.asarray(v, np.int64 if k == "frames" else np.float64) for k, v in t.items()}
            for side, t in per_side.items()}


def finish_track(context, job: TrackJob, cancelled: bool = False) -> list[tuple[str, str]]:
    """Key the completed frames: one new action per hand's rig. Checks everything before writing.

    cancelled: the track stopped early; its completed frames are keyed only with Keep Completed
    Frames on. Returns (level, message) reports; raises MaskHandError with nothing keyed.
    """
    scene = context.scene
    settings = scene.maskhand.estimate
    if not cancelled:
        job.handle.value()  # the backend's error, if the track failed
    if cancelled and not settings.keep_completed:
        return [('INFO', f"Track cancelled after {len(job.frames)} of {job.total} frames; nothing keyed")]
    tracks = hand_tracks(job)
    if not tracks:
        raise MaskHandError(f"no hand was found in the {len(job.frames)} frame(s) tracked from {job.source.label}")
    fps = scene.render.fps / scene.render.fps_base
    plan, reports = [], []
    for side, t in sorted(tracks.items()):
        rig = find_rig(scene, side, scene.maskhand.rig, context.active_object)
        if rig is None:
            reports.append(('WARNING', f"{len(t['frames'])} frame(s) of a {side} hand found, but the scene has "
                                       f"no {side} hand rig; Add Hand Rig ({side.title()}) makes one"))
            continue
        smooth = smooth_track(side, t["frames"], t["global_orient"], t["hand_pose"], t["betas"], t["cam_t"],
                              fps=fps, strength=settings.smoothing)
        names = joint_bone_names(rig_side(rig))
        B = bone_rest_rotations(rig, names)
        quats = bone_quaternions(smooth.global_orient, smooth.hand_pose, B)  # (N, 16, 4)
        locations = ({names[0]: root_locations(smooth.cam_t, B[0])} if settings.use_camera_translation else None)
        scene_frames = np.array([job.source.scene_frame(int(f)) for f in smooth.frames], np.float64)
        plan.append((rig, side, names, scene_frames, quats, locations))
    if not plan:
        raise MaskHandError("; ".join(msg for _, msg in reports))
    for rig, side, names, *_ in plan:  # every rig can take the keys before any is written
        check_armature(rig, names)
    for rig, side, names, frames, quats, locations in plan:
        previous = rig.animation_data.action if rig.animation_data else None
        if previous is not None and not previous.use_fake_user:
            previous.use_fake_user = True  # the rig's earlier keys stay in the file, not dropped on save
            reports.append(('INFO', f"'{rig.name}' had the action '{previous.name}'; it is kept (fake user)"))
        action = write_pose_action(rig, f"MaskHand {job.source.label} {side}", names, frames, quats, locations)
        reports.insert(0, ('INFO', f"Keyed {len(frames)} frame(s) of the {side} hand on '{rig.name}' "
                                   f"in action '{action.name}'"))
    if cancelled:
        reports.insert(0, ('INFO', f"Track cancelled after {len(job.frames)} of {job.total} frames; "
                                   "keyed the completed ones"))
    settings.status = reports[0][1]
    return reports


class MASKHAND_OT_track_range(bpy.types.Operator):
    """Estimate every frame of the track range from the movie or sequence and key one action per hand (Esc cancels)"""
    bl_idname = "anim.maskhand_track_range"
    bl_label = "Track Range"
    bl_options = {'REGISTER', 'UNDO'}

    _job = None
    _timer = None

    @classmethod
    def poll(cls, context):
        return free_to_start(cls, context)

    def execute(self, context):
        """Blocking: for scripts and the Python console."""
        try:
            job = start_track(context)
            try:
                job.handle.wait()
            except MaskHandError:
                pass  # finish_track raises it again, with the frames taken so far dropped
            job.take(job.handle.progress)
            reports = finish_track(context, job)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        finally:
            context.scene.maskhand.estimate.progress = 0.0
        report_all(self, reports)
        return {'FINISHED'}

    def invoke(self, context, event):
        if context.window is None:  # background mode (no event loop): run to the end instead
            return self.execute(context)
        try:
            self._job = start_track(context)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        context.window_manager.progress_begin(0, 100)
        return begin_modal(self, context, f"Tracking {self._job.total} frames... (Esc cancels)")

    def modal(self, context, event):
        job = self._job
        if event.type == 'ESC' and event.value == 'PRESS':
            job.handle.cancel()
            set_status(context, "MaskHand: cancelling after the current frame...")
        if event.type != 'TIMER':
            return {'PASS_THROUGH'}
        settings = context.scene.maskhand.estimate
        new = job.handle.poll()
        job.take(new)
        if new:
            settings.progress = 100.0 * job.fraction
            context.window_manager.progress_update(int(settings.progress))
            set_status(context, f"MaskHand: tracked {len(job.frames)} of {job.total} frames (Esc cancels)")
        if not job.done:
            return {'RUNNING_MODAL'}
        end_modal(self, context)
        context.window_manager.progress_end()
        settings.progress = 0.0
        try:
            reports = finish_track(context, job, cancelled=job.handle.cancelled)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        report_all(self, reports)
        return {'FINISHED'}

    def cancel(self, context):
        """Blender dropped the handler (a file was opened, the window closed): stop, key nothing."""
        if self._job is not None:
            self._job.handle.cancel()
        end_modal(self, context)
        context.window_manager.progress_end()
        context.scene.maskhand.estimate.progress = 0.0


classes = (MASKHAND_OT_track_range,)
