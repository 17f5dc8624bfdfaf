"""The hand model: MANO's 16-joint layout, linear blend skinning, the open hand and real MANO.

Pure numpy (no bpy, no torch): Blender's process builds rigs from it, the backend fits and
decodes with it. See joints.py for the joint and keypoint orders used everywhere.
"""
from .joints import JOINT_NAMES, KEYPOINT_NAMES, MANO_TO_OPENPOSE, PARENTS
from .model import HandModel, HandOutput
from .registry import load_hand_model

__all__ = ["HandModel", "HandOutput", "load_hand_model", "JOINT_NAMES", "KEYPOINT_NAMES",
           "MANO_TO_OPENPOSE", "PARENTS"]
