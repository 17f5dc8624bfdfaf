"""Where an animator looks: a take's confidence as F-Curves on the rig, its flags as timeline markers.

F-Curves (custom properties of the rig object, so the Graph Editor shows them beside the bones):
``maskhand_score`` the detector's score (0 on filled frames), ``maskhand_filled`` 1 where the pose
was filled across a gap (no measurement), ``maskhand_conf_<part>`` the model's confidence per hand
part (0..1) and ``maskhand_spread_<part>`` how far the hypotheses disagree on it (mm), for the
parts of handmodel.parts.PARTS. Markers: one per flagged frame and kind (side swap, duplicate,
spike, wrist spin, gap, finger in palm), named "MH R spike" and so on; re-keying a range replaces
that side's markers inside it.
"""
from __future__ import annotations

import numpy as np

from ..handmodel.parts import PARTS
from .keyframes import merge_channel_keys

PREFIX = "MH"
_KIND_WORDS = {"side": "side swap", "duplicate": "duplicate", "spike": "spike", "wrist_spin": "wrist spin",
               "gap": "gap", "finger_in_palm": "finger in palm"}


def curve_names() -> list[str]:
    """The custom properties key_confidence keys, in order."""
    return (["maskhand_score", "maskhand_filled"] + [f"maskhand_conf_{p}" for p in PARTS]
            + [f"maskhand_spread_{p}" for p in PARTS])


def confidence_values(track) -> dict:
    """{property: (N,) finite values} of a SmoothedTrack (NaN, where nothing was measured, becomes 0)."""
    n = len(track.frames)

    def column(values, j=None):
        if values is None:
            return np.zeros(n)
        v = np.asarray(values, np.float64)
        v = v if j is None else v[:, j]
        return np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)

    out = {"maskhand_score": column(track.score),
           "maskhand_filled": np.zeros(n) if track.filled is None else np.asarray(track.filled, np.float64)}
    out.update({f"maskhand_conf_{p}": column(track.part_confidence, j) for j, p in enumerate(PARTS)})
    out.update({f"maskhand_spread_{p}": column(track.part_spread, j) for j, p in enumerate(PARTS)})
    return out


def key_confidence(rig, scene_frames: np.ndarray, track) -> list[str]:
    """Key the track's confidence curves on `rig` at `scene_frames` (N,), merged into its action
    (keys outside the frames' range stay). Returns the property names keyed."""
    values = confidence_values(track)
    for name in values:
        if name not in rig:
            rig[name] = 0.0
    merge_channel_keys(rig, scene_frames, {(f'["{name}"]', 0): v for name, v in values.items()},
                       {(f'["{name}"]', 0): "MaskHand confidence" for name in values}, interpolation="CONSTANT")
    return list(values)


def mark_flags(scene, side: str, flags, scene_frame, lo: float, hi: float) -> int:
    """Timeline markers for `flags` ((source frame, kind, text), ...) of one side, after removing
    that side's MaskHand markers within scene frames [lo, hi]. Returns how many were added."""
    tag = f"{PREFIX} {'R' if side == 'right' else 'L'} "
    for marker in [m for m in scene.timeline_markers if m.name.startswith(tag) and lo <= m.frame <= hi]:
        scene.timeline_markers.remove(marker)
    added = set()
    for frame, kind, _text in flags:
        at = int(scene_frame(int(frame)))
        if (at, kind) in added or not lo <= at <= hi:
            continue
        scene.timeline_markers.new(tag + _KIND_WORDS.get(kind, kind), frame=at)
        added.add((at, kind))
    return len(added)
