"""Resample: new hypotheses for the chosen hand with the next seed, keeping the locked fingers.

The generative model keeps the locked parts' tokens; whatever the estimator, the locked joints are
copied from the chosen hypothesis (apply_result.merge_locked), so locked bones never move.
"""
import bpy

from ..errors import MaskHandError
from .estimate import start_estimate
from .modal_job import EstimateJobOperator, free_to_start


def start_resample(context):
    """Send the resample of the active hypothesis's hand (seed + 1); returns its EstimateJob."""
    settings = context.scene.maskhand.estimate
    if not (0 <= settings.active_index < len(settings.hypotheses)):
        raise MaskHandError("there is no hypothesis to resample; run Estimate first")
    item = settings.hypotheses[settings.active_index]
    return start_estimate(context, seed=settings.seed + 1, side=item.side, base=item.hypothesis(),
                          base_hand=item.hand(), parts=settings.locked_parts())


class MASKHAND_OT_resample(EstimateJobOperator, bpy.types.Operator):
    """Draw new hypotheses for the selected hand with a new seed; locked fingers keep their pose"""
    bl_idname = "view3d.maskhand_resample"
    bl_label = "Resample"
    bl_options = {'REGISTER', 'UNDO'}

    noun = "Resample"
    busy_text = "Resampling... (Esc cancels)"

    @classmethod
    def poll(cls, context):
        if not free_to_start(cls, context):
            return False
        if not len(context.scene.maskhand.estimate.hypotheses):
            cls.poll_message_set("Run Estimate first: there is no hand to resample")
            return False
        return True

    def start(self, context):
        return start_resample(context)


classes = (MASKHAND_OT_resample,)
