"""Where every MaskHand panel lives: the 3D Viewport's sidebar (N), tab "MaskHand"."""


class SidebarPanel:
    """Mixin for the panels (put before bpy.types.Panel): one place names the space, region and tab."""

    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "MaskHand"
