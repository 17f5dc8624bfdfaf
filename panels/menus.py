"""Where Blender users look for tools: menus, so F3 search finds every MaskHand operator by a name
that starts with what it does.

- 3D Viewport > Object / Pose > MaskHand: estimate, resample, keyframe, track, the reference
  camera, rigs, import, retargeting and the backend.
- File > Import > MANO Pose (.npz/.pkl/.json).
- Add > Armature > MaskHand Hand (right / left).
"""
import bpy

# (operator, text or None for its label, icon), None for a separator: the MaskHand menu, top to bottom.
TOOLS = (
    ("view3d.maskhand_estimate", None, 'VIEWZOOM'),
    ("view3d.maskhand_resample", None, 'FILE_REFRESH'),
    ("anim.maskhand_keyframe_hypothesis", None, 'KEY_HLT'),
    ("anim.maskhand_track_range", None, 'TRACKING'),
    ("anim.maskhand_resmooth", None, 'SMOOTHCURVE'),
    ("anim.maskhand_resolve_range", None, 'FILE_REFRESH'),
    ("view3d.maskhand_reference_camera", None, 'CAMERA_DATA'),
    None,
    ("object.maskhand_add_rig", None, 'OUTLINER_OB_ARMATURE'),
    ("anim.maskhand_import_mano", None, 'IMPORT'),
    None,
    ("pose.maskhand_retarget_detect", "Detect Retarget Mapping", 'VIEWZOOM'),
    ("pose.maskhand_retarget_load", "Load Retarget Mapping", 'FILE_FOLDER'),
    ("pose.maskhand_retarget_save", "Save Retarget Mapping", 'FILE_TICK'),
    ("anim.maskhand_retarget", None, 'IMPORT'),
    ("anim.maskhand_retarget_estimate", None, 'KEYFRAME'),
    None,
    ("preferences.maskhand_check_backend", None, 'CONSOLE'),
    ("preferences.maskhand_install_backend", None, 'PACKAGE'),
)


class MASKHAND_MT_tools(bpy.types.Menu):
    """Every MaskHand tool in one menu (Object and Pose menus of the 3D Viewport)"""
    bl_idname = "MASKHAND_MT_tools"
    bl_label = "MaskHand"

    def draw(self, context):
        layout = self.layout
        layout.operator_context = 'INVOKE_DEFAULT'
        for entry in TOOLS:
            if entry is None:
                layout.separator()
                continue
            idname, text, icon = entry
            if text is None:
                layout.operator(idname, icon=icon)
            else:
                layout.operator(idname, text=text, icon=icon)


def draw_tools_entry(self, context):
    """Object / Pose menus: the MaskHand submenu."""
    self.layout.separator()
    self.layout.menu("MASKHAND_MT_tools", icon='VIEW_PAN')


def draw_import_entry(self, context):
    """File > Import."""
    self.layout.operator("anim.maskhand_import_mano", text="MANO Pose (.npz/.pkl/.json)")


def draw_add_entry(self, context):
    """Add > Armature."""
    layout = self.layout
    layout.operator_context = 'EXEC_REGION_WIN'
    layout.operator("object.maskhand_add_rig", text="MaskHand Hand (Right)", icon='VIEW_PAN').side = 'RIGHT'
    layout.operator("object.maskhand_add_rig", text="MaskHand Hand (Left)", icon='VIEW_PAN').side = 'LEFT'


# Blender's menu -> what MaskHand adds to it.
ENTRIES = (
    ("VIEW3D_MT_object", draw_tools_entry),
    ("VIEW3D_MT_pose", draw_tools_entry),
    ("TOPBAR_MT_file_import", draw_import_entry),
    ("VIEW3D_MT_armature_add", draw_add_entry),
)

classes = (MASKHAND_MT_tools,)


def append() -> None:
    for menu, draw in ENTRIES:
        getattr(bpy.types, menu).append(draw)


def remove() -> None:
    for menu, draw in reversed(ENTRIES):
        getattr(bpy.types, menu).remove(draw)
