"""Which bone of a target rig plays which MANO joint: presets, detection from names, JSON files.

A mapping (RetargetMap) names, for one hand side, a target bone per slot:
  - the 16 MANO joints, required: "wrist", "index1".."index3", "middle1".., "pinky1".., "ring1"..,
    "thumb1".."thumb3" (MANO's order, handmodel.joints.JOINT_NAMES);
  - the four metacarpals MANO lacks, optional: "index0", "middle0", "ring0", "pinky0" (keyed at rest);
  - the five fingertips, optional: "thumb_tip", "index_tip", ... (their heads end the distal segments).

Presets give the names each rig family uses. Side tokens are recognised in every common spelling
(".R"/".L", "_r"/"_l", "-R", " R", "Right"/"Left" prefixes, "right_"/"left_", "R_"/"L_"), and
namespaces such as "mixamorig:" are ignored, so one side-free stem per slot matches all of them.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputFileError, PoseDataError, RigError
from ..handmodel.joints import FINGERS, JOINT_NAMES
from ..handmodel.parts import check_side

JOINT_SLOTS = JOINT_NAMES  # 16, required, MANO order
METACARPAL_SLOTS = ("index0", "middle0", "ring0", "pinky0")
TIP_SLOTS = tuple(f"{f}_tip" for f in ("thumb", "index", "middle", "ring", "pinky"))
SLOTS = JOINT_SLOTS + METACARPAL_SLOTS + TIP_SLOTS
FILE_FORMAT = "maskhand.retarget_map"


def _fingers(stem) -> dict[str, str]:
    """{slot: stem} for the 15 finger joints from stem(finger, k) with k = 1, 2, 3."""
    return {f"{f}{k}": stem(f, k) for f in FINGERS for k in (1, 2, 3)}


# Side-free stems per preset. Names are compared case-insensitively once side and namespace are
# stripped, so "mixamorig:RightHandIndex1" matches the stem "HandIndex1" on the right side.
_MPFB_NUMBER = {"thumb": 1, "index": 2, "middle": 3, "ring": 4, "pinky": 5}
_MPFB_METACARPAL = {"index": 1, "middle": 2, "ring": 3, "pinky": 4}
_RIGIFY_PALM = {"index": 1, "middle": 2, "ring": 3, "pinky": 4}


def _rigify_finger(f: str, k: int) -> str:
    return f"thumb.{k:02d}" if f == "thumb" else f"f_{f}.{k:02d}"


PRESET_STEMS: dict[str, dict[str, str]] = {
    "maskhand": {"wrist": "wrist", **_fingers(lambda f, k: f"{f}.{k:02d}"),
                 **{f"{f}_tip": f"{f}.tip" for f in FINGERS}},
    # The generated Rigify rig: the controls animators key. Its arm is in IK by default (IK_FK = 0),
    # so the hand control is hand_ik; map "wrist" to hand_fk for an arm switched to FK.
    "rigify": {"wrist": "hand_ik", **_fingers(_rigify_finger)},
    "rigify_metarig": {"wrist": "hand", **_fingers(_rigify_finger),
                       **{f"{f}0": f"palm.{n:02d}" for f, n in _RIGIFY_PALM.items()}},
    "mpfb": {"wrist": "wrist", **_fingers(lambda f, k: f"finger{_MPFB_NUMBER[f]}-{k}"),
             **{f"{f}0": f"metacarpal{n}" for f, n in _MPFB_METACARPAL.items()}},
    "mixamo": {"wrist": "Hand", **_fingers(lambda f, k: f"Hand{f.capitalize()}{k}"),
               **{f"{f}_tip": f"Hand{f.capitalize()}4" for f in FINGERS}},
    "smplx": {"wrist": "wrist", **_fingers(lambda f, k: f"{f}{k}")},
}
PRESETS = tuple(PRESET_STEMS)
PRESET_LABELS = {"maskhand": "MaskHand", "rigify": "Rigify (generated rig)", "rigify_metarig": "Rigify metarig",
                 "mpfb": "MPFB / MakeHuman", "mixamo": "Mixamo", "smplx": "SMPL-X add-on"}


def _canonical_name(preset: str, stem: str, side: str) -> str:
    """The name a rig of `preset` gives the bone `stem` on `side` (what its own tools create)."""
    if preset == "mixamo":
        return f"mixamorig:{side.capitalize()}{stem}"
    if preset == "smplx":
        return f"{side}_{stem}"
    return f"{stem}.{'R' if side == 'right' else 'L'}"


# Side tokens, tried in order on the name without its namespace: (regex, side group semantics).
_SIDE_PATTERNS = (
    re.compile(r"^(?P<stem>.+?)[._\- ](?P<side>[LR])(?P<num>\.\d{3})?$", re.IGNORECASE),
    re.compile(r"^(?P<side>left|right)[_\- .]?(?P<stem>.+)$", re.IGNORECASE),
    re.compile(r"^(?P<stem>.+?)[_\- .]?(?P<side>left|right)$", re.IGNORECASE),
    re.compile(r"^(?P<side>[LR])[_\- .](?P<stem>.+)$", re.IGNORECASE),
)


def split_side(name: str) -> tuple[str | None, str]:
    """A bone name -> (side or None, side-free stem); namespaces ("mixamorig:") are dropped.

    "f_index.01.R" -> ("right", "f_index.01"); "mixamorig:LeftHandThumb1" -> ("left", "HandThumb1");
    "right_index1" -> ("right", "index1"); "spine" -> (None, "spine").
    """
    bare = name.rsplit(":", 1)[-1]
    for pattern in _SIDE_PATTERNS:
        m = pattern.match(bare)
        if m:
            token = m.group("side").lower()
            side = "right" if token in ("r", "right") else "left"
            stem = m.group("stem") + (m.groupdict().get("num") or "")
            return side, stem
    return None, bare


@dataclass(frozen=True)
class RetargetMap:
    """side: "right" | "left"; bones: {slot: bone name} (slots in SLOTS); preset: where it came from
    ("custom" when edited or loaded)."""
    side: str
    bones: dict[str, str] = field(default_factory=dict)
    preset: str = "custom"

    def joint_bones(self) -> list[str]:
        """The 16 bones in MANO joint order (KeyError on a missing slot; validate first)."""
        return [self.bones[s] for s in JOINT_SLOTS]

    def to_json(self) -> dict:
        return {"format": FILE_FORMAT, "version": 1, "side": self.side, "preset": self.preset,
                "bones": {s: self.bones[s] for s in SLOTS if s in self.bones}}


def preset_map(preset: str, side: str) -> RetargetMap:
    """The mapping a rig of `preset` has with its own tools' bone names (e.g. mixamorig: prefix)."""
    check_side(side)
    if preset not in PRESET_STEMS:
        raise RigError(f"unknown retarget preset {preset!r}; expected one of {', '.join(PRESETS)}")
    stems = PRESET_STEMS[preset]
    return RetargetMap(side, {s: _canonical_name(preset, stem, side) for s, stem in stems.items()}, preset)


def match_preset(preset: str, side: str, bone_names) -> RetargetMap:
    """`preset`'s mapping resolved against the armature's actual names, whatever side spelling or
    namespace they use; slots without a matching bone are left out (validate() names them)."""
    check_side(side)
    if preset not in PRESET_STEMS:
        raise RigError(f"unknown retarget preset {preset!r}; expected one of {', '.join(PRESETS)}")
    by_stem: dict[str, str] = {}
    for name in bone_names:
        s, stem = split_side(name)
        if s == side:
            by_stem.setdefault(stem.lower(), name)
    found = {slot: by_stem[stem.lower()] for slot, stem in PRESET_STEMS[preset].items() if stem.lower() in by_stem}
    return RetargetMap(side, found, preset)


def detect_map(bone_names, side: str) -> RetargetMap:
    """The first preset whose 16 joint bones all exist for `side`, matched to the actual names.

    Raises RigError naming the closest preset's missing bones when none fits.
    """
    names = list(bone_names)
    best = None
    for preset in PRESETS:
        m = match_preset(preset, side, names)
        n = sum(s in m.bones for s in JOINT_SLOTS)
        if n == len(JOINT_SLOTS):
            return m
        if best is None or n > best[0]:
            best = (n, preset, m)
    n, preset, m = best
    missing = [_canonical_name(preset, PRESET_STEMS[preset][s], side) for s in JOINT_SLOTS if s not in m.bones]
    raise RigError(f"found no {side} hand in the armature's bone names; the closest preset, "
                   f"{PRESET_LABELS[preset]}, lacks {_list(missing)}")


def validate(mapping: RetargetMap, bone_names) -> None:
    """RigError unless the mapping is usable on an armature with `bone_names`: every joint slot
    mapped, every mapped bone present, no bone mapped twice, no bone of the other side."""
    check_side(mapping.side)
    unknown = [s for s in mapping.bones if s not in SLOTS]
    if unknown:
        raise RigError(f"unknown mapping slot(s) {_list(unknown)}; expected slots such as wrist, index1, thumb_tip")
    unmapped = [s for s in JOINT_SLOTS if not mapping.bones.get(s)]
    if unmapped:
        raise RigError(f"the mapping leaves MANO joint(s) {_list(unmapped)} without a bone")
    present = set(bone_names)
    missing = [f"{s} -> '{b}'" for s, b in mapping.bones.items() if b and b not in present]
    if missing:
        raise RigError(f"the armature lacks the mapped bone(s) {_list(missing)}")
    used = [b for b in mapping.bones.values() if b]
    twice = sorted({b for b in used if used.count(b) > 1})
    if twice:
        raise RigError(f"bone(s) {_list(twice)} are mapped to more than one slot")
    other = "left" if mapping.side == "right" else "right"
    wrong = [f"{s} -> '{b}'" for s, b in mapping.bones.items() if b and split_side(b)[0] == other]
    if wrong:
        raise RigError(f"the mapping is for the {mapping.side} hand but names {other}-side bone(s) {_list(wrong)}")


def map_from_json(doc: dict, source: str = "mapping") -> RetargetMap:
    """Parse the JSON layout of RetargetMap.to_json (format, version 1, side, preset, bones)."""
    if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT:
        raise InputFileError(f"{source} is not a MaskHand retarget mapping (expected \"format\": \"{FILE_FORMAT}\")")
    if doc.get("version") != 1:
        raise InputFileError(f"{source}: mapping version {doc.get('version')!r}, expected 1")
    side, bones = doc.get("side"), doc.get("bones")
    try:
        check_side(side)
    except PoseDataError as err:
        raise InputFileError(f"{source}: {err}") from None
    if not isinstance(bones, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in bones.items()):
        raise InputFileError(f"{source}: \"bones\" must map slot names to bone names")
    unknown = [s for s in bones if s not in SLOTS]
    if unknown:
        raise InputFileError(f"{source}: unknown slot(s) {_list(unknown)}")
    return RetargetMap(side, {s: b for s, b in bones.items() if b}, str(doc.get("preset", "custom")))


def save_map(mapping: RetargetMap, path: str | Path) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(mapping.to_json(), indent=1) + "\n", encoding="utf-8")
    except OSError as err:
        raise InputFileError(f"cannot write the mapping to {path}: {err.strerror}") from err
    return path


def load_map(path: str | Path) -> RetargetMap:
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InputFileError(f"cannot read the mapping {path}: {err.strerror}") from err
    except (ValueError, UnicodeDecodeError) as err:
        raise InputFileError(f"{path.name} is not valid JSON: {err}") from err
    return map_from_json(doc, path.name)


def _list(items, limit: int = 8) -> str:
    items = list(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(map(str, items[:limit])) + more
