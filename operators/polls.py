"""poll() checks the operators compose; each says why it fails with cls.poll_message_set (shown as
the button's tooltip), so a greyed-out button always explains itself."""
from __future__ import annotations

RUNNING: dict = {"operator": None}  # the one modal estimate/resample/track running (they share the backend)


def addon_ready(cls, context) -> bool:
    """The add-on's settings exist on the scene (it is registered)."""
    return context.scene is not None and hasattr(context.scene, "maskhand")


def free_to_start(cls, context) -> bool:
    """The add-on is ready and no other backend job runs."""
    if not addon_ready(cls, context):
        return False
    if RUNNING["operator"] is not None:
        cls.poll_message_set("An estimate or track is already running")
        return False
    return True


def has_hypotheses(cls, context, why: str) -> bool:
    """The last estimate found hands; `why` completes "Run Estimate first: ..." otherwise."""
    if not addon_ready(cls, context):
        return False
    if not len(context.scene.maskhand.estimate.hypotheses):
        cls.poll_message_set(f"Run Estimate first: {why}")
        return False
    return True
