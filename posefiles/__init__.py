"""MANO pose files from other tools (HaMeR, WiLoR, FreiHAND) and MaskHand's plain JSON -> PoseSequence.

Pure numpy (no bpy, no torch). Pickles are read through handmodel.safe_pickle, never pickle.load.
Formats and conventions: docs/POSE_FILES.md.
"""
from .plain_json import write_plain_json
from .readers import SUPPORTED_EXTENSIONS, read_pose_file
from ..handmodel.rotations import axis_angle_to_matrix  # the conversion, for scripts writing pose files
from .rotations import matrix_to_axis_angle
from .sequence import PoseSequence

__all__ = ["PoseSequence", "read_pose_file", "write_plain_json", "SUPPORTED_EXTENSIONS",
           "axis_angle_to_matrix", "matrix_to_axis_angle"]
