"""Headless scene building for the CLI: rigs, keys, .blend files and preview renders with bpy.

The CLI imports this only for commands that write Blender files, so other commands never need bpy.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputFileError


def import_mano_to_blend(sequences, out: Path, mano_dir=None, preview: Path | None = None) -> list[str]:
    """A new scene with one rig per sequence (shaped by the file's betas), keyed, saved to `out`;
    `preview` also renders four frames of the take side by side into a PNG."""
    import bpy

    from .apply_poses import apply_sequence
    from .build_rig import add_hand_rig
    from .preview import render_preview
    from ..handmodel.registry import load_hand_model

    out = Path(out).resolve()
    if out.suffix != ".blend":
        raise InputFileError(f"--out must name a .blend file; got {out.name}")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    lines, rigs, last = [], [], 1
    for k, seq in enumerate(sequences):
        model = load_hand_model(seq.side, mano_dir)
        betas = np.asarray(seq.betas, np.float64).reshape(-1, np.shape(seq.betas)[-1]).mean(0)
        x = 0.12 if seq.side == "right" else -0.12
        arm_obj, _ = add_hand_rig(scene.collection, model, betas, location=(x * (1 + k // 2), 0.0, 0.0))
        action, warnings = apply_sequence(arm_obj, seq, model, frame_start=1)
        n = seq.global_orient.shape[0]
        last = max(last, n)
        scene.render.fps = int(round(seq.fps))
        rigs.append(arm_obj)
        lines += [f"{level.lower()}: {msg}" for level, msg in warnings]
        lines.append(f"{seq.side} hand: {n} frame(s) keyed on '{arm_obj.name}' in action '{action.name}' ({model.name})")
    scene.frame_start, scene.frame_end = 1, last
    scene.frame_set(1 + (last - 1) // 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(out))
    lines.append(f"wrote {out}")
    if preview is not None:
        picks = sorted({1 + round(t * (last - 1)) for t in (0.0, 0.33, 0.55, 0.9)})
        render_preview(scene, rigs, Path(preview), frames=picks, resolution=(320, 360))
        scene.frame_set(1 + (last - 1) // 2)
        lines.append(f"wrote {Path(preview).resolve()}")
    return lines


def import_mano_onto_blend(sequences, onto: str, out: Path, preset: str = "auto", mano_dir=None,
                           pose_wrist: bool = True) -> list[str]:
    """Key every sequence, from frame 1, onto the hand of an existing armature; save as `out`.
    See key_onto_blend."""
    return key_onto_blend([(seq, None) for seq in sequences], onto, out, preset, mano_dir, pose_wrist)


def parse_onto(onto: str, out: Path) -> tuple[Path, str]:
    """"SCENE.blend:ARMATURE" -> (existing .blend path, armature name), checked against `out`
    (a .blend that is not the input) before any work; InputFileError otherwise."""
    out = Path(out).resolve()
    if out.suffix != ".blend":
        raise InputFileError(f"--out must name a .blend file; got {out.name}")
    blend, sep, arm_name = str(onto).rpartition(":")
    if not sep or not blend or not arm_name:
        raise InputFileError(f"--onto must be SCENE.blend:ARMATURE; got {onto!r}")
    blend_path = Path(blend).resolve()
    if blend_path.suffix != ".blend" or not blend_path.is_file():
        raise InputFileError(f"--onto names {blend_path}, which is not an existing .blend file")
    if blend_path == out:
        raise InputFileError("--out must differ from the --onto file, so the character's file stays as it was")
    return blend_path, arm_name


def check_onto_armature(onto: str, out: Path) -> tuple[Path, str]:
    """parse_onto, then open the .blend and check that ARMATURE is there and is an armature, so a
    wrong name stops `animate --onto` before a clip is tracked (issue 16). RigError names the
    armatures the file has. Leaves that file loaded (key_onto_blend opens it again)."""
    blend_path, arm_obj = open_onto(onto, out)
    return blend_path, arm_obj.name


def open_onto(onto: str, out: Path):
    """parse_onto, open the character's .blend, and return (its path, the armature object); RigError
    when ARMATURE is missing (naming the armatures the file has) or is no armature."""
    import bpy

    from ..errors import RigError
    from .retarget import armature_of

    blend_path, arm_name = parse_onto(onto, out)
    bpy.ops.wm.open_mainfile(filepath=str(blend_path), load_ui=False)
    arm_obj = bpy.data.objects.get(arm_name)
    if arm_obj is None:
        arms = sorted(o.name for o in bpy.data.objects if o.type == 'ARMATURE')
        raise RigError(f"{blend_path.name} has no object '{arm_name}'; its armatures: {', '.join(arms) or 'none'}")
    return blend_path, armature_of(arm_obj)


def key_onto_blend(items, onto: str, out: Path, preset: str = "auto", mano_dir=None,
                   pose_wrist: bool = True) -> list[str]:
    """Key poses onto the hand(s) of an existing armature (retargeting) and save the scene as `out`.

    items: [(posefiles.PoseSequence, scene frames (F,) or None for 1..F)], one per hand side.
    onto: "SCENE.blend:ARMATURE" (the last colon splits, so Windows drive letters work).
    preset: "auto" detects each side's mapping from bone names; else a rigmath.retarget_map preset.
    Every mapping is checked before anything is keyed, and `out` may not be the input file, so a
    failure leaves the character's file as it was and writes nothing.
    """
    import bpy

    from ..handmodel.registry import load_hand_model
    from .retarget import resolve_mapping, retarget_sequence

    _, arm_obj = open_onto(onto, out)
    arm_name, out = arm_obj.name, Path(out).resolve()
    mappings = [resolve_mapping(arm_obj, seq.side, preset) for seq, _frames in items]
    lines, last = [], bpy.context.scene.frame_end
    for (seq, frames), mapping in zip(items, mappings):
        model = load_hand_model(seq.side, mano_dir)
        action, warnings = retarget_sequence(arm_obj, seq, mapping, model, frames=frames, pose_wrist=pose_wrist)
        n = seq.global_orient.shape[0]
        last = max(last, n if frames is None else int(np.max(frames)))
        lines += [f"{level.lower()}: {msg}" for level, msg in warnings]
        lines.append(f"{seq.side} hand: {n} frame(s) keyed on '{arm_name}' ({mapping.preset} mapping) "
                     f"in action '{action.name}'")
    bpy.context.scene.frame_end = last
    out.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(out))
    lines.append(f"wrote {out}")
    return lines
