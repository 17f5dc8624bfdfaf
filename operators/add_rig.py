"""Add Hand Rig: an armature with MANO's joints and the skinned hand mesh, at the 3D cursor."""
import bpy

from .. import prefs
from ..blender.build_rig import add_hand_rig
from ..errors import MaskHandError
from ..handmodel.registry import load_hand_model


class MASKHAND_OT_add_rig(bpy.types.Operator):
    """Add a rigged hand (armature and skinned mesh) at the 3D cursor, built from the active hand model"""
    bl_idname = "object.maskhand_add_rig"
    bl_label = "Add Hand Rig"
    bl_options = {'REGISTER', 'UNDO'}

    side: bpy.props.EnumProperty(
        name="Side",
        items=(('RIGHT', "Right", "Right hand"), ('LEFT', "Left", "Left hand")),
        default='RIGHT',
    )

    @classmethod
    def poll(cls, context):
        if context.mode != 'OBJECT':
            cls.poll_message_set("Switch to Object Mode to add a hand rig")
            return False
        return True

    def invoke(self, context, event):
        if not self.properties.is_property_set("side"):  # a button that names a side keeps it
            self.side = context.scene.maskhand.side
        return self.execute(context)

    def execute(self, context):
        side = self.side.lower()
        try:
            model = load_hand_model(side, prefs.mano_dir(context))
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        arm_obj, mesh_obj = add_hand_rig(context.collection, model, location=context.scene.cursor.location)
        for obj in context.selected_objects:
            obj.select_set(False)
        arm_obj.select_set(True)
        context.view_layer.objects.active = arm_obj
        context.scene.maskhand.rig = arm_obj
        self.report({'INFO'}, f"Added {side} hand rig '{arm_obj.name}' ({model.name})")
        return {'FINISHED'}


classes = (MASKHAND_OT_add_rig,)
