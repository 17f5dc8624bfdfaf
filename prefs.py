"""Add-on preferences: machine-wide settings that do not belong in a .blend file.

Lives at the package root because ``bl_idname`` must be the extension's own module name
(``bl_ext.<repo>.maskhand`` inside Blender), which is ``__package__`` only here.
"""
import bpy


class MaskHandPreferences(bpy.types.AddonPreferences):
    """Where the user's MANO files are; they are licensed separately and never bundled."""

    bl_idname = __package__

    mano_dir: bpy.props.StringProperty(
        name="MANO Folder",
        description="Folder with MANO_RIGHT.pkl / MANO_LEFT.pkl; empty = the bundled open hand",
        subtype='DIR_PATH',
        default="",
    )

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "mano_dir")
        if not self.mano_dir:
            layout.label(text="Using the bundled open hand", icon='INFO')


def get(context) -> MaskHandPreferences | None:
    """This extension's preferences, wherever Blender loaded it from; None when the package was
    registered by a script (``maskhand.register()``) rather than enabled as an add-on."""
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None


def mano_dir(context) -> str | None:
    """The MANO folder from the preferences, or None (then $MASKHAND_MANO_DIR or the open hand)."""
    p = get(context)
    return (p.mano_dir or None) if p is not None else None


classes = (MaskHandPreferences,)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
