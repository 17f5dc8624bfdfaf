"""Retarget operators: detect a mapping, save/load it, key a MANO file or the chosen estimate onto a
character's hand (Rigify, MPFB, Mixamo, SMPL-X or any mapped rig). Thin: validate, call
blender.retarget, report; a failure leaves the scene unchanged."""
import bpy
import numpy as np
from bpy_extras.io_utils import ExportHelper, ImportHelper

from .. import prefs
from ..blender.retarget import armature_of, detect, pose_hand, retarget_sequence
from ..errors import MaskHandError
from ..handmodel.registry import load_hand_model
from ..output_paths import check_output_file
from ..posefiles import read_pose_file
from ..rigmath.retarget_map import load_map, save_map, validate


def _settings(context):
    return context.scene.maskhand.retarget


def _target(context):
    """The panel's character, else the active armature."""
    target = _settings(context).target
    if target is None and context.active_object is not None and context.active_object.type == 'ARMATURE':
        target = context.active_object
    return target


def _has_target(cls, context) -> bool:
    target = _target(context)
    if target is None:
        cls.poll_message_set("Pick the character's armature in the Retarget panel (or make it active)")
        return False
    if target.mode == 'EDIT':
        cls.poll_message_set(f"Leave Edit Mode on '{target.name}' first (its bones are being edited)")
        return False
    return True


class MASKHAND_OT_retarget_detect(bpy.types.Operator):
    """Fill the mapping from the character's bone names (Rigify, MPFB, Mixamo, SMPL-X, MaskHand)"""
    bl_idname = "pose.maskhand_retarget_detect"
    bl_label = "Detect Mapping"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        return _has_target(cls, context)

    def execute(self, context):
        s = _settings(context)
        try:
            mapping = detect(_target(context), s.side.lower())
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        s.target = _target(context)
        s.set_map(mapping)
        self.report({'INFO'}, f"Mapped the {mapping.side} hand of '{s.target.name}' as {mapping.preset} "
                              f"({len(mapping.bones)} bones)")
        return {'FINISHED'}


class MASKHAND_OT_retarget_save(bpy.types.Operator, ExportHelper):
    """Save the mapping as a JSON file, to reuse it on other characters of the same rig"""
    bl_idname = "pose.maskhand_retarget_save"
    bl_label = "Save Mapping"

    filename_ext = ".json"
    filter_glob: bpy.props.StringProperty(default="*.json", options={'HIDDEN'})

    @classmethod
    def poll(cls, context):
        if not _settings(context).slots:
            cls.poll_message_set("The mapping is empty: detect it or pick a preset first")
            return False
        return True

    def execute(self, context):
        try:
            check_output_file(self.filepath, ".json", "the mapping file")  # before anything is written
            path = save_map(_settings(context).to_map(), self.filepath)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        self.report({'INFO'}, f"Saved the mapping to {path}")
        return {'FINISHED'}


class MASKHAND_OT_retarget_load(bpy.types.Operator, ImportHelper):
    """Load a mapping saved as JSON (slot -> bone names, side)"""
    bl_idname = "pose.maskhand_retarget_load"
    bl_label = "Load Mapping"
    bl_options = {'REGISTER', 'UNDO'}

    filter_glob: bpy.props.StringProperty(default="*.json", options={'HIDDEN'})

    def execute(self, context):
        try:
            mapping = load_map(self.filepath)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        _settings(context).set_map(mapping)
        self.report({'INFO'}, f"Loaded a {mapping.side} hand mapping of {len(mapping.bones)} bones")
        return {'FINISHED'}


def _checked_map(context):
    """(armature, mapping) after every check, or MaskHandError naming what is wrong."""
    arm = armature_of(_target(context))
    mapping = _settings(context).to_map()
    validate(mapping, [b.name for b in arm.data.bones])
    return arm, mapping


class MASKHAND_OT_retarget(bpy.types.Operator, ImportHelper):
    """Key MANO poses from a file (HaMeR/WiLoR .npz/.pkl, FreiHAND, MaskHand .json) onto the character's mapped hand bones, merged into its own action"""
    bl_idname = "anim.maskhand_retarget"
    bl_label = "Retarget MANO File"
    bl_options = {'REGISTER', 'UNDO'}

    filter_glob: bpy.props.StringProperty(default="*.npz;*.pkl;*.json", options={'HIDDEN'})
    frame_start: bpy.props.IntProperty(name="Start Frame", default=-1, min=-1,
                                       description="Frame of the first pose (-1 = the current frame)")

    @classmethod
    def poll(cls, context):
        return _has_target(cls, context)

    def execute(self, context):
        s = _settings(context)
        try:
            arm, mapping = _checked_map(context)
            sequences = [q for q in read_pose_file(self.filepath) if q.side == mapping.side]
            if not sequences:
                raise MaskHandError(f"{self.filepath} holds no {mapping.side} hand poses; the mapping is "
                                    f"for the {mapping.side} hand")
            seq = sequences[0]
            model = load_hand_model(mapping.side, prefs.mano_dir(context))
            start = context.scene.frame_current if self.frame_start < 0 else self.frame_start
            action, warnings = retarget_sequence(arm, seq, mapping, model, start, s.pose_wrist)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        for level, msg in warnings:
            self.report({level}, msg)
        n = seq.global_orient.shape[0]
        scene = context.scene
        scene.frame_start = min(scene.frame_start, start)
        scene.frame_end = max(scene.frame_end, start + n - 1)
        self.report({'INFO'}, f"Keyed {n} frame(s) on the {mapping.side} hand of '{arm.name}' in action "
                              f"'{action.name}'")
        return {'FINISHED'}


def _chosen_hypothesis(context, side: str):
    """The estimate panel's chosen (else best-ranked) hypothesis item for `side`, or None."""
    estimate = getattr(getattr(context.scene, "maskhand", None), "estimate", None)
    items = [h for h in getattr(estimate, "hypotheses", ()) if h.side == side]
    if not items:
        return None
    chosen = [h for h in items if h.chosen]
    return (chosen or sorted(items, key=lambda h: h.rank))[0]


class MASKHAND_OT_retarget_estimate(bpy.types.Operator):
    """Pose the character's mapped hand with the chosen hypothesis of the last photo estimate, and key it at the current frame"""
    bl_idname = "anim.maskhand_retarget_estimate"
    bl_label = "Key Estimate on Character"
    bl_options = {'REGISTER', 'UNDO'}

    key: bpy.props.BoolProperty(name="Insert Keyframe", default=True,
                                description="Key the pose at the current frame (off: pose only)")

    @classmethod
    def poll(cls, context):
        if not _has_target(cls, context):
            return False
        if _chosen_hypothesis(context, _settings(context).side.lower()) is None:
            cls.poll_message_set("Estimate a photo first: no hypothesis for this hand yet")
            return False
        return True

    def execute(self, context):
        s = _settings(context)
        try:
            arm, mapping = _checked_map(context)
            mano = _chosen_hypothesis(context, mapping.side).hypothesis()["mano"]
            go = np.asarray(mano["global_orient"], np.float64).reshape(1, 3)
            hp = np.asarray(mano["hand_pose"], np.float64).reshape(1, 45)
            betas = mano.get("betas")
            model = load_hand_model(mapping.side, prefs.mano_dir(context))
            frame = context.scene.frame_current if self.key else None
            warnings = pose_hand(arm, mapping, model, go, hp, betas, s.pose_wrist, key_frame=frame)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        except (KeyError, TypeError, ValueError) as err:
            self.report({'ERROR'}, f"the chosen hypothesis is malformed: {err}")
            return {'CANCELLED'}
        for level, msg in warnings:
            self.report({level}, msg)
        self.report({'INFO'}, f"Posed the {mapping.side} hand of '{arm.name}'"
                              + (f" and keyed frame {context.scene.frame_current}" if self.key else ""))
        return {'FINISHED'}


classes = (MASKHAND_OT_retarget_detect, MASKHAND_OT_retarget_save, MASKHAND_OT_retarget_load,
           MASKHAND_OT_retarget, MASKHAND_OT_retarget_estimate)
