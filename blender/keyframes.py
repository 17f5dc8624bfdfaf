"""Write pose-bone keyframes in bulk into one new action, and read them back.

Legend: F frames, B bones. Quaternions are Blender's (w, x, y, z) order, in each pose bone's
local (rest-relative) space, i.e. the values of ``pose_bone.rotation_quaternion``.

Two action APIs, one module (the manifest allows Blender 4.2):
- Blender 4.4+ actions are slotted (layered): keys live in a channelbag of a keyframe strip, one
  channelbag per slot. The legacy ``action.fcurves.new`` still works in 4.5 but creates an untyped
  "Legacy Slot" that is *not* assigned to the object, so the keys would not animate it; from 5.0
  it is gone. So on 4.4+ the action is built explicitly: slot (id_type 'OBJECT') -> layer ->
  keyframe strip -> ``strip.channelbag(slot, ensure=True)``, and the object is assigned both the
  action and the slot.
- Blender 4.2 and 4.3 have no slots: an action holds its F-Curves and groups itself, and animates
  whichever object it is assigned to.
Both expose ``.fcurves`` (new, find) and ``.groups`` (new, get) on the "channels" object (the
channelbag, or the legacy action), which is all the writers below use. Keys are written with
``keyframe_points.add`` + ``foreach_set`` (as glTF-Blender-IO does), never one key at a time.
"""
from __future__ import annotations

from collections.abc import Sequence

import bpy
import numpy as np

from ..errors import MaskHandError, PoseDataError, RigError
from ..rigmath.one_euro import sign_continuous

# Names Blender accepts for Keyframe.interpolation, mapped to the integers foreach_set expects.
_INTERPOLATIONS = {
    item.identifier: item.value
    for item in bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items
}

# Below this norm a quaternion has no direction to normalise to.
_MIN_QUAT_NORM = 1e-8

# Blender 4.4 made actions slotted (layered); 4.2 and 4.3 have the legacy, flat action.
LAYERED_ACTIONS = "slots" in bpy.types.Action.bl_rna.properties


def new_action_channels(arm_obj, action_name: str):
    """A new action assigned to ``arm_obj`` (its previous one stays in bpy.data) and the container
    its F-Curves go in: (action, channels). Layered: an 'OBJECT' slot, a layer, a keyframe strip and
    the slot's channelbag; legacy: the action itself."""
    action = bpy.data.actions.new(action_name)
    anim = arm_obj.animation_data or arm_obj.animation_data_create()
    if not LAYERED_ACTIONS:
        anim.action = action
        return action, action
    slot = action.slots.new(id_type="OBJECT", name=arm_obj.name)
    strip = action.layers.new("Layer").strips.new(type="KEYFRAME")
    channels = strip.channelbag(slot, ensure=True)
    anim.action = action
    anim.action_slot = slot
    return action, channels


def assigned_channels(arm_obj, ensure: bool = False):
    """The F-Curve container of the object's assigned action (its slot's channelbag in the first
    keyframe strip, made with `ensure`), or None when nothing is assigned."""
    anim = arm_obj.animation_data
    if anim is None or anim.action is None:
        return None
    action = anim.action
    if not LAYERED_ACTIONS:
        return action
    if anim.action_slot is None:
        return None
    for layer in action.layers:
        for strip in layer.strips:
            if strip.type == "KEYFRAME" and strip.channelbag(anim.action_slot) is not None:
                return strip.channelbag(anim.action_slot)
    if not ensure:
        return None
    strips = [s for layer in action.layers for s in layer.strips if s.type == "KEYFRAME"]
    strip = strips[0] if strips else (action.layers[0] if action.layers else action.layers.new("Layer")
                                      ).strips.new(type="KEYFRAME")
    return strip.channelbag(anim.action_slot, ensure=True)


def object_fcurves(arm_obj) -> dict:
    """{(data_path, index): FCurve} that animate ``arm_obj`` through its assigned action (and slot)."""
    anim = arm_obj.animation_data
    if anim is None or anim.action is None:
        return {}
    if not LAYERED_ACTIONS:
        return {(fc.data_path, fc.array_index): fc for fc in anim.action.fcurves}
    found = {}
    if anim.action_slot is None:
        return found
    for layer in anim.action.layers:
        for strip in layer.strips:
            if strip.type != "KEYFRAME":
                continue
            channelbag = strip.channelbag(anim.action_slot)
            if channelbag is not None:
                for fcurve in channelbag.fcurves:
                    found.setdefault((fcurve.data_path, fcurve.array_index), fcurve)
    return found


def write_pose_action(
    arm_obj: bpy.types.Object,
    action_name: str,
    bone_names: Sequence[str],
    frames: np.ndarray,
    quaternions: np.ndarray,
    locations: dict[str, np.ndarray] | None = None,
    interpolation: str = "LINEAR",
) -> bpy.types.Action:
    """Key rotations (and optional locations) of pose bones into one new action on ``arm_obj``.

    Every input is checked before any Blender data changes, so a failure leaves the file as it was.

    Steps:
        1. Validate the object, names, shapes and values.
        2. Normalise each quaternion and make every bone's track sign-continuous: q_t is replaced
           by -q_t wherever dot(q_t, q_{t-1}) < 0 (after the earlier flips), so interpolation
           between neighbouring keys takes the short way round. -q is the same rotation as q.
        3. Create the action (Blender makes ``action_name`` unique, e.g. "Name.001") and assign
           it to ``arm_obj`` (new_action_channels: with its slot, layer and keyframe strip on 4.4+).
           The object's previous action, if any, is unassigned but kept in bpy.data.
        4. For every bone: one action group named after the bone, holding F-Curves
           ``pose.bones["<escaped name>"].rotation_quaternion`` index 0..3 (w, x, y, z) and, for
           bones in ``locations``, ``.location`` index 0..2; keys are written in bulk.
        5. Set the rotation_mode of every bone in ``bone_names`` to 'QUATERNION'.

    Args:
        arm_obj: an armature object holding every named pose bone; not in NLA tweak mode.
        action_name: requested name of the new action.
        bone_names: (B,) distinct pose-bone names, B >= 1.
        frames: (F,) finite, strictly increasing scene frames (sub-frames allowed), F >= 1.
        quaternions: (F, B, 4) finite (w, x, y, z), non-zero; normalised before writing.
        locations: optional {bone name: (F, 3) finite} pose-bone locations (bone-local, metres);
            the bones need not be in ``bone_names``.
        interpolation: a Keyframe.interpolation name ('LINEAR', 'BEZIER', 'CONSTANT', ...).
    Returns:
        The new action, assigned to ``arm_obj`` (with its one slot on Blender 4.4+).
    Raises:
        RigError: ``arm_obj`` is not an armature, is in NLA tweak mode, or lacks named bones.
        PoseDataError: wrong shapes, NaN/inf, zero quaternions, frames not increasing,
            repeated bone names.
        MaskHandError: unknown interpolation.
    """
    # 1. Validate everything before touching Blender data.
    if interpolation not in _INTERPOLATIONS:
        raise MaskHandError(
            f"interpolation must be one of {sorted(_INTERPOLATIONS)}; got {interpolation!r}"
        )
    bone_names = list(bone_names)
    locations = dict(locations or {})
    check_armature(arm_obj, bone_names + list(locations))
    frames = _as_frames(frames)
    n_frames, n_bones = len(frames), len(bone_names)
    if n_bones == 0:
        raise PoseDataError("bone_names must name at least one bone; got none")
    if len(set(bone_names)) != n_bones:
        repeated = sorted({n for n in bone_names if bone_names.count(n) > 1})
        raise PoseDataError(f"bone_names must be distinct; repeated: {repeated}")
    quats = np.asarray(quaternions, dtype=np.float64)
    if quats.shape != (n_frames, n_bones, 4):
        raise PoseDataError(
            f"quaternions must have shape (F, B, 4) = {(n_frames, n_bones, 4)}; got {quats.shape}"
        )
    if not np.isfinite(quats).all():
        raise PoseDataError("quaternions hold NaN or inf values")
    norms = np.linalg.norm(quats, axis=-1, keepdims=True)  # (F, B, 1)
    if (norms < _MIN_QUAT_NORM).any():
        f, b = np.argwhere(norms[..., 0] < _MIN_QUAT_NORM)[0]
        raise PoseDataError(f"quaternion of bone {bone_names[b]!r} at frame {frames[f]:g} is zero")
    locs = {}
    for name, loc in locations.items():
        loc = np.asarray(loc, dtype=np.float64)
        if loc.shape != (n_frames, 3):
            raise PoseDataError(
                f"locations[{name!r}] must have shape (F, 3) = {(n_frames, 3)}; got {loc.shape}"
            )
        if not np.isfinite(loc).all():
            raise PoseDataError(f"locations[{name!r}] holds NaN or inf values")
        locs[name] = loc

    # 2. Unit length and sign continuity along time.
    quats = sign_continuous(quats / norms)  # (F, B, 4)

    # 3. The action (and on 4.4+ its slot, layer, strip, channelbag), assigned to the object.
    action, channelbag = new_action_channels(arm_obj, action_name)

    # 4. One group per bone, F-Curves keyed in bulk.
    interp = np.full(n_frames, _INTERPOLATIONS[interpolation], dtype=np.int32)  # (F,)
    co = np.empty(2 * n_frames, dtype=np.float32)  # (F*2,) frame, value, frame, value, ...
    co[0::2] = frames
    groups = {}
    for name in bone_names + [n for n in locs if n not in bone_names]:
        groups[name] = channelbag.groups.new(name)
    for b, name in enumerate(bone_names):
        path = f'pose.bones["{bpy.utils.escape_identifier(name)}"].rotation_quaternion'
        for i in range(4):
            co[1::2] = quats[:, b, i]
            _write_fcurve(channelbag, groups[name], path, i, co, interp)
    for name, loc in locs.items():
        path = f'pose.bones["{bpy.utils.escape_identifier(name)}"].location'
        for i in range(3):
            co[1::2] = loc[:, i]
            _write_fcurve(channelbag, groups[name], path, i, co, interp)

    # 5. Quaternion channels only drive bones in quaternion mode.
    for name in bone_names:
        arm_obj.pose.bones[name].rotation_mode = "QUATERNION"
    return action


def read_pose_action(
    arm_obj: bpy.types.Object, bone_names: Sequence[str], frames: np.ndarray
) -> np.ndarray:
    """Evaluate the rotation F-Curves of ``arm_obj``'s assigned action and slot.

    Args:
        arm_obj: an object with an action and slot assigned (e.g. by write_pose_action).
        bone_names: (B,) pose-bone names whose ``rotation_quaternion`` channels are read.
        frames: (F,) scene frames (sub-frames allowed).
    Returns:
        (F, B, 4) float64 (w, x, y, z) as the F-Curves give them (not re-normalised).
    Raises:
        RigError: no action (or slot) assigned, or a bone lacks one of its four F-Curves.
    """
    if assigned_channels(arm_obj) is None:
        raise RigError(f"object {arm_obj.name!r} has no action assigned")
    anim = arm_obj.animation_data
    frames = np.asarray(frames, dtype=np.float64).reshape(-1)
    fcurves = object_fcurves(arm_obj)
    out = np.empty((len(frames), len(bone_names), 4))
    for b, name in enumerate(bone_names):
        path = f'pose.bones["{bpy.utils.escape_identifier(name)}"].rotation_quaternion'
        for i in range(4):
            fcurve = fcurves.get((path, i))
            if fcurve is None:
                raise RigError(
                    f"action {anim.action.name!r} has no F-Curve {path}[{i}] for bone {name!r}"
                )
            out[:, b, i] = [fcurve.evaluate(f) for f in frames]
    return out


def keyed_frames(arm_obj: bpy.types.Object, bone_name: str) -> np.ndarray:
    """(F,) sorted scene frames at which ``bone_name``'s rotation_quaternion[0] has keys in the
    object's assigned action (RigError when there are none)."""
    path = f'pose.bones["{bpy.utils.escape_identifier(bone_name)}"].rotation_quaternion'
    fcurve = object_fcurves(arm_obj).get((path, 0))
    if fcurve is None or not len(fcurve.keyframe_points):
        raise RigError(f"object {arm_obj.name!r} has no rotation keys of bone {bone_name!r}")
    co = np.empty(2 * len(fcurve.keyframe_points))
    fcurve.keyframe_points.foreach_get("co", co)
    return np.sort(co[0::2])


def check_armature(arm_obj, names: Sequence[str]) -> None:
    """Raise RigError unless ``arm_obj`` is an armature object holding every pose bone named."""
    if arm_obj is None or getattr(arm_obj, "type", None) != "ARMATURE":
        got = "None" if arm_obj is None else f"{arm_obj.name!r} ({getattr(arm_obj, 'type', '?')})"
        raise RigError(f"keys need an armature object; got {got}")
    anim = arm_obj.animation_data
    if anim is not None and anim.use_tweak_mode:
        raise RigError(f"armature {arm_obj.name!r} is in NLA tweak mode; leave it first")
    pose_bones = arm_obj.pose.bones
    missing = sorted({n for n in names if n not in pose_bones})
    if missing:
        raise RigError(f"armature {arm_obj.name!r} lacks pose bones: {', '.join(map(repr, missing))}")


def _as_frames(frames) -> np.ndarray:
    """(F,) finite, strictly increasing float64 frames, F >= 1, or PoseDataError."""
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 1 or len(frames) == 0:
        raise PoseDataError(f"frames must have shape (F,) with F >= 1; got {frames.shape}")
    if not np.isfinite(frames).all():
        raise PoseDataError("frames hold NaN or inf values")
    if (np.diff(frames) <= 0).any():
        i = int(np.argmax(np.diff(frames) <= 0))
        raise PoseDataError(
            f"frames must increase strictly; got {frames[i]:g} then {frames[i + 1]:g} at index {i}"
        )
    return frames


def _write_fcurve(channelbag, group, path: str, index: int, co: np.ndarray, interp: np.ndarray):
    """One new F-Curve in ``group`` with len(interp) keys from interleaved ``co`` (F*2,)."""
    fcurve = channelbag.fcurves.new(path, index=index)
    fcurve.group = group
    points = fcurve.keyframe_points
    points.add(len(interp))
    points.foreach_set("co", co)
    points.foreach_set("interpolation", interp)
    fcurve.update()
    return fcurve


# Per-key attributes kept when merge_pose_keys rewrites an F-Curve: (name, values per key, dtype).
_KEY_ATTRIBUTES = (("co", 2, np.float32), ("handle_left", 2, np.float32), ("handle_right", 2, np.float32),
                   ("interpolation", 1, np.int32), ("handle_left_type", 1, np.int32),
                   ("handle_right_type", 1, np.int32), ("easing", 1, np.int32), ("type", 1, np.int32),
                   ("back", 1, np.float32), ("amplitude", 1, np.float32), ("period", 1, np.float32))
_AUTO_CLAMPED = bpy.types.Keyframe.bl_rna.properties["handle_left_type"].enum_items["AUTO_CLAMPED"].value


def merge_pose_keys(
    arm_obj: bpy.types.Object,
    action_name: str,
    bone_names: Sequence[str],
    frames: np.ndarray,
    quaternions: np.ndarray,
    interpolation: str = "LINEAR",
    locations: dict[str, np.ndarray] | None = None,
) -> bpy.types.Action:
    """Key rotations (and optional bone locations) into the object's own action, keeping its other
    animation (a character's body, the rest of a take).

    With no action assigned this is write_pose_action. Otherwise each keyed channel's F-Curve loses
    its keys within [frames[0], frames[-1]] and gets the new ones; keys outside that range and every
    other channel stay as they were (merge_channel_keys). Validation and sign continuity as in
    write_pose_action; everything is checked before any Blender data changes.
    """
    if getattr(arm_obj, "type", None) != "ARMATURE" or assigned_channels(arm_obj) is None:
        return write_pose_action(arm_obj, action_name, bone_names, frames, quaternions, locations=locations,
                                 interpolation=interpolation)
    if interpolation not in _INTERPOLATIONS:
        raise MaskHandError(f"interpolation must be one of {sorted(_INTERPOLATIONS)}; got {interpolation!r}")
    bone_names = list(bone_names)
    locations = dict(locations or {})
    check_armature(arm_obj, bone_names + list(locations))
    frames = _as_frames(frames)
    if not bone_names or len(set(bone_names)) != len(bone_names):
        raise PoseDataError(f"bone_names must be distinct and at least one; got {bone_names}")
    quats = np.asarray(quaternions, dtype=np.float64)
    if quats.shape != (len(frames), len(bone_names), 4):
        raise PoseDataError(f"quaternions must have shape (F, B, 4) = {(len(frames), len(bone_names), 4)}; "
                            f"got {quats.shape}")
    norms = np.linalg.norm(quats, axis=-1, keepdims=True) if np.isfinite(quats).all() else None
    if norms is None or (norms < _MIN_QUAT_NORM).any():
        raise PoseDataError("quaternions hold NaN, inf or zero values")
    for name, loc in locations.items():
        if np.shape(loc) != (len(frames), 3) or not np.isfinite(loc).all():
            raise PoseDataError(f"locations[{name!r}] must be finite with shape (F, 3) = {(len(frames), 3)}")
    quats = sign_continuous(quats / norms)

    curves, groups = {}, {}
    for b, name in enumerate(bone_names):
        path = f'pose.bones["{bpy.utils.escape_identifier(name)}"].rotation_quaternion'
        for i in range(4):
            curves[(path, i)], groups[(path, i)] = quats[:, b, i], name
    for name, loc in locations.items():
        path = f'pose.bones["{bpy.utils.escape_identifier(name)}"].location'
        for i in range(3):
            curves[(path, i)], groups[(path, i)] = np.asarray(loc, np.float64)[:, i], name
    merge_channel_keys(arm_obj, frames, curves, groups, interpolation)
    for name in bone_names:
        arm_obj.pose.bones[name].rotation_mode = "QUATERNION"
    return arm_obj.animation_data.action


def merge_channel_keys(arm_obj, frames, curves: dict, groups: dict | None = None,
                       interpolation: str = "LINEAR") -> None:
    """Key any channels of the object in bulk into its assigned action (made if it has none):
    curves {(data_path, index): (F,) values} at `frames` (F,) increasing; each channel's F-Curve
    (made in group groups[key] when missing) loses its keys within [frames[0], frames[-1]] and gets
    the new ones, keys outside stay. Custom-property paths ('["name"]') need the property on the object."""
    if interpolation not in _INTERPOLATIONS:
        raise MaskHandError(f"interpolation must be one of {sorted(_INTERPOLATIONS)}; got {interpolation!r}")
    frames = _as_frames(frames)
    for key, values in curves.items():
        if np.shape(values) != (len(frames),) or not np.isfinite(values).all():
            raise PoseDataError(f"channel {key[0]}[{key[1]}] needs {len(frames)} finite values; got shape "
                                f"{np.shape(values)}")
    channelbag = assigned_channels(arm_obj, ensure=True)
    if channelbag is None:
        _, channelbag = new_action_channels(arm_obj, f"{arm_obj.name}Action")
    lo, hi = frames[0] - 1e-4, frames[-1] + 1e-4
    interp = _INTERPOLATIONS[interpolation]
    for (path, index), values in curves.items():
        fcurve = channelbag.fcurves.find(path, index=index)
        if fcurve is None:
            fcurve = channelbag.fcurves.new(path, index=index)
            name = (groups or {}).get((path, index))
            if name:
                fcurve.group = channelbag.groups.get(name) or channelbag.groups.new(name)
        _merge_fcurve(fcurve, frames, np.asarray(values, np.float64), interp, lo, hi)


def _merge_fcurve(fcurve, frames, values, interp: int, lo: float, hi: float) -> None:
    points = fcurve.keyframe_points
    n_old, n_new = len(points), len(frames)
    old = {}
    for attr, width, dtype in _KEY_ATTRIBUTES:
        buf = np.empty(n_old * width, dtype=dtype)
        points.foreach_get(attr, buf)
        old[attr] = buf.reshape(n_old, width)
    keep = (old["co"][:, 0] < lo) | (old["co"][:, 0] > hi)  # (n_old,)
    co = np.stack([frames, values], axis=1).astype(np.float32)  # (F, 2)
    fresh = {"co": co, "handle_left": co, "handle_right": co,
             "interpolation": np.full((n_new, 1), interp, np.int32),
             "handle_left_type": np.full((n_new, 1), _AUTO_CLAMPED, np.int32),
             "handle_right_type": np.full((n_new, 1), _AUTO_CLAMPED, np.int32),
             "easing": np.zeros((n_new, 1), np.int32), "type": np.zeros((n_new, 1), np.int32),
             "back": np.full((n_new, 1), 1.70158, np.float32), "amplitude": np.full((n_new, 1), 0.8, np.float32),
             "period": np.full((n_new, 1), 4.1, np.float32)}
    points.clear()
    points.add(int(keep.sum()) + n_new)
    for attr, _width, _dtype in _KEY_ATTRIBUTES:
        points.foreach_set(attr, np.concatenate([old[attr][keep], fresh[attr]]).ravel())
    points.sort()
    fcurve.update()
