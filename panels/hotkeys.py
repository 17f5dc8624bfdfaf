"""Optional hotkeys for the two things an animator repeats on every frame: Estimate and Keyframe.

Off by default (the preference "Hotkeys" in prefs.py turns them on and off). They go into the add-on
keyconfig (``window_manager.keyconfigs.addon``), in the 3D Viewport's Object Mode and Pose keymaps,
so Preferences > Keymap lists them under those maps and a user can remap them there. The combinations
are ones Blender's default keymap leaves free in the 3D Viewport (tests/test_hotkeys.py checks this
against Blender's own keymap data): Ctrl+Shift+E and Ctrl+Shift+K are used only by the Text editor,
Grease Pencil modes and modal maps.

In background mode (bpy as a module, ``blender -b``) the add-on keyconfig can be None: then nothing is
added and nothing fails.
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy


@dataclass(frozen=True)
class Hotkey:
    """One keymap item: operator `idname` on `key` with Ctrl+Shift, in the keymap `keymap`
    (`space_type` as Blender names that keymap's space)."""
    idname: str
    key: str
    keymap: str
    space_type: str = 'EMPTY'
    ctrl: bool = True
    shift: bool = True

    @property
    def text(self) -> str:
        """'Ctrl Shift E', as Blender's keymap editor spells a combination."""
        return " ".join(["Ctrl"] * self.ctrl + ["Shift"] * self.shift + [self.key])


# Blender's keymaps that are active in the 3D Viewport in Object Mode and in Pose Mode.
MODE_KEYMAPS = ("Object Mode", "Pose")
ACTIONS = (("view3d.maskhand_estimate", 'E'), ("anim.maskhand_keyframe_hypothesis", 'K'))

# Items this module added, as (keymap, item) pairs, so exactly these are removed.
_added: list = []


def hotkeys() -> tuple[Hotkey, ...]:
    """The keymap items MaskHand offers, one per action and mode keymap (pure: touches no keyconfig)."""
    return tuple(Hotkey(idname, key, keymap) for keymap in MODE_KEYMAPS for idname, key in ACTIONS)


def addon_keyconfig(context=None):
    """The add-on keyconfig, or None (background mode may have none)."""
    wm = getattr(context or bpy.context, "window_manager", None)
    return wm.keyconfigs.addon if wm is not None else None


def add(context=None) -> int:
    """Add the hotkeys to the add-on keyconfig (once); returns how many items were added (0 without a
    keyconfig or when they are there already)."""
    kc = addon_keyconfig(context)
    if kc is None or _added:
        return 0
    for hk in hotkeys():
        km = kc.keymaps.new(name=hk.keymap, space_type=hk.space_type)
        kmi = km.keymap_items.new(hk.idname, hk.key, 'PRESS', ctrl=hk.ctrl, shift=hk.shift)
        _added.append((km, kmi))
    return len(_added)


def remove() -> int:
    """Remove the items add() made; returns how many."""
    n = 0
    while _added:
        km, kmi = _added.pop()
        try:
            km.keymap_items.remove(kmi)
            n += 1
        except (ReferenceError, RuntimeError):  # the keyconfig went first (Blender quitting)
            pass
    return n


def is_on() -> bool:
    return bool(_added)


def set_enabled(context, on: bool) -> None:
    """The preference's update: add or remove the hotkeys."""
    if on:
        add(context)
    else:
        remove()


def register():
    from .. import prefs

    p = prefs.get(bpy.context)
    if p is not None and p.use_hotkeys:
        add(bpy.context)


def unregister():
    remove()


classes = ()
