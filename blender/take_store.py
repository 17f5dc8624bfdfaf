"""The raw take kept in the .blend, so a take can be re-smoothed or partly re-solved without tracking again.

What is kept: the backend's per-frame hands as they came (JSON, at most one hand per side per frame,
each with its hypotheses: inference/take.py builds the Take from exactly these), the source's label
and rate, and the offset from source frames to scene frames. It lives in a Text datablock (saved
with the file, readable in the Text Editor), named in each keyed rig's custom property
``maskhand_take``; both hands of one take share it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import bpy

from ..errors import MaskHandError
from ..inference.take import Take, TakeBuilder

PROP_TAKE = "maskhand_take"
FORMAT = "maskhand-raw-take-1"


@dataclass
class RawTake:
    """source: the label keys and markers name it by; fps: its rate; offset: source frame = scene
    frame + offset (Source.offset); frames: {source frame: [hand dicts]}."""
    source: str
    fps: float
    offset: int
    frames: dict = field(default_factory=dict)

    def scene_frame(self, source_frame: int) -> int:
        return int(source_frame) - self.offset

    def to_take(self) -> Take:
        """The Take these frames make (identity, hypotheses path), as the backend's track builds it."""
        builder = TakeBuilder(self.source, self.fps)
        for index in sorted(self.frames):
            builder.add(index, self.frames[index])
        return builder.build()

    def merged(self, newer: "RawTake") -> "RawTake":
        """These frames with `newer`'s replacing every frame inside newer's range (a re-solved range)."""
        if not newer.frames:
            return self
        if newer.offset != self.offset:
            raise MaskHandError(f"the re-tracked frames of {newer.source} are placed in the scene differently "
                                f"(offset {newer.offset}) from the take's ({self.offset}); track the whole take again")
        lo, hi = min(newer.frames), max(newer.frames)
        kept = {i: hands for i, hands in self.frames.items() if not lo <= i <= hi}
        return RawTake(self.source, self.fps, self.offset, {**kept, **newer.frames})


def save(raw: RawTake, text=None):
    """Write `raw` into `text` (a Text datablock), or a new one named after the take; returns it."""
    text = text or bpy.data.texts.new(f"MaskHand take {raw.source}")
    text.clear()
    text.write(json.dumps({"format": FORMAT, "source": raw.source, "fps": raw.fps, "offset": raw.offset,
                           "frames": {str(i): hands for i, hands in sorted(raw.frames.items())}}))
    return text


def attach(rig, text) -> None:
    """Name the take's Text on the rig (so Re-smooth and Re-solve find it)."""
    rig[PROP_TAKE] = text.name


def text_of(rig):
    """The rig's take Text, or None."""
    name = rig.get(PROP_TAKE)
    return bpy.data.texts.get(name) if isinstance(name, str) else None


def load(rig) -> RawTake | None:
    """The raw take the rig was keyed from, or None when it has none; MaskHandError when it is unreadable."""
    text = text_of(rig)
    if text is None:
        return None
    try:
        doc = json.loads(text.as_string())
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}")
        frames = {int(i): hands for i, hands in doc["frames"].items()}
        return RawTake(str(doc["source"]), float(doc["fps"]), int(doc["offset"]), frames)
    except (ValueError, KeyError, TypeError) as err:
        raise MaskHandError(f"the take '{text.name}' of '{rig.name}' cannot be read ({err}); track it again") from err
