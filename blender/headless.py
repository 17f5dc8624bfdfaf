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
