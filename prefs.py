"""Add-on preferences: machine-wide settings that do not belong in a .blend file.

Lives at the package root because ``bl_idname`` must be the extension's own module name
(``bl_ext.<repo>.maskhand`` inside Blender), which is ``__package__`` only here.
"""
import os
from pathlib import Path

import bpy

from .blender import backend_client, backend_install

DEVICE_ITEMS = (
    ('AUTO', "Auto", "CUDA if torch sees an NVIDIA GPU, else Apple MPS, else the CPU"),
    ('CUDA', "CUDA", "An NVIDIA GPU (needs a CUDA build of torch)"),
    ('MPS', "Apple MPS", "The GPU of an Apple silicon Mac"),
    ('CPU', "CPU", "The processor; slowest, works everywhere"),
)

TORCH_BUILD_ITEMS = (
    ('CPU', "CPU", "torch's CPU build: smaller, runs everywhere (on a Mac it also uses Apple's GPU through MPS)"),
    ('CUDA', "CUDA", "torch's CUDA 12.6 build from PyTorch's index, for an NVIDIA GPU on Windows x64 or Linux "
                     "x86-64 (a larger download)"),
)


class MaskHandPreferences(bpy.types.AddonPreferences):
    """Where the user's MANO files are (licensed separately, never bundled) and how the inference
    backend runs: its interpreter, device and model checkpoint (docs/BACKEND.md)."""

    bl_idname = __package__

    mano_dir: bpy.props.StringProperty(
        name="MANO Folder",
        description="Folder with MANO_RIGHT.pkl / MANO_LEFT.pkl; empty = the bundled open hand",
        subtype='DIR_PATH',
        default="",
    )
    backend_python: bpy.props.StringProperty(
        name="Backend Python",
        description="A Python 3.11 interpreter that has the backend's packages (torch, MediaPipe); "
                    "empty = the environment that Install Backend creates",
        subtype='FILE_PATH',
        default="",
    )
    base_python: bpy.props.StringProperty(
        name="Python for Install Backend",
        description="The Python 3.11 that Install Backend makes its environment from; empty = search "
                    "(Blender's own, the py launcher, PATH, python.org, Homebrew, pyenv, conda, uv)",
        subtype='FILE_PATH',
        default="",
    )
    torch_build: bpy.props.EnumProperty(
        name="Torch Build",
        description="Which build of torch Install Backend puts in the environment",
        items=TORCH_BUILD_ITEMS,
        default='CPU',
    )
    device: bpy.props.EnumProperty(
        name="Device",
        description="Where the backend computes",
        items=DEVICE_ITEMS,
        default='AUTO',
    )
    checkpoint: bpy.props.StringProperty(
        name="Model Checkpoint",
        description="The generative model's checkpoint; empty = the weights bundled with the add-on",
        subtype='FILE_PATH',
        default="",
    )
    backend_report: bpy.props.StringProperty(
        name="Backend Report",
        description="What Test Backend found (device, versions)",
        default="",
    )
    use_hotkeys: bpy.props.BoolProperty(
        name="Hotkeys",
        description="Ctrl+Shift+E estimates and Ctrl+Shift+K keys the chosen hypothesis in the 3D Viewport "
                    "(Object and Pose modes); off by default",
        default=False,
        update=lambda self, context: _hotkeys_update(self, context),
    )
    install_status: bpy.props.StringProperty(
        name="Install Status",
        description="The last line of the running or last backend installation",
        default="",
    )

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "mano_dir")
        if not self.mano_dir:
            layout.label(text="Using the bundled open hand", icon='INFO')

        box = layout.box()
        box.label(text="Backend", icon='SYSTEM')
        state = backend_state(context)
        icons = {"running": 'CHECKMARK', "installed": 'CHECKBOX_HLT', "not installed": 'ERROR'}
        box.label(text=f"Status: {state}", icon=icons[state])
        if self.backend_report:
            box.label(text=self.backend_report)
        box.prop(self, "backend_python")
        if not self.backend_python:
            box.label(text=f"Environment: {backend_env_dir()}")
            box.prop(self, "base_python")
            box.prop(self, "torch_build")
        box.prop(self, "device")
        box.prop(self, "checkpoint")
        row = box.row()
        row.operator("preferences.maskhand_install_backend", icon='IMPORT')
        row.operator("preferences.maskhand_check_backend", icon='PLAY')
        if self.install_status:
            box.label(text=self.install_status)

        box = layout.box()
        box.prop(self, "use_hotkeys")
        col = box.column(align=True)
        col.active = self.use_hotkeys
        for text, idname, modes in hotkey_lines():
            split = col.split(factor=0.3)
            split.label(text=text)
            split.label(text=f"{_operator_label(idname)} ({modes})")


def hotkey_lines() -> list[tuple[str, str, str]]:
    """(combination, operator, modes) for each optional hotkey, as the preferences list them."""
    from .panels import hotkeys

    modes: dict[tuple[str, str], list[str]] = {}
    for hk in hotkeys.hotkeys():
        modes.setdefault((hk.text, hk.idname), []).append(hk.keymap.replace(" Mode", ""))
    return [(text, idname, " and ".join(m) + " modes") for (text, idname), m in modes.items()]


def _operator_label(idname: str) -> str:
    area, _, name = idname.partition(".")
    try:
        return getattr(getattr(bpy.ops, area), name).get_rna_type().name
    except (AttributeError, KeyError):
        return idname


def _hotkeys_update(self, context):
    from .panels import hotkeys

    hotkeys.set_enabled(context, self.use_hotkeys)


def get(context) -> MaskHandPreferences | None:
    """This extension's preferences, wherever Blender loaded it from; None when the package was
    registered by a script (``maskhand.register()``) rather than enabled as an add-on."""
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None


def mano_dir(context) -> str | None:
    """The MANO folder from the preferences, or None (then $MASKHAND_MANO_DIR or the open hand)."""
    p = get(context)
    return (p.mano_dir or None) if p is not None else None


def backend_env_dir(create: bool = False) -> Path:
    """The folder of the backend environment that Install Backend makes.

    Normally the platform's user data folder (backend_install.user_env_dir: ~/.local/share/maskhand/
    backend-py311, %LOCALAPPDATA%\\MaskHand\\backend-py311, ~/Library/Application Support/MaskHand/
    backend-py311), outside Blender's per-version folders, so a Blender upgrade reuses it. When
    BLENDER_USER_RESOURCES redirects Blender's user folder (a portable or managed setup), that folder
    has no version in its path: the environment stays inside it, in the extension's user folder (or,
    for a package registered by a script, under Blender's user data), so the setup stays self-contained.
    """
    if not os.environ.get("BLENDER_USER_RESOURCES"):
        path = backend_install.user_env_dir()
        if create:
            path.mkdir(parents=True, exist_ok=True)
        return path
    try:
        return Path(bpy.utils.extension_path_user(__package__, path="backend", create=create))
    except ValueError:
        return Path(bpy.utils.user_resource('DATAFILES', path="maskhand/backend", create=create))


def backend_interpreter(context) -> str:
    """The interpreter the backend runs with: the preference, else the add-on's environment."""
    p = get(context)
    chosen = bpy.path.abspath(p.backend_python) if p is not None and p.backend_python else ""
    return chosen or str(backend_install.env_python(backend_env_dir()))


def backend(context) -> backend_client.BackendClient:
    """The add-on's backend client for the current preferences (not started until the first request)."""
    p = get(context)
    device = p.device.lower() if p is not None else "auto"
    checkpoint = bpy.path.abspath(p.checkpoint) if p is not None and p.checkpoint else None
    mano = bpy.path.abspath(mano_dir(context)) if mano_dir(context) else None
    return backend_client.shared_client(backend_interpreter(context), device, mano, checkpoint)


def backend_state(context) -> str:
    """"running", "installed" (its interpreter exists) or "not installed"."""
    client = backend_client.current_client()
    if client is not None and client.alive and client.interpreter == backend_interpreter(context):
        return "running"
    return "installed" if Path(backend_interpreter(context)).is_file() else "not installed"


classes = (MaskHandPreferences,)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister():
    backend_client.shutdown_all()  # the add-on goes away: so does its backend process
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
