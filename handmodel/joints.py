"""Joint and keypoint orders.

MANO's 16 joints: wrist; index, middle, pinky, ring, thumb (3 each, proximal first).
Keypoints: OpenPose/FreiHAND 21 = wrist; thumb CMC, MCP, IP, tip; index MCP, PIP, DIP, tip;
middle; ring; little (the order MediaPipe uses too).
"""
import numpy as np

from ..errors import PoseDataError

FINGERS = ("index", "middle", "pinky", "ring", "thumb")  # MANO's order of fingers

JOINT_NAMES = ("wrist",) + tuple(f"{f}{k}" for f in FINGERS for k in (1, 2, 3))

# Parent of each of the 16 joints; every finger's first joint hangs off the wrist.
PARENTS = np.array([-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14], dtype=np.int64)

# Fingertips are mesh vertices; in the 21-joint array (16 MANO joints + tips) they come in
# this order, as in smplx's MANO layer.
TIP_ORDER = ("thumb", "index", "middle", "ring", "pinky")

# Index into [16 MANO joints, 5 tips in TIP_ORDER] for each OpenPose keypoint.
MANO_TO_OPENPOSE = np.array(
    [0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20], dtype=np.int64)

KEYPOINT_NAMES = (
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "little_mcp", "little_pip", "little_dip", "little_tip",
)

# The joint whose last segment ends at each tip (for rigs: tip bones hang off these).
TIP_PARENT = {"thumb": 15, "index": 3, "middle": 6, "ring": 12, "pinky": 9}


def finger_joints(finger: str) -> tuple[int, int, int]:
    """MANO joint indices (proximal, middle, distal) of a finger; PoseDataError on unknown names."""
    if finger not in FINGERS:
        raise PoseDataError(f"unknown finger {finger!r}; expected one of {', '.join(FINGERS)}")
    k = 1 + 3 * FINGERS.index(finger)
    return (k, k + 1, k + 2)
