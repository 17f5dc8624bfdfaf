"""Keyframe: write the chosen hypothesis of each hand onto its rig at the current frame."""
import bpy

from ..blender.apply_result import find_rig, key_rig, rig_quaternions
from ..errors import MaskHandError


def chosen_hypotheses(settings) -> list:
    """The chosen list item per (side, hand): what the user last selected for each detected hand;
    the active item wins for its side when two hands of one side were found."""
    chosen = {}
    for item in settings.hypotheses:
        if item.chosen:
            chosen.setdefault(item.side, item)
    if 0 <= settings.active_index < len(settings.hypotheses):
        active = settings.hypotheses[settings.active_index]
        chosen[active.side] = active
    return list(chosen.values())


def keyframe_chosen(context, frame: int | None = None) -> list[str]:
    """Key every side's chosen hypothesis on its rig at `frame` (default: the current frame).

    Everything is checked first (payloads parse, rigs have their bones), so a failure keys nothing;
    a hand whose side has no rig is skipped (said in the returned lines). Returns one line per rig.
    Raises MaskHandError, also when no hand has a rig.
    """
    scene = context.scene
    settings = scene.maskhand.estimate
    frame = scene.frame_current if frame is None else frame
    items = chosen_hypotheses(settings)
    if not items:
        raise MaskHandError("there is no hypothesis to key; run Estimate first")
    plan, skipped = [], []
    for item in items:
        rig = find_rig(scene, item.side, scene.maskhand.rig, context.active_object)
        if rig is None:
            skipped.append(item.side)
            continue
        plan.append((rig, item.hypothesis(), item))
    if not plan:
        side = skipped[0]
        raise MaskHandError(f"no {side} hand rig in the scene to key; Add Hand Rig ({side.title()}) makes one")
    for rig, hypothesis, _ in plan:  # validate every pose before the first key is written
        rig_quaternions(rig, hypothesis)
    done = []
    for rig, hypothesis, item in plan:
        n = len(key_rig(rig, hypothesis, frame, settings.use_camera_translation))
        done.append(f"{item.side} hypothesis {item.rank} on '{rig.name}' ({n} bones)")
    done += [f"no {side} hand rig, so that hand was not keyed" for side in skipped]
    return done


class MASKHAND_OT_keyframe_hypothesis(bpy.types.Operator):
    """Key the chosen hypothesis of each hand on its rig at the current frame"""
    bl_idname = "anim.maskhand_keyframe_hypothesis"
    bl_label = "Keyframe Pose"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        if context.scene is None or not hasattr(context.scene, "maskhand"):
            return False
        if not len(context.scene.maskhand.estimate.hypotheses):
            cls.poll_message_set("Run Estimate first: there is no pose to key")
            return False
        return True

    def execute(self, context):
        try:
            done = keyframe_chosen(context)
        except MaskHandError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        self.report({'INFO'}, f"Keyed frame {context.scene.frame_current}: {'; '.join(done)}")
        return {'FINISHED'}


classes = (MASKHAND_OT_keyframe_hypothesis,)
